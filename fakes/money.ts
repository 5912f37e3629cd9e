/**
 * Exact decimal-string arithmetic for the fake servers. Amounts are carried as BigInt "units" at a
 * known scale (number of digits after the point); nothing here ever touches a float.
 */

const DECIMAL_RE = /^-?\d+(\.\d+)?$/;
const UNSIGNED_DECIMAL_RE = /^\d+(\.\d+)?$/;

/** Minor-unit digits per ISO currency (the ones the fakes use, plus a few zero/three-digit ones). */
const CURRENCY_DIGITS: Record<string, number> = {
  USD: 2, EUR: 2, GBP: 2, CAD: 2, AUD: 2, CHF: 2, SEK: 2, NOK: 2, DKK: 2, PLN: 2,
  JPY: 0, KRW: 0, ISK: 0,
  BHD: 3, KWD: 3, OMR: 3, JOD: 3, TND: 3,
};

export function currencyDigits(currency: string): number {
  return CURRENCY_DIGITS[currency.toUpperCase()] ?? 2;
}

export function isDecimalString(v: unknown): v is string {
  return typeof v === 'string' && DECIMAL_RE.test(v);
}

export function isUnsignedDecimalString(v: unknown): v is string {
  return typeof v === 'string' && UNSIGNED_DECIMAL_RE.test(v);
}

/** Digits after the decimal point of a decimal string. */
export function scaleOf(s: string): number {
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** "12.345" -> { units: 12345n, scale: 3 }. Throws on anything that is not a plain decimal string. */
export function parseDecimal(s: string): { units: bigint; scale: number } {
  if (!isDecimalString(s)) throw new RangeError(`not a decimal string: ${JSON.stringify(s)}`);
  const neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  const dot = body.indexOf('.');
  const digits = dot < 0 ? body : body.slice(0, dot) + body.slice(dot + 1);
  const units = BigInt(digits);
  return { units: neg ? -units : units, scale: dot < 0 ? 0 : body.length - dot - 1 };
}

const POW10: bigint[] = [];
export function pow10(n: number): bigint {
  let v = POW10[n];
  if (v === undefined) {
    v = 10n ** BigInt(n);
    POW10[n] = v;
  }
  return v;
}

/** Integer division rounding half away from zero ("half-up" as accountants use it). */
export function divRoundHalfUp(n: bigint, d: bigint): bigint {
  if (d === 0n) throw new RangeError('division by zero');
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const neg = n < 0n;
  const a = neg ? -n : n;
  const q = (a * 2n + d) / (d * 2n);
  return neg ? -q : q;
}

/** Re-scale units from one scale to another, rounding half-up when digits are dropped. */
export function rescale(units: bigint, from: number, to: number): bigint {
  if (to === from) return units;
  if (to > from) return units * pow10(to - from);
  return divRoundHalfUp(units, pow10(from - to));
}

/**
 * The exact value of a decimal string at `scale` digits. Throws when the string has non-zero digits
 * beyond `scale` (so "1.005" at scale 2 is an error, "1.50" and "1.5" are both 150).
 */
export function toUnitsExact(s: string, scale: number): bigint {
  const { units, scale: sc } = parseDecimal(s);
  if (sc <= scale) return units * pow10(scale - sc);
  const div = pow10(sc - scale);
  if (units % div !== 0n) throw new RangeError(`${s} has more than ${scale} decimal places`);
  return units / div;
}

/** Decimal string -> units at `scale`, rounding half-up when the string is more precise. */
export function toUnitsRounded(s: string, scale: number): bigint {
  const { units, scale: sc } = parseDecimal(s);
  return rescale(units, sc, scale);
}

/** Units at `scale` -> decimal string with exactly `scale` digits after the point. */
export function formatUnits(units: bigint, scale: number): string {
  const neg = units < 0n;
  let s = (neg ? -units : units).toString();
  if (scale > 0) {
    if (s.length <= scale) s = '0'.repeat(scale - s.length + 1) + s;
    s = s.slice(0, s.length - scale) + '.' + s.slice(s.length - scale);
  }
  return neg ? '-' + s : s;
}

/** Money string -> minor units of the currency (exact; throws when too precise). */
export function toMinor(amount: string, currency: string): bigint {
  return toUnitsExact(amount, currencyDigits(currency));
}

/** Minor units -> money string with the currency's number of decimals ("12.30"). */
export function fromMinor(minor: bigint, currency: string): string {
  return formatUnits(minor, currencyDigits(currency));
}

/**
 * a × b, both decimal strings, rounded half-up to `outScale` digits; returned as units at outScale.
 * e.g. mulToUnits("3", "19.99", 2) = 5997n; mulToUnits("100.00", "0.0825", 2) = 825n.
 */
export function mulToUnits(a: string, b: string, outScale: number): bigint {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  return rescale(x.units * y.units, x.scale + y.scale, outScale);
}

/** minor × rate (a decimal string), rounded half-up to the same minor unit. */
export function mulMinorByRate(minor: bigint, rate: string): bigint {
  const r = parseDecimal(rate);
  return divRoundHalfUp(minor * r.units, pow10(r.scale));
}

/** minor × percentage/100 (percentage a decimal string such as "8.25"), rounded half-up. */
export function mulMinorByPercent(minor: bigint, percentage: string): bigint {
  const r = parseDecimal(percentage);
  return divRoundHalfUp(minor * r.units, pow10(r.scale + 2));
}

/** Sum decimal strings exactly; the result has the largest scale among the inputs (or `minScale`). */
export function addDecimals(values: readonly string[], minScale = 0): string {
  let scale = minScale;
  for (const v of values) scale = Math.max(scale, scaleOf(v));
  let total = 0n;
  for (const v of values) total += toUnitsExact(v, scale);
  return formatUnits(total, scale);
}

/** Compare two decimal strings numerically: -1, 0 or 1. */
export function compareDecimals(a: string, b: string): number {
  const scale = Math.max(scaleOf(a), scaleOf(b));
  const x = toUnitsExact(a, scale);
  const y = toUnitsExact(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Normalise a decimal string: drop trailing zeros after the point ("0.0800" -> "0.08", "2.0" -> "2"). */
export function normalizeDecimal(s: string): string {
  const { units, scale } = parseDecimal(s);
  let u = units;
  let sc = scale;
  while (sc > 0 && u % 10n === 0n) {
    u /= 10n;
    sc--;
  }
  return formatUnits(u, sc);
}
