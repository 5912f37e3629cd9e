/**
 * Does the stored document already carry this tax? That is how a write-back does not loop: the system's
 * `updated` webhook caused by our own write brings the document back with the tax on it, the comparison says
 * "unchanged", and nothing is written again.
 *
 * Per line: where the document records a per-line rate (Sequence's taxRate), the rates are compared, since
 * the system computes the amounts itself; otherwise the line's tax amount is compared. Numbers are compared
 * exactly as decimals ("8.2500" = "8.25"). A document whose lines carry no tax at all compares its `tax_total`.
 */
import { compare, parseRational, type Rational } from '../money/index.ts';
import type { WritebackTax } from './plan.ts';

type Rec = Record<string, unknown>;

function decimal(v: unknown): Rational | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) v = String(v);
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  try {
    return parseRational(v.trim());
  } catch {
    return undefined;
  }
}

function same(a: unknown, b: string): boolean {
  const x = decimal(a);
  const y = decimal(b);
  return x !== undefined && y !== undefined && compare(x, y) === 0;
}

function zero(v: unknown): boolean {
  const x = decimal(v);
  return x === undefined || x.n === 0n;
}

const given = (v: unknown) => v !== undefined && v !== null && v !== '';

export function documentCarriesTax(document: Rec, tax: WritebackTax): boolean {
  const lines = Array.isArray(document.lines) ? (document.lines as Rec[]) : [];
  // A system that keeps only the document's total tax (QuickBooks TxnTaxDetail.TotalTax, spread over its
  // own rates) maps no line tax: the total is what our write changed, so the total is compared.
  if (!lines.some((l) => given(l.tax_rate) || given(l.tax_amount)) && given(document.tax_total)) {
    return zero(tax.total_tax) ? zero(document.tax_total) : same(document.tax_total, tax.total_tax);
  }
  const byId = new Map<string, Rec>();
  for (const l of lines) if (typeof l.external_id === 'string') byId.set(l.external_id, l);
  for (const t of tax.lines) {
    const l = byId.get(t.id);
    if (!l) return false;
    const hasRate = l.tax_rate !== undefined && l.tax_rate !== null && l.tax_rate !== '';
    if (hasRate) {
      if (!same(l.tax_rate, t.rate_fraction)) return false;
    } else if (zero(t.tax_amount)) {
      if (!zero(l.tax_amount)) return false;
    } else if (!same(l.tax_amount, t.tax_amount)) return false;
  }
  return true;
}
