/**
 * `taxbridge serve` in process on port 0: health, readiness, JSON errors and 404s, the admin token
 * (generated once, kept as a hash, replaced on demand), the master key requirement, OpenAPI completeness,
 * structured logs, and graceful shutdown that finishes a request in flight.
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type ServeConfig } from '../src/config/index.ts';
import { startServer, type RunningServer } from '../src/server/serve.ts';
import { openApiDocument } from '../src/server/openapi.ts';

const ROOT = join(import.meta.dirname, '..');
const dirs: string[] = [];
const running: RunningServer[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tb-serve-'));
  dirs.push(d);
  return d;
}

function configFor(dataDir: string, env: NodeJS.ProcessEnv = {}): ServeConfig {
  return loadConfig({ data: dataDir, port: '0', connectors: join(ROOT, 'connectors') }, { TAXBRIDGE_MASTER_KEY: randomBytes(32).toString('base64'), TAXBRIDGE_SCHEDULES: 'false', ...env }, ROOT);
}

async function start(config: ServeConfig, io: Parameters<typeof startServer>[1] = {}) {
  const lines: string[] = [];
  const notices: string[] = [];
  const s = await startServer(config, { writeLog: (l) => lines.push(l), notice: (t) => notices.push(t), ...io });
  running.push(s);
  return { s, lines, notices };
}

async function call(s: RunningServer, method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}) {
  const res = await request(s.url + path, { method: method as 'GET', headers: opts.headers, body: opts.body });
  const text = await res.body.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text, headers: res.headers };
}

afterEach(async () => {
  for (const s of running.splice(0)) await s.close().catch(() => undefined);
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('health and errors', () => {
  it('answers /healthz, /readyz, JSON 404s and never a stack', async () => {
    const { s } = await start(configFor(tempDir(), { TAXBRIDGE_ADMIN_TOKEN: 'a'.repeat(32) }));
    const h = await call(s, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ status: 'ok', version: expect.any(String) });
    const r = await call(s, 'GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.json.checks).toMatchObject({ store: { ok: true }, specs: { ok: true, loaded: expect.arrayContaining(['rillet', 'sequence']) }, workers: { ok: true } });

    for (const [method, path] of [['GET', '/nope'], ['POST', '/tax'], ['GET', '/webhooks']]) {
      const n = await call(s, method!, path!);
      expect(n.status, path).toBe(404);
      expect(n.json).toMatchObject({ type: 'api_error', code: 'not_found' });
    }
    const wrongMethod = await call(s, 'GET', '/webhooks/whk_abcdefghijklmnopqrstuvwxyz');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.json.code).toBe('method_not_allowed');
    expect(wrongMethod.json.message).not.toContain('whk_abcdefghijklmnop'); // tokens are not echoed
    const unknownToken = await call(s, 'POST', '/webhooks/whk_abcdefghijklmnopqrstuvwxyz', { body: '{}', headers: { 'content-type': 'application/json' } });
    expect(unknownToken.status).toBe(404);

    const auth = { authorization: `Bearer ${'a'.repeat(32)}`, 'content-type': 'application/json' };
    const cases: Array<[string, string, string | undefined, number, string]> = [
      ['POST', '/admin/connections', '{not json', 400, 'validation_errors'],
      ['POST', '/admin/connections', '[]', 400, 'invalid_input'],
      ['POST', '/admin/connections', JSON.stringify({ connector: 'sequence', organization_id: 'x', colour: 'red' }), 400, 'invalid_input'],
      ['POST', '/admin/connections', JSON.stringify({ connector: 'nope', organization_id: 'x' }), 400, 'connector_unknown'],
      ['POST', '/admin/connections', JSON.stringify({ connector: 'sequence', organization_id: 'org_missing', credentials: { client_id: 'a', client_secret: 'b' } }), 404, 'not_found'],
      ['GET', '/admin/connections/conn_missing', undefined, 404, 'not_found'],
      ['PATCH', '/admin/connections/conn_missing', '{}', 404, 'not_found'],
      ['DELETE', '/admin/connections/conn_missing', undefined, 404, 'not_found'],
      ['POST', '/admin/connections/conn_missing/sync', undefined, 404, 'not_found'],
      ['GET', '/admin/connections?status=sleeping', undefined, 400, 'invalid_input'],
      ['GET', '/admin/whatever', undefined, 404, 'not_found'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await call(s, method, path, { body, headers: auth });
      expect(res.status, `${method} ${path} ${body}`).toBe(status);
      expect(res.json?.code, `${method} ${path}`).toBe(code);
      expect(res.text).not.toMatch(/\bat .*\.ts:\d+/); // no stack frames
    }
    const big = await call(s, 'POST', '/admin/connections', { body: JSON.stringify({ connector: 'x'.repeat(300_000) }), headers: auth });
    expect(big.status).toBe(413);
    expect(big.json.type).toBe('api_error');
  });

  it('publishes an OpenAPI 3.1 document covering every mounted route', async () => {
    const { s } = await start(configFor(tempDir(), { TAXBRIDGE_ADMIN_TOKEN: 'b'.repeat(32) }));
    const doc = (await call(s, 'GET', '/openapi.json')).json;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument({ version: doc.info.version, serverUrl: doc.servers[0].url }))));
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, object>)) for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${path}`);
    const mounted = new Set(
      s
        .routes()
        .filter((r) => !r.path.includes('*'))
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`),
    );
    expect([...mounted].filter((r) => !documented.has(r)), 'mounted but not documented').toEqual([]);
    expect([...documented].filter((r) => !mounted.has(r)), 'documented but not mounted').toEqual([]);
    // Every operation says what its errors look like, and every $ref resolves.
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"#\/components\/schemas\/([A-Za-z]+)"/g)) expect(doc.components.schemas[m[1]!], m[1]).toBeDefined();
  });
});

describe('the admin token', () => {
  it('is generated at first start, printed once, stored only as a hash, and replaceable', async () => {
    const dir = tempDir();
    const config = configFor(dir);
    const first = await start(config);
    const token = /tbadmin_[0-9A-Za-z]{40}/.exec(first.notices.join(''))?.[0];
    expect(token).toBeTruthy();
    expect((await call(first.s, 'GET', '/admin/connections', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await call(first.s, 'GET', '/admin/organizations', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await call(first.s, 'GET', '/admin/events', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await call(first.s, 'GET', '/admin/organizations', { headers: { authorization: 'Bearer wrong-token-000000000000' } })).status).toBe(401);
    expect(first.lines.join('')).not.toContain(token!);
    await first.s.close();
    const disk = readdirSync(join(dir, 'collections')).map((f) => readFileSync(join(dir, 'collections', f), 'utf8')).join('');
    expect(disk).not.toContain(token!);
    expect(disk).toMatch(/sha256:[0-9a-f]{64}/);

    const second = await start(config);
    expect(second.notices).toEqual([]);
    expect((await call(second.s, 'GET', '/admin/connections', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    await second.s.close();

    const third = await start(config, { newAdminToken: true });
    const fresh = /tbadmin_[0-9A-Za-z]{40}/.exec(third.notices.join(''))?.[0];
    expect(fresh).toBeTruthy();
    expect(fresh).not.toBe(token);
    expect((await call(third.s, 'GET', '/admin/connections', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect((await call(third.s, 'GET', '/admin/connections', { headers: { authorization: `Bearer ${fresh}` } })).status).toBe(200);
  });
});

describe('start-up requirements', () => {
  it('refuses to start without a master key, naming the ways to give one, and leaves the folder unlocked', async () => {
    const dir = tempDir();
    const config = loadConfig({ data: dir, port: '0', connectors: join(ROOT, 'connectors') }, {}, ROOT);
    const err = await startServer(config, { writeLog: () => undefined }).catch((e) => e);
    expect(err.code).toBe('MASTER_KEY_MISSING');
    expect(err.hint).toMatch(/TAXBRIDGE_MASTER_KEY.*TAXBRIDGE_MASTER_KEY_FILE.*--init-key/s);
    expect(readdirSync(dir)).not.toContain('LOCK');
    const withInit = await start({ ...config, initKey: true });
    expect(readdirSync(dir)).toContain('master.key');
    expect(withInit.lines.some((l) => JSON.parse(l).msg.startsWith('master key created'))).toBe(true);
  });

  it('refuses a second server on the same data folder', async () => {
    const dir = tempDir();
    const config = configFor(dir, { TAXBRIDGE_ADMIN_TOKEN: 'c'.repeat(32) });
    await start(config);
    const err = await startServer({ ...config, port: 0 }, { writeLog: () => undefined }).catch((e) => e);
    expect(err.code).toBe('STORE_LOCKED');
  });
});

describe('port 0', () => {
  it('binds before handing out URLs: the public URL, OpenAPI server and listening log name the real port', async () => {
    const { s, lines } = await start(configFor(tempDir(), { TAXBRIDGE_ADMIN_TOKEN: 'p'.repeat(32) }));
    expect(s.port).toBeGreaterThan(0);
    const doc = (await call(s, 'GET', '/openapi.json')).json;
    expect(doc.servers[0].url).toBe(`http://127.0.0.1:${s.port}`);
    const listening = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'listening');
    expect(listening.public_url).toBe(`http://127.0.0.1:${s.port}`);
    expect(JSON.stringify(lines)).not.toContain(':0/');
  });

  it('keeps an explicit public URL as given', async () => {
    const { s } = await start(configFor(tempDir(), { TAXBRIDGE_ADMIN_TOKEN: 'q'.repeat(32), TAXBRIDGE_PUBLIC_URL: 'https://tax.example.com' }));
    expect((await call(s, 'GET', '/openapi.json')).json.servers[0].url).toBe('https://tax.example.com');
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight, refuses new connections, then closes the store', async () => {
    const { s, lines } = await start(configFor(tempDir(), { TAXBRIDGE_ADMIN_TOKEN: 'd'.repeat(32) }));
    const port = s.port;
    // A request whose body is still arriving when the shutdown starts.
    const sock = netConnect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const body = JSON.stringify({ name: 'Slow Co', mode: 'test' });
    let answer = '';
    sock.setEncoding('utf8').on('data', (d: string) => (answer += d));
    sock.write(`POST /admin/organizations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'d'.repeat(32)}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    await new Promise((r) => setTimeout(r, 100));
    const closing = s.close('test');
    await new Promise((r) => setTimeout(r, 100));
    // New connections are refused while the old request is still being answered.
    const refused = await new Promise<boolean>((resolve) => {
      const c = netConnect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(false);
      });
      c.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    sock.write(body.slice(5));
    await closing;
    await new Promise((r) => setTimeout(r, 50));
    expect(answer).toMatch(/^HTTP\/1\.1 201/);
    expect(answer).toContain('Slow Co');
    sock.destroy();
    const msgs = lines.map((l) => JSON.parse(l));
    for (const m of msgs) expect(Object.keys(m).slice(0, 3)).toEqual(['time', 'level', 'msg']);
    expect(msgs.map((m) => m.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    expect(msgs.findIndex((m) => m.msg === 'stopped')).toBe(msgs.length - 1);
  });

  it('does not wait past the shutdown timeout for a worker stuck in its job (a rate budget window), and still closes the store', async () => {
    const dir = tempDir();
    const { s, lines } = await start(configFor(dir, { TAXBRIDGE_ADMIN_TOKEN: 'e'.repeat(32), TAXBRIDGE_SHUTDOWN_TIMEOUT_MS: '300' }));
    // A job waiting for the next window of a 60-per-minute (or hourly) budget: its stop never comes in time.
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const stop = s.webhooks.stop.bind(s.webhooks);
    s.webhooks.stop = () => stuck.then(stop);
    const closed = await Promise.race([s.close('test').then(() => 'closed'), new Promise((r) => setTimeout(() => r('hung'), 10_000))]);
    expect(closed).toBe('closed');
    const msgs = lines.map((l) => JSON.parse(l));
    expect(msgs.find((m) => m.msg.startsWith('shutdown timeout: webhook and write-back workers'))).toBeDefined();
    expect(msgs.at(-1).msg).toBe('stopped');
    // The store is closed and the folder free: the next start opens it.
    const again = await start(configFor(dir, { TAXBRIDGE_ADMIN_TOKEN: 'e'.repeat(32) }));
    expect((await request(`http://127.0.0.1:${again.s.port}/readyz`)).statusCode).toBe(200);
    release();
  });
});
