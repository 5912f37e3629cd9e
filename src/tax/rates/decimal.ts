/**
 * Decimal-string helpers for tax rates ("6.25", "9.975"), on top of src/money's exact rationals: parsing,
 * sums and comparisons go through parseRational / add / compare, and results are printed back with as many
 * fraction digits as the inputs had, so nothing is rounded and nothing goes through a JavaScript float.
 * Rates are non-negative, hence the stricter pattern here.
 */
import { compare, parseRational, rational, mul, sum, toDecimalString } from '../../money/index.ts';

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

export function isDecimalString(s: unknown): s is string {
  return typeof s === 'string' && DECIMAL.test(s);
}

function fracDigits(s: string): number {
  const i = s.indexOf('.');
  return i < 0 ? 0 : s.length - i - 1;
}

function parse(s: string) {
  if (!DECIMAL.test(s)) throw new RangeError(`not a decimal string: ${JSON.stringify(s)}`);
  return parseRational(s);
}

/** Canonical form: no leading zeros in the integer part (except a single 0), no trailing fraction zeros. */
export function normalizeDecimal(s: string): string {
  return toDecimalString(parse(s), fracDigits(s));
}

/** Exact sum of non-negative decimal strings. */
export function addDecimals(...values: string[]): string {
  return toDecimalString(sum(values.map(parse)), Math.max(0, ...values.map(fracDigits)));
}

/** -1, 0 or 1, comparing two decimal strings by value. */
export function compareDecimals(a: string, b: string): number {
  return Math.sign(compare(parse(a), parse(b)));
}

const HUNDRED = rational(100n);

/** "0.0825" -> "8.25" (also ".0825"): a fraction written as a decimal string, as a percent string, exactly. */
export function fractionToPercent(s: string): string {
  const t = s.trim();
  const d = t.startsWith('.') ? `0${t}` : t;
  if (!DECIMAL.test(d)) throw new RangeError(`not a decimal fraction: ${JSON.stringify(s)}`);
  return toDecimalString(mul(parseRational(d), HUNDRED), Math.max(0, fracDigits(d) - 2));
}
