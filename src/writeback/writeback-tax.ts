/**
 * The engine's result (integer minor units, exact rational rates) as the `tax` of write-back templates:
 * exact decimal strings, each rate both as a percent ("8.25") and a fraction ("0.0825"). A line's `rate` is
 * its effective rate: the sum of its jurisdictions' rates times the taxable share (Texas SaaS: 8.25 % x 80 % =
 * 6.6 %), so a system that applies one rate per line (Sequence) arrives at the engine's tax.
 */
import { createHash } from 'node:crypto';
import { currencyExponent, formatMinor, mul, parseRational, percentToFraction, sum, toDecimalString, type Rational } from '../money/index.ts';
import type { WritebackTax } from './plan.ts';
import type { WritebackCalculation } from './tax-engine.ts';

const HUNDRED: Rational = { n: 100n, d: 1n };

export function toWritebackTax(calc: WritebackCalculation, negated: ReadonlySet<string> = new Set()): WritebackTax {
  const currency = calc.currency.toUpperCase();
  const exp = currencyExponent(currency);
  const money = (v: bigint, neg: boolean) => formatMinor(neg ? -v : v, exp);
  let total = 0n;
  const lines = calc.result.lines.map((l, i) => {
    const id = String(l.line.id);
    const neg = negated.has(id);
    total += neg ? -l.tax : l.tax;
    const fractions = l.jurisdictions.map((j) => percentToFraction(j.rate));
    const share = calc.shares[i] ?? { n: 1n, d: 1n };
    const effective = mul(sum(fractions), share);
    return {
      id,
      amount: money(l.net, neg),
      taxable_amount: money(l.taxable, neg),
      tax_amount: money(l.tax, neg),
      rate: toDecimalString(mul(effective, HUNDRED), 8),
      rate_fraction: toDecimalString(effective, 10),
      reason: l.reason,
      jurisdictions: l.jurisdictions.map((j, k) => ({
        name: j.jurisdiction.name,
        display_name: j.jurisdiction.display_name,
        level: j.jurisdiction.level,
        tax_type: j.jurisdiction.tax_type,
        country: j.jurisdiction.country,
        ...(j.jurisdiction.state ? { state: j.jurisdiction.state } : {}),
        rate: toDecimalString(parseRational(j.rate), 8),
        rate_fraction: toDecimalString(fractions[k]!, 10),
        // The rate on the whole line amount (Texas SaaS state tax: 6.25 % x 80 % = 5 %), for systems that
        // recompute a tax line as percentage x line amount.
        effective_rate: toDecimalString(mul(mul(fractions[k]!, share), HUNDRED), 8),
        tax_amount: money(j.amount, neg),
        taxable_amount: money(j.taxable, neg),
      })),
    };
  });
  return { calculation_id: calc.calculation_id, currency, total_tax: formatMinor(total, exp), lines };
}

/**
 * A fingerprint of what would be written (not of when or by which calculation): equal tax -> equal hash, so a
 * repeated event or a retry maps onto the same write-back job.
 */
export function taxFingerprint(tax: WritebackTax): string {
  const canonical = {
    c: tax.currency,
    l: tax.lines.map((l) => [l.id, l.tax_amount, l.rate_fraction, l.jurisdictions.map((j) => [j.name, j.rate_fraction, j.tax_amount, j.taxable_amount])]),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 32);
}

/** True when no line is taxed. */
export function isZeroTax(tax: WritebackTax): boolean {
  return tax.lines.every((l) => isZeroDecimal(l.tax_amount));
}

export function isZeroDecimal(s: string | undefined | null): boolean {
  return s === undefined || s === null || s === '' || /^-?0+(?:\.0*)?$/.test(s);
}

/** Why no line is taxed, in words: "not_collecting (no registration with tax calculation on)" per distinct reason. */
export function zeroTaxReason(tax: WritebackTax): string {
  const reasons = [...new Set(tax.lines.map((l) => l.reason ?? 'not_taxed'))];
  return reasons.map((r) => (REASON_TEXT[r] ? `${r}: ${REASON_TEXT[r]}` : r)).join('; ');
}

const REASON_TEXT: Record<string, string> = {
  not_collecting: "the organization has no registration with tax calculation on for the customer's region",
  customer_exempt: 'the customer is exempt',
  reverse_charge: 'reverse charge: the customer accounts for the tax',
  not_subject_to_tax: "the customer's region has no tax on this sale",
  product_exempt: 'the products are exempt there',
};
