/**
 * The engine's result as write-back templates see it (exact decimal strings, effective line rates), the
 * fingerprint that makes jobs idempotent, the "already carries this tax" comparison, and the document ->
 * Sphere request conversion.
 */
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.ts';
import { documentCarriesTax } from '../src/writeback/carried-tax.ts';
import { createWritebackTaxEngine, type WritebackCalculation } from '../src/writeback/tax-engine.ts';
import { documentTaxRequest } from '../src/writeback/tax-request.ts';
import { isZeroTax, taxFingerprint, toWritebackTax } from '../src/writeback/writeback-tax.ts';
import type { Organization } from '../src/tax/model.ts';
import { ORGS } from '../src/tax/orgs.ts';
import { makeOrganization, sharedTaxData } from './fixtures/webhooks/harness.ts';

const AUSTIN = { line1: '1 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };

async function calculate(doc: Record<string, unknown>, opts: { taxCode?: string; states?: string[] } = {}): Promise<{ calc: WritebackCalculation; negated: Set<string> }> {
  const store = await openStore({ memory: true });
  const org = await makeOrganization(store, { states: opts.states ?? ['TX'], defaultTaxCode: opts.taxCode ?? 'general' });
  const engine = createWritebackTaxEngine({ data: sharedTaxData(), organizations: { organization: (id) => store.get<Organization>(ORGS, id) } });
  const req = documentTaxRequest({ connectionId: 'c1', document: doc, products: new Map() });
  const calc = await engine.calculate({ organizationId: org.id, request: req.request, customer: req.customer, productCodes: req.productCodes, connectionId: 'c1' });
  await store.close();
  return { calc, negated: req.negated };
}

function invoice(lines: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { external_id: 'inv_1', customer_external_id: 'cus_1', currency: 'USD', status: 'draft', issue_date: '2026-03-01', customer_address: AUSTIN, lines, ...extra };
}

describe('toWritebackTax', () => {
  it('gives exact decimal strings per line and jurisdiction, the line rate as percent and fraction', async () => {
    const { calc, negated } = await calculate(invoice([{ external_id: 'l1', amount: '200.00', product_external_id: 'p1' }, { external_id: 'l2', amount: '99.99', product_external_id: 'p1' }]));
    const tax = toWritebackTax(calc, negated);
    expect(tax.currency).toBe('USD');
    expect(tax.total_tax).toBe('24.75');
    expect(tax.lines[0]).toMatchObject({ id: 'l1', amount: '200.00', taxable_amount: '200.00', tax_amount: '16.50', rate: '8.25', rate_fraction: '0.0825' });
    expect(tax.lines[0]!.jurisdictions.map((j) => [j.level, j.rate, j.rate_fraction, j.tax_amount])).toEqual([
      ['state', '6.25', '0.0625', '12.50'],
      ['city', '1', '0.01', '2.00'],
      ['special', '1', '0.01', '2.00'],
    ]);
    expect(tax.lines[1]!.tax_amount).toBe('8.25');
  });

  it('uses the effective rate where only part of the price is taxed (Texas SaaS: 80 %)', async () => {
    const { calc } = await calculate(invoice([{ external_id: 'l1', amount: '93.59', product_external_id: 'p1' }]), { taxCode: 'saas' });
    const tax = toWritebackTax(calc);
    expect(tax.lines[0]).toMatchObject({ taxable_amount: '74.87', tax_amount: '6.18', rate: '6.6', rate_fraction: '0.066', reason: 'taxable_basis_reduced' });
    expect(tax.lines[0]!.jurisdictions[0]).toMatchObject({ rate: '6.25', taxable_amount: '74.87', tax_amount: '4.68' });
  });

  it('flips the tax of negative lines back and taxes amounts already net of their discount once', async () => {
    const { calc, negated } = await calculate(invoice([{ external_id: 'l1', amount: '-100.00' }, { external_id: 'l2', amount: '80.00', discount_amount: '20.00' }]));
    const tax = toWritebackTax(calc, negated);
    expect(tax.lines.map((l) => [l.amount, l.tax_amount])).toEqual([
      ['-100.00', '-8.25'],
      ['80.00', '6.60'],
    ]);
    expect(tax.total_tax).toBe('-1.65');
  });

  it('reports zero tax with the reason where the organization is not registered', async () => {
    const { calc } = await calculate(invoice([{ external_id: 'l1', amount: '10.00' }]), { states: ['CA'] });
    const tax = toWritebackTax(calc);
    expect(isZeroTax(tax)).toBe(true);
    expect(tax.lines[0]).toMatchObject({ tax_amount: '0.00', rate: '0', rate_fraction: '0', reason: 'not_collecting', jurisdictions: [] });
  });

  it('keeps JPY amounts without decimals', async () => {
    const { calc } = await calculate(invoice([{ external_id: 'l1', amount: '1000' }], { currency: 'JPY' }));
    expect(toWritebackTax(calc).lines[0]).toMatchObject({ amount: '1000', tax_amount: '83' });
  });
});

describe('taxFingerprint', () => {
  it('is the same for the same tax from different calculations and differs when an amount does', async () => {
    const a = toWritebackTax((await calculate(invoice([{ external_id: 'l1', amount: '200.00' }]))).calc);
    const b = toWritebackTax((await calculate(invoice([{ external_id: 'l1', amount: '200.00' }]))).calc);
    const c = toWritebackTax((await calculate(invoice([{ external_id: 'l1', amount: '200.01' }]))).calc);
    expect(a.calculation_id).not.toBe(b.calculation_id);
    expect(taxFingerprint(a)).toBe(taxFingerprint(b));
    expect(taxFingerprint(a)).not.toBe(taxFingerprint(c));
  });
});

describe('documentCarriesTax', () => {
  it('compares tax amounts exactly, or per-line rates where the document records them', async () => {
    const tax = toWritebackTax((await calculate(invoice([{ external_id: 'l1', amount: '200.00' }, { external_id: 'l2', amount: '50.00' }]))).calc);
    const lines = (t1: unknown, t2: unknown, extra: Record<string, unknown> = {}) => ({ lines: [{ external_id: 'l1', tax_amount: t1, ...extra }, { external_id: 'l2', tax_amount: t2, ...extra }] });
    expect(documentCarriesTax(lines('16.50', '4.13'), tax)).toBe(true);
    expect(documentCarriesTax(lines('16.5', '4.130'), tax)).toBe(true);
    expect(documentCarriesTax(lines('16.50', '4.12'), tax)).toBe(false);
    expect(documentCarriesTax(lines('0', '0'), tax)).toBe(false);
    expect(documentCarriesTax({ lines: [{ external_id: 'l1', tax_amount: '16.50' }] }, tax)).toBe(false);
    // Sequence: the rate decides, whatever the amounts it computed.
    expect(documentCarriesTax(lines('16.51', '4.12', { tax_rate: '0.08250' }), tax)).toBe(true);
    expect(documentCarriesTax(lines('16.50', '4.13', { tax_rate: '0' }), tax)).toBe(false);
  });
});

describe('documentTaxRequest', () => {
  it('falls back to the synced customer, marks exempt customers and carries product tax codes', () => {
    const doc = { external_id: 'i', customer_external_id: 'cus_9', currency: 'eur', customer_tax_status: 'exempt', lines: [{ external_id: 'l', amount: '12.345', product_external_id: 'p' }] };
    const customer = { connection_id: 'c', stream: 'customers', entity: 'customer', external_id: 'cus_9', data: { address: { country: 'DE', city: 'Berlin' }, tax_status: 'taxed' }, hash: '', deleted: false, first_seen_at: '', updated_at: '' };
    const product = { ...customer, external_id: 'p', data: { tax_code: 'SaaS' } };
    const r = documentTaxRequest({ connectionId: 'c', document: doc, customer, products: new Map([['p', product]]) });
    expect(r.request).toMatchObject({ currency: 'eur', tax_exempt: true, customer_id: 'cus_9', line_items: [{ id: 'l', amount: 1235, product_id: 'p' }] });
    expect(r.request.customer_address).toBeUndefined();
    expect(r.customer?.address).toMatchObject({ country: 'DE', city: 'Berlin' });
    expect(r.productCodes.get('p')).toBe('saas');
  });
});
