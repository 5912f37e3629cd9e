/**
 * The arithmetic of one line, exact. All amounts are integer minor units (BigInt); rates and the taxable
 * share are exact rationals; rounding is half-up (half away from zero) — see src/money/rational.ts.
 *
 * Rounding policy (per line, per jurisdiction), as Stripe Tax, Anrok and AvaTax's default do:
 *
 * - Exclusive line (amount is net of tax):
 *     net            = amount - discount
 *     taxable_amount = round(net x taxable_share)                  (e.g. Texas SaaS: 80 %)
 *     tax_j          = round(taxable_amount x rate_j)              for each jurisdiction j
 *     line tax       = sum of tax_j                                (never re-rounded)
 * - Inclusive line (amount includes tax):
 *     gross          = amount - discount
 *     net            = round(gross / (1 + taxable_share x sum(rate_j)))
 *     line tax       = gross - net                                 (so net + tax = gross exactly)
 *     taxable_amount = round(net x taxable_share)
 *     tax_j          = line tax split among jurisdictions in proportion to rate_j (largest remainder),
 *                      so the jurisdiction taxes add up to the line tax exactly.
 * - Document total tax = the sum of the line taxes, so lines and total never drift apart by a cent.
 *
 * Round trip: exclusive net N gives gross G = N + sum(tax_j); pricing G inclusive gives back net N' with
 * |N' - N| <= floor(k/2) for k jurisdictions at a fully taxable share (exactly N for one jurisdiction), and
 * at most one more minor unit when only part of the amount is taxable (the taxable share rounds too).
 */
import { type Rational, add, allocate, divRoundHalfUp, mul, mulRound, sum } from '../money/index.ts';

export interface LineMathInput {
  /** The line amount in minor units (net if exclusive, gross if inclusive), before the discount. */
  amount: bigint;
  /** Discount in minor units, 0 <= discount <= amount. */
  discount?: bigint;
  inclusive: boolean;
  /** Share of the amount that is taxable, as a fraction in [0, 1] (1 = fully taxable, 4/5 = Texas SaaS). */
  taxableShare: Rational;
  /** Each jurisdiction's rate as a fraction (6.25 % = 1/16). */
  rates: readonly Rational[];
}

export interface LineMathResult {
  /** Amount after discount, net of tax. */
  net: bigint;
  /** Amount after discount, tax included. */
  gross: bigint;
  /** The taxable part of `net`. */
  taxable: bigint;
  /** Tax per jurisdiction, in the order of `rates`. */
  taxes: bigint[];
  /** Sum of `taxes`. */
  tax: bigint;
}

const ONE: Rational = { n: 1n, d: 1n };

export function computeLine(input: LineMathInput): LineMathResult {
  const base = input.amount - (input.discount ?? 0n);
  const share = input.taxableShare;
  if (input.rates.length === 0 || share.n === 0n) {
    return { net: base, gross: base, taxable: input.rates.length === 0 ? 0n : mulRound(base, share), taxes: input.rates.map(() => 0n), tax: 0n };
  }
  if (!input.inclusive) {
    const taxable = mulRound(base, share);
    const taxes = input.rates.map((r) => mulRound(taxable, r));
    let tax = 0n;
    for (const t of taxes) tax += t;
    return { net: base, gross: base + tax, taxable, taxes, tax };
  }
  const combined = sum(input.rates);
  const divisor = add(ONE, mul(share, combined)); // 1 + share x sum(rates)
  const net = divRoundHalfUp(base * divisor.d, divisor.n);
  const tax = base - net;
  const taxable = mulRound(net, share);
  // Weights: the rates on a common denominator.
  let common = 1n;
  for (const r of input.rates) common = (common * r.d) / gcd(common, r.d);
  const weights = input.rates.map((r) => r.n * (common / r.d));
  const taxes = allocate(tax, weights);
  return { net, gross: base, taxable, taxes, tax };
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/** Sum of the line taxes: the document total (no second rounding). */
export function documentTax(lines: readonly LineMathResult[]): bigint {
  let t = 0n;
  for (const l of lines) t += l.tax;
  return t;
}
