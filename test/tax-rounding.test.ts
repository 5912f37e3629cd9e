/**
 * Rounding policy over the tax API: Texas taxes the total of a sale's taxable items (document level, by law),
 * other places round per line unless the organization chooses document level; line amounts are allocated by
 * largest remainder so they add up to the document total exactly. Property test: seeded random invoices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';
import { Rng } from './helpers/tax-random.ts';

const AUSTIN = { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const BERLIN = { city: 'Berlin', postal_code: '10117', country: 'DE' };
let s: TaxServer;
let key: string;
let orgId: string;

const calc = (body: Record<string, unknown>) =>
  s.post('/tax_api/calculate_tax', { tax_date: '2026-06-01', include_taxability_reason: true, ...body }, { 'x-api-key': key });
const lineTax = (l: any): number => l.tax_amounts.reduce((a: number, t: any) => a + t.amount, 0);
const total = (r: any): number => r.json.data.lines.reduce((a: number, l: any) => a + lineTax(l), 0);

beforeAll(async () => {
  s = await startTaxServer();
  const org = (await s.admin('POST', '/admin/organizations', { name: 'Seats Inc', mode: 'test', origin_address: { country: 'US', state: 'TX' }, default_product_tax_code: 'saas' })).json.data;
  orgId = org.id;
  for (const reg of [{ country: 'US', state: 'TX' }, { country: 'DE' }]) await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { ...reg, effective_from: '2020-01-01' });
  key = (await s.admin('POST', `/admin/organizations/${org.id}/keys`, {})).json.data.key;
});
afterAll(async () => s?.close());

describe('document-level rounding', () => {
  it('Texas: three seats of 33.33 in Austin give 6.60 (tax on the total), not 6.63; lines add up exactly', async () => {
    const seats = [1, 2, 3].map((i) => ({ id: `seat_${i}`, amount: 3333, product_id: 'seat' }));
    const three = await calc({ currency: 'usd', customer_address: AUSTIN, line_items: seats });
    expect(three.status).toBe(200);
    expect(total(three)).toBe(660);
    const one = await calc({ currency: 'usd', customer_address: AUSTIN, line_items: [{ id: 'all', amount: 9999, product_id: 'seat' }] });
    expect(total(one)).toBe(660); // N seat lines equal one line
    // Per jurisdiction: Texas 6.25 % of 79.992 = 5.00, Austin 1 % = 0.80, Capital Metro 1 % = 0.80.
    const byJur = new Map<string, number>();
    for (const l of three.json.data.lines) for (const t of l.tax_amounts) byJur.set(t.tax_rate.jurisdiction, (byJur.get(t.tax_rate.jurisdiction) ?? 0) + t.amount);
    expect([...byJur.values()]).toEqual([500, 80, 80]);
    // Taxable amounts are the 80 % base of the total (79.99), allocated, never rounded line by line first.
    expect(three.json.data.lines.reduce((a: number, l: any) => a + l.tax_amounts[0].taxable_amount, 0)).toBe(7999);
    // The record says the same.
    const rec = await s.get(`/tax_api/calculations/${three.json.data.sphere_tax_calculation_id}`, { 'x-api-key': key });
    expect(rec.json.data.tax_total).toBe(660);
    expect(rec.json.data.response).toEqual(three.json);
  });

  it('elsewhere line level by default; the organization can choose document level', async () => {
    const lines = [1, 2, 3].map((i) => ({ id: `l${i}`, amount: 1005, product_id: 'p' })); // 19 % of 10.05 = 1.9095
    const perLine = await calc({ currency: 'eur', customer_address: BERLIN, line_items: lines });
    expect(perLine.json.data.lines.map(lineTax)).toEqual([191, 191, 191]);
    expect((await s.admin('PATCH', `/admin/organizations/${orgId}`, { rounding: 'document' })).status).toBe(200);
    const doc = await calc({ currency: 'eur', customer_address: BERLIN, line_items: lines });
    expect(total(doc)).toBe(573); // 19 % of 30.15 = 5.7285
    expect(doc.json.data.lines.map(lineTax)).toEqual([191, 191, 191]);
    const lines2 = [1, 2, 3].map((i) => ({ id: `l${i}`, amount: 1003, product_id: 'p' })); // 1.9057 each, 5.7171 total
    const d2 = await calc({ currency: 'eur', customer_address: BERLIN, line_items: lines2 });
    expect(d2.json.data.lines.map(lineTax)).toEqual([191, 191, 190]); // 5.7171 -> 5.72: two leftover cents by largest remainder, ties to the earlier line
    expect((await s.admin('PATCH', `/admin/organizations/${orgId}`, { rounding: 'often' })).status).toBe(400);
    expect((await s.admin('PATCH', `/admin/organizations/${orgId}`, { rounding: null })).status).toBe(200);
  });

  it('property: random invoices in Austin: per jurisdiction the lines sum to half_up(rate x exact taxable total)', async () => {
    const rng = new Rng(20261201);
    for (let n = 0; n < 60; n++) {
      const count = rng.int(1, 12);
      const items = Array.from({ length: count }, (_, i) => {
        const amount = rng.int(0, 3) === 0 ? rng.int(0, 99) : rng.int(1, 500_000);
        return { id: `l${i}`, amount, product_id: 'p', ...(rng.bool(0.2) ? { discount_amount: Math.floor(amount * rng.next()) } : {}) };
      });
      const r = await calc({ currency: 'usd', customer_address: AUSTIN, line_items: items });
      expect(r.status).toBe(200);
      // exact taxable total = 0.8 x sum(net); rate r: tax = half_up(sum(net) x 0.8 x r)
      const net = items.reduce((a, it) => a + BigInt(it.amount - (it.discount_amount ?? 0)), 0n);
      const expected = new Map<string, bigint>();
      for (const [name, bp] of [['Texas', 625n], ['Austin', 100n], ['Austin MTA (Capital Metro)', 100n]] as const) {
        const num = net * 8n * bp; // net x 0.8 x bp/10000 = num / 100000
        const den = 100_000n;
        expected.set(name, num / den + ((num % den) * 2n >= den ? 1n : 0n));
      }
      const got = new Map<string, bigint>();
      for (const l of r.json.data.lines) {
        let lt = 0;
        for (const t of l.tax_amounts) {
          got.set(t.tax_rate.jurisdiction, (got.get(t.tax_rate.jurisdiction) ?? 0n) + BigInt(t.amount));
          expect(t.amount).toBeGreaterThanOrEqual(0);
          lt += t.amount;
        }
        expect(lt).toBe(lineTax(l));
      }
      if (net > 0n) expect(got).toEqual(expected);
    }
  });

  it('property: random EU invoices at document level add up per line and match the one-line invoice', async () => {
    expect((await s.admin('PATCH', `/admin/organizations/${orgId}`, { rounding: 'document' })).status).toBe(200);
    const rng = new Rng(77);
    for (let n = 0; n < 40; n++) {
      const items = Array.from({ length: rng.int(2, 20) }, (_, i) => ({ id: `l${i}`, amount: rng.int(1, 100_000), product_id: 'p' }));
      const sum = items.reduce((a, it) => a + it.amount, 0);
      const many = await calc({ currency: 'eur', customer_address: BERLIN, line_items: items });
      const one = await calc({ currency: 'eur', customer_address: BERLIN, line_items: [{ id: 'x', amount: sum, product_id: 'p' }] });
      expect(total(many)).toBe(total(one));
      // Each line is within one cent of its exact share.
      for (const [i, l] of many.json.data.lines.entries()) expect(Math.abs(lineTax(l) - items[i]!.amount * 0.19)).toBeLessThan(1);
    }
    await s.admin('PATCH', `/admin/organizations/${orgId}`, { rounding: null });
  });
});
