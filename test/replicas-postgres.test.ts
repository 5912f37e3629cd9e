/**
 * Three `taxbridge serve` replicas on one fresh PostgreSQL database, the fake Rillet behind them. Through the
 * replicas in turn: a test organization, a Rillet connection and a tax API key; then at once a slow full sync
 * of invoices on replica B, cron ticks every 2 s, and a burst of signed webhooks and tax calls round-robin;
 * replica B is killed with SIGKILL a third into the burst, in the middle of its sync. Afterwards:
 * - every acknowledged delivery is in the inbox once, and processed;
 * - every invoice got its tax written once on the fake (one POST .../taxes each, one applied job);
 * - every cron tick ran on one replica only, and none was skipped while the replicas ran;
 * - B's sync was resumed by another replica from B's checkpoint (no first page read twice) and finished;
 * - a key revoked through one replica stops working on another within a second.
 * The database is dropped at the end. PostgreSQL must be running (the test fails otherwise, it never skips).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/pg.ts';
import { exited, startServe, type ServeChild } from './helpers/serve-child.ts';
import { waitFor } from './helpers/e2e.ts';

const ROOT = join(import.meta.dirname, '..');
const ADMIN = `adm_${randomBytes(18).toString('base64url')}`;
const MASTER = randomBytes(32).toString('base64');
const LEASE_MS = 2000;
const INVOICES_IN_SYNC = 450;
const BURST = 18;

let db: TestDatabase;
let sql: pg.Client;
let ril: FakeRillet;
let dirs: string[] = [];
let replicas: ServeChild[] = [];
const killed = new Set<number>();

/** The shipped Rillet spec with what the test needs: a seconds cron on customers, small pages, no client-side rate budget. */
function testConnectors(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tb-replicas-specs-'));
  dirs.push(dir);
  let spec = readFileSync(join(ROOT, 'connectors', 'rillet.yaml'), 'utf8');
  const swap = (from: string, to: string) => {
    if (!spec.includes(from)) throw new Error(`rillet.yaml no longer contains ${from}`);
    spec = spec.replace(from, to);
  };
  swap("schedule: { cron: '*/30 * * * *', timezone: UTC }", "schedule: { cron: '*/2 * * * * *', timezone: UTC }");
  swap('page_size: { param: limit, value: 100 }', 'page_size: { param: limit, value: 5 }');
  swap('rate_limit: { requests: 60, per_seconds: 60 }', 'rate_limit: { requests: 100000, per_seconds: 60 }');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rillet.yaml'), spec);
  return dir;
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await request(base + path, {
    method: method as 'GET',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
}
const admin = (i: number, method: string, path: string, body?: unknown) => call(replicas[i]!.url, method, path, body, { authorization: `Bearer ${ADMIN}` });
const alive = () => replicas.map((_, i) => i).filter((i) => !killed.has(i));

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  ril = await startFakeRillet({ apiKey: `rilkey_${randomBytes(12).toString('hex')}`, signingToken: randomBytes(32).toString('base64'), counts: { customers: 4, products: 3, invoices: INVOICES_IN_SYNC, creditNotes: 0 } });
  ril.webhookTargets = [];
  const connectors = testConnectors();
  const env = (data: string): NodeJS.ProcessEnv => {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TAXBRIDGE_DATABASE_URL: db.url,
      TAXBRIDGE_MASTER_KEY: MASTER,
      TAXBRIDGE_ADMIN_TOKEN: ADMIN,
      TAXBRIDGE_CONNECTORS_DIR: connectors,
      TAXBRIDGE_PUBLIC_URL: 'http://taxbridge.test',
      TAXBRIDGE_BACKFILL: 'false',
      TAXBRIDGE_SCHEDULES: 'true',
      TAXBRIDGE_LEASE_MS: String(LEASE_MS),
      TAXBRIDGE_POLL_MS: '200',
      TAXBRIDGE_LOG_LEVEL: 'info',
      TAXBRIDGE_DATA_DIR: data,
    };
  };
  // All three start together: the migrations run once, under the migration lock.
  replicas = await Promise.all(
    [0, 1, 2].map(() => {
      // Each replica its own (unused) data folder: everything shared lives in the database.
      const data = mkdtempSync(join(tmpdir(), 'tb-replica-'));
      dirs.push(data);
      return startServe(data, { env: env(data) });
    }),
  );
}, 90_000);

