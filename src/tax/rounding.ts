/**
 * Rounding policy: line level (each line's tax per jurisdiction rounded on its own, src/tax/compute.ts) or
 * document level (per jurisdiction, the tax of the whole document's taxable amount rounded once, then
 * handed back to the lines by largest remainder so the lines add up to the document total exactly).
 *
 * Document level is required where a jurisdiction says so and chosen by the organization elsewhere
 * (`rounding: "document"`; default "line"):
 * - Texas: several taxable items in one sale are taxed on their total, not item by item (Tax Code §151.053;
 *   Comptroller FAQ), and the 80 % SaaS base is not rounded first. Three seats of 33.33 in Austin
 *   (8.25 %, 80 % taxable): 6.60, where line rounding gives 6.63.
 * SST states let the seller pick item or invoice basis (SSUTA §324), so they follow the organization.
 *
 * Per jurisdiction j (rate r_j) and the document's exclusive lines taxed by it:
 *   exact taxable_l = net_l x share_l (not rounded), T_j = half_up(r_j x sum exact taxable_l),
 *   line taxes = allocate(T_j, exact taxable_l) (src/money/allocate.ts: floors, then the leftover units to
 *   the largest remainders), and the line taxable amounts likewise from half_up(sum exact taxable_l).
 * Tax-inclusive lines keep line-level rounding (their net is derived from the gross line by line).
 */
import { type Rational, allocate, percentToFraction } from '../money/index.ts';
import type { EngineLine, EngineResult, JurisdictionTax } from './engine.ts';
import type { Jurisdiction, TaxData } from './rates/index.ts';

export type RoundingPolicy = 'line' | 'document';

/** US states whose law requires document-level rounding (their state and local jurisdictions). */
export const DOCUMENT_ROUNDING_REQUIRED_US: ReadonlySet<string> = new Set(['TX']);

const ONE: Rational = { n: 1n, d: 1n };

/** Exact fractions of percent strings, cached (a handful of distinct rates and shares exist). */
const fractions = new Map<string, Rational>();
function fraction(percent: string): Rational {
  let f = fractions.get(percent);
  if (!f) {
    f = percentToFraction(percent);
    if (fractions.size < 10_000) fractions.set(percent, f);
  }
  return f;
}

function documentLevel(policy: RoundingPolicy, j: Jurisdiction): boolean {
  return policy === 'document' || (j.state !== undefined && j.country === 'US' && DOCUMENT_ROUNDING_REQUIRED_US.has(j.state));
}

/** The last share looked up (an invoice's lines share state, tax code and date): no key strings per line. */
let last: { state: string; code: string; date: string; share: Rational } | undefined;
function shareOf(line: EngineLine, data: TaxData, date: string): Rational {
  if (line.reason !== 'taxable_basis_reduced' || !line.state) return ONE;
  const l = last;
  if (l && l.state === line.state && l.code === line.taxCode && l.date === date) return l.share;
  const share = fraction(data.usTaxability(line.state, line.taxCode, date).taxable_percent);
  last = { state: line.state, code: line.taxCode, date, share };
  return share;
}

interface Part {
  line: EngineLine;
  jt: JurisdictionTax;
  share: Rational;
}

/**
 * Re-rounds `result` in place at document level for the jurisdictions that take it. A result with one
 * line, or no document-level jurisdiction, is left as it is (line and document level agree on one line).
 * Hot path (a Texas invoice on every call): no string keys, fractions cached, BigInt only on the amounts.
 */
export function applyRounding(result: EngineResult, policy: RoundingPolicy, data: TaxData, date: string): void {
  if (result.lines.length < 2) return;
  // Jurisdiction objects are shared by the lines of a place; the rate tells overrides apart.
  let groups: Map<Jurisdiction, Map<string, Part[]>> | undefined;
  for (const line of result.lines) {
    if (line.line.inclusive) continue;
    let share: Rational | undefined;
    for (const jt of line.jurisdictions) {
      if (jt.rate === '0' || !documentLevel(policy, jt.jurisdiction)) continue;
      share ??= shareOf(line, data, date);
      groups ??= new Map();
      let byRate = groups.get(jt.jurisdiction);
      if (!byRate) groups.set(jt.jurisdiction, (byRate = new Map()));
      let g = byRate.get(jt.rate);
      if (!g) byRate.set(jt.rate, (g = []));
      g.push({ line, jt, share });
    }
  }
  if (!groups) return;
  let changed = false;
  for (const byRate of groups.values()) {
    for (const [rateText, parts] of byRate) {
      if (parts.length < 2) continue;
      const rate = fraction(rateText);
      if (roundGroupFast(parts, rate) ?? roundGroup(parts, rate)) changed = true;
    }
  }
  if (!changed) return;
  let total = 0n;
  for (const line of result.lines) {
    if (!line.line.inclusive) {
      let t = 0n;
      for (const jt of line.jurisdictions) t += jt.amount;
      line.tax = t;
      line.gross = line.net + t;
    }
    total += line.tax;
  }
  result.taxTotal = total;
}

