import { describe, expect, it } from 'vitest';
import {
  allocate,
  currencyExponent,
  divRoundHalfUp,
  formatAmount,
  formatMinor,
  mulRound,
  normalizeCurrency,
  parseAmount,
  parseMinor,
  parseRational,
  percentToFraction,
  toDecimalString,
  minorFromJson,
  toExactDecimalString,
  sum,
  mul,
  rational,
} from '../src/money/index.ts';
import { Rng } from './helpers/tax-random.ts';

describe('currencies', () => {
  it('knows ISO 4217 exponents', () => {
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('usd')).toBe(2);
    expect(currencyExponent('BHD')).toBe(3);
    expect(currencyExponent('KWD')).toBe(3);
    expect(currencyExponent('CLF')).toBe(4);
    expect(currencyExponent('EUR')).toBe(2);
    expect(() => currencyExponent('XYZ')).toThrow(RangeError);
    expect(normalizeCurrency('eur')).toBe('EUR');
    expect(normalizeCurrency('eu')).toBeUndefined();
    expect(normalizeCurrency(12)).toBeUndefined();
  });
});

describe('rounding', () => {
  it('rounds half away from zero', () => {
    expect(divRoundHalfUp(5n, 2n)).toBe(3n);
    expect(divRoundHalfUp(-5n, 2n)).toBe(-3n);
    expect(divRoundHalfUp(7n, 2n)).toBe(4n);
    expect(divRoundHalfUp(149n, 100n)).toBe(1n);
    expect(divRoundHalfUp(150n, 100n)).toBe(2n);
    expect(divRoundHalfUp(-149n, 100n)).toBe(-1n);
    expect(divRoundHalfUp(1n, -2n)).toBe(-1n);
    expect(divRoundHalfUp(0n, 7n)).toBe(0n);
  });
  it('applies percent rates exactly', () => {
    // 6.25 % of $10.00 = 62.5 cents -> 63
    expect(mulRound(1000n, percentToFraction('6.25'))).toBe(63n);
    // 9.975 % of 1 cent... of $1.00 = 9.975 -> 10
    expect(mulRound(100n, percentToFraction('9.975'))).toBe(10n);
    expect(mulRound(10_000n, percentToFraction('19'))).toBe(1900n);
    expect(toDecimalString(percentToFraction('8.25'))).toBe('0.0825');
    expect(toDecimalString(parseRational('-0.50'))).toBe('-0.5');
  });
  it('matches a decimal reference on random inputs', () => {
    const rng = new Rng(42);
    for (let i = 0; i < 5000; i++) {
      const n = rng.bigint(20) * (rng.bool() ? -1n : 1n);
      const d = rng.bigint(8) + 1n;
      const q = divRoundHalfUp(n, d);
      // |n/d - q| <= 1/2, and exactly 1/2 only when rounding away from zero
      const diff2 = 2n * (n - q * d); // 2 x (exact - rounded) x d
      // half away from zero: for n >= 0 the error is in [-1/2, 1/2), for n < 0 in (-1/2, 1/2]
      if (n >= 0n) expect(diff2 >= -d && diff2 < d).toBe(true);
      else expect(diff2 > -d && diff2 <= d).toBe(true);
    }
  });
});

describe('parse and format', () => {
  it('parses decimal strings by currency exponent', () => {
    expect(parseAmount('12.34', 'USD')).toBe(1234n);
    expect(parseAmount('12.3', 'usd')).toBe(1230n);
    expect(parseAmount('1050', 'JPY')).toBe(1050n);
    expect(parseAmount('1.05', 'BHD')).toBe(1050n);
    expect(parseAmount('-0.005', 'BHD')).toBe(-5n);
    expect(() => parseAmount('1.5', 'JPY')).toThrow(/decimal places/);
    expect(parseAmount('1.5', 'JPY', 'half_up')).toBe(2n);
    expect(parseAmount('-1.5', 'JPY', 'half_up')).toBe(-2n);
    expect(parseAmount('1.230', 'USD')).toBe(123n);
    expect(() => parseMinor('1e3', 2)).toThrow(RangeError);
    expect(() => parseMinor('01.5', 2)).toThrow(RangeError);
    expect(() => parseMinor(' 1', 2)).toThrow(RangeError);
  });
  it('formats minor units', () => {
    expect(formatAmount(1234n, 'USD')).toBe('12.34');
    expect(formatAmount(-5n, 'USD')).toBe('-0.05');
    expect(formatAmount(1050n, 'JPY')).toBe('1050');
    expect(formatAmount(1050n, 'BHD')).toBe('1.050');
    expect(formatMinor(0n, 3)).toBe('0.000');
  });
  it('round-trips random amounts for every exponent', () => {
    const rng = new Rng(7);
    for (const cur of ['JPY', 'USD', 'BHD', 'CLF']) {
      for (let i = 0; i < 2000; i++) {
        const v = rng.bigint(25) * (rng.bool() ? -1n : 1n);
        expect(parseAmount(formatAmount(v, cur), cur)).toBe(v);
      }
    }
  });
  it('accepts only safe integers from JSON', () => {
    expect(minorFromJson(100)).toBe(100n);
    expect(minorFromJson(1.5)).toBeUndefined();
    expect(minorFromJson('100')).toBeUndefined();
    expect(minorFromJson(2 ** 53)).toBeUndefined();
  });
});

describe('exact decimal strings', () => {
  it('prints sums and products of decimal strings with every digit, and refuses what has no decimal string', () => {
    expect(toExactDecimalString(sum(['6.25', '0.375', '2.000000001'].map(parseRational)))).toBe('8.625000001');
    expect(toExactDecimalString(parseRational('6.250'))).toBe('6.25');
    expect(toExactDecimalString(mul(parseRational('0.0825'), rational(100n)))).toBe('8.25');
    expect(toExactDecimalString(parseRational('-0.5'))).toBe('-0.5');
    expect(toExactDecimalString(rational(19n))).toBe('19');
    expect(toExactDecimalString(rational(1n, 1024n))).toBe('0.0009765625');
    expect(() => toExactDecimalString(rational(1n, 3n))).toThrow(RangeError);
  });
});

describe('allocate', () => {
  it('splits exactly by largest remainder', () => {
    expect(allocate(100n, [1n, 1n, 1n])).toEqual([34n, 33n, 33n]);
    expect(allocate(-100n, [1n, 1n, 1n])).toEqual([-34n, -33n, -33n]);
    expect(allocate(10n, [0n, 0n])).toEqual([10n, 0n]);
    expect(allocate(0n, [])).toEqual([]);
  });
  it('always sums to the total and stays within one unit of the exact share', () => {
    const rng = new Rng(99);
    for (let i = 0; i < 3000; i++) {
      const k = rng.int(1, 6);
      const weights = Array.from({ length: k }, () => rng.bigint(6));
      const total = rng.bigint(12) * (rng.bool(0.2) ? -1n : 1n);
      const parts = allocate(total, weights);
      expect(parts.reduce((a, b) => a + b, 0n)).toBe(total);
      const wsum = weights.reduce((a, b) => a + b, 0n);
      if (wsum > 0n) {
        parts.forEach((p, j) => {
          const exact2 = total * weights[j]!; // exact share = exact2 / wsum
          const diff = p * wsum - exact2;
          expect(diff < wsum && diff > -wsum).toBe(true);
        });
      }
    }
  });
});
