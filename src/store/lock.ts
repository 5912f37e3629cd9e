import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { TaxbridgeError } from '../errors.ts';
import { FILE_MODE } from './modes.ts';

/**
 * One process per data folder, also when several machines or containers share it (a volume): the LOCK file
 * says who holds it (host, boot id, pid namespace, pid, the pid's start time) and the holder refreshes its
 * mtime every few seconds (heartbeat). Another process takes the lock over only when the holder is provably
 * dead (same host, boot and pid namespace, and its pid is gone or now belongs to a process started at
 * another time) or its heartbeat is older than the stale timeout. Pids alone prove nothing across
 * containers: both sides are often pid 1.
 */
export const LOCK_FILE = 'LOCK';
/** How often the holder touches the LOCK. */
export const LOCK_HEARTBEAT_MS = 5_000;
/** A LOCK whose holder cannot be checked from here is taken over once its heartbeat is older than this. */
export const LOCK_STALE_MS = 30_000;

export interface LockHolder {
  host: string;
  /** /proc/sys/kernel/random/boot_id: tells a reboot (and another machine with the same host name) apart. */
  boot_id?: string;
  /** /proc/self/ns/pid: pids are only comparable inside one pid namespace (one container). */
  pid_ns?: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot): a reused pid has another. */
  start_time?: string;
  started_at: string;
  /** Random: tells this holder's LOCK from a later one with equal fields. */
  token: string;
}

export interface LockOptions {
  heartbeatMs?: number;
  staleMs?: number;
  /** Told when a stale lock is taken over, or this lock's file was lost or replaced. */
  onWarning?: (w: { code: 'STORE_LOCK_TAKEN_OVER' | 'STORE_LOCK_LOST'; message: string; file: string; details?: Record<string, unknown> }) => void;
}

/** Data folders open in this process (two stores on one folder would overwrite each other's files). */
const openHere = new Set<string>();

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The start time of a process (clock ticks after boot), where /proc tells it. */
export function processStartTime(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

export function thisProcess(): LockHolder {
  const bootId = readText('/proc/sys/kernel/random/boot_id');
  const pidNs = pidNamespace();
  const start = processStartTime(process.pid);
  return {
    host: hostname(),
    ...(bootId ? { boot_id: bootId } : {}),
    ...(pidNs ? { pid_ns: pidNs } : {}),
    pid: process.pid,
    ...(start ? { start_time: start } : {}),
    started_at: new Date().toISOString(),
    token: randomBytes(12).toString('base64url'),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed holder its parent has not reaped yet (state Z) still answers signal 0, but holds nothing.
  return !zombie(pid);
}

function zombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false; // no /proc (not Linux) or gone: signal 0 decided
  }
}

interface SeenLock {
  text: string;
  holder?: Partial<LockHolder>;
  /** The pid of a LOCK written by an older taxbridge (its pid alone). */
  legacyPid?: number;
  heartbeatAgeMs: number;
}

async function readLock(path: string): Promise<SeenLock | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const seen: SeenLock = { text, heartbeatAgeMs: Math.max(0, Date.now() - mtimeMs) };
  if (/^\s*\d+\s*$/.test(text)) seen.legacyPid = Number(text);
  else {
    try {
      const h = JSON.parse(text) as unknown;
      if (h && typeof h === 'object' && typeof (h as LockHolder).pid === 'number' && typeof (h as LockHolder).host === 'string') seen.holder = h as LockHolder;
    } catch {
      // Being written right now, or garbage: judged by its age alone.
    }
  }
  return seen;
}

/** Why the LOCK's holder is dead (it may be taken over), or undefined while it may be alive. */
function deadBecause(seen: SeenLock, me: LockHolder, staleMs: number): string | undefined {
  const stale = seen.heartbeatAgeMs > staleMs ? `its heartbeat is ${Math.round(seen.heartbeatAgeMs / 1000)} s old (stale after ${staleMs / 1000} s)` : undefined;
  if (seen.legacyPid !== undefined) {
    // Written by a taxbridge without heartbeat: only a local pid check is possible.
    if (seen.legacyPid !== me.pid && !alive(seen.legacyPid)) return `process ${seen.legacyPid} is gone`;
    return undefined;
  }
  const h = seen.holder;
  if (!h) return stale;
  const sameProcessSpace = h.host === me.host && h.boot_id === me.boot_id && h.pid_ns === me.pid_ns;
  if (!sameProcessSpace || typeof h.pid !== 'number') return stale;
  if (!alive(h.pid)) return `process ${h.pid} is gone`;
  const start = processStartTime(h.pid);
  if (h.start_time !== undefined && start !== undefined && start !== h.start_time) return `pid ${h.pid} now belongs to another process`;
  if (h.pid === me.pid) return 'it was left by this process';
  return undefined;
}

