/**
 * Loop protection for systems that keep only a document's total tax (QuickBooks TxnTaxDetail.TotalTax, spread
 * over its own rates): when no line carries a tax amount or rate, the document's tax_total is compared.
 */
import { describe, expect, it } from 'vitest';
import { documentCarriesTax } from '../src/writeback/carried-tax.ts';
import type { WritebackTax } from '../src/writeback/plan.ts';

const tax = (total: string): WritebackTax => ({
  calculation_id: 'calc_1', currency: 'USD', total_tax: total,
  lines: [{ id: '1', amount: '100.00', taxable_amount: '100.00', tax_amount: total, rate: '8.25', rate_fraction: '0.0825', jurisdictions: [] }],
} as unknown as WritebackTax);

describe('documentCarriesTax with total-only documents', () => {
  const doc = (taxTotal: string | undefined) => ({ external_id: '130', lines: [{ external_id: '1', amount: '100.00' }], ...(taxTotal !== undefined ? { tax_total: taxTotal } : {}) });

  it('the same total (exactly, as decimals) is carried; another total or none is not', () => {
    expect(documentCarriesTax(doc('8.25'), tax('8.25'))).toBe(true);
    expect(documentCarriesTax(doc('8.2500'), tax('8.25'))).toBe(true);
    expect(documentCarriesTax(doc('0.00'), tax('8.25'))).toBe(false);
    expect(documentCarriesTax(doc('8.26'), tax('8.25'))).toBe(false);
    expect(documentCarriesTax(doc(undefined), tax('8.25'))).toBe(false);
  });

  it('zero tax is carried by a zero total; lines with their own tax still compare per line', () => {
    expect(documentCarriesTax(doc('0.00'), tax('0'))).toBe(true);
    expect(documentCarriesTax(doc('1.00'), tax('0'))).toBe(false);
    const perLine = { external_id: '130', tax_total: '8.25', lines: [{ external_id: '1', amount: '100.00', tax_amount: '8.00' }] };
    expect(documentCarriesTax(perLine, tax('8.25'))).toBe(false);
  });
});
