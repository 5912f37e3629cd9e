/**
 * The money functions every spec expression can call: `$fromMinor(amount, currency)` (integer minor units ->
 * exact decimal string) and `$toMinor(decimal, currency[, rounding])` (decimal -> integer minor units). Exact:
 * BigInt and decimal strings from src/money, never a float. A connector whose API counts some currency in
 * other units than ISO 4217 declares the exponent under `definitions.currency_exponents` (Stripe: ISK 2).
 */
import { currencyExponent, formatMinor, isCurrency, parseMinor, type ParseRounding } from '../money/index.ts';

/** Exponent overrides by upper-case currency code. */
export type ExponentTable = ReadonlyMap<string, number>;

export const MONEY_FUNCTION_NAMES = ['fromMinor', 'toMinor'] as const;

const MAX_DIGITS = 60;
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/** An error inside a money function; the expression layer reports it with the expression that called it. */
export class MoneyFunctionError extends Error {}

export function exponentOf(currency: unknown, fn: string, overrides?: ExponentTable): number {
  if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) {
    throw new MoneyFunctionError(`$${fn}: currency must be a three-letter code such as "usd", got ${describe(currency)}`);
  }
  const code = currency.toUpperCase();
  const override = overrides?.get(code);
  if (override !== undefined) return override;
  if (!isCurrency(code)) throw new MoneyFunctionError(`$${fn}: unknown currency "${currency}"; declare its exponent under definitions.currency_exponents`);
  return currencyExponent(code);
}

/** `$fromMinor(1999, "usd")` -> "19.99"; `$fromMinor("-5", "usd")` -> "-0.05"; JPY 500 -> "500". */
export function fromMinor(amount: unknown, currency: unknown, overrides?: ExponentTable): string | undefined {
  if (amount === undefined || amount === null) return undefined;
  const exp = exponentOf(currency, 'fromMinor', overrides);
  let minor: bigint;
  if (typeof amount === 'number') {
    if (!Number.isSafeInteger(amount)) {
      throw new MoneyFunctionError(
        `$fromMinor: amount must be a whole number of minor units, got ${describe(amount)}${Number.isInteger(amount) ? ' (beyond 2^53, where JSON numbers stop being exact: pass it as a string of digits)' : ''}`,
      );
    }
    minor = BigInt(amount);
  } else if (typeof amount === 'string' && amount.length <= MAX_DIGITS && INTEGER.test(amount)) {
    minor = BigInt(amount);
  } else {
    throw new MoneyFunctionError(`$fromMinor: amount must be a whole number of minor units (a number or a string of digits), got ${describe(amount)}`);
  }
  return formatMinor(minor, exp);
}

/**
 * `$toMinor("19.99", "usd")` -> 1999. More decimal places than the currency has are an error unless
 * `rounding` is "half_up". The result is a JSON number, or a string of digits beyond 2^53 (where numbers
 * stop being exact).
 */
export function toMinor(decimal: unknown, currency: unknown, rounding: unknown = 'exact', overrides?: ExponentTable): number | string | undefined {
  if (decimal === undefined || decimal === null) return undefined;
  const exp = exponentOf(currency, 'toMinor', overrides);
  if (rounding !== 'exact' && rounding !== 'half_up') throw new MoneyFunctionError(`$toMinor: rounding must be "exact" or "half_up", got ${describe(rounding)}`);
  let text: string;
  if (typeof decimal === 'number') {
    // A JSON number in major units (QuickBooks' 150.5): its shortest round-trip spelling is the decimal meant.
    text = String(decimal);
    if (!Number.isFinite(decimal) || /e/i.test(text)) throw new MoneyFunctionError(`$toMinor: ${describe(decimal)} cannot be read exactly as a decimal amount; pass it as a string such as "19.99"`);
  } else if (typeof decimal === 'string' && decimal.length <= MAX_DIGITS) {
    text = decimal;
  } else {
    throw new MoneyFunctionError(`$toMinor: amount must be a decimal string such as "19.99" (or a number), got ${describe(decimal)}`);
  }
  let minor: bigint;
  try {
    minor = parseMinor(text, exp, rounding as ParseRounding);
  } catch (e) {
    const why = /decimal places/.test((e as Error).message) ? `has more than ${exp} decimal place${exp === 1 ? '' : 's'} for ${String(currency).toUpperCase()} (pass "half_up" as the third argument to round)` : 'is not a decimal amount such as "19.99"';
    throw new MoneyFunctionError(`$toMinor: ${describe(decimal)} ${why}`);
  }
  const n = Number(minor);
  return Number.isSafeInteger(n) ? n : minor.toString();
}

/** The two functions bound to a connector's exponent overrides, as JSONata native functions. */
export function moneyFunctions(overrides?: ExponentTable): Record<(typeof MONEY_FUNCTION_NAMES)[number], (...args: unknown[]) => unknown> {
  return {
    fromMinor: (amount, currency) => fromMinor(amount, currency, overrides),
    toMinor: (decimal, currency, rounding) => toMinor(decimal, currency, rounding ?? 'exact', overrides),
  };
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  return String(v);
}
