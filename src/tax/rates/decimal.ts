/**
 * Exact decimal-string helpers for tax rates. Rates are percent strings such as "6.25" or "9.975";
 * nothing here goes through a JavaScript float.
 */

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

export function isDecimalString(s: unknown): s is string {
  return typeof s === 'string' && DECIMAL.test(s);
}

/** Canonical form: no leading zeros in the integer part (except a single 0), no trailing fraction zeros. */
export function normalizeDecimal(s: string): string {
  const m = DECIMAL.exec(s);
  if (!m) throw new RangeError(`not a decimal string: ${JSON.stringify(s)}`);
  const int = m[1].replace(/^0+(?=\d)/, '');
  const frac = (m[2] ?? '').replace(/0+$/, '');
  return frac ? `${int}.${frac}` : int;
}

function toScaled(s: string, scale: number): bigint {
  const m = DECIMAL.exec(s);
  if (!m) throw new RangeError(`not a decimal string: ${JSON.stringify(s)}`);
  const frac = (m[2] ?? '').padEnd(scale, '0');
  return BigInt(m[1] + frac);
}

function fracDigits(s: string): number {
  const i = s.indexOf('.');
  return i < 0 ? 0 : s.length - i - 1;
}

function fromScaled(v: bigint, scale: number): string {
  const neg = v < 0n;
  let digits = (neg ? -v : v).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return (neg ? '-' : '') + normalizeDecimal(digits);
}

/** Exact sum of non-negative decimal strings. */
export function addDecimals(...values: string[]): string {
  const scale = Math.max(0, ...values.map(fracDigits));
  let total = 0n;
  for (const v of values) total += toScaled(v, scale);
  return fromScaled(total, scale);
}

/** -1, 0 or 1, comparing two decimal strings by value. */
export function compareDecimals(a: string, b: string): number {
  const scale = Math.max(fracDigits(a), fracDigits(b));
  const x = toScaled(a, scale);
  const y = toScaled(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** "0.0825" -> "8.25": a fraction written as a decimal string, as a percent string (decimal-point shift, no arithmetic on floats). */
export function fractionToPercent(s: string): string {
  const t = s.trim();
  const m = DECIMAL.exec(t) ?? /^()\.(\d+)$/.exec(t);
  if (!m) throw new RangeError(`not a decimal fraction: ${JSON.stringify(s)}`);
  const int = m[1] || '0';
  const frac = m[2] ?? '';
  const padded = frac.padEnd(2, '0');
  return normalizeDecimal(`${int}${padded.slice(0, 2)}${padded.length > 2 ? `.${padded.slice(2)}` : ''}`);
}
