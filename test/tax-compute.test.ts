/**
 * Property tests of the line arithmetic (src/tax/compute.ts) over random invoices from a seeded generator:
 * jurisdiction taxes add up to line taxes, line taxes add up to the document total, inclusive lines split
 * exactly into net + tax, exclusive and inclusive pricing agree within the documented bound, and every
 * exclusive tax is the exact product rounded half-up to the currency's minor unit (JPY 0, USD 2, BHD 3).
 */
import { describe, expect, it } from 'vitest';
import { computeLine, documentTax, type LineMathResult } from '../src/tax/compute.ts';
import { currencyExponent, percentToFraction, type Rational } from '../src/money/index.ts';
import { Rng } from './helpers/tax-random.ts';

// Realistic rate sets: US state+county+city+special, Canada GST+QST, VAT, HST, odd rates.
const RATE_SETS: string[][] = [
  ['6.25', '1', '2'], // Austin TX
  ['7.25', '1', '0.25', '2.375'], // CA with districts
  ['19'], ['20'], ['7'], ['10'], ['21'], ['25.5'], ['8.1'],
  ['5', '9.975'], ['13'], ['5', '7'], ['15'],
  ['4', '4.5', '0.375'], ['6', '0.5'], ['0'], ['2.9', '4.81', '3.75', '1.1'],
];
const SHARES: Rational[] = [
  { n: 1n, d: 1n },
  { n: 4n, d: 5n }, // Texas data processing / SaaS: 80 % taxable
  { n: 1n, d: 2n },
  { n: 3n, d: 10n },
  { n: 0n, d: 1n },
];
const CURRENCIES = ['USD', 'EUR', 'JPY', 'BHD', 'KWD', 'CLF'];

function randomAmount(rng: Rng, exponent: number): bigint {
  // major units up to a million, plus random minor digits
  const major = BigInt(rng.int(0, rng.pick([10, 1000, 1_000_000])));
  const minor = exponent === 0 ? 0n : BigInt(rng.int(0, 10 ** exponent - 1));
  return major * 10n ** BigInt(exponent) + minor;
}

function absDiffTimes(n: bigint): bigint {
  return n < 0n ? -n : n;
}

