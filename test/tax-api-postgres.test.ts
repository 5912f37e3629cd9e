/**
 * The tax API over PostgreSQL, whose writes are seen by reads only once committed (calculations are recorded
 * in the background through putJson, grouped): a calculation is found by GET /tax_api/calculations/:id and
 * listed at once, also while its write is still held up by the database, and a commit issued meanwhile is
 * applied after the calculation's own write, never overtaken by it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresStores } from './helpers/pg.ts';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';
import type { PostgresStore } from '../src/store/postgres/store.ts';
import type { TaxCalculationDoc } from '../src/tax/model.ts';

const stores = postgresStores();
let s: TaxServer<PostgresStore>;
let key = '';
let orgId = '';

const body = (id: string) => ({ currency: 'usd', customer_address: { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, line_items: [{ id, amount: 10000, product_id: 'p1' }] });
const calc = (id: string) => s.post('/tax_api/calculate_tax', body(id), { 'x-api-key': key });
const getCalc = (id: string) => s.get(`/tax_api/calculations/${id}`, { 'x-api-key': key });

beforeAll(async () => {
  const store = await stores.make();
  s = await startTaxServer({ store });
  const org = await s.service.createOrganization({ name: 'PG Tax Co', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX', postal_code: '78701' } });
  orgId = org.id;
  await s.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
  key = (await s.service.createApiKey(org.id)).key;
});

afterAll(async () => {
  await s?.close();
});

describe('tax API on PostgreSQL', () => {
  it('answers GET /tax_api/calculations/:id and the listing right after each calculation', async () => {
    const made = await Promise.all(Array.from({ length: 40 }, (_, i) => calc(`li_${i}`)));
    const ids = made.map((r) => {
      expect(r.status, r.text).toBe(200);
      return r.json.data.sphere_tax_calculation_id as string;
    });
    const got = await Promise.all(ids.map(getCalc));
    got.forEach((g, i) => {
      expect(g.status, g.text).toBe(200);
      expect(g.json.data.response).toEqual(made[i]!.json);
    });
    const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
    const exp = await s.post('/tax_api/exports', { from: day(-1), to: day(1) }, { 'x-api-key': key });
    expect(exp.status, exp.text).toBe(201);
    expect(new Set(exp.json.data.transactions.map((t: { calculation_id: string }) => t.calculation_id))).toEqual(new Set(ids));
    await s.service.flush();
    expect(await s.store.count('tax_calculations', { organization_id: orgId })).toBeGreaterThanOrEqual(40);
    expect((await s.store.get<TaxCalculationDoc>('tax_calculations', ids[0]!))!.lines).toEqual(expect.any(Array));
  });

  it('serves a calculation whose write the database holds up, and applies a commit issued meanwhile after it', async () => {
    await s.service.flush();
    // Another session locks the table against writes (reads go on): the calculation's batch waits for it.
    const locker = await s.store.pool.connect();
    let id = '';
    let commit: ReturnType<typeof s.post> | undefined;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE taxbridge_documents IN EXCLUSIVE MODE');
      const r = await calc('held');
      expect(r.status, r.text).toBe(200);
      id = r.json.data.sphere_tax_calculation_id;
      const g = await getCalc(id);
      expect(g.status, g.text).toBe(200);
      expect(g.json.data.response).toEqual(r.json);
      // The export listing (its own export document would wait for the lock too, so asked of the service).
      const listed = await s.service.listCalculations(orgId, 'test', () => true);
      expect(listed.filter((d) => d.id === id).map((d) => [d.id, d.status ?? 'calculated', d.lines.length])).toEqual([[id, 'calculated', 1]]);
      expect(await s.store.get('tax_calculations', id)).toBeUndefined();
      commit = s.post(`/tax_api/calculations/${id}/commit`, undefined, { 'x-api-key': key });
    } finally {
      await locker.query('COMMIT').catch(() => undefined);
      locker.release();
    }
    const c = await commit!;
    expect(c.status, c.text).toBe(200);
    await s.service.flush();
    expect(await s.store.get<TaxCalculationDoc>('tax_calculations', id)).toMatchObject({ id, status: 'committed' });
    expect(c.json.data.status).toBe('committed');
    expect((await getCalc(id)).status).toBe(200);
  });
});