function describeHolder(seen: SeenLock): string {
  const h = seen.holder;
  if (seen.legacyPid !== undefined) return `taxbridge process ${seen.legacyPid} (a LOCK without heartbeat, from an older version)`;
  if (!h) return `a process whose LOCK cannot be read (being written, or damaged; last touched ${Math.round(seen.heartbeatAgeMs / 1000)} s ago)`;
  return `taxbridge process ${h.pid} on host ${h.host} (since ${h.started_at ?? 'unknown'}, last heartbeat ${Math.round(seen.heartbeatAgeMs / 1000)} s ago)`;
}

function lockedError(dir: string, seen: SeenLock | 'this process', staleMs: number): TaxbridgeError {
  if (seen === 'this process') {
    return new TaxbridgeError('STORE_LOCKED', `the data folder ${dir} is already open in this process`, { hint: 'close the other store first; one process owns a data folder at a time' });
  }
  const crossHost = seen.holder !== undefined;
  return new TaxbridgeError('STORE_LOCKED', `the data folder ${dir} is in use by ${describeHolder(seen)}`, {
    hint:
      'stop that process first (one process owns a data folder at a time; CLI commands reach a running server with --server)' +
      (crossHost ? `; a holder that cannot be checked from here (another host or container) is taken over once its heartbeat is older than ${staleMs / 1000} s` : '') +
      (seen.legacyPid !== undefined ? `; if no taxbridge uses this folder any more, delete ${join(dir, LOCK_FILE)}` : ''),
    details: { lock: join(dir, LOCK_FILE), ...(seen.holder ? { holder: { host: seen.holder.host, pid: seen.holder.pid, started_at: seen.holder.started_at } } : {}), heartbeat_age_ms: seen.heartbeatAgeMs },
  });
}

async function writeLock(path: string, me: LockHolder): Promise<void> {
  const fh = await open(path, 'wx', FILE_MODE);
  try {
    await fh.chmod(FILE_MODE);
    await fh.writeFile(`${JSON.stringify(me)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface DataDirLock {
  holder: LockHolder;
  /** Stops the heartbeat and removes the LOCK, only if it is still this lock's. */
  release(): Promise<void>;
}

/** Takes the folder's LOCK; see the module comment for when a present one is taken over. */
export async function lockDataDir(dir: string, opts: LockOptions = {}): Promise<DataDirLock> {
  const abs = resolve(dir);
  const staleMs = opts.staleMs ?? LOCK_STALE_MS;
  if (openHere.has(abs)) throw lockedError(abs, 'this process', staleMs);
  const path = join(abs, LOCK_FILE);
  const me = thisProcess();
  for (let tries = 0; ; tries++) {
    try {
      await writeLock(path, me);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 3) throw e;
    }
    const seen = await readLock(path);
    if (!seen) continue;
    const why = deadBecause(seen, me, staleMs);
    if (!why) throw lockedError(abs, seen, staleMs);
    // Another process may have taken it over since it was read: remove only the LOCK that was judged.
    const again = await readLock(path);
    if (again?.text !== seen.text) continue;
    await rm(path, { force: true });
    opts.onWarning?.({ code: 'STORE_LOCK_TAKEN_OVER', message: `took over the LOCK of ${describeHolder(seen)}: ${why}`, file: path, ...(seen.holder ? { details: { holder: seen.holder } } : {}) });
  }
  openHere.add(abs);

  const mine = async (): Promise<boolean> => (await readLock(path).catch(() => undefined))?.holder?.token === me.token;
  let lost = false;
  const beat = async () => {
    if (lost) return;
    if (!(await mine())) {
      lost = true;
      opts.onWarning?.({ code: 'STORE_LOCK_LOST', message: `the LOCK of ${abs} was removed or replaced by another process: two processes may now write this data folder`, file: path });
      return;
    }
    const now = new Date();
    await utimes(path, now, now).catch(() => undefined);
  };
  const timer = setInterval(() => void beat(), opts.heartbeatMs ?? LOCK_HEARTBEAT_MS);
  timer.unref();
  let released = false;
  return {
    holder: me,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      openHere.delete(abs);
      if (await mine()) await rm(path, { force: true });
    },
  };
}
