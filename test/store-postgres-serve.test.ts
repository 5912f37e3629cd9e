/**
 * `taxbridge serve` on PostgreSQL (TAXBRIDGE_DATABASE_URL), in process, against the fake Sequence over real
 * sockets: a connection's sync lands in the database, secrets are sealed there (a pg_dump of the database
 * holds none of them in clear), and while the database is out of reach /readyz answers 503 and the tax API
 * 503 (never a 500), both recovering by themselves once it is back.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSequence, type FakeSequence } from '../fakes/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer, until } from './helpers/e2e.ts';
import { createTestDatabase, type TestDatabase } from './helpers/pg.ts';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';

const TOKEN = `adm_${randomBytes(16).toString('hex')}`;
const MASTER_KEY = randomBytes(32).toString('base64');
let db: TestDatabase;
let seq: FakeSequence;
let proxy: TcpProxy;
let server: RunningServer;
let dataDir: string;
const admin = adminClient(() => server.url, TOKEN);

beforeAll(async () => {
  [db, seq] = await Promise.all([createTestDatabase(), startFakeSequence({ counts: { customers: 3, products: 2, invoices: 5, creditNotes: 1 } })]);
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
  const url = new URL(db.url);
  url.port = String(proxy.port);
  dataDir = mkdtempSync(join(tmpdir(), 'tb-pg-serve-'));
  const config = inProcessConfig({ dataDir, env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_MASTER_KEY: MASTER_KEY, TAXBRIDGE_DATABASE_URL: url.toString(), TAXBRIDGE_SCHEDULES: 'false', TAXBRIDGE_DATABASE_STATEMENT_TIMEOUT_MS: '5000' } });
  expect(config.databaseUrl).toBe(url.toString());
  server = await startTestServer(config);
}, 60_000);

afterAll(async () => {
  await server?.close();
  await proxy?.close();
  await seq?.close();
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function call(path: string, method: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${server.url}${path}`, { method: method as 'GET', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('serve on PostgreSQL', () => {
  let apiKey = '';

  it('stores organizations, keys, a connection and its synced records in the database', async () => {
    const org = (await admin('POST', '/admin/organizations', { name: 'PG Co', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX', postal_code: '78701' } })).json.data;
    await admin('POST', `/admin/organizations/${org.id}/registrations`, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
    apiKey = (await admin('POST', `/admin/organizations/${org.id}/keys`, {})).json.data.key;
    const made = await admin('POST', '/admin/connections', { connector: 'sequence', organization_id: org.id, environment: 'sandbox', credentials: { client_id: seq.clientId, client_secret: seq.clientSecret }, base_url: seq.url });
    expect(made.status, JSON.stringify(made.json)).toBe(201);
    const id = made.json.data.connection.id as string;
    let last: unknown;
    await until(async () => {
      const st = (await admin('GET', `/admin/connections/${id}`)).json.data;
      last = st?.backfill;
      return st?.backfill?.status === 'succeeded' && st.sync.invoices.counts.active === 5 ? st : undefined;
    }, 'the backfill of invoices', 30_000).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(last)}`);
    });

    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const entities = await c.query("SELECT count(*)::int AS n FROM taxbridge_entities WHERE connection_id = $1 AND stream = 'invoices'", [id]);
      expect(entities.rows[0].n).toBe(5);
      const conn = await c.query("SELECT doc FROM taxbridge_documents WHERE collection = 'connections' AND id = $1", [id]);
      expect(conn.rows[0].doc.connector).toBe('sequence');
    } finally {
      await c.end();
    }
    const calc = await call('/tax_api/calculate_tax', 'POST', { currency: 'usd', customer_address: { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, line_items: [{ id: 'li_1', amount: 10000, product_id: 'p1' }] }, { 'x-api-key': apiKey });
    expect(calc.status, JSON.stringify(calc.json)).toBe(200);
  }, 60_000);

  it('keeps every secret sealed: a pg_dump of the database holds none of them in clear', async () => {
    await server.store.flush();
    const dump = execFileSync('pg_dump', ['--data-only', db.url], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(dump).toContain('taxbridge_entities'); // the dump is of the right database
    expect(dump).toContain('sequence');
    for (const secret of [seq.clientSecret, apiKey, TOKEN, MASTER_KEY]) {
      expect(secret.length).toBeGreaterThanOrEqual(8);
      expect(dump.includes(secret), `a secret appears in clear in the database: ${secret.slice(0, 4)}...`).toBe(false);
    }
  }, 60_000);

  it('answers /readyz 503 and the tax API 503 (not 500) while the database is unreachable, and recovers by itself', async () => {
    const calc = () => call('/tax_api/calculate_tax', 'POST', { currency: 'usd', customer_address: { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, line_items: [{ id: 'li_2', amount: 5000, product_id: 'p1' }] }, { 'x-api-key': apiKey });
    expect((await call('/readyz', 'GET')).status).toBe(200);
    await proxy.cut();
    const statuses: number[] = [];
    const ready = await until(async () => {
      const r = await calc();
      statuses.push(r.status);
      const rz = await call('/readyz', 'GET');
      return rz.status === 503 ? rz : undefined;
    }, '/readyz 503', 20_000, 100);
    expect(ready.json.checks.store.ok).toBe(false);
    expect(ready.json.checks.store.failing[0]).toMatchObject({ table: 'database', code: expect.stringMatching(/^e[a-z]+$/) });
    expect(statuses).not.toContain(500);
    const refused = await calc();
    expect([503, 200]).toContain(refused.status);
    if (refused.status === 503) expect(refused.headers['retry-after']).toBeDefined();

    await proxy.restore();
    await until(async () => ((await call('/readyz', 'GET')).status === 200 ? true : undefined), '/readyz 200 again', 20_000, 100);
    expect((await calc()).status).toBe(200);
  }, 60_000);
});