describe('line tax arithmetic (property)', () => {
  it('jurisdictions sum to lines, lines sum to the document, inclusive splits exactly', () => {
    const rng = new Rng(20240601);
    for (let doc = 0; doc < 2000; doc++) {
      const currency = rng.pick(CURRENCIES);
      const exp = currencyExponent(currency);
      const nLines = rng.int(1, 12);
      const results: LineMathResult[] = [];
      let expectedTotal = 0n;
      for (let i = 0; i < nLines; i++) {
        const amount = randomAmount(rng, exp);
        const discount = rng.bool(0.3) ? BigInt(rng.int(0, Number(amount > 1000000n ? 1000000n : amount))) : 0n;
        const inclusive = rng.bool();
        const rates = rng.pick(RATE_SETS).map(percentToFraction);
        const share = rng.pick(SHARES);
        const r = computeLine({ amount, discount, inclusive, rates, taxableShare: share });
        results.push(r);
        expectedTotal += r.taxes.reduce((a, b) => a + b, 0n);
        expect(r.taxes.reduce((a, b) => a + b, 0n)).toBe(r.tax);
        expect(r.net + r.tax).toBe(r.gross);
        expect(inclusive ? r.gross : r.net).toBe(amount - discount);
        for (const t of r.taxes) expect(t >= 0n).toBe(true);
        expect(r.taxable <= r.net).toBe(true);
        if (!inclusive) {
          // each exclusive tax is the exact product rounded half-up: |tax*d - taxable*n| <= d/2
          r.taxes.forEach((t, j) => {
            const rate = rates[j]!;
            const err2 = 2n * absDiffTimes(t * rate.d - r.taxable * rate.n);
            expect(err2 <= rate.d).toBe(true);
          });
          const terr2 = 2n * absDiffTimes(r.taxable * share.d - r.net * share.n);
          expect(terr2 <= share.d).toBe(true);
        } else {
          // inclusive: the net is the exact back-out rounded half-up
          // net ~ gross / (1 + share*R): |net*(1+share*R) - gross| <= (1+share*R)/2
          let Rn = 0n;
          let Rd = 1n;
          for (const q of rates) {
            Rn = Rn * q.d + q.n * Rd;
            Rd = Rd * q.d;
          }
          const dn = share.d * Rd + share.n * Rn; // (1 + share*R) = dn / dd
          const dd = share.d * Rd;
          const err2 = 2n * absDiffTimes(r.net * dn - r.gross * dd);
          expect(err2 <= dn).toBe(true);
        }
      }
      expect(documentTax(results)).toBe(expectedTotal);
    }
  });

  it('exclusive and inclusive pricing agree within the documented bound', () => {
    const rng = new Rng(77);
    let exactCount = 0;
    let total = 0;
    for (let i = 0; i < 20000; i++) {
      const exp = currencyExponent(rng.pick(CURRENCIES));
      const N = randomAmount(rng, exp);
      const rates = rng.pick(RATE_SETS).map(percentToFraction);
      const share = rng.pick(SHARES);
      const k = rates.length;
      const ex = computeLine({ amount: N, inclusive: false, rates, taxableShare: share });
      const inc = computeLine({ amount: ex.gross, inclusive: true, rates, taxableShare: share });
      const diff = absDiffTimes(inc.net - N);
      const full = share.n === share.d;
      const bound = BigInt(Math.floor(k / 2)) + (full ? 0n : 1n);
      expect(diff <= bound, `N=${N} rates=${rates.map((r) => `${r.n}/${r.d}`)} share=${share.n}/${share.d} got ${inc.net}`).toBe(true);
      if (k === 1 && full) expect(inc.net).toBe(N);
      total++;
      if (diff === 0n) exactCount++;
    }
    // most round trips are exact
    expect(exactCount / total).toBeGreaterThan(0.9);
  });

  it('computes known figures', () => {
    // Austin, TX SaaS: $100.00, 80 % taxable, 6.25 % state + 1 % city + 2 % special (transit)
    const r = computeLine({
      amount: 10_000n,
      inclusive: false,
      taxableShare: { n: 4n, d: 5n },
      rates: ['6.25', '1', '2'].map(percentToFraction),
    });
    expect(r.taxable).toBe(8000n);
    expect(r.taxes).toEqual([500n, 80n, 160n]);
    expect(r.tax).toBe(740n);
    // Germany 19 % inclusive 119.00 -> 100.00 net, 19.00 VAT
    const de = computeLine({ amount: 11_900n, inclusive: true, taxableShare: { n: 1n, d: 1n }, rates: [percentToFraction('19')] });
    expect([de.net, de.tax]).toEqual([10_000n, 1_900n]);
    // JPY 10 %: 1,234 yen -> 123.4 -> 123
    expect(computeLine({ amount: 1234n, inclusive: false, taxableShare: { n: 1n, d: 1n }, rates: [percentToFraction('10')] }).tax).toBe(123n);
    // BHD 10 %: 1.235 BHD -> 0.1235 -> 0.124 (half-up at the fils)
    expect(computeLine({ amount: 1235n, inclusive: false, taxableShare: { n: 1n, d: 1n }, rates: [percentToFraction('10')] }).tax).toBe(124n);
    // Quebec inclusive 114.98 = 100 + 5 + 9.975
    const qc = computeLine({ amount: 11_498n, inclusive: true, taxableShare: { n: 1n, d: 1n }, rates: ['5', '9.975'].map(percentToFraction) });
    expect([qc.net, ...qc.taxes]).toEqual([10_000n, 500n, 998n]);
    // a discount comes off before tax
    expect(computeLine({ amount: 10_000n, discount: 2_000n, inclusive: false, taxableShare: { n: 1n, d: 1n }, rates: [percentToFraction('19')] }).tax).toBe(1520n);
  });
});
