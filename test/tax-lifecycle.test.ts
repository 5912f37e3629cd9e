/**
 * Credit notes, commit, void and refund over the tax API: a credit note linked to its invoice is taxed with the
 * invoice's date, place and buyer status; a calculation is committed, voided (idempotent) or refunded (full or
 * partial, exact inverses at the original rates, never more than what is left).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

let s: TaxServer;
let key: string;
let otherKey: string;
const AUSTIN = { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const BERLIN = { city: 'Berlin', postal_code: '10117', country: 'DE' };
const PARIS = { city: 'Paris', postal_code: '75001', country: 'FR' };
const H = () => ({ 'x-api-key': key });
const calc = (body: Record<string, unknown>, k = key) => s.post('/tax_api/calculate_tax', { include_taxability_reason: true, ...body }, { 'x-api-key': k });
const act = (id: string, what: string, body?: unknown, k = key) => s.post(`/tax_api/calculations/${id}/${what}`, body, { 'x-api-key': k });

beforeAll(async () => {
  s = await startTaxServer();
  const org = (await s.admin('POST', '/admin/organizations', { name: 'Life', mode: 'test', origin_address: { country: 'US', state: 'TX' }, default_product_tax_code: 'saas' })).json.data;
  for (const reg of [{ country: 'US', state: 'TX' }, { country: 'EU' }]) await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { ...reg, effective_from: '2020-01-01' });
  key = (await s.admin('POST', `/admin/organizations/${org.id}/keys`, {})).json.data.key;
  const other = (await s.admin('POST', '/admin/organizations', { name: 'Other', mode: 'test', default_product_tax_code: 'saas' })).json.data;
  otherKey = (await s.admin('POST', `/admin/organizations/${other.id}/keys`, {})).json.data.key;
});
afterAll(async () => s?.close());

describe('credit notes', () => {
  it('are taxed with the invoice date, place and buyer status, whatever the credit note says', async () => {
    // Invoice: Berlin consumer, 2024 (DE 19 %).
    const inv = await calc({ currency: 'eur', tax_date: '2024-03-01', customer_address: BERLIN, line_items: [{ id: 'l1', amount: 10_000, product_id: 'p' }] });
    expect(inv.json.data.lines[0].tax_amounts[0].amount).toBe(1900);
    const id = inv.json.data.sphere_tax_calculation_id;
    // The credit note comes later and names Paris and a VAT id: the invoice's facts win.
    const cn = await calc({ currency: 'eur', tax_date: '2026-11-30', customer_address: PARIS, tax_id: 'FR40303265045', reference_calculation_id: id, line_items: [{ id: 'c1', amount: 2_500, product_id: 'p' }] });
    expect(cn.status).toBe(200);
    expect(cn.json.data.lines[0].tax_amounts[0]).toMatchObject({ amount: 475, tax_rate: { country: 'DE', percentage: 19 } });
    const rec = await s.get(`/tax_api/calculations/${cn.json.data.sphere_tax_calculation_id}`, H());
    expect(rec.json.data.tax_date).toBe('2024-03-01');
    // A reverse-charged invoice's credit note is reverse-charged too.
    const rc = await calc({ currency: 'eur', tax_date: '2024-03-01', customer_address: PARIS, tax_id: 'FR40303265045', line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }] });
    expect(rc.json.data.lines[0].taxability_reason).toBe('reverse_charge');
    const rcn = await calc({ currency: 'eur', customer_address: BERLIN, reference_calculation_id: rc.json.data.sphere_tax_calculation_id, line_items: [{ id: 'c', amount: 100, product_id: 'p' }] });
    expect(rcn.json.data.lines[0].taxability_reason).toBe('reverse_charge');
    expect(rcn.json.data.tax_id_status).toBe('unverified');
  });

  it('a reference that is unknown, another organization\'s, or voided is a 400 on reference_calculation_id', async () => {
    const inv = await calc({ currency: 'usd', tax_date: '2026-01-05', customer_address: AUSTIN, line_items: [{ amount: 1000, product_id: 'p' }] });
    const id = inv.json.data.sphere_tax_calculation_id;
    for (const [ref, k] of [['calc_nope', key], [id, otherKey], ['../x', key]] as const) {
      const r = await calc({ currency: 'usd', reference_calculation_id: ref, customer_address: AUSTIN, line_items: [{ amount: 1, product_id: 'p' }] }, k);
      expect([r.status, r.json.param]).toEqual([400, 'reference_calculation_id']);
    }
    await act(id, 'void');
    const r = await calc({ currency: 'usd', reference_calculation_id: id, line_items: [{ amount: 1, product_id: 'p' }] });
    expect(r.json.message).toContain('voided');
  });
});

describe('commit, void, refund', () => {
  const invoice = async () =>
    (await calc({ currency: 'usd', tax_date: '2026-02-01', customer_address: AUSTIN, line_items: [{ id: 'a', amount: 10_000, product_id: 'p' }, { id: 'b', amount: 2_999, product_id: 'p' }] })).json.data;

  it('commit then void: idempotent, with the reason; other organizations get 404', async () => {
    const d = await invoice();
    const id = d.sphere_tax_calculation_id;
    expect((await act(id, 'commit', undefined, otherKey)).status).toBe(404);
    const c = await act(id, 'commit');
    expect(c.status).toBe(200);
    expect(c.json.data).toMatchObject({ status: 'committed', committed_at: expect.any(String) });
    expect((await act(id, 'commit')).json.data.status).toBe('committed');
    const v = await act(id, 'void', { reason: 'invoice voided in the billing system' });
    expect(v.json.data).toMatchObject({ status: 'voided', void_reason: 'invoice voided in the billing system' });
    expect((await act(id, 'void')).json.data.status).toBe('voided');
    expect((await act(id, 'commit')).status).toBe(409);
    expect((await act(id, 'void', { reason: 'x'.repeat(500) })).status).toBe(400);
    expect((await act(id, 'void', '[1,2]')).status).toBe(400);
    expect((await s.get(`/tax_api/calculations/${id}/void`, H())).status).toBe(405);
  });

  it('refunds: partial by line at the original rates, then the rest; never more than is left; exact inverse in total', async () => {
    const d = await invoice();
    const id = d.sphere_tax_calculation_id;
    const origTax = d.lines.flatMap((l: any) => l.tax_amounts).reduce((a: number, t: any) => a + t.amount, 0);
    expect((await act(id, 'refund')).status).toBe(409); // not committed yet
    await act(id, 'commit');
    const p1 = await act(id, 'refund', { type: 'partial', lines: [{ id: 'a', amount: 5_000 }] });
    expect(p1.status).toBe(201);
    const refundLine = p1.json.data.refund.response.data.lines[0];
    expect(refundLine.tax_amounts.map((t: any) => t.amount)).toEqual([-250, -40, -40]); // half of 500, 80, 80
    expect(p1.json.data.original.status).toBe('committed');
    const over = await act(id, 'refund', { lines: [{ id: 'a', amount: 5_001 }] });
    expect([over.status, over.json.param]).toEqual([409, 'lines[0].amount']);
    expect((await act(id, 'refund', { lines: [{ id: 'zz', amount: 1 }] })).json.param).toBe('lines[0].id');
    expect((await act(id, 'refund', { lines: [{ id: 'a', amount: -1 }] })).status).toBe(400);
    const rest = await act(id, 'refund', { type: 'full' });
    expect(rest.status).toBe(201);
    expect(rest.json.data.original.status).toBe('refunded');
    const refunded = [p1, rest].flatMap((r) => r.json.data.refund.response.data.lines).flatMap((l: any) => l.tax_amounts).reduce((a: number, t: any) => a + t.amount, 0);
    expect(refunded).toBe(-origTax);
    expect((await act(id, 'refund')).status).toBe(400); // nothing left
    expect((await act(id, 'void')).status).toBe(409); // refunded: void the refunds first
    // Voiding a refund gives its amounts back.
    const v = await act(rest.json.data.refund.sphere_tax_calculation_id, 'void');
    expect(v.json.data.status).toBe('voided');
    const again = await act(id, 'refund');
    expect(again.status).toBe(201);
  });
});
