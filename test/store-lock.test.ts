/**
 * The data folder's LOCK works across containers: liveness is never judged by pid alone. A LOCK held by
 * "another container" (our own pid, another host name and boot id, fresh heartbeat) is refused naming the
 * holder, by the store and by a real `taxbridge serve`; a stale heartbeat is taken over; on this machine a
 * dead pid or a reused pid (other start time) is taken over at once, and a live holder is never taken over.
 * The holder's heartbeat refreshes the LOCK's mtime; release removes only its own LOCK.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, type StoreWarning } from '../src/store/index.ts';
import { lockDataDir, processStartTime, thisProcess, type LockHolder } from '../src/store/lock.ts';
import { exited, serveUntilExit } from './helpers/serve-child.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tb-lock-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill('SIGKILL');
    await exited(c);
  }
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function writeLock(dir: string, holder: Partial<LockHolder>, ageMs = 0): Promise<string> {
  const path = join(dir, 'LOCK');
  const text = `${JSON.stringify({ started_at: '2026-01-01T00:00:00.000Z', token: 'theirs', ...holder })}\n`;
  await writeFile(path, text);
  const t = new Date(Date.now() - ageMs);
  await utimes(path, t, t);
  return text;
}

/** A LOCK as a taxbridge in another container writes it: same pid as ours (both pid 1 there), other host. */
function otherContainer(): Partial<LockHolder> {
  return { host: 'container-b', boot_id: '00000000-0000-0000-0000-000000000000', pid_ns: 'pid:[1]', pid: process.pid, start_time: '42' };
}

/** A live process on this machine (same host, boot and pid namespace). */
function sleeper(): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

describe('data folder lock', () => {
  it('refuses a LOCK of another container with a fresh heartbeat, naming the holder, and leaves it', async () => {
    const dir = await tempDir();
    const text = await writeLock(dir, otherContainer());
    const e = await openStore({ dir }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'STORE_LOCKED', details: { holder: { host: 'container-b', pid: process.pid, started_at: '2026-01-01T00:00:00.000Z' } } });
    expect((e as Error).message).toMatch(new RegExp(`in use by taxbridge process ${process.pid} on host container-b \\(since 2026-01-01T00:00:00.000Z, last heartbeat \\d+ s ago\\)`));
    expect((e as { hint: string }).hint).toContain('taken over once its heartbeat is older than 30 s');
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe(text);
  });

  it('takes over a LOCK whose heartbeat is stale, with a warning', async () => {
    const dir = await tempDir();
    await writeLock(dir, otherContainer(), 31_000);
    const warnings: StoreWarning[] = [];
    const store = await openStore({ dir, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([expect.objectContaining({ code: 'STORE_LOCK_TAKEN_OVER', message: expect.stringMatching(/container-b.*its heartbeat is 3\d s old \(stale after 30 s\)/) })]);
    const mine = JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')) as LockHolder;
    expect(mine).toMatchObject({ pid: process.pid, host: thisProcess().host });
    await store.close();
    await expect(stat(join(dir, 'LOCK'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('on this machine: a live holder is refused even with a stale heartbeat; a dead or reused pid is taken over at once', async () => {
    const me = thisProcess();
    const dir = await tempDir();
    const live = sleeper();
    await new Promise((r) => live.once('spawn', r));
    const liveStart = processStartTime(live.pid!);
    await writeLock(dir, { ...me, token: 'theirs', pid: live.pid!, ...(liveStart ? { start_time: liveStart } : {}) }, 10 * 60_000);
    await expect(lockDataDir(dir)).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining(`taxbridge process ${live.pid} on host ${me.host}`) });

    // The same pid, but its start time says it is another process now (pid reuse after a crash).
    if (liveStart) {
      await writeLock(dir, { ...me, token: 'theirs', pid: live.pid!, start_time: String(Number(liveStart) - 1) });
      const reused = await lockDataDir(dir);
      await reused.release();
    }

    const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await exited(dead);
    await writeLock(dir, { ...me, token: 'theirs', pid: dead.pid! });
    const warnings: string[] = [];
    const lock = await lockDataDir(dir, { onWarning: (w) => warnings.push(w.message) });
    expect(warnings).toEqual([expect.stringContaining(`process ${dead.pid} is gone`)]);
    await lock.release();
  });

  it('a killed holder its parent has not reaped yet (a zombie) is taken over at once', async () => {
    if (process.platform !== 'linux') return;
    const me = thisProcess();
    const dir = await tempDir();
    // sh starts the holder in the background, then becomes `sleep`, which never reaps it: killed, it stays Z.
    const parent = spawn('sh', ['-c', `${JSON.stringify(process.execPath)} -e "setInterval(() => {}, 1000)" & echo $!; exec sleep 30`], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(parent);
    const pid = Number(await new Promise<string>((r) => parent.stdout!.once('data', (d: Buffer) => r(d.toString().trim()))));
    const start = processStartTime(pid);
    await writeLock(dir, { ...me, token: 'theirs', pid, ...(start ? { start_time: start } : {}) });
    await expect(lockDataDir(dir)).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    process.kill(pid, 'SIGKILL');
    const state = async () => (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.[0];
    for (let i = 0; i < 100 && (await state()) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await state()).toBe('Z');
    const lock = await lockDataDir(dir, { onWarning: () => undefined });
    await lock.release();
  });

  it('the holder refreshes the LOCK mtime (heartbeat) and release removes only its own LOCK', async () => {
    const dir = await tempDir();
    const lock = await lockDataDir(dir, { heartbeatMs: 10 });
    const path = join(dir, 'LOCK');
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    while ((await stat(path)).mtimeMs <= old.getTime() + 1000) await new Promise((r) => setTimeout(r, 10));
    // Someone replaced it (it took the lock over while we were stalled): ours must not delete theirs.
    const theirs = await writeLock(dir, otherContainer());
    await lock.release();
    expect(await readFile(path, 'utf8')).toBe(theirs);
  });

  it('taxbridge serve refuses a LOCK of another container, naming it, and leaves the LOCK', async () => {
    const dir = await tempDir();
    // Another container's server; its pid could be anything, ours included.
    const text = await writeLock(dir, { ...otherContainer(), pid: 1 });
    const r = await serveUntilExit(dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`store_locked: the data folder ${dir} is in use by taxbridge process 1 on host container-b`);
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe(text);
  });

  it('a LOCK that cannot be parsed (being written) is refused while fresh, taken over when stale', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'LOCK'), '');
    await expect(lockDataDir(dir)).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining('cannot be read') });
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'LOCK'), old, old);
    await (await lockDataDir(dir)).release();
  });
});
