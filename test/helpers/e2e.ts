/**
 * Harness pieces the end-to-end tests share: a free loopback port, polling until something holds (the
 * caller asserts on what it returns; the timeout only stops a hung test), an admin API client, the server
 * in process (startServer) and the environment of `taxbridge serve` as a child process.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig, type ServeConfig } from '../../src/config/index.ts';
import { startServer, type RunningServer } from '../../src/server/serve.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** A port free on 127.0.0.1 right now (for a child process that must be told its port). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Polls `fn` until it gives something other than undefined/false; a throw counts as "not yet" and its message
 * is kept for the timeout error.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls `fn` until it gives something other than undefined; a throw ends the wait (unlike `waitFor`). */
export async function until<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, ms = 30_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface AdminAnswer {
  status: number;
  json: any;
}

/** `admin(method, path, body?)` against the admin API at `base()` (read on each call: servers restart) with a bearer token. */
export function adminClient(base: () => string, token: string): (method: string, path: string, body?: unknown) => Promise<AdminAnswer> {
  return async (method, path, body) => {
    const res = await request(base() + path, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
  };
}

/** The whole environment of a `taxbridge serve` child on 127.0.0.1:`port` (of this process only PATH and HOME), debug logs. */
export function childServeEnv(o: { port: number; dataDir: string; adminToken: string; masterKey: string }): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TAXBRIDGE_PORT: String(o.port),
    TAXBRIDGE_HOST: '127.0.0.1',
    TAXBRIDGE_DATA_DIR: o.dataDir,
    TAXBRIDGE_ADMIN_TOKEN: o.adminToken,
    TAXBRIDGE_MASTER_KEY: o.masterKey,
    TAXBRIDGE_CONNECTORS_DIR: join(ROOT, 'connectors'),
    TAXBRIDGE_LOG_LEVEL: 'debug',
  };
}

/** The config of an in-process server on 127.0.0.1 (port 0 unless `port`): a fresh master key, the shipped connectors unless `connectors`. */
export function inProcessConfig(o: { dataDir: string; connectors?: string; port?: number; env?: NodeJS.ProcessEnv }): ServeConfig {
  return loadConfig({ data: o.dataDir, port: String(o.port ?? 0), connectors: o.connectors ?? join(ROOT, 'connectors') }, { TAXBRIDGE_MASTER_KEY: randomBytes(32).toString('base64'), ...o.env }, ROOT);
}

/** startServer with logs and notices dropped unless `io` says otherwise. */
export function startTestServer(config: ServeConfig, io: Parameters<typeof startServer>[1] = {}): Promise<RunningServer> {
  return startServer(config, { writeLog: () => undefined, notice: () => undefined, ...io });
}
