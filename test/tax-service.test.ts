/** TaxService internals: fixtures answered exactly, last-used throttling, key lookup, rate limiter, recording. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/tax/rate-limit.ts';
import { generateApiKey, parseApiKey, verifyApiKey, hashApiKey } from '../src/tax/keys.ts';
import { TaxService } from '../src/tax/service.ts';
import { MemoryStore } from './helpers/tax-memory-store.ts';
import { startTaxServer, taxData } from './helpers/tax-server.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'tax-api');

function matches(actual: unknown, expected: unknown, path = '$'): void {
  if (expected === '<any>') return;
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, `${path}.length`).toBe(expected.length);
    expected.forEach((e, i) => matches((actual as unknown[])[i], e, `${path}[${i}]`));
  } else if (expected && typeof expected === 'object') {
    expect(Object.keys(actual as object).sort(), `${path} keys`).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) matches((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else expect(actual, path).toEqual(expected);
}

describe('fixtures', () => {
  it('texas-saas: the exact Sphere response', async () => {
    const s = await startTaxServer();
    try {
      const org = await s.service.createOrganization({ name: 'Fixture', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX', city: 'Austin', postal_code: '78701' } });
      await s.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
      const { key } = await s.service.createApiKey(org.id);
      const r = await s.post('/tax_api/calculate_tax', readFileSync(join(FIXTURES, 'texas-saas.request.json'), 'utf8'), { 'x-api-key': key });
      expect(r.status).toBe(200);
      matches(r.json, JSON.parse(readFileSync(join(FIXTURES, 'texas-saas.response.json'), 'utf8')));
      const got = await s.get(`/tax_api/calculations/${r.json.data.sphere_tax_calculation_id}`, { 'x-api-key': key });
      expect(got.json.data.response).toEqual(r.json);
      expect(got.json.data.request).toEqual(JSON.parse(readFileSync(join(FIXTURES, 'texas-saas.request.json'), 'utf8')));
      expect(got.json.data.tax_total).toBe(660 + 264 + 681);
    } finally {
      await s.close();
    }
  });
});

describe('keys', () => {
  it('parses, hashes and verifies in constant time', () => {
    const g = generateApiKey('live');
    expect(g.key).toMatch(/^tb_live_[0-9A-Za-z]{40}$/);
    expect(parseApiKey(g.key)).toEqual({ mode: 'live', id: g.id });
    expect(g.prefix).toBe(g.key.slice(0, 16));
    expect(verifyApiKey(g.key, g.hash)).toBe(true);
    expect(verifyApiKey(g.key.slice(0, -1) + 'x', g.hash)).toBe(false);
    expect(verifyApiKey(g.key, 'sha256:short')).toBe(false);
    expect(hashApiKey(g.key)).toBe(g.hash);
    for (const bad of ['', 'tb_test_', 'tb_prod_' + 'a'.repeat(40), 'tb_test_' + 'a'.repeat(39), 'tb_test_' + 'a'.repeat(39) + '!']) expect(parseApiKey(bad)).toBeUndefined();
  });
});

describe('TaxService', () => {
  it('writes a key\'s last-used time at most once per interval', async () => {
    const store = new MemoryStore();
    const service = await TaxService.open({ store, data: taxData(), lastUsedWriteIntervalMs: 60_000 });
    const org = await service.createOrganization({ name: 'L', mode: 'test' });
    const { key, doc } = await service.createApiKey(org.id);
    const before = store.writes;
    for (let i = 0; i < 500; i++) expect(await service.authenticate(key)).toBeDefined();
    await service.flush();
    expect(store.writes - before).toBe(1);
    expect((await store.get<any>('api_keys', doc.id)).last_used_at).toMatch(/^\d{4}-/);
    expect(service.lastUsedAt(doc.id)).toMatch(/^\d{4}-/);
    await service.close();
  });

  it('finds keys created by another writer of the store, and refuses revoked ones', async () => {
    const store = new MemoryStore();
    const service = await TaxService.open({ store, data: taxData() });
    const other = await TaxService.open({ store, data: taxData() });
    const org = await other.createOrganization({ name: 'O', mode: 'live' });
    const { key } = await other.createApiKey(org.id);
    const auth = await service.authenticate(key);
    expect(auth?.view.org.id).toBe(org.id);
    await service.revokeApiKey(key.slice(0, 16));
    expect(await service.authenticate(key)).toBeUndefined();
    expect(await service.authenticate('tb_live_' + 'A'.repeat(40))).toBeUndefined();
    expect(await service.authenticate(undefined)).toBeUndefined();
  });

  it('records every calculation; durable mode waits for the write', async () => {
    const store = new MemoryStore();
    const service = await TaxService.open({ store, data: taxData(), recordMode: 'durable' });
    const org = await service.createOrganization({ name: 'R', mode: 'test', default_product_tax_code: 'saas' });
    await service.addRegistration(org.id, { country: 'DE', effective_from: '2020-01-01' });
    const { key } = await service.createApiKey(org.id);
    const auth = (await service.authenticate(key))!;
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const { json } = await service.calculate(auth, { currency: 'eur', customer_address: { country: 'DE' }, line_items: [{ amount: 100 * i, product_id: 'p' }] });
      const id = JSON.parse(json).data.sphere_tax_calculation_id as string;
      ids.add(id);
      expect(await store.get('tax_calculations', id)).toBeDefined(); // on "disk" before calculate resolved
    }
    expect(ids.size).toBe(20);
    expect((await store.list('tax_calculations')).length).toBe(20);
  });
});

describe('RateLimiter', () => {
  it('is a token bucket per key with Retry-After', () => {
    let t = 0;
    const rl = new RateLimiter(10, 20, () => t);
    for (let i = 0; i < 20; i++) expect(rl.take('a').ok).toBe(true);
    const no = rl.take('a');
    expect(no.ok).toBe(false);
    expect(no.retryAfter).toBe(1);
    expect(rl.take('b').ok).toBe(true); // other keys unaffected
    t += 100; // 0.1 s -> one token
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
    // a per-key rate: 1/s, burst 2
    expect(rl.take('c', 1).ok).toBe(true);
    expect(rl.take('c', 1).ok).toBe(true);
    const c = rl.take('c', 1);
    expect(c.ok).toBe(false);
    expect(c.limit).toBe(1);
  });
});

describe('recording failures', () => {
  it('after a failed background write, requests wait for their own write and fail with 500', async () => {
    const store = new MemoryStore();
    const errors: string[] = [];
    const service = await TaxService.open({ store, data: taxData(), onError: (m) => errors.push(m) });
    const org = await service.createOrganization({ name: 'F', mode: 'test', default_product_tax_code: 'saas' });
    await service.addRegistration(org.id, { country: 'DE', effective_from: '2020-01-01' });
    const { key } = await service.createApiKey(org.id);
    const auth = (await service.authenticate(key))!;
    const body = { currency: 'eur', customer_address: { country: 'DE' }, line_items: [{ amount: 100, product_id: 'p' }] };
    store.put = async () => {
      throw new Error('disk full');
    };
    await service.calculate(auth, body); // answered; its write fails in the background
    await new Promise((r) => setImmediate(r));
    expect(errors.some((m) => m.includes('recording calculation'))).toBe(true);
    await expect(service.calculate(auth, body)).rejects.toMatchObject({ status: 500, code: 'internal_server_error' });
  });
});
