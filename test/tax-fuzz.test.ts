/**
 * Fuzz: thousands of random and mutated bodies (seeded, reproducible) over a real socket. Every answer is a
 * 200 or a 4xx in Sphere's error shape, never a 500, and the server keeps serving.
 */
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';
import { Rng } from './helpers/tax-random.ts';

let s: TaxServer;
let key: string;

beforeAll(async () => {
  s = await startTaxServer({ maxBodyBytes: 64 * 1024, onError: (m, e) => { throw new Error(`${m}: ${e}`); } });
  const org = await s.service.createOrganization({ name: 'Fuzz', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'DE' } });
  for (const reg of [{ country: 'US', state: 'TX' }, { country: 'US', state: 'CA' }, { country: 'DE' }, { country: 'EU' }, { country: 'CA' }, { country: 'CA', state: 'QC' }, { country: 'GB' }]) {
    await s.service.addRegistration(org.id, { ...reg, effective_from: '2020-01-01' });
  }
  await s.service.setProductTaxCode(org.id, { product_id: 'widget', tax_code: 'general' });
  await s.service.setProductTaxCode(org.id, { product_id: 'free', tax_code: 'exempt' });
  key = (await s.service.createApiKey(org.id)).key;
});
afterAll(async () => s?.close());

const ADDRESSES = [
  { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' },
  { city: 'San Francisco', state: 'CA', postal_code: '94105', country: 'US' },
  { city: 'Berlin', postal_code: '10117', country: 'DE' },
  { city: 'Paris', postal_code: '75001', country: 'FR' },
  { city: 'Montreal', state: 'QC', postal_code: 'H2Y 1C6', country: 'CA' },
  { city: 'London', postal_code: 'SW1A 1AA', country: 'GB' },
  { city: 'Tokyo', postal_code: '100-0001', country: 'JP' },
];

function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, 12)) {
    case 0: return null;
    case 1: return rng.bool();
    case 2: return rng.int(-1000, 1_000_000);
    case 3: return rng.next() * 1e6 - 5e5;
    case 4: return rng.pick([0, -0, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, Number.MIN_VALUE, 1e-7]);
    case 5: return '';
    case 6: return 'x'.repeat(rng.int(1, 600));
    case 7: return rng.pick(['usd', 'EUR', 'jpy', 'bhd', 'US', 'TX', '78701', '__proto__', 'constructor', '\u0000', '💸', '1e3', 'true', 'null']);
    case 8: return depth < 3 ? Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth + 1)) : [];
    case 9: return depth < 3 ? Object.fromEntries(Array.from({ length: rng.int(0, 4) }, () => [rng.pick(['a', 'amount', 'country', '__proto__', 'state']), randomValue(rng, depth + 1)])) : {};
    case 10: return { ...rng.pick(ADDRESSES) };
    case 11: return String.fromCharCode(...Array.from({ length: rng.int(1, 20) }, () => rng.int(0, 0xffff)));
    default: return rng.int(0, 100000);
  }
}

function validBody(rng: Rng): Record<string, any> {
  const lines = Array.from({ length: rng.int(1, 8) }, (_, i) => {
    const amount = rng.int(0, 10_000_000);
    return {
      id: `li_${i}`,
      amount,
      product_id: rng.pick(['p1', 'widget', 'free', 'p2']),
      ...(rng.bool(0.3) ? { discount_amount: rng.int(0, amount) } : {}),
      ...(rng.bool(0.4) ? { tax_inclusive: rng.bool() } : {}),
      ...(rng.bool(0.1) ? { ship_to: { ...rng.pick(ADDRESSES) } } : {}),
    };
  });
  return {
    currency: rng.pick(['usd', 'eur', 'jpy', 'bhd', 'cad', 'gbp']),
    line_items: lines,
    customer_address: { ...rng.pick(ADDRESSES) },
    ...(rng.bool(0.2) ? { tax_id: 'DE123456789' } : {}),
    ...(rng.bool(0.1) ? { tax_exempt: rng.bool() } : {}),
    ...(rng.bool(0.5) ? { include_taxability_reason: true } : {}),
    ...(rng.bool(0.1) ? { customer_id: 'cus_1' } : {}),
    ...(rng.bool(0.2) ? { tax_date: rng.pick(['2019-01-01', '2024-12-31', '2025-07-01', '2030-01-01']) } : {}),
  };
}

