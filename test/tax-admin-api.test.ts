/**
 * The organization's tax calculations on the admin API over real HTTP: POST /admin/organizations/{org}/calculate
 * answers as POST /tax_api/calculate_tax does (same numbers, Sphere shape, recorded with api_key_id "admin"),
 * and GET /admin/organizations/{org}/calculations lists the log with filters. Bad input is a 4xx naming the
 * parameter; another organization's log never shows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer } from './helpers/e2e.ts';

const TOKEN = 'adm_taxlog_' + 't'.repeat(30);
let dir: string;
let server: RunningServer;
let org = '';
let other = '';
let key = '';
const admin = adminClient(() => server.url, TOKEN);
const AUSTIN = { address1: '100 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tb-taxlog-'));
  server = await startTestServer(inProcessConfig({ dataDir: dir, env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }));
  org = (await admin('POST', '/admin/organizations', { name: 'Log', mode: 'test', origin_address: { line1: '1 Main', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, default_product_tax_code: 'saas' })).json.data.id;
  other = (await admin('POST', '/admin/organizations', { name: 'Other', mode: 'test' })).json.data.id;
  await admin('POST', `/admin/organizations/${org}/registrations`, { country: 'US', state: 'TX', tax_calculation: true, effective_from: '2020-01-01' });
  key = (await admin('POST', `/admin/organizations/${org}/keys`, {})).json.data.key;
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('calculating on the admin API', () => {
  it('answers what the tax API answers and records it as the admin’s', async () => {
    const body = { currency: 'usd', customer_address: AUSTIN, include_taxability_reason: true, line_items: [{ id: 'a', amount: 10000, product_id: 'platform' }, { id: 'b', amount: 2550, product_id: 'seats' }] };
    const mine = await admin('POST', `/admin/organizations/${org}/calculate`, body);
    expect(mine.status, JSON.stringify(mine.json)).toBe(200);
    const res = await request(`${server.url}/tax_api/calculate_tax`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify(body) });
    const theirs = (await res.body.json()) as any;
    const strip = (j: any) => j.data.lines;
    expect(strip(mine.json)).toEqual(strip(theirs));
    expect(mine.json.data.lines[0].tax_amounts.length).toBeGreaterThan(0);
    const log = await admin('GET', `/admin/organizations/${org}/calculations`);
    expect(log.status).toBe(200);
    expect(log.json.total).toBe(2);
    expect(log.json.data.map((c: any) => c.api_key_id)).toEqual([expect.stringMatching(/^key_/), 'admin']);
    expect(log.json.data[0]).toMatchObject({ status: 'calculated', kind: 'invoice', customer_country: 'US', customer_state: 'TX', line_count: 2 });
    expect(log.json.data[0].request).toBeUndefined();
    expect((await admin('GET', `/admin/organizations/${other}/calculations`)).json.data).toEqual([]);
  });

  it('filters the log', async () => {
    const today = new Date().toISOString().slice(0, 10);
    expect((await admin('GET', `/admin/organizations/${org}/calculations?country=us&from=${today}&to=${today}`)).json.total).toBe(2);
    expect((await admin('GET', `/admin/organizations/${org}/calculations?country=DE`)).json.total).toBe(0);
    expect((await admin('GET', `/admin/organizations/${org}/calculations?status=committed`)).json.total).toBe(0);
    expect((await admin('GET', `/admin/organizations/${org}/calculations?to=2000-01-01`)).json.total).toBe(0);
    expect((await admin('GET', `/admin/organizations/${org}/calculations?limit=1`)).json.data).toHaveLength(1);
  });

  it('refuses bad input with a 4xx naming the parameter, never a 5xx', async () => {
    for (const [path, param] of [
      ['status=open', 'status'],
      ['kind=x', 'kind'],
      ['country=USA', 'country'],
      ['from=yesterday', 'from'],
      ['to=2020-1-1', 'to'],
      ['limit=0', 'limit'],
      ['limit=9999', 'limit'],
      ['status=calculated&status=voided', 'status'],
    ] as const) {
      const r = await admin('GET', `/admin/organizations/${org}/calculations?${path}`);
      expect(r.status, path).toBe(400);
      expect(r.json.param, path).toBe(param);
    }
    expect((await admin('GET', '/admin/organizations/org_test_nope/calculations')).status).toBe(404);
    expect((await admin('POST', '/admin/organizations/org_test_nope/calculate', { currency: 'usd', line_items: [] })).status).toBe(404);
    const bad = await admin('POST', `/admin/organizations/${org}/calculate`, { currency: 'usd', customer_address: AUSTIN, line_items: [{ id: 'a', amount: 'ten' }] });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ type: 'api_error', param: expect.stringContaining('line_items[0]') });
    const deep: any = { currency: 'usd', line_items: [{ id: 'a', amount: 1 }], metadata: {} };
    let cur = deep.metadata;
    for (let i = 0; i < 50; i++) cur = cur.x = {};
    expect((await admin('POST', `/admin/organizations/${org}/calculate`, deep)).status).toBe(400);
    const proto = await admin('POST', `/admin/organizations/${org}/calculate`, JSON.parse('{"currency":"usd","__proto__":{"line_items":[]},"line_items":[{"id":"a","amount":1,"__proto__":{"amount":5}}],"customer_address":{"country":"US","state":"TX","postal_code":"78701"}}'));
    expect(proto.status).toBeLessThan(500);
    const huge = await request(`${server.url}/admin/organizations/${org}/calculate`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{"currency":"usd","line_items":[' + '{"id":"a","amount":1},'.repeat(200_000) + '{"id":"b","amount":1}]}' }).catch(() => undefined);
    if (huge) {
      expect(huge.statusCode).toBe(413);
      await huge.body.text().catch(() => undefined);
    }
  });
});
