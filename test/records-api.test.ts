/**
 * GET /admin/connections/{id}/records/{stream}: a connection's synced records over real HTTP after a real
 * backfill from the fake Sequence — pages that cover every record exactly once, search by id or content,
 * one record, and what a client (or an attacker) might send instead: unknown streams, prototype names,
 * repeated or oversized parameters, limits out of range.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSequence, type FakeSequence } from '../fakes/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer, until } from './helpers/e2e.ts';

const TOKEN = 'adm_records_' + 'r'.repeat(30);
let dir: string;
let server: RunningServer;
let seq: FakeSequence;
let conn = '';
const admin = adminClient(() => server.url, TOKEN);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tb-records-'));
  seq = await startFakeSequence({ seed: 5, counts: { customers: 23, products: 3, invoices: 4, creditNotes: 1 } });
  server = await startTestServer(inProcessConfig({ dataDir: dir, env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }));
  const org = (await admin('POST', '/admin/organizations', { name: 'R', mode: 'test' })).json.data;
  const c = await admin('POST', '/admin/connections', { connector: 'sequence', organization_id: org.id, environment: 'sandbox', base_url: seq.url, credentials: { client_id: seq.clientId, client_secret: seq.clientSecret } });
  conn = c.json.data.connection.id;
  await until(async () => ((await admin('GET', `/admin/connections/${conn}`)).json.data.backfill?.status === 'succeeded' ? true : undefined), 'the backfill', 25_000, 100);
});
afterAll(async () => {
  await server?.close();
  await seq?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('records of a connection', () => {
  it('pages through a stream in id order, every record exactly once', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    let active = 0;
    for (;;) {
      const r = await admin('GET', `/admin/connections/${conn}/records/customers?limit=10${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      expect(r.status).toBe(200);
      pages++;
      seen.push(...r.json.data.map((x: any) => x.external_id));
      active = r.json.counts.active;
      expect(active + r.json.counts.deleted).toBe(23);
      if (!r.json.next_after) break;
      after = r.json.next_after;
    }
    expect(active).toBeGreaterThan(20);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(active);
    expect(new Set(seen).size).toBe(active);
    expect([...seen].sort()).toEqual(seen);
    for (const id of seen) expect(seq.data.customers.has(id)).toBe(true);
    // With deleted records included, every customer the system has.
    const all = await admin('GET', `/admin/connections/${conn}/records/customers?limit=100&deleted=true`);
    expect(new Set(all.json.data.map((x: any) => x.external_id))).toEqual(new Set([...seq.data.customers.keys()]));
  });

  it('searches by id and by content, and answers one record without its raw upstream form', async () => {
    const customer = [...seq.data.customers.values()][7]!;
    const byName = await admin('GET', `/admin/connections/${conn}/records/customers?q=${encodeURIComponent(customer.legalName.toUpperCase())}`);
    expect(byName.json.data.map((x: any) => x.external_id)).toContain(customer.id);
    const byId = await admin('GET', `/admin/connections/${conn}/records/customers?q=${customer.id}`);
    expect(byId.json.data.map((x: any) => x.external_id)).toEqual([customer.id]);
    expect((await admin('GET', `/admin/connections/${conn}/records/customers?q=no-such-thing-anywhere`)).json.data).toEqual([]);
    const one = await admin('GET', `/admin/connections/${conn}/records/customers/${customer.id}`);
    expect(one.status).toBe(200);
    expect(one.json.data).toMatchObject({ external_id: customer.id, entity: 'customer', data: { name: customer.legalName } });
    expect(one.json.data.raw).toBeUndefined();
  });

  it('refuses what it cannot answer with a 4xx naming the parameter', async () => {
    const cases: Array<[string, number, string?]> = [
      [`/admin/connections/${conn}/records/subscriptions`, 404],
      [`/admin/connections/${conn}/records/__proto__`, 404],
      [`/admin/connections/${conn}/records/constructor`, 404],
      [`/admin/connections/conn_nope/records/customers`, 404],
      [`/admin/connections/${conn}/records/customers/cus_nope`, 404],
      [`/admin/connections/${conn}/records/customers?limit=0`, 400, 'limit'],
      [`/admin/connections/${conn}/records/customers?limit=101`, 400, 'limit'],
      [`/admin/connections/${conn}/records/customers?limit=1.5`, 400, 'limit'],
      [`/admin/connections/${conn}/records/customers?limit=abc`, 400, 'limit'],
      [`/admin/connections/${conn}/records/customers?limit=1&limit=2`, 400, 'limit'],
      [`/admin/connections/${conn}/records/customers?q=${'x'.repeat(201)}`, 400, 'q'],
      [`/admin/connections/${conn}/records/customers?after=${'x'.repeat(501)}`, 400, 'after'],
      [`/admin/connections/${conn}/records/customers?deleted=yes`, 400, 'deleted'],
    ];
    for (const [path, status, param] of cases) {
      const r = await admin('GET', path);
      expect(r.status, path.slice(0, 90)).toBe(status);
      if (param) expect(r.json.param, path.slice(0, 90)).toBe(param);
      expect(JSON.stringify(r.json)).not.toMatch(/at \w+ \(|node_modules/);
    }
  });
});
