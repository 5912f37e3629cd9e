/**
 * Exact rationals over BigInt, just enough for money: rates given as decimal strings ("6.25", "19",
 * "9.975") become exact fractions, products stay exact, and only the final step rounds.
 *
 * Rounding rule used everywhere in taxbridge: **half-up, symmetric** (a half rounds away from zero:
 * 2.5 -> 3, -2.5 -> -3). This is "round half up" as tax authorities and Stripe/Avalara apply it to a
 * positive tax amount; negative amounts (credits) mirror positive ones so a credit note undoes its
 * invoice exactly.
 */

export interface Rational {
  /** Numerator. */
  readonly n: bigint;
  /** Denominator, always > 0. */
  readonly d: bigint;
}

const DECIMAL = /^(-)?(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

export function rational(n: bigint, d: bigint = 1n): Rational {
  if (d === 0n) throw new RangeError('denominator is zero');
  if (d < 0n) return { n: -n, d: -d };
  return { n, d };
}

/** Parses a plain decimal string ("6.25", "-0.5", "19") exactly. No exponents, no signs other than a leading '-'. */
export function parseRational(s: string): Rational {
  const m = DECIMAL.exec(s);
  if (!m) throw new RangeError(`not a decimal number: ${JSON.stringify(s)}`);
  const frac = m[3] ?? '';
  const n = BigInt(m[2] + frac);
  return reduce({ n: m[1] ? -n : n, d: 10n ** BigInt(frac.length) });
}

/** "6.25" (percent) -> 625/10000. */
export function percentToFraction(percent: string): Rational {
  const r = parseRational(percent);
  return reduce({ n: r.n, d: r.d * 100n });
}

export function isDecimalString(s: unknown): s is string {
  return typeof s === 'string' && DECIMAL.test(s);
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export function reduce(r: Rational): Rational {
  if (r.n === 0n) return { n: 0n, d: 1n };
  const g = gcd(r.n, r.d);
  return g === 1n ? r : { n: r.n / g, d: r.d / g };
}

export function add(a: Rational, b: Rational): Rational {
  return a.d === b.d ? reduce({ n: a.n + b.n, d: a.d }) : reduce({ n: a.n * b.d + b.n * a.d, d: a.d * b.d });
}

export function mul(a: Rational, b: Rational): Rational {
  return reduce({ n: a.n * b.n, d: a.d * b.d });
}

export function sum(rs: readonly Rational[]): Rational {
  let acc: Rational = { n: 0n, d: 1n };
  for (const r of rs) acc = add(acc, r);
  return acc;
}

export function isZero(r: Rational): boolean {
  return r.n === 0n;
}

export function compare(a: Rational, b: Rational): number {
  const l = a.n * b.d;
  const r = b.n * a.d;
  return l < r ? -1 : l > r ? 1 : 0;
}

/** n / d rounded half away from zero. */
export function divRoundHalfUp(n: bigint, d: bigint): bigint {
  if (d === 0n) throw new RangeError('division by zero');
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const neg = n < 0n;
  const a = neg ? -n : n;
  const q = (2n * a + d) / (2n * d); // floor((a + d/2) / d) without fractions
  return neg ? -q : q;
}

/** Rounds a rational to an integer, half away from zero. */
export function roundHalfUp(r: Rational): bigint {
  return divRoundHalfUp(r.n, r.d);
}

/** amount x r, rounded half away from zero. */
export function mulRound(amount: bigint, r: Rational): bigint {
  return divRoundHalfUp(amount * r.n, r.d);
}

/**
 * A rational whose decimal expansion ends (its reduced denominator is 2^a x 5^b: any sum or product of decimal
 * strings) as a decimal string with every digit and no trailing zeros: "6.25", "-0.5", "19". Throws a RangeError
 * for a fraction such as 1/3, which no decimal string writes exactly.
 */
export function toExactDecimalString(r: Rational): string {
  const { d } = reduce(r);
  let rest = d;
  let twos = 0;
  let fives = 0;
  while (rest % 2n === 0n) {
    rest /= 2n;
    twos++;
  }
  while (rest % 5n === 0n) {
    rest /= 5n;
    fives++;
  }
  if (rest !== 1n) throw new RangeError(`${r.n}/${r.d} has no exact decimal string`);
  return toDecimalString(r, Math.max(twos, fives));
}

/** A rational as a decimal string with at most `places` digits (rounded half-up); trailing zeros trimmed. */
export function toDecimalString(r: Rational, places = 10): string {
  const scale = 10n ** BigInt(places);
  const scaled = divRoundHalfUp(r.n * scale, r.d);
  const neg = scaled < 0n;
  const digits = (neg ? -scaled : scaled).toString().padStart(places + 1, '0');
  let int = digits.slice(0, digits.length - places);
  let frac = places > 0 ? digits.slice(digits.length - places).replace(/0+$/, '') : '';
  if (int === '') int = '0';
  const out = frac ? `${int}.${frac}` : int;
  return neg && out !== '0' ? `-${out}` : out;
}
