/**
 * `taxbridge serve` (or another CLI command) as a real child process, run from the TypeScript sources (`CLI`, never a
 * possibly stale dist/), loopback, port 0.
 * `startServe` resolves once the server logs `listening` (with its URL), or rejects with the exit code and
 * stderr when it stops first; `runCli` runs a command to its end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { request } from 'undici';

const ROOT = join(import.meta.dirname, '..', '..');
/** The installed entry (runs dist/): only the package test (test/package.test.ts) spawns it, after building. */
export const BIN = join(ROOT, 'bin', 'taxbridge.js');
/**
 * Node arguments that run the CLI from the TypeScript sources, so tests never depend on a build:
 * spawn(process.execPath, [...CLI, 'validate', ...]). tsx is given by path, whatever the child's working directory.
 */
export const CLI: readonly string[] = ['--import', pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href, join(ROOT, 'src', 'cli', 'bin.ts')];
export const ADMIN_TOKEN = 'a'.repeat(32);

export function serveEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TAXBRIDGE_MASTER_KEY: randomBytes(32).toString('base64'),
    TAXBRIDGE_ADMIN_TOKEN: ADMIN_TOKEN,
    TAXBRIDGE_SCHEDULES: 'false',
    TAXBRIDGE_BACKFILL: 'false',
    TAXBRIDGE_CONNECTORS_DIR: join(ROOT, 'connectors'),
    ...extra,
  };
}

export interface ServeChild {
  child: ChildProcess;
  url: string;
  /** JSON log lines so far (stdout). */
  logs: Array<Record<string, unknown>>;
  stderr(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
  logs: Array<Record<string, unknown>>;
}

function parseLogs(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // Not a log line (a command's own JSON output).
    }
  }
  return out;
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

/** Starts `taxbridge serve --data <dir> --port 0`; with `shell` (e.g. "umask 000") it runs through sh. */
export function startServe(dir: string, opts: { env?: NodeJS.ProcessEnv; shell?: string; args?: string[] } = {}): Promise<ServeChild> {
  const args = [...CLI, 'serve', '--data', dir, '--port', '0', ...(opts.args ?? [])];
  const child = opts.shell
    ? spawn('sh', ['-c', `${opts.shell} && exec "$0" "$@"`, process.execPath, ...args], { env: opts.env ?? serveEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { env: opts.env ?? serveEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  const logs: Array<Record<string, unknown>> = [];
  child.stderr!.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => {
      stdout += `${l}\n`;
      if (!l.startsWith('{')) return;
      const entry = JSON.parse(l) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'listening') {
        // Answered only after the child's code following `listening` ran (signal handlers installed):
        // an I/O callback never runs before the microtasks queued ahead of it.
        void request(`${entry.url as string}/healthz`).then((res) => res.body.dump()).then(() => resolve({
          child,
          url: entry.url as string,
          logs,
          stderr: () => stderr,
          async stop() {
            child.kill('SIGTERM');
            return exited(child);
          },
        }), reject);
      }
    });
    child.once('exit', (code) => {
      const e = new Error(`taxbridge serve exited with ${code} before listening:\n${stderr}`) as Error & Exited;
      Object.assign(e, { code, stdout, stderr, logs });
      reject(e);
    });
  });
}

/** Runs `taxbridge serve` expecting it to stop: its exit code, output and log lines. */
export async function serveUntilExit(dir: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Exited> {
  try {
    const s = await startServe(dir, opts);
    await s.stop();
    throw new Error('taxbridge serve started, but a refusal was expected');
  } catch (e) {
    if ((e as Exited).stderr === undefined) throw e;
    return e as Exited;
  }
}

/** Runs a CLI command to its end. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Exited> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr, logs: parseLogs(stdout) }));
  });
}
