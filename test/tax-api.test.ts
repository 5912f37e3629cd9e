/**
 * The tax API end to end over a real socket: a test organization registered in Texas and Germany (set up
 * through the admin API) gets Sphere-shaped answers right to the cent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

const DATE = '2025-06-01';
let s: TaxServer;
let org: any;
let liveOrg: any;
let testKey: string;
let liveKey: string;

const AUSTIN = { address1: '100 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const BERLIN = { address1: 'Unter den Linden 1', city: 'Berlin', postal_code: '10117', country: 'DE' };
const PARIS = { address1: '1 Rue de Rivoli', city: 'Paris', postal_code: '75001', country: 'FR' };
const SF = { address1: '1 Market St', city: 'San Francisco', state: 'CA', postal_code: '94105', country: 'US' };

function calc(body: Record<string, unknown>, key = testKey) {
  return s.post('/tax_api/calculate_tax', { tax_date: DATE, include_taxability_reason: true, ...body }, { 'x-api-key': key });
}

beforeAll(async () => {
  s = await startTaxServer();
  const created = await s.admin('POST', '/admin/organizations', {
    name: 'Acme Test',
    mode: 'test',
    origin_address: { line1: '500 W 2nd St', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' },
    default_product_tax_code: 'saas',
  });
  expect(created.status).toBe(201);
  org = created.json.data;
  for (const reg of [{ country: 'US', state: 'TX' }, { country: 'DE' }]) {
    const r = await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { ...reg, effective_from: '2024-01-01' });
    expect(r.status).toBe(201);
  }
  const k = await s.admin('POST', `/admin/organizations/${org.id}/keys`, { name: 'sequence sandbox' });
  expect(k.status).toBe(201);
  testKey = k.json.data.key;

  liveOrg = (await s.admin('POST', '/admin/organizations', { name: 'Acme Live', mode: 'live', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX' } })).json.data;
  await s.admin('POST', `/admin/organizations/${liveOrg.id}/registrations`, { country: 'US', state: 'TX', effective_from: '2024-01-01' });
  liveKey = (await s.admin('POST', `/admin/organizations/${liveOrg.id}/keys`, {})).json.data.key;
});

afterAll(async () => {
  await s?.close();
});

describe('calculate_tax', () => {
  it('Texas SaaS in Austin: state + local, 80 % taxable, exact cents', async () => {
    const r = await calc({
      currency: 'usd',
      customer_address: AUSTIN,
      line_items: [
        { id: 'li_1', amount: 10_000, product_id: 'prod_platform' },
        { id: 'li_2', amount: 2_999, product_id: 'prod_seats' },
        { amount: 5_000, discount_amount: 1_000, product_id: 'prod_addon' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json.message).toBe('Tax calculated successfully');
    expect(r.json.data.sphere_tax_calculation_id).toMatch(/^calc_/);
    const [l1, l2, l3] = r.json.data.lines;
    expect(l1.id).toBe('li_1');
    expect(l3.id).toBe('prod_addon'); // id defaults to product_id
    const view = (l: any) => l.tax_amounts.map((t: any) => [t.tax_rate.jurisdiction, t.tax_rate.percentage, t.taxable_amount, t.amount]);
    // $100.00: 80 % taxable = $80.00; 6.25 % = $5.00; Austin 1 % = $0.80; Capital Metro 1 % = $0.80
    expect(view(l1)).toEqual([
      ['Texas', 6.25, 8000, 500],
      ['Austin', 1, 8000, 80],
      ['Austin MTA (Capital Metro)', 1, 8000, 80],
    ]);
    // $29.99: 80 % = 2399.2 -> 2399; 6.25 % = 149.94 -> 150; 1 % = 23.99 -> 24
    expect(view(l2)).toEqual([
      ['Texas', 6.25, 2399, 150],
      ['Austin', 1, 2399, 24],
      ['Austin MTA (Capital Metro)', 1, 2399, 24],
    ]);
    // $50 - $10 discount = $40; 80 % = $32; 2.00 + 0.32 + 0.32
    expect(view(l3)).toEqual([
      ['Texas', 6.25, 3200, 200],
      ['Austin', 1, 3200, 32],
      ['Austin MTA (Capital Metro)', 1, 3200, 32],
    ]);
    const t = l1.tax_amounts[0];
    expect(t.tax_rate).toEqual({
      percentage: 6.25,
      inclusive: false,
      display_name: 'TX State Sales Tax',
      jurisdiction: 'Texas',
      country: 'US',
      state: 'TX',
      tax_type: 'sales_tax',
      taxability_reason: 'taxable_basis_reduced',
      rate_source: 'state_table',
    });
    expect(l1.taxability_reason).toBe('taxable_basis_reduced');

    // recorded and retrievable
    const got = await s.get(`/tax_api/calculations/${r.json.data.sphere_tax_calculation_id}`, { 'x-api-key': testKey });
    expect(got.status).toBe(200);
    expect(got.json.data.tax_total).toBe(660 + 198 + 264);
    expect(got.json.data.response).toEqual(r.json);
    expect(got.json.data.lines[0].tax_code).toBe('saas');
  });

  it('omits taxability_reason unless asked', async () => {
    const r = await s.post(
      '/tax_api/calculate_tax',
      { currency: 'usd', tax_date: DATE, customer_address: AUSTIN, line_items: [{ id: 'a', amount: 10_000, product_id: 'p' }] },
      { 'x-api-key': testKey },
    );
    expect(r.status).toBe(200);
    expect(r.json.data.lines[0].taxability_reason).toBeUndefined();
    expect(r.json.data.lines[0].tax_amounts[0].tax_rate.taxability_reason).toBeUndefined();
    expect(r.json.data.lines[0].tax_amounts.reduce((a: number, t: any) => a + t.amount, 0)).toBe(660);
  });

  it('German B2C: 19 % VAT, exclusive and inclusive', async () => {
    const r = await calc({
      currency: 'eur',
      customer_address: BERLIN,
      line_items: [
        { id: 'ex', amount: 10_000, product_id: 'prod_platform' },
        { id: 'inc', amount: 11_900, product_id: 'prod_platform', tax_inclusive: true },
        { id: 'odd', amount: 999, product_id: 'prod_platform', tax_inclusive: true },
      ],
    });
    expect(r.status).toBe(200);
    const [ex, inc, odd] = r.json.data.lines;
    expect(ex.tax_amounts).toEqual([
      {
        amount: 1900,
        taxable_amount: 10_000,
        tax_rate: { percentage: 19, inclusive: false, display_name: 'MwSt', jurisdiction: 'Germany', country: 'DE', tax_type: 'vat', taxability_reason: 'standard_rated', rate_source: 'country_table' },
      },
    ]);
    expect(inc.tax_amounts[0]).toMatchObject({ amount: 1900, taxable_amount: 10_000, tax_rate: { inclusive: true, percentage: 19 } });
    // 9.99 incl. 19 %: net 8.39495.. -> 8.39, tax 1.60; net + tax = 9.99 exactly
    expect(odd.tax_amounts[0]).toMatchObject({ amount: 160, taxable_amount: 839 });
  });

  it('French business with a VAT id: reverse charge, no tax', async () => {
    const r = await calc({
      currency: 'eur',
      customer_address: PARIS,
      tax_id: 'FR40303265045',
      line_items: [{ id: 'li_1', amount: 50_000, product_id: 'prod_platform' }],
    });
    expect(r.status).toBe(200);
    expect(r.json.data.lines).toEqual([{ id: 'li_1', tax_amounts: [], taxability_reason: 'reverse_charge' }]);
  });

  it('French consumer without an FR or EU OSS registration: not collecting', async () => {
    const r = await calc({ currency: 'eur', customer_address: PARIS, line_items: [{ id: 'li_1', amount: 50_000, product_id: 'p' }] });
    expect(r.json.data.lines[0]).toEqual({ id: 'li_1', tax_amounts: [], taxability_reason: 'not_collecting' });
  });

  it('California SaaS: not taxed, with the reason', async () => {
    const r = await calc({ currency: 'usd', customer_address: SF, line_items: [{ id: 'li_1', amount: 10_000, product_id: 'prod_platform' }] });
    expect(r.status).toBe(200);
    expect(r.json.data.lines[0]).toEqual({ id: 'li_1', tax_amounts: [], taxability_reason: 'not_collecting' });

    // Once registered in California, SaaS is still not taxed there: product_exempt, zero amounts.
    const other = (await s.admin('POST', '/admin/organizations', { name: 'CA seller', mode: 'test', default_product_tax_code: 'saas' })).json.data;
    await s.admin('POST', `/admin/organizations/${other.id}/registrations`, { country: 'US', state: 'CA', effective_from: '2024-01-01' });
    const key = (await s.admin('POST', `/admin/organizations/${other.id}/keys`, {})).json.data.key;
    const r2 = await calc({ currency: 'usd', customer_address: SF, line_items: [{ id: 'li_1', amount: 10_000, product_id: 'prod_platform' }] }, key);
    const line = r2.json.data.lines[0];
    expect(line.taxability_reason).toBe('product_exempt');
    expect(line.tax_amounts.length).toBeGreaterThan(0);
    for (const t of line.tax_amounts) {
      expect(t.amount).toBe(0);
      expect(t.taxable_amount).toBe(0);
      expect(t.tax_rate.taxability_reason).toBe('product_exempt');
    }
    // a general (tangible) product there is taxed
    await s.admin('POST', `/admin/organizations/${other.id}/product_tax_codes`, { product_id: 'widget', tax_code: 'general' });
    const r3 = await calc({ currency: 'usd', customer_address: SF, line_items: [{ id: 'w', amount: 10_000, product_id: 'widget' }] }, key);
    expect(r3.json.data.lines[0].taxability_reason).toBe('standard_rated');
    expect(r3.json.data.lines[0].tax_amounts[0]).toMatchObject({ amount: 725, taxable_amount: 10_000, tax_rate: { state: 'CA', percentage: 7.25 } });
  });

  it('exempt customer: tax_exempt', async () => {
    const r = await calc({ currency: 'usd', customer_address: AUSTIN, tax_exempt: true, line_items: [{ id: 'li_1', amount: 10_000, product_id: 'p' }] });
    expect(r.json.data.lines[0]).toEqual({ id: 'li_1', tax_amounts: [], taxability_reason: 'customer_exempt' });
  });

  it('synced customers: address from customer_id, exempt and reverse-charge status', async () => {
    await s.store.put('connections', 'conn_seq', { id: 'conn_seq', organization_id: org.id, connector: 'sequence', environment: 'sandbox', streams: { customer: 'customers' } });
    await s.store.commitPage({
      connectionId: 'conn_seq',
      stream: 'customers',
      entity: 'customer',
      writes: [
        { external_id: 'cus_austin', data: { external_id: 'cus_austin', name: 'Austin Co', address: { line1: '1 Main', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, tax_status: 'taxed' } },
        { external_id: 'cus_school', data: { external_id: 'cus_school', name: 'School District', address: { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, tax_status: 'exempt' } },
        { external_id: 'cus_gmbh', data: { external_id: 'cus_gmbh', name: 'Muster GmbH', address: { city: 'Paris', postal_code: '75001', country: 'FR' }, tax_ids: [{ type: 'eu_vat', value: 'FR40303265045' }] } },
        { external_id: 'cus_noaddr', data: { external_id: 'cus_noaddr', name: 'No Address' } },
      ],
    });
    const a = await calc({ currency: 'usd', customer_id: 'cus_austin', line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] });
    expect(a.status).toBe(200);
    expect(a.json.data.lines[0].tax_amounts.map((t: any) => t.amount)).toEqual([500, 80, 80]);
    const b = await calc({ currency: 'usd', customer_id: 'cus_school', customer_address: AUSTIN, line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] });
    expect(b.json.data.lines[0]).toEqual({ id: 'l', tax_amounts: [], taxability_reason: 'customer_exempt' });
    const c = await calc({ currency: 'eur', customer_id: 'cus_gmbh', line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] });
    expect(c.json.data.lines[0].taxability_reason).toBe('reverse_charge');
    const d = await calc({ currency: 'usd', customer_id: 'cus_noaddr', line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] });
    expect(d.status).toBe(400);
    expect(d.json).toMatchObject({ type: 'api_error', code: 'customer_tax_location_invalid', param: 'customer_address' });
    // the live organization does not see the test organization's synced customers
    const e = await calc({ currency: 'usd', customer_id: 'cus_austin', line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] }, liveKey);
    expect(e.status).toBe(400);
    expect(e.json.code).toBe('customer_tax_location_invalid');
  });

  it('registrations switched off or not yet in force: not collecting', async () => {
    const reg = (await s.admin('GET', `/admin/organizations/${org.id}/registrations`)).json.data.find((r: any) => r.country === 'DE');
    expect((await s.admin('PATCH', `/admin/organizations/${org.id}/registrations/${reg.id}`, { tax_calculation: false })).status).toBe(200);
    const off = await calc({ currency: 'eur', customer_address: BERLIN, line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] });
    expect(off.json.data.lines[0].taxability_reason).toBe('not_collecting');
    await s.admin('PATCH', `/admin/organizations/${org.id}/registrations/DE`, { tax_calculation: true });
    const early = await calc({ currency: 'eur', tax_date: '2023-12-31', customer_address: BERLIN, line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] });
    expect(early.json.data.lines[0].taxability_reason).toBe('not_collecting');
    const on = await calc({ currency: 'eur', customer_address: BERLIN, line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] });
    expect(on.json.data.lines[0].tax_amounts[0].amount).toBe(1900);
  });

  it('per-product tax code overrides and invalid_product_tax_code', async () => {
    const bare = (await s.admin('POST', '/admin/organizations', { name: 'No default', mode: 'test' })).json.data;
    await s.admin('POST', `/admin/organizations/${bare.id}/registrations`, { country: 'US', state: 'TX', effective_from: '2024-01-01' });
    const key = (await s.admin('POST', `/admin/organizations/${bare.id}/keys`, {})).json.data.key;
    const r = await calc({ currency: 'usd', customer_address: AUSTIN, line_items: [{ id: 'l', amount: 100, product_id: 'p1' }] }, key);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ type: 'api_error', code: 'invalid_product_tax_code', param: 'line_items[0].product_id' });
    const bad = await s.admin('POST', `/admin/organizations/${bare.id}/product_tax_codes`, { product_id: 'p1', tax_code: 'lollipops' });
    expect(bad.status).toBe(400);
    await s.admin('POST', `/admin/organizations/${bare.id}/product_tax_codes`, { product_id: 'p1', tax_code: 'general' });
    const ok = await calc({ currency: 'usd', customer_address: AUSTIN, line_items: [{ id: 'l', amount: 10_000, product_id: 'p1' }] }, key);
    expect(ok.json.data.lines[0].tax_amounts.map((t: any) => t.amount)).toEqual([625, 100, 100]);
  });

  it('Canada: GST + QST for a Quebec customer', async () => {
    const ca = (await s.admin('POST', '/admin/organizations', { name: 'Maple', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'CA', state: 'ON' } })).json.data;
    await s.admin('POST', `/admin/organizations/${ca.id}/registrations`, { country: 'CA', effective_from: '2024-01-01' });
    await s.admin('POST', `/admin/organizations/${ca.id}/registrations`, { country: 'CA', state: 'QC', effective_from: '2024-01-01' });
    const key = (await s.admin('POST', `/admin/organizations/${ca.id}/keys`, {})).json.data.key;
    const r = await calc({ currency: 'cad', customer_address: { city: 'Montréal', state: 'Québec', postal_code: 'H2Y 1C6', country: 'CA' }, line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] }, key);
    expect(r.status).toBe(200);
    expect(r.json.data.lines[0].tax_amounts.map((t: any) => [t.tax_rate.tax_type, t.amount])).toEqual([
      ['gst', 500],
      ['qst', 998],
    ]);
  });
});

describe('keys', () => {
  it('shows test or live in the prefix and stores only a hash', async () => {
    expect(testKey).toMatch(/^tb_test_[0-9A-Za-z]{40}$/);
    expect(liveKey).toMatch(/^tb_live_[0-9A-Za-z]{40}$/);
    const keys = await s.store.list<any>('api_keys');
    for (const k of keys) {
      expect(JSON.stringify(k)).not.toContain(testKey);
      expect(JSON.stringify(k)).not.toContain(liveKey);
      expect(k.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const listed = await s.admin('GET', `/admin/organizations/${org.id}/keys`);
    expect(listed.json.data[0].prefix).toBe(testKey.slice(0, 16));
    expect(listed.json.data[0].hash).toBeUndefined();
    expect(listed.json.data[0].last_used_at).toMatch(/^\d{4}-/);
  });

  it('test credentials endpoint', async () => {
    const ok = await s.get('/tax_api/test_credentials', { 'x-api-key': testKey });
    expect(ok.status).toBe(200);
    expect(ok.json.data).toMatchObject({ organization_id: org.id, mode: 'test', key_prefix: testKey.slice(0, 16) });
    const bad = await s.get('/tax_api/test_credentials', { 'x-api-key': testKey.slice(0, -1) + (testKey.endsWith('A') ? 'B' : 'A') });
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual({ type: 'api_error', code: 'unauthorized_access', message: 'the API key is not valid or has been revoked' });
    const none = await s.get('/tax_api/test_credentials');
    expect(none.status).toBe(401);
    expect(none.json.code).toBe('unauthorized_access');
  });

  it('a test key never sees live data, and the other way round', async () => {
    const live = await calc({ currency: 'usd', customer_address: AUSTIN, line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] }, liveKey);
    expect(live.status).toBe(200);
    const id = live.json.data.sphere_tax_calculation_id;
    expect((await s.get(`/tax_api/calculations/${id}`, { 'x-api-key': liveKey })).status).toBe(200);
    const cross = await s.get(`/tax_api/calculations/${id}`, { 'x-api-key': testKey });
    expect(cross.status).toBe(404);
    expect(cross.json.code).toBe('not_found');
    // a key whose prefix claims the other mode is refused even with the right secret part
    const forged = liveKey.replace('tb_live_', 'tb_test_');
    expect((await s.get('/tax_api/test_credentials', { 'x-api-key': forged })).status).toBe(401);
    const doc = await s.store.get<any>('tax_calculations', id);
    expect(doc.mode).toBe('live');
    expect(doc.organization_id).toBe(liveOrg.id);
  });

  it('a revoked key gets 401', async () => {
    const k = (await s.admin('POST', `/admin/organizations/${org.id}/keys`, { name: 'temp' })).json.data;
    expect((await s.get('/tax_api/test_credentials', { 'x-api-key': k.key })).status).toBe(200);
    const rv = await s.admin('DELETE', `/admin/keys/${k.prefix}`);
    expect(rv.status).toBe(200);
    expect(rv.json.data.revoked_at).toMatch(/^\d{4}-/);
    const r = await calc({ currency: 'usd', customer_address: AUSTIN, line_items: [{ id: 'l', amount: 1, product_id: 'p' }] }, k.key);
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('unauthorized_access');
  });

  it('rate limit per key: 429 too_many_requests with Retry-After', async () => {
    const k = (await s.admin('POST', `/admin/organizations/${org.id}/keys`, { name: 'slow', rate_limit_per_second: 2 })).json.data.key;
    const statuses: number[] = [];
    let limited: any;
    for (let i = 0; i < 8; i++) {
      const r = await s.get('/tax_api/test_credentials', { 'x-api-key': k });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]); // burst = 2 x rate
    expect(statuses).toContain(429);
    expect(limited.json.code).toBe('too_many_requests');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // other keys are not affected
    expect((await s.get('/tax_api/test_credentials', { 'x-api-key': testKey })).status).toBe(200);
  });
});

describe('admin API', () => {
  it('requires the admin token', async () => {
    const r = await s.get('/admin/organizations');
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('unauthorized_access');
    const w = await s.get('/admin/organizations', { authorization: 'Bearer wrong-token-wrong-token' });
    expect(w.status).toBe(401);
  });
  it('validates input and names the field', async () => {
    const r = await s.admin('POST', '/admin/organizations', { name: 'x', mode: 'staging' });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'validation_errors', param: 'mode' });
    const us = await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { country: 'US' });
    expect(us.json).toMatchObject({ code: 'validation_errors', param: 'state' });
    const dup = await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { country: 'US', state: 'Texas' });
    expect(dup.status).toBe(409);
    expect((await s.admin('GET', '/admin/organizations/org_nope')).status).toBe(404);
  });
});