const SAFE = 2 ** 53;

function assign(parts: Part[], taxes: ArrayLike<bigint>, taxables: ArrayLike<bigint>): boolean {
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const jt = parts[i]!.jt;
    if (jt.amount !== taxes[i] || jt.taxable !== taxables[i]) changed = true;
    jt.amount = taxes[i]!;
    jt.taxable = taxables[i]!;
  }
  return changed;
}

/** Exact in BigInt: the exact taxable amounts (net x share) on a common denominator as integer weights. */
function roundGroup(parts: Part[], rate: Rational): boolean {
  let den = parts[0]!.share.d;
  for (const p of parts) if (p.share.d !== den) den = lcm(den, p.share.d);
  const weights: bigint[] = new Array(parts.length);
  let sumW = 0n;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    weights[i] = p.line.net * p.share.n * (den / p.share.d);
    sumW += weights[i]!;
  }
  return assign(parts, allocate(halfUp(sumW * rate.n, den * rate.d), weights), allocate(halfUp(sumW, den), weights));
}

/**
 * The same in Number arithmetic, exact because every product is an integer below 2^53 (checked): the usual invoice, without BigInt division per part. Shares of one group have
 * one denominator here (one tax code per state: Texas SaaS 4/5), else undefined and the BigInt path runs.
 */
function roundGroupFast(parts: Part[], rate: Rational): boolean | undefined {
  const d0 = parts[0]!.share.d;
  const rn = Number(rate.n);
  const rd = Number(rate.d);
  const den = Number(d0);
  const n = parts.length;
  const w = new Array<number>(n);
  let sumW = 0;
  for (let i = 0; i < n; i++) {
    const p = parts[i]!;
    if (p.share.d !== d0) return undefined;
    w[i] = Number(p.line.net) * Number(p.share.n);
    sumW += w[i]!;
  }
  if (sumW * rn >= SAFE || den * rd >= SAFE || !Number.isSafeInteger(sumW)) return undefined;
  const tax = halfUpNum(sumW * rn, den * rd);
  const taxable = halfUpNum(sumW, den);
  if (tax * sumW >= SAFE || taxable * sumW >= SAFE) return undefined;
  return assign(parts, splitNum(tax, w, sumW), splitNum(taxable, w, sumW));
}

/** floor(a / b) for non-negative integers below 2^53, corrected for division rounding; the remainder in `rest`. */
let rest = 0;
function divNum(a: number, b: number): number {
  let q = Math.floor(a / b);
  let r = a - q * b;
  if (r < 0) {
    q -= 1;
    r += b;
  } else if (r >= b) {
    q += 1;
    r -= b;
  }
  rest = r;
  return q;
}

function halfUpNum(a: number, b: number): number {
  const q = divNum(a, b);
  return rest * 2 >= b ? q + 1 : q;
}

/** Largest remainder, ties to the earlier part (as src/money/allocate.ts). */
function splitNum(total: number, w: number[], sumW: number): bigint[] {
  const n = w.length;
  const parts: bigint[] = new Array(n);
  const rem = new Array<number>(n);
  const q = new Array<number>(n);
  let given = 0;
  for (let i = 0; i < n; i++) {
    if (sumW === 0) {
      q[i] = i === 0 ? total : 0;
      rem[i] = 0;
    } else {
      q[i] = divNum(total * w[i]!, sumW);
      rem[i] = rest;
    }
    given += q[i]!;
  }
  for (let left = total - given; left > 0; left--) {
    let best = -1;
    for (let i = 0; i < n; i++) if (rem[i]! >= 0 && (best < 0 || rem[i]! > rem[best]!)) best = i;
    q[best] = q[best]! + 1;
    rem[best] = -1;
  }
  for (let i = 0; i < n; i++) parts[i] = BigInt(q[i]!);
  return parts;
}

function halfUp(n: bigint, d: bigint): bigint {
  const q = n / d;
  return (n % d) * 2n >= d ? q + 1n : q;
}

function lcm(a: bigint, b: bigint): bigint {
  let x = a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return (a / x) * b;
}