afterAll(async () => {
  for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
  await Promise.all(replicas.map((r) => exited(r.child)));
  await sql?.end().catch(() => undefined);
  await db?.drop();
  await ril?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

describe('three replicas on one PostgreSQL database', () => {
  it('share the work: nothing acknowledged lost, nothing done twice, a killed replica\'s sync finished elsewhere', async () => {
    const started = Date.now();
    // ---- setup, each step through another replica
    const org = await admin(0, 'POST', '/admin/organizations', { name: 'Replica Co', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' }, default_product_tax_code: 'general' });
    expect(org.status).toBe(201);
    const orgId = org.json.data.id as string;
    expect((await admin(1, 'POST', `/admin/organizations/${orgId}/registrations`, { country: 'US', state: 'TX', tax_calculation: true, effective_from: '2020-01-01' })).status).toBe(201);
    const usd = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!;
    const c1 = await admin(2, 'POST', '/admin/connections', { connector: 'rillet', organization_id: orgId, credentials: { api_key: ril.apiKey }, base_url: ril.url });
    expect(c1.status, JSON.stringify(c1.json)).toBe(201);
    const connId = c1.json.data.connection.id as string;
    const webhookPath = new URL(c1.json.data.webhook_url as string).pathname;
    const c2 = await admin(0, 'PATCH', `/admin/connections/${connId}`, { settings: { subsidiary_id: usd.id }, credentials: { signing_token: ril.signingToken } });
    expect(c2.status, JSON.stringify(c2.json)).toBe(200);
    expect(c2.json.data.connection.status).toBe('active');
    const key = await admin(1, 'POST', `/admin/organizations/${orgId}/keys`, { name: 'replicas' });
    expect(key.status).toBe(201);
    const taxKey = key.json.data.key as string;
    const taxKeyId = key.json.data.id as string;
    // The connection was made through replica 0 and 2: replica 1 learns of it by the change notice and ticks too.
    const customersSchedule = `${connId}:customers:0`;

    // ---- a slow full sync of invoices on replica 1 (the one to be killed)
    ril.setLatency(120);
    const expectedInvoices = [...ril.data.invoices.values()].filter((i) => i.subsidiary_id === usd.id).length;
    expect(expectedInvoices).toBeGreaterThan(100); // twenty pages of 5 or more
    // Replica 1 runs the connection once the change notice reached it (409 until then).
    await waitFor('replica 1 to run the connection', async () => (await admin(1, 'POST', `/admin/connections/${connId}/sync`, { streams: ['invoices'], full: true })).status === 202, 10_000, 50);
    const checkpoint = async () => (await sql.query<{ page: string | null; run_id: string | null }>(`SELECT value #>> '{run,page}' AS page, value #>> '{run,id}' AS run_id FROM taxbridge_checkpoints WHERE connection_id = $1 AND stream = 'invoices'`, [connId])).rows[0];
    const firstRun = await waitFor('two pages of the sync committed', async () => {
      const c = await checkpoint();
      return c && Number(c.page) >= 2 ? c : undefined;
    }, 30_000, 50);

    // ---- the burst: signed webhooks and tax calls round-robin; replica 1 killed a third of the way in
    const acked = new Map<string, string>(); // event id -> invoice id
    const customer = [...ril.data.customers.values()].find((c) => c.address?.state === 'TX') ?? [...ril.data.customers.values()][0]!;
    const created: string[] = [];
    const taxAnswers: number[] = [];
    let killedAtPage: number | undefined;
    for (let i = 0; i < BURST; i++) {
      if (i === BURST / 3) {
        const c = await checkpoint();
        // Still in the middle of its sync (the run in progress is in the checkpoint).
        expect(c?.run_id, 'the sync was still running when replica 1 was killed').toBe(firstRun.run_id);
        killedAtPage = Number(c!.page);
        replicas[1]!.child.kill('SIGKILL');
        killed.add(1);
        await exited(replicas[1]!.child);
      }
      const inv = ril.createInvoice({ customer_id: customer.id, subsidiary_id: usd.id, status: 'UNPAID', itemCount: 1 });
      created.push(inv.id);
      const eventId = `evt-${i}-${randomBytes(4).toString('hex')}`;
      // A sender retries a delivery that got no 2xx: on the next replica (the load balancer's job).
      for (let attempt = 0; attempt < 3; attempt++) {
        const to = (i + attempt) % 3;
        try {
          const r = await ril.sendWebhook(`${replicas[to]!.url}${webhookPath}`, { entity: 'INVOICE', event: 'CREATED', id: inv.id }, { eventId });
          if (r.status >= 200 && r.status < 300) {
            acked.set(eventId, inv.id);
            break;
          }
        } catch {
          // connection refused: the killed replica
        }
      }
      const t = (i % 3) as number;
      try {
        const r = await call(replicas[t]!.url, 'POST', '/tax_api/calculate_tax', { currency: 'usd', customer_address: { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, line_items: [{ id: 'a', amount: 10000, product_id: 'p' }] }, { 'x-api-key': taxKey });
        taxAnswers.push(r.status);
      } catch {
        expect(killed.has(t)).toBe(true);
      }
    }
    expect(acked.size).toBe(BURST);
    expect(taxAnswers.every((s) => s === 200)).toBe(true);
    expect(killedAtPage).toBeGreaterThanOrEqual(2);

    // ---- every acknowledged delivery stored once and processed
    const events = await waitFor('every event processed', async () => {
      const r = await sql.query<{ event_id: string; status: string; n: string }>(`SELECT doc->>'event_id' AS event_id, doc->>'status' AS status, count(*) OVER (PARTITION BY doc->>'event_id') AS n FROM taxbridge_documents WHERE collection = 'webhook_events'`);
      const mine = r.rows.filter((e) => acked.has(e.event_id));
      return mine.length === acked.size && mine.every((e) => e.status === 'processed') ? mine : undefined;
    }, 40_000, 200);
    expect(events.every((e) => Number(e.n) === 1)).toBe(true);

    // ---- every write-back applied once on the fake
    await waitFor('tax on every new invoice', () => created.every((id) => ril.data.invoices.get(id)?.taxes_calculated_at), 40_000, 200);
    const posts = new Map<string, Array<string | undefined>>();
    for (const r of ril.requests) {
      const m = /^\/invoices\/([^/]+)\/taxes$/.exec(r.path);
      if (r.method !== 'POST' || !m || r.status < 200 || r.status >= 300) continue;
      const list = posts.get(m[1]!) ?? [];
      list.push(String(r.headers['idempotency-key'] ?? ''));
      posts.set(m[1]!, list);
    }
    for (const id of created) {
      const sent = posts.get(id) ?? [];
      // Once; a job re-run after its replica died re-sends with the same idempotency key, which the fake does not apply again.
      expect(new Set(sent).size, `tax writes of ${id}: ${JSON.stringify(sent)}`).toBe(1);
    }
    // The job records `applied` just after the fake answered the POST.
    const jobs = await waitFor('every job applied', async () => {
      const r = await sql.query<{ document_id: string; status: string }>(`SELECT doc->>'document_id' AS document_id, doc->>'status' AS status FROM taxbridge_documents WHERE collection = 'writeback_jobs' AND doc->>'status' = 'applied'`);
      return created.every((id) => r.rows.some((j) => j.document_id === id)) ? r.rows : undefined;
    }, 20_000, 100);
    for (const id of created) expect(jobs.filter((j) => j.document_id === id), `applied jobs of ${id}`).toHaveLength(1);

    // ---- the killed replica's sync finished by another from its checkpoint
    const resumed = await waitFor('the sync resumed and finished elsewhere', async () => {
      const r = await sql.query<{ doc: Record<string, unknown> }>(`SELECT doc FROM taxbridge_documents WHERE collection = 'sync_runs' AND doc->>'connection_id' = $1 AND doc->>'stream' = 'invoices'`, [connId]);
      return r.rows.map((x) => x.doc).find((d) => d.status === 'ok' && typeof d.resumed_from_page === 'number');
    }, 40_000, 200);
    expect(resumed.resumed_from_page as number).toBeGreaterThanOrEqual(killedAtPage! + 1);
    const after = await checkpoint();
    expect(after?.run_id ?? null).toBeNull(); // the run completed
    const taker = alive().find((i) => replicas[i]!.logs.some((l) => l.msg === 'resuming a sync no replica is running, from its checkpoint' && l.stream === 'invoices' && l.run_id === firstRun.run_id));
    expect(taker, 'a surviving replica resumed run ' + firstRun.run_id).toBeDefined();
    const stored = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM taxbridge_entities WHERE connection_id = $1 AND stream = 'invoices'`, [connId]);
    expect(Number(stored.rows[0]!.n)).toBe(expectedInvoices + created.length);
    // From the checkpoint: the first page of the full read was requested once (by the killed replica).
    const firstPages = ril.requests.filter((r) => r.method === 'GET' && r.path === '/invoices' && r.query.cursor === undefined && r.query['updated.gt'] === undefined);
    expect(firstPages, 'first pages of the full read').toHaveLength(1);

    // ---- a revoked key stops working on another replica within a second
    const [a, b] = alive();
    expect((await call(replicas[b!]!.url, 'GET', '/tax_api/test_credentials', undefined, { 'x-api-key': taxKey })).status).toBe(200);
    const revoked = await admin(a!, 'DELETE', `/admin/keys/${taxKeyId}`);
    expect(revoked.status).toBe(200);
    const t0 = Date.now();
    let refusedAfter: number | undefined;
    while (Date.now() - t0 < 1000) {
      if ((await call(replicas[b!]!.url, 'GET', '/tax_api/test_credentials', undefined, { 'x-api-key': taxKey })).status === 401) {
        refusedAfter = Date.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(refusedAfter, 'the revoked key still worked on the other replica after 1 s').toBeDefined();

    // ---- every cron tick ran once, on one replica, none skipped
    ril.setLatency(0);
    const ticks = new Map<string, number[]>();
    for (const [i, r] of replicas.entries()) {
      for (const l of r.logs) {
        if (l.schedule !== customersSchedule || typeof l.tick !== 'string') continue;
        const seen = ticks.get(l.tick) ?? [];
        seen.push(i);
        ticks.set(l.tick, seen);
      }
    }
    const times = [...ticks.keys()].sort();
    expect(times.length).toBeGreaterThanOrEqual(3);
    for (const [tick, who] of ticks) expect(who, `tick ${tick} ran on ${JSON.stringify(who)}`).toHaveLength(1);
    const gaps = times.slice(1).map((t, i) => Date.parse(t) - Date.parse(times[i]!));
    expect(gaps.every((g) => g === 2000), `ticks ${JSON.stringify(times)}`).toBe(true);
    const tickers = new Set([...ticks.values()].flat());
    console.log(JSON.stringify({ replicas: 3, burst: BURST, acked: acked.size, tax_calls: taxAnswers.length, ticks: times.length, tick_replicas: [...tickers], killed_at_page: killedAtPage, resumed_from_page: resumed.resumed_from_page, resumed_by: taker, revoked_refused_after_ms: refusedAfter, ms: Date.now() - started }));
  }, 150_000);
});
