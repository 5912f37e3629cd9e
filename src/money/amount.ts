/**
 * Money amounts as integer minor units (BigInt), aware of each currency's exponent: 1050n in USD is
 * "10.50", in JPY "1050", in BHD "1.050". Parsing never goes through a float.
 */
import { currencyExponent } from './currency.ts';
import { divRoundHalfUp } from './rational.ts';

const DECIMAL = /^(-)?(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

export type ParseRounding = 'exact' | 'half_up';

/**
 * "12.34" -> 1234n for an exponent of 2. With `rounding: 'exact'` (the default) more decimal places than the
 * currency has are an error; with 'half_up' they round half away from zero.
 */
export function parseMinor(s: string, exponent: number, rounding: ParseRounding = 'exact'): bigint {
  const m = DECIMAL.exec(s);
  if (!m) throw new RangeError(`not a decimal amount: ${JSON.stringify(s)}`);
  const frac = m[3] ?? '';
  let minor: bigint;
  if (frac.length <= exponent) {
    minor = BigInt(m[2] + frac.padEnd(exponent, '0'));
  } else {
    if (rounding === 'exact' && /[1-9]/.test(frac.slice(exponent))) {
      throw new RangeError(`${JSON.stringify(s)} has more than ${exponent} decimal places`);
    }
    minor = divRoundHalfUp(BigInt(m[2] + frac), 10n ** BigInt(frac.length - exponent));
  }
  return m[1] ? -minor : minor;
}

/** 1234n -> "12.34" for an exponent of 2; -5n -> "-0.05"; 1050n with exponent 0 -> "1050". */
export function formatMinor(minor: bigint, exponent: number): string {
  const neg = minor < 0n;
  const digits = (neg ? -minor : minor).toString();
  if (exponent === 0) return (neg ? '-' : '') + digits;
  const padded = digits.padStart(exponent + 1, '0');
  return `${neg ? '-' : ''}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

/** parseMinor with the currency's own exponent. */
export function parseAmount(s: string, currency: string, rounding: ParseRounding = 'exact'): bigint {
  return parseMinor(s, currencyExponent(currency), rounding);
}

/** formatMinor with the currency's own exponent. */
export function formatAmount(minor: bigint, currency: string): string {
  return formatMinor(minor, currencyExponent(currency));
}

/**
 * A JSON number that must be a whole count of minor units: a safe integer (no fraction, within 2^53),
 * returned as a BigInt. undefined when it is not one.
 */
export function minorFromJson(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return undefined;
}

/** A BigInt of minor units back to a JSON number; throws when it would lose precision. */
export function minorToJson(v: bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`amount ${v} is beyond 2^53`);
  return n;
}
