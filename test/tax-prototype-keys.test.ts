/**
 * Names of Object.prototype members as input, over a real socket: every lookup keyed by input (countries,
 * states, provinces, currencies, tax codes, product ids, customer ids, metadata keys) answers a 400 naming
 * the field, or the normal answer for an ordinary unknown name; never 200 with zero tax, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'prototype', '__defineGetter__'];
const AUSTIN = { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const good = (): any => ({ currency: 'usd', include_taxability_reason: true, customer_address: { ...AUSTIN }, line_items: [{ id: 'l1', amount: 10000, product_id: 'p' }] });

let s: TaxServer;
let key: string;
let orgId: string;
beforeAll(async () => {
  s = await startTaxServer();
  const org = await s.service.createOrganization({ name: 'Proto Co', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX' } });
  orgId = org.id;
  await s.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
  await s.service.addRegistration(org.id, { country: 'CA', effective_from: '2020-01-01' });
  await s.service.addRegistration(org.id, { country: 'EU', effective_from: '2020-01-01' });
  key = (await s.service.createApiKey(org.id)).key;
});
afterAll(async () => s?.close());

const send = (body: unknown) => s.post('/tax_api/calculate_tax', body, { 'x-api-key': key });

function expect400(r: { status: number; json: any; text: string }, code: string, param: string) {
  expect(r.status, `${param}: ${r.text}`).toBe(400);
  expect(r.json).toMatchObject({ type: 'api_error', code, param });
}

/** Texas SaaS on 10000 cents: 80 % taxable at 8.25 % = 660. */
function expectTexasTax(r: { status: number; json: any; text: string }) {
  expect(r.status, r.text).toBe(200);
  const line = r.json.data.lines[0];
  expect(line.taxability_reason).toBe('taxable_basis_reduced');
  expect(line.tax_amounts.reduce((n: number, t: any) => n + t.amount, 0)).toBe(660);
}

describe('prototype member names as input', () => {
  it('as a country (customer, ship_to, ship_from): 400 customer_tax_location_invalid naming the field', async () => {
    for (const name of NAMES) {
      expect400(await send({ ...good(), customer_address: { country: name, city: 'X' } }), 'customer_tax_location_invalid', 'customer_address.country');
      const b = good();
      b.line_items[0].ship_to = { country: name };
      expect400(await send(b), 'customer_tax_location_invalid', 'line_items[0].ship_to.country');
    }
    // an origin country that is no country does not make a German consumer sale zero-rated
    const de = await send({ ...good(), customer_address: { country: 'DE', city: 'Berlin' }, ship_from: { country: 'constructor' } });
    expect(de.status).toBe(200);
    expect(de.json.data.lines[0].taxability_reason).toBe('standard_rated');
  });

  it('as a US state or Canadian province: 400 naming the state', async () => {
    for (const name of NAMES) {
      expect400(await send({ ...good(), customer_address: { ...AUSTIN, state: name } }), 'customer_tax_location_invalid', 'customer_address.state');
      expect400(await send({ ...good(), customer_address: { country: 'CA', state: name } }), 'customer_tax_location_invalid', 'customer_address.state');
    }
  });

  it('as a currency or a date: 400 naming the field', async () => {
    for (const name of [...NAMES, 'con', 'toS', 'val', '__p']) {
      expect400(await send({ ...good(), currency: name }), 'validation_errors', 'currency');
    }
    for (const name of NAMES) expect400(await send({ ...good(), tax_date: name }), 'validation_errors', 'tax_date');
  });

  it('as a product id, line id or customer id: the normal answer (the default tax code, the id echoed)', async () => {
    for (const name of NAMES) {
      const r = await send({ ...good(), customer_id: name, line_items: [{ id: name, amount: 10000, product_id: name }] });
      expectTexasTax(r);
      expect(r.json.data.lines[0].id).toBe(name);
    }
  });

  it('as a product tax code (admin API): 400 naming tax_code; as a product id with its own code: that code applies', async () => {
    for (const name of NAMES) {
      const r = await s.admin('POST', `/admin/organizations/${orgId}/product_tax_codes`, { product_id: 'p', tax_code: name });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ param: 'tax_code' });
    }
    const set = await s.admin('POST', `/admin/organizations/${orgId}/product_tax_codes`, { product_id: '__proto__', tax_code: 'exempt' });
    expect(set.status).toBe(200);
    const r = await send({ ...good(), line_items: [{ amount: 10000, product_id: '__proto__' }, { amount: 10000, product_id: 'constructor' }] });
    expect(r.status).toBe(200);
    expect(r.json.data.lines.map((l: any) => l.taxability_reason)).toEqual(['product_exempt', 'taxable_basis_reduced']);
  });

  it('as a registration country or state and an origin country (admin API): 400 naming the field', async () => {
    for (const name of NAMES) {
      const c = await s.admin('POST', `/admin/organizations/${orgId}/registrations`, { country: name, effective_from: '2020-01-01' });
      expect(c.status, JSON.stringify(c.json)).toBe(400);
      expect(c.json).toMatchObject({ param: 'country' });
      const st = await s.admin('POST', `/admin/organizations/${orgId}/registrations`, { country: 'US', state: name });
      expect(st.status).toBe(400);
      expect(st.json).toMatchObject({ param: 'state' });
      const o = await s.admin('POST', '/admin/organizations', { name: 'O', mode: 'test', origin_address: { country: name } });
      expect(o.status).toBe(400);
      expect(o.json).toMatchObject({ param: 'origin_address.country' });
    }
  });

  it('as metadata keys: recorded as plain data and read back', async () => {
    const body = `{"currency":"usd","customer_address":${JSON.stringify(AUSTIN)},"line_items":[{"amount":100,"product_id":"p"}],"metadata":{"__proto__":"a","constructor":"b","toString":"c"}}`;
    const r = await send(body);
    expect(r.status, r.text).toBe(200);
    const got = await s.get(`/tax_api/calculations/${r.json.data.sphere_tax_calculation_id}`, { 'x-api-key': key });
    expect(got.status).toBe(200);
    expect(got.text).toContain('"metadata":{"__proto__":"a","constructor":"b","toString":"c"}');
  });

  it('as a calculation id or a route: 404', async () => {
    for (const name of NAMES) {
      const r = await s.get(`/tax_api/calculations/${name}`, { 'x-api-key': key });
      expect(r.status).toBe(404);
      expect(r.json.code).toBe('not_found');
    }
  });
});
