/**
 * Bounded input over a real socket: nesting depth, line count, string lengths and body size each get a 4xx
 * naming what and where (never a 500), records keep only the request's known fields, and reading back any
 * stored calculation (a record from before these rules included) never answers 500.
 */
import { connect } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { CALCULATE_TAX_REQUEST_SCHEMA, DEFAULT_TAX_API_LIMITS } from '../src/tax/request-schema.ts';
import { getAjv } from '../src/spec/schemas.ts';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

let s: TaxServer;
let key: string;
const AUSTIN = { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const good = (): any => ({ currency: 'usd', customer_address: { ...AUSTIN }, line_items: [{ id: 'l1', amount: 1000, product_id: 'p' }] });

beforeAll(async () => {
  s = await startTaxServer();
  const org = await s.service.createOrganization({ name: 'Limits Co', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX' } });
  await s.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
  key = (await s.service.createApiKey(org.id)).key;
});
afterAll(async () => s?.close());

const send = (body: unknown) => s.post('/tax_api/calculate_tax', body, { 'x-api-key': key });
const read = (id: string) => s.get(`/tax_api/calculations/${id}`, { 'x-api-key': key });

function expectError(r: { status: number; json: any; text: string }, status: number, code: string, param?: string, message?: RegExp) {
  expect(r.status, r.text).toBe(status);
  expect(r.json.type).toBe('api_error');
  expect(r.json.code).toBe(code);
  if (param !== undefined) expect(r.json.param).toBe(param);
  if (message) expect(r.json.message).toMatch(message);
  expect(r.text).not.toMatch(/\bat .*\.ts:\d+/);
}

/** `levels` nested objects {"x":{"x":...}} as JSON text (built as text: JSON.stringify itself would recurse). */
const nestedObjects = (levels: number, leaf = '1') => '{"x":'.repeat(levels) + leaf + '}'.repeat(levels);
const withField = (field: string, json: string) => `{"currency":"usd","customer_address":${JSON.stringify(AUSTIN)},"line_items":[{"amount":100,"product_id":"p"}],${JSON.stringify(field)}:${json}}`;

describe('nesting depth', () => {
  it('a body nested 5,000 levels deep: 400 naming the path where the limit was crossed, never 500', async () => {
    const r = await send(withField('junk', nestedObjects(5000)));
    // The body is level 1, "junk" level 2: the 33rd level is the 31st "x" under it.
    expectError(r, 400, 'validation_errors', `junk${'.x'.repeat(31)}`, /nested more than 32 levels/);
    const arrays = await send(withField('junk', '['.repeat(5000) + ']'.repeat(5000)));
    expectError(arrays, 400, 'validation_errors', `junk${'[0]'.repeat(31)}`);
    const inLine = await send(`{"currency":"usd","line_items":[{"amount":1,"product_id":"p","ship_to":${nestedObjects(5000)}}]}`);
    expectError(inLine, 400, 'validation_errors', `line_items[0].ship_to${'.x'.repeat(29)}`);
    const inMeta = await send(withField('metadata', nestedObjects(40)));
    expectError(inMeta, 400, 'validation_errors', `metadata${'.x'.repeat(31)}`);
    // and the server still answers
    expect((await send(good())).status).toBe(200);
  });

  it('32 levels are accepted; what is recorded never contains them, and reading it back is 200', async () => {
    const r = await send(withField('junk', nestedObjects(31)));
    expect(r.status, r.text).toBe(200);
    const got = await read(r.json.data.sphere_tax_calculation_id);
    expect(got.status).toBe(200);
    expect(got.json.data.request).toEqual({ currency: 'usd', customer_address: { address1: undefined, ...AUSTIN }, line_items: [{ amount: 100, product_id: 'p' }] });
    expect(got.json.data.response).toEqual(r.json);
  });

  it('a record written before these rules (body text kept verbatim, nested 5,000 deep) still reads back 200', async () => {
    const r = await send(good());
    const id = r.json.data.sphere_tax_calculation_id;
    await s.service.flush();
    const doc: any = await s.store.get('tax_calculations', id);
    const legacyId = `calc_${'0'.repeat(31)}1`;
    await s.store.put('tax_calculations', legacyId, { ...doc, id: legacyId, request: withField('junk', nestedObjects(5000)) });
    const old = await read(legacyId);
    expect(old.status, old.text).toBe(200);
    expect(old.json.data.request).toBeNull();
    expect(old.json.data.response.data.lines).toHaveLength(1);
    const shallowId = `calc_${'0'.repeat(31)}2`;
    await s.store.put('tax_calculations', shallowId, { ...doc, id: shallowId, request: JSON.stringify({ ...good(), extra: 1 }) });
    expect((await read(shallowId)).json.data.request).toMatchObject({ currency: 'usd', extra: 1 });
  });
});

describe('line items and strings', () => {
  it('more lines than the cap: 400 naming line_items and the limit', async () => {
    const b = good();
    b.line_items = Array.from({ length: DEFAULT_TAX_API_LIMITS.maxLineItems + 1 }, (_, i) => ({ id: `l${i}`, amount: 1, product_id: 'p' }));
    expectError(await send(b), 400, 'validation_errors', 'line_items', /at most 1000 lines/);
  });

  it('each free-text and code field over its cap: 400 naming the field', async () => {
    const long = (n: number) => 'x'.repeat(n + 1);
    const cases: Array<[(b: any) => void, string]> = [
      [(b) => (b.line_items[0].id = long(500)), 'line_items[0].id'],
      [(b) => (b.line_items[0].product_id = long(500)), 'line_items[0].product_id'],
      [(b) => (b.line_items[0].description = long(500)), 'line_items[0].description'],
      [(b) => (b.line_items[0].ship_to = { ...AUSTIN, address1: long(500) }), 'line_items[0].ship_to.address1'],
      [(b) => (b.customer_id = long(500)), 'customer_id'],
      [(b) => (b.customer_name = long(500)), 'customer_name'],
      [(b) => (b.customer_address.address1 = long(500)), 'customer_address.address1'],
      [(b) => (b.customer_address.address2 = long(500)), 'customer_address.address2'],
      [(b) => (b.customer_address.city = long(500)), 'customer_address.city'],
      [(b) => (b.customer_address.state = long(100)), 'customer_address.state'],
      [(b) => (b.customer_address.postal_code = long(40)), 'customer_address.postal_code'],
      [(b) => (b.customer_address.country = long(60)), 'customer_address.country'],
      [(b) => (b.ship_from = { country: 'US', city: long(500) }), 'ship_from.city'],
      [(b) => (b.tax_id = long(100)), 'tax_id'],
      [(b) => (b.tax_date = `2025-01-01T00:00:00${'0'.repeat(40)}`), 'tax_date'],
      [(b) => (b.metadata = { [long(40)]: 'v' }), 'metadata'],
      [(b) => (b.metadata = { order: long(500) }), 'metadata.order'],
      [(b) => (b.metadata = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v']))), 'metadata'],
      [(b) => (b.metadata = { nested: { a: 1 } }), 'metadata.nested'],
    ];
    for (const [mutate, param] of cases) {
      const b = good();
      mutate(b);
      expectError(await send(b), 400, 'validation_errors', param, /longer than|at most|must be/);
    }
    // at the caps: accepted
    const b = good();
    b.line_items[0] = { id: 'i'.repeat(500), product_id: 'p'.repeat(500), amount: 5, description: 'd'.repeat(500) };
    b.metadata = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`.padEnd(40, '_'), 'v'.repeat(500)]));
    expect((await send(b)).status).toBe(200);
  });
});

describe('body size', () => {
  const bodyOf = (bytes: number) => {
    const base = JSON.stringify({ ...good(), padding: '' });
    return base.replace('"padding":""', `"padding":"${'x'.repeat(bytes - base.length)}"`);
  };

  it('1 MiB is accepted, 1 MiB + 1 byte is 413', async () => {
    const max = DEFAULT_TAX_API_LIMITS.maxBodyBytes;
    expect(max).toBe(1024 * 1024);
    const atLimit = bodyOf(max);
    expect(Buffer.byteLength(atLimit)).toBe(max);
    const ok = await send(atLimit);
    expect(ok.status, ok.text).toBe(200);
    expectError(await send(bodyOf(max + 1)), 413, 'validation_errors', undefined, /1048576 bytes/);
  });

  it('a 1 MiB body leaves a record of its known fields only, a few hundred bytes', async () => {
    const r = await send(bodyOf(DEFAULT_TAX_API_LIMITS.maxBodyBytes));
    const id = r.json.data.sphere_tax_calculation_id;
    await s.service.flush();
    const doc = await s.store.get('tax_calculations', id);
    expect(JSON.stringify(doc).length).toBeLessThan(2000);
    const got = await read(id);
    expect(got.json.data.request.padding).toBeUndefined();
    expect(got.json.data.request.line_items).toEqual([{ id: 'l1', amount: 1000, product_id: 'p' }]);
  });
});

/** One HTTP/1.1 request written as raw bytes, in the given pieces (a pause between them); the answer's status and body. */
async function rawRequest(url: string, head: string, pieces: Buffer[]): Promise<{ status: number; body: string }> {
  const { port } = new URL(url);
  const sock = connect(Number(port), '127.0.0.1');
  await once(sock, 'connect');
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  sock.write(head);
  for (const [i, p] of pieces.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, 30));
    sock.write(p);
  }
  await once(sock, 'end');
  const text = Buffer.concat(chunks).toString('utf8');
  return { status: Number(text.slice(9, 12)), body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}

describe('body reading', () => {
  const head = (extra: string) => `POST /tax_api/calculate_tax HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-KEY: ${key}\r\n${extra}\r\n`;
  const chunked = (text: Buffer) => Buffer.concat([Buffer.from(`${text.length.toString(16)}\r\n`), text, Buffer.from('\r\n')]);
  const END = Buffer.from('0\r\n\r\n');

  it('a chunked body over the limit is 413 whether it arrives at once or in pieces', async () => {
    const t = await startTaxServer({ maxBodyBytes: 4096 });
    try {
      const org = await t.service.createOrganization({ name: 'Chunks', mode: 'test', default_product_tax_code: 'saas' });
      await t.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
      const k = (await t.service.createApiKey(org.id)).key;
      const h = `POST /tax_api/calculate_tax HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-KEY: ${k}\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const big = Buffer.from(JSON.stringify({ ...good(), pad: 'x'.repeat(5000) }));
      const atOnce = await rawRequest(t.url, h, [Buffer.concat([chunked(big), END])]);
      expect(atOnce.status, atOnce.body).toBe(413);
      const inPieces = await rawRequest(t.url, h, [chunked(big.subarray(0, 3000)), Buffer.concat([chunked(big.subarray(3000)), END])]);
      expect(inPieces.status, inPieces.body).toBe(413);
      const small = Buffer.from(JSON.stringify(good()));
      const split = await rawRequest(t.url, h, [chunked(small.subarray(0, 40)), Buffer.concat([chunked(small.subarray(40)), END])]);
      expect(split.status, split.body).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('UTF-8 beyond ASCII is kept; bytes that are not UTF-8 are a 400', async () => {
    const body = Buffer.from(JSON.stringify({ ...good(), line_items: [{ id: 'línea-ü-€', amount: 1000, product_id: 'p' }] }), 'utf8');
    const ok = await rawRequest(s.url, head(`Content-Length: ${body.length}\r\n`), [body]);
    expect(ok.status, ok.body).toBe(200);
    expect(JSON.parse(ok.body).data.lines[0].id).toBe('línea-ü-€');
    const bad = Buffer.concat([Buffer.from('{"currency":"usd","x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const refused = await rawRequest(s.url, head(`Content-Length: ${bad.length}\r\n`), [bad]);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ type: 'api_error', code: 'validation_errors', message: expect.stringMatching(/not valid UTF-8/) });
  });
});

describe('configured limits', () => {
  it('apply to the API; settings come from the environment or the file', async () => {
    const t = await startTaxServer({ limits: { maxDepth: 4, maxLineItems: 2, maxTextLength: 10 }, maxBodyBytes: 4096 });
    try {
      const org = await t.service.createOrganization({ name: 'Tight', mode: 'test', default_product_tax_code: 'saas' });
      await t.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
      const k = (await t.service.createApiKey(org.id)).key;
      const post = (b: unknown) => t.post('/tax_api/calculate_tax', b, { 'x-api-key': k });
      expect((await post(good())).status).toBe(200);
      expect((await post({ ...good(), x: { y: { z: {} } } })).status).toBe(200); // 4 levels: the body, x, y and z's objects
      expectError(await post({ ...good(), x: { y: { z: { w: {} } } } }), 400, 'validation_errors', 'x.y.z.w', /more than 4 levels/);
      expectError(await post({ ...good(), line_items: [1, 2, 3].map(() => ({ amount: 1, product_id: 'p' })) }), 400, 'validation_errors', 'line_items', /at most 2 lines/);
      expectError(await post({ ...good(), customer_id: 'c'.repeat(11) }), 400, 'validation_errors', 'customer_id', /longer than 10/);
      expectError(await post({ ...good(), pad: 'x'.repeat(5000) }), 413, 'validation_errors');
    } finally {
      await t.close();
    }
    const env = loadConfig({}, { TAXBRIDGE_TAX_MAX_DEPTH: '8', TAXBRIDGE_TAX_MAX_LINE_ITEMS: '50', TAXBRIDGE_TAX_MAX_BODY_BYTES: '65536', TAXBRIDGE_TAX_MAX_TEXT_LENGTH: '100', TAXBRIDGE_TAX_RETENTION_DAYS: '30' }, '/');
    expect(env).toMatchObject({ taxMaxDepth: 8, taxMaxLineItems: 50, taxMaxBodyBytes: 65536, taxMaxTextLength: 100, taxRetentionDays: 30, taxRetentionCount: 1_000_000 });
    const defaults = loadConfig({}, {}, '/');
    expect(defaults).toMatchObject({ taxMaxBodyBytes: 1048576, taxMaxLineItems: 1000, taxMaxDepth: 32, taxMaxTextLength: 500, taxMaxPendingRecords: 10000, taxRetentionDays: 400, taxRetentionBytes: 256 * 1024 * 1024 });
    expect(() => loadConfig({}, { TAXBRIDGE_TAX_MAX_DEPTH: 'deep' }, '/')).toThrow(/TAXBRIDGE_TAX_MAX_DEPTH must be a positive whole number/);
  });
});

describe('request schema', () => {
  it('is valid JSON Schema (strict ajv) and accepts what the API accepts', () => {
    const validate = getAjv().compile(CALCULATE_TAX_REQUEST_SCHEMA);
    expect(validate({ ...good(), metadata: { order: 'A-1' } }), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...good(), line_items: [] })).toBe(false);
    expect(validate({ ...good(), customer_id: 'x'.repeat(501) })).toBe(false);
  });
});
