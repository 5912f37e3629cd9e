/**
 * Bad input over a real socket: every malformed request gets a 4xx in Sphere's error shape naming what is
 * wrong, never a 500 or a stack trace.
 */
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

let s: TaxServer;
let key: string;
const AUSTIN = { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const good = () => ({ currency: 'usd', customer_address: { ...AUSTIN }, line_items: [{ id: 'l1', amount: 1000, product_id: 'p' }] as any[] });

beforeAll(async () => {
  s = await startTaxServer({ maxBodyBytes: 1024 * 1024 });
  const org = await s.service.createOrganization({ name: 'Input Co', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX' } });
  await s.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
  key = (await s.service.createApiKey(org.id)).key;
});
afterAll(async () => s?.close());

function send(body: unknown, headers: Record<string, string> = {}) {
  return s.post('/tax_api/calculate_tax', body, { 'x-api-key': key, ...headers });
}

function expectError(r: { status: number; json: any; text: string }, status: number, code: string, param?: string, message?: RegExp) {
  expect(r.status, r.text).toBe(status);
  expect(r.json.type).toBe('api_error');
  expect(r.json.code).toBe(code);
  expect(typeof r.json.message).toBe('string');
  if (param !== undefined) expect(r.json.param).toBe(param);
  if (message) expect(r.json.message).toMatch(message);
  expect(r.text).not.toMatch(/\bat .*\.ts:\d+/); // no stack traces
}

describe('malformed requests', () => {
  it('accepts the good request', async () => {
    const r = await send(good());
    expect(r.status).toBe(200);
  });

  it('invalid JSON', async () => {
    expectError(await send('{"currency": "usd", '), 400, 'validation_errors', undefined, /not valid JSON/);
    expectError(await send(''), 400, 'validation_errors', undefined, /empty/);
    expectError(await send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 400, 'validation_errors', undefined, /UTF-8/);
    expectError(await send('[1,2,3]'), 400, 'validation_errors', undefined, /JSON object/);
    expectError(await send('null'), 400, 'validation_errors');
  });

  it('wrong types', async () => {
    const cases: Array<[(b: any) => void, string]> = [
      [(b) => (b.currency = 12), 'currency'],
      [(b) => delete b.currency, 'currency'],
      [(b) => (b.line_items = {}), 'line_items'],
      [(b) => (b.line_items = []), 'line_items'],
      [(b) => delete b.line_items, 'line_items'],
      [(b) => (b.line_items[0] = 'x'), 'line_items[0]'],
      [(b) => (b.line_items[0].amount = '1000'), 'line_items[0].amount'],
      [(b) => delete b.line_items[0].amount, 'line_items[0].amount'],
      [(b) => (b.line_items[0].amount = null), 'line_items[0].amount'],
      [(b) => (b.line_items[0].tax_inclusive = 'yes'), 'line_items[0].tax_inclusive'],
      [(b) => (b.line_items[0].product_id = { a: 1 }), 'line_items[0].product_id'],
      [(b) => delete b.line_items[0].product_id, 'line_items[0].product_id'],
      [(b) => (b.line_items[0].discount_amount = 'ten'), 'line_items[0].discount_amount'],
      [(b) => (b.line_items[0].id = [1]), 'line_items[0].id'],
      [(b) => (b.tax_exempt = 'true'), 'tax_exempt'],
      [(b) => (b.include_taxability_reason = 1), 'include_taxability_reason'],
      [(b) => (b.customer_address = 'Austin'), 'customer_address'],
      [(b) => (b.customer_address.state = true), 'customer_address.state'],
      [(b) => (b.tax_id = { v: 1 }), 'tax_id'],
      [(b) => (b.tax_date = '2025-02-30'), 'tax_date'],
      [(b) => (b.tax_date = 20250101), 'tax_date'],
      [(b) => (b.line_items[0].ship_to = 5), 'line_items[0].ship_to'],
    ];
    for (const [mutate, param] of cases) {
      const b = good();
      mutate(b);
      expectError(await send(b), 400, 'validation_errors', param);
    }
  });

  it('negative or fractional minor units', async () => {
    for (const amount of [-1, 10.5, 0.01, 1e300, 2 ** 53]) {
      const b = good();
      b.line_items[0].amount = amount;
      const r = await send(b);
      expectError(r, 400, 'validation_errors', 'line_items[0].amount');
    }
    const b = good();
    b.line_items[0].discount_amount = 2000;
    expectError(await send(b), 400, 'validation_errors', 'line_items[0].discount_amount', /greater than the amount/);
    const c = good();
    c.line_items[0].discount_amount = -5;
    expectError(await send(c), 400, 'validation_errors', 'line_items[0].discount_amount', /negative/);
    // a zero amount is fine
    const z = good();
    z.line_items[0].amount = 0;
    expect((await send(z)).status).toBe(200);
  });

  it('unknown currency', async () => {
    for (const currency of ['xyz', 'us', 'dollars', '']) {
      const b = good();
      b.currency = currency;
      expectError(await send(b), 400, 'validation_errors', 'currency');
    }
    const up = good();
    up.currency = 'USD';
    expect((await send(up)).status).toBe(200);
  });

  it('missing address parts name the field', async () => {
    const cases: Array<[(b: any) => void, string]> = [
      [(b) => delete b.customer_address, 'customer_address'],
      [(b) => delete b.customer_address.country, 'customer_address.country'],
      [(b) => (b.customer_address.country = 'Atlantis'), 'customer_address.country'],
      [(b) => delete b.customer_address.state, 'customer_address.state'],
      [(b) => (b.customer_address.state = 'ZZ'), 'customer_address.state'],
      [(b) => delete b.customer_address.postal_code, 'customer_address.postal_code'],
      [(b) => (b.customer_address.postal_code = '7870'), 'customer_address.postal_code'],
      [(b) => (b.customer_address.postal_code = '90210'), 'customer_address.postal_code'], // a California ZIP with state TX
      [(b) => (b.line_items[0].ship_to = { country: 'US', state: 'TX' }), 'line_items[0].ship_to.postal_code'],
      [(b) => (b.customer_address = { country: 'CA', city: 'Toronto' }), 'customer_address.state'],
    ];
    for (const [mutate, param] of cases) {
      const b = good();
      mutate(b);
      expectError(await send(b), 400, 'customer_tax_location_invalid', param);
    }
    // full state names and ZIP+4 are fine
    const b = good();
    b.customer_address = { state: 'Texas', postal_code: '78701-1234', country: 'us' } as any;
    expect((await send(b)).status).toBe(200);
  });

  it('thousands of lines: 400 naming the limit', async () => {
    const b = good();
    b.line_items = Array.from({ length: 5000 }, (_, i) => ({ id: `l${i}`, amount: 100, product_id: 'p' }));
    expectError(await send(b), 400, 'validation_errors', 'line_items', /at most 1000 lines/);
    const ok = good();
    ok.line_items = Array.from({ length: 1000 }, (_, i) => ({ id: `l${i}`, amount: 100 + i, product_id: 'p' }));
    const r = await send(ok);
    expect(r.status).toBe(200);
    expect(r.json.data.lines).toHaveLength(1000);
  });

  it('a 10 MB body: 413 without reading it all', async () => {
    const big = JSON.stringify({ ...good(), padding: 'x'.repeat(10 * 1024 * 1024) });
    const r = await send(big);
    expectError(r, 413, 'validation_errors', undefined, /limit of 1048576 bytes|limit is 1048576 bytes/);
    // the same with chunked transfer encoding (no Content-Length)
    async function* chunks() {
      const piece = Buffer.alloc(64 * 1024, 0x20);
      yield Buffer.from('{"currency":"usd","pad":"');
      for (let i = 0; i < 160; i++) yield piece;
      yield Buffer.from('"}');
    }
    const res = await request(`${s.url}/tax_api/calculate_tax`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: Readable.from(chunks()) }).catch((e) => e);
    // The client may see the 413 or, still sending, a reset connection; never a 2xx or a 500.
    if (!(res instanceof Error)) {
      expect(res.statusCode).toBe(413);
      const j = (await res.body.json()) as any;
      expect(j.code).toBe('validation_errors');
    }
    // and the server is still serving
    expect((await send(good())).status).toBe(200);
  });

  it('wrong content type: 415', async () => {
    expectError(await send(JSON.stringify(good()), { 'content-type': 'text/plain' }), 415, 'validation_errors', undefined, /Content-Type/);
    expectError(await send('currency=usd', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'validation_errors');
    expect((await send(JSON.stringify(good()), { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
  });

  it('product without a tax code, unknown routes and methods', async () => {
    const bare = await s.service.createOrganization({ name: 'Bare', mode: 'test' });
    await s.service.addRegistration(bare.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
    const k = (await s.service.createApiKey(bare.id)).key;
    expectError(await s.post('/tax_api/calculate_tax', good(), { 'x-api-key': k }), 400, 'invalid_product_tax_code', 'line_items[0].product_id');
    expectError(await s.get('/tax_api/calculate_tax', { 'x-api-key': key }), 405, 'validation_errors');
    expectError(await s.get('/tax_api/nope', { 'x-api-key': key }), 404, 'not_found');
    expectError(await s.get('/tax_api/calculations/calc_missing', { 'x-api-key': key }), 404, 'not_found');
  });

  it('an unregistered country without data is not collected; a registered one without data is unsupported', async () => {
    const b = good();
    b.customer_address = { country: 'BR', city: 'São Paulo', postal_code: '01000-000' } as any;
    const r = await send({ ...b, include_taxability_reason: true });
    expect(r.status).toBe(200);
    expect(r.json.data.lines[0].taxability_reason).toBe('not_collecting');
    const org = await s.service.createOrganization({ name: 'Brazil', mode: 'test', default_product_tax_code: 'saas' });
    await s.service.addRegistration(org.id, { country: 'BR', effective_from: '2020-01-01' });
    const k = (await s.service.createApiKey(org.id)).key;
    expectError(await s.post('/tax_api/calculate_tax', b, { 'x-api-key': k }), 400, 'unsupported_feature');
  });
});
