/**
 * Console sessions across replicas: two `taxbridge serve` in this process on one fresh PostgreSQL database.
 * A browser signed in through replica A is signed in on replica B (reads, and changes with the CSRF token A
 * gave); the database holds only a hash of the session id (neither the cookie nor the CSRF token); a sign-out
 * through B ends the session on A too; a restarted replica keeps the sessions. The database is dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server/serve.ts';
import { createTestDatabase, type TestDatabase } from './helpers/pg.ts';
import { inProcessConfig, startTestServer } from './helpers/e2e.ts';

const ADMIN_TOKEN = `adm_${randomBytes(18).toString('base64url')}`;
const MASTER = randomBytes(32).toString('base64');
let db: TestDatabase;
let dir: string;
let a: RunningServer;
let b: RunningServer;

const start = (name: string) =>
  startTestServer(inProcessConfig({ dataDir: join(dir, name), env: { TAXBRIDGE_ADMIN_TOKEN: ADMIN_TOKEN, TAXBRIDGE_MASTER_KEY: MASTER, TAXBRIDGE_DATABASE_URL: db.url, TAXBRIDGE_SCHEDULES: 'false' } }), { consoleDir: dir });

async function call(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await request(base + path, { method: method as 'GET', headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

async function storedSessions(): Promise<string[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query<{ doc: unknown }>(`SELECT doc FROM taxbridge_documents WHERE collection = 'console_sessions'`)).rows.map((r) => JSON.stringify(r.doc));
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'tb-console-pg-'));
  a = await start('a');
  b = await start('b');
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('console sessions on PostgreSQL', () => {
  let cookie = '';
  let csrf = '';

  it('a session made on replica A works on replica B, for reads and for changes with its CSRF token', async () => {
    const r = await call(a.url, 'POST', '/console/session', {}, { token: ADMIN_TOKEN });
    expect(r.status).toBe(201);
    cookie = String(r.headers['set-cookie']).split(';')[0]!;
    csrf = r.json.data.csrf_token;
    expect((await call(b.url, 'GET', '/admin/organizations', { cookie })).status).toBe(200);
    expect((await call(b.url, 'GET', '/console/session', { cookie })).json.data.csrf_token).toBe(csrf);
    expect((await call(b.url, 'POST', '/admin/organizations', { cookie }, { name: 'Across', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' } })).status).toBe(403);
    const made = await call(b.url, 'POST', '/admin/organizations', { cookie, 'x-csrf-token': csrf }, { name: 'Across', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' } });
    expect(made.status).toBe(201);
    // Another session's CSRF token does not fit this one.
    const other = await call(b.url, 'POST', '/console/session', {}, { token: ADMIN_TOKEN });
    expect((await call(a.url, 'POST', '/admin/organizations', { cookie, 'x-csrf-token': other.json.data.csrf_token }, { name: 'x' })).status).toBe(403);
  });

  it('stores only a hash of the session id: neither the cookie nor the CSRF token is in the database', async () => {
    const docs = await storedSessions();
    expect(docs.length).toBe(2);
    const id = cookie.split('=')[1]!;
    for (const d of docs) {
      expect(d).not.toContain(id);
      expect(d).not.toContain(csrf);
      expect(Object.keys(JSON.parse(d)).sort()).toEqual(['created_at', 'expires_at', 'id', 'seen_at']);
    }
  });

  it('keeps the session through a restart of a replica', async () => {
    await a.close();
    a = await start('a');
    expect((await call(a.url, 'GET', '/admin/organizations', { cookie })).status).toBe(200);
  });

  it('a sign-out through B ends the session on A', async () => {
    expect((await call(b.url, 'DELETE', '/console/session', { cookie, 'x-csrf-token': csrf })).status).toBe(204);
    expect((await call(a.url, 'GET', '/admin/organizations', { cookie })).status).toBe(401);
    expect((await call(b.url, 'GET', '/console/session', { cookie })).status).toBe(401);
    expect((await storedSessions()).length).toBe(1);
  });
});
