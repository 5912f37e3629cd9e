/**
 * Retention of recorded calculations over a real socket and the real embedded store: pruned by count, by age
 * (an injected clock) and by size; a pruned calculation answers 404 saying so; the table's files shrink and a
 * restart holds only what was kept.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.ts';
import type { TaxServiceOptions } from '../src/tax/service.ts';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

const AUSTIN = { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const body = (i: number) => ({ currency: 'usd', customer_address: AUSTIN, metadata: { order: `order-${i}` }, line_items: [{ id: `l${i}`, amount: 1000 + i, product_id: 'p' }, { id: `m${i}`, amount: 500, product_id: 'q' }] });
const DAY = 86_400_000;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Bytes of the tax_calculations table on disk (snapshot + journal). */
function tableBytes(dir: string): number {
  const folder = join(dir, 'collections');
  return readdirSync(folder)
    .filter((f) => f.startsWith('tax_calculations.'))
    .reduce((n, f) => n + statSync(join(folder, f)).size, 0);
}

async function server(opts: Partial<TaxServiceOptions>): Promise<{ s: TaxServer; key: string; post: (i: number) => Promise<string> }> {
  const s = await startTaxServer(opts);
  let org = (await s.service.listOrganizations())[0];
  if (!org) {
    org = await s.service.createOrganization({ name: 'Retention Co', mode: 'test', default_product_tax_code: 'saas' });
    await s.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
  }
  const key = (await s.service.createApiKey(org.id)).key;
  const post = async (i: number) => {
    const r = await s.post('/tax_api/calculate_tax', body(i), { 'x-api-key': key });
    expect(r.status, r.text).toBe(200);
    return r.json.data.sphere_tax_calculation_id as string;
  };
  return { s, key, post };
}

describe('retention of calculations', () => {
  it('by count: the oldest go, GET of one answers 404 saying it is no longer kept; the file shrinks; a restart holds only the kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tb-retention-'));
    dirs.push(dir);
    let t = Date.parse('2025-06-01T00:00:00Z');
    const now = () => new Date(t);
    const store = await openStore({ dir, compactAfterBytes: 16 * 1024 });
    // Phase 1: no limit to speak of; 400 calculations.
    const a = await server({ store, now, retention: { intervalMs: 0 } });
    const ids: string[] = [];
    for (let i = 0; i < 400; i++) {
      t += 1000;
      ids.push(await a.post(i));
    }
    await a.s.service.flush();
    await a.s.close();
    const before = tableBytes(dir);
    expect((await store.list('tax_calculations')).length).toBe(400);

    // Phase 2: the same data folder with a limit of 50: the index of stored records is read, and pruned.
    const b = await server({ store, now, retention: { maxCount: 50, intervalMs: 0 } });
    await b.s.service.retention.ready();
    await b.s.service.retention.prune();
    const kept = b.s.service.retention.count;
    expect(kept).toBeLessThanOrEqual(50);
    expect(kept).toBeGreaterThanOrEqual(49);
    expect((await store.list('tax_calculations')).length).toBe(kept);
    const gone = await b.s.get(`/tax_api/calculations/${ids[0]}`, { 'x-api-key': b.key });
    expect(gone.status).toBe(404);
    expect(gone.json).toMatchObject({ type: 'api_error', code: 'not_found' });
    expect(gone.json.message).toMatch(/is no longer kept: calculations are kept 400 days, at most 50 of them/);
    expect(gone.json.message).toContain('recorded 2025-06-01T00:00:01.000Z');
    expect((await b.s.get(`/tax_api/calculations/${ids[399]}`, { 'x-api-key': b.key })).status).toBe(200);
    const unknown = await b.s.get(`/tax_api/calculations/calc_${'f'.repeat(32)}`, { 'x-api-key': b.key });
    expect(unknown.json.message).toMatch(/^no calculation/);

    // Deleted rows leave the file at once: the prune compacts the table, no further traffic needed.
    await store.flush();
    expect(tableBytes(dir)).toBeLessThan(before / 4);
    // Traffic goes on, pruned as it comes.
    for (let more = 0; more < 100; more++) {
      t += 1000;
      await b.post(1000 + more);
    }
    await b.s.service.flush();
    await b.s.service.retention.prune();
    expect(b.s.service.retention.count).toBeLessThanOrEqual(50);
    await store.flush();
    expect(tableBytes(dir)).toBeLessThan(before / 4);
    await b.s.close();
    await store.close();

    const reopened = await openStore({ dir });
    try {
      const rows = await reopened.list('tax_calculations');
      expect(rows.length).toBeLessThanOrEqual(50);
      expect(rows.length).toBeGreaterThanOrEqual(49);
    } finally {
      await reopened.close();
    }
  });

  it('by age (injected clock): records older than the limit are pruned, younger ones stay', async () => {
    let t = Date.parse('2025-01-01T12:00:00Z');
    const { s, key, post } = await server({ now: () => new Date(t), retention: { maxAgeDays: 400, intervalMs: 0 } });
    try {
      const old: string[] = [];
      for (let i = 0; i < 10; i++) old.push(await post(i));
      t += 399 * DAY;
      const young: string[] = [];
      for (let i = 0; i < 5; i++) young.push(await post(100 + i));
      expect((await s.service.retention.prune()).deleted).toBe(0); // 399 days: all kept
      t += 2 * DAY;
      const r = await s.service.retention.prune();
      expect(r.deleted).toBe(10);
      for (const id of old) {
        const g = await s.get(`/tax_api/calculations/${id}`, { 'x-api-key': key });
        expect(g.status).toBe(404);
        expect(g.json.message).toMatch(/recorded 2025-01-01T12:00:00.000Z\) is no longer kept: calculations are kept 400 days/);
      }
      for (const id of young) expect((await s.get(`/tax_api/calculations/${id}`, { 'x-api-key': key })).status).toBe(200);
      expect(s.service.retention.count).toBe(5);
    } finally {
      await s.close();
    }
  });

  it('by size: the bytes kept stay under the limit, and the estimate follows the real record size', async () => {
    const { s, post } = await server({ retention: { maxBytes: 20_000, intervalMs: 0 } });
    try {
      for (let i = 0; i < 100; i++) await post(i);
      await s.service.retention.prune();
      await s.service.flush();
      expect(s.service.retention.retainedBytes).toBeLessThanOrEqual(20_000);
      const docs = await s.store.list('tax_calculations');
      expect(docs.length).toBe(s.service.retention.count);
      const real = docs.reduce((n, d) => n + JSON.stringify(d).length, 0);
      // The estimate errs on the safe side, within a factor of two.
      expect(s.service.retention.retainedBytes).toBeGreaterThanOrEqual(real);
      expect(s.service.retention.retainedBytes).toBeLessThan(real * 2);
    } finally {
      await s.close();
    }
  });
});
