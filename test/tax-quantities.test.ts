/** quantity and unit_amount over the tax API: amount = quantity x unit_amount exactly, or a 400 when they contradict. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

let s: TaxServer;
let key: string;
const BERLIN = { city: 'Berlin', postal_code: '10117', country: 'DE' };
const calc = (items: unknown[]) => s.post('/tax_api/calculate_tax', { currency: 'eur', tax_date: '2026-06-01', customer_address: BERLIN, line_items: items }, { 'x-api-key': key });

beforeAll(async () => {
  s = await startTaxServer();
  const org = (await s.admin('POST', '/admin/organizations', { name: 'Q', mode: 'test', origin_address: { country: 'US', state: 'CA' }, default_product_tax_code: 'saas' })).json.data;
  await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { country: 'DE', effective_from: '2020-01-01' });
  key = (await s.admin('POST', `/admin/organizations/${org.id}/keys`, {})).json.data.key;
});
afterAll(async () => s?.close());

describe('quantity x unit_amount', () => {
  it('a unit price with a quantity is taxed on the line total, not on one unit', async () => {
    const r = await calc([{ id: 'seats', quantity: 3, unit_amount: 3333, product_id: 'seat' }]);
    expect(r.status).toBe(200);
    expect(r.json.data.lines[0].tax_amounts[0]).toMatchObject({ taxable_amount: 9999, amount: 1900 }); // 19 % of 99.99
    const rec = await s.get(`/tax_api/calculations/${r.json.data.sphere_tax_calculation_id}`, { 'x-api-key': key });
    expect(rec.json.data.request.line_items[0]).toMatchObject({ amount: 9999, quantity: 3, unit_amount: 3333 });
  });

  it('amount agreeing with quantity x unit_amount is accepted; a contradicting one is a 400 on amount', async () => {
    expect((await calc([{ amount: 9999, quantity: 3, unit_amount: 3333, product_id: 'seat' }])).status).toBe(200);
    const bad = await calc([{ amount: 3333, quantity: 3, unit_amount: 3333, product_id: 'seat' }]);
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ type: 'api_error', code: 'validation_errors', param: 'line_items[0].amount' });
    expect(bad.json.message).toContain('3 x 3333 = 9999');
  });

  it('decimal quantities are exact (0.1 x 3 is 0.3, no float drift), rounded half-up to a minor unit', async () => {
    const r = await calc([{ quantity: 0.1, unit_amount: 3, product_id: 'a' }, { quantity: 2.5, unit_amount: 1001, product_id: 'b' }, { quantity: 1.005, unit_amount: 1000, product_id: 'c' }]);
    expect(r.status).toBe(200);
    expect(r.json.data.lines.map((l: any) => l.tax_amounts[0].taxable_amount)).toEqual([0, 2503, 1005]);
  });

  it('unit_amount alone means quantity 1; bad quantities are 400s naming the field', async () => {
    expect((await calc([{ unit_amount: 500, product_id: 'x' }])).json.data.lines[0].tax_amounts[0].taxable_amount).toBe(500);
    for (const [q, why] of [[-1, 'negative'], [1e10, 'larger'], [0.1234567, 'decimals'], ['3', 'number']] as const) {
      const r = await calc([{ quantity: q, unit_amount: 100, product_id: 'x' }]);
      expect(r.status).toBe(400);
      expect(r.json.param).toBe('line_items[0].quantity');
      expect(r.json.message).toContain(why);
    }
    const none = await calc([{ quantity: 2, product_id: 'x' }]);
    expect(none.json).toMatchObject({ param: 'line_items[0].amount' });
    const huge = await calc([{ quantity: 1e9, unit_amount: 9007199254740, product_id: 'x' }]);
    expect(huge.status).toBe(400);
  });
});