function mutate(rng: Rng, v: any, depth = 0): any {
  if (v === null || typeof v !== 'object' || depth > 4) return rng.bool(0.3) ? randomValue(rng) : v;
  const keys = Object.keys(v);
  if (keys.length === 0) return v;
  const k = rng.pick(keys);
  const op = rng.int(0, 3);
  if (op === 0) delete v[k];
  else if (op === 1) v[k] = randomValue(rng);
  else if (op === 2) v[k] = mutate(rng, v[k], depth + 1);
  else v[rng.pick(['extra', '__proto__', 'amount', 'state', 'line_items'])] = randomValue(rng);
  return v;
}

function randomBody(rng: Rng): { body: string | Buffer; contentType?: string } {
  const kind = rng.int(0, 9);
  if (kind <= 1) return { body: JSON.stringify(validBody(rng)) };
  if (kind <= 5) {
    let b = validBody(rng);
    for (let i = rng.int(1, 4); i > 0; i--) b = mutate(rng, b);
    return { body: JSON.stringify(b) ?? 'null' };
  }
  if (kind === 6) {
    const t = JSON.stringify(validBody(rng));
    return { body: t.slice(0, rng.int(0, t.length - 1)) }; // truncated JSON
  }
  if (kind === 7) return { body: Buffer.from(Array.from({ length: rng.int(0, 300) }, () => rng.int(0, 255))) };
  if (kind === 8) return { body: JSON.stringify(randomValue(rng)) ?? '' };
  return { body: JSON.stringify(validBody(rng)), contentType: rng.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1', 'application/vnd.api+json']) };
}

describe('fuzz', () => {
  it('answers thousands of random bodies with 200 or a 4xx in Sphere shape, never a 500', async () => {
    const rng = new Rng(0xc0ffee);
    const pool = new Pool(s.url, { connections: 16 });
    const statuses: Record<number, number> = {};
    const N = 4000;
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const { body, contentType } = randomBody(rng);
        const headers: Record<string, string> = { 'x-api-key': key };
        if (contentType === undefined) headers['content-type'] = 'application/json';
        else if (contentType !== '') headers['content-type'] = contentType;
        const res = await pool.request({ method: 'POST', path: '/tax_api/calculate_tax', headers, body });
        const text = await res.body.text();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        expect([200, 400, 413, 415], `#${i}: ${res.statusCode} ${text.slice(0, 300)} for ${String(body).slice(0, 300)}`).toContain(res.statusCode);
        const j = JSON.parse(text);
        if (res.statusCode === 200) {
          expect(j.message).toBe('Tax calculated successfully');
          expect(Array.isArray(j.data.lines)).toBe(true);
          for (const l of j.data.lines) for (const t of l.tax_amounts) expect(Number.isSafeInteger(t.amount) && t.amount >= 0).toBe(true);
        } else {
          expect(j.type).toBe('api_error');
          expect(typeof j.code).toBe('string');
          expect(typeof j.message).toBe('string');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await pool.close();
    expect(statuses[500]).toBeUndefined();
    expect(statuses[200]).toBeGreaterThan(300);
    expect(statuses[400]).toBeGreaterThan(300);
    // still serving
    const ok = await s.post('/tax_api/calculate_tax', { currency: 'usd', customer_address: ADDRESSES[0], line_items: [{ id: 'a', amount: 100, product_id: 'p' }] }, { 'x-api-key': key });
    expect(ok.status).toBe(200);
  }, 120_000);
});
