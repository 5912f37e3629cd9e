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

/**
 * The exclusive lines' taxes of one jurisdiction at one rate, as parallel arrays (no object per line). A
 * jurisdiction object is shared by the lines of a place; the rate tells overrides apart.
 */
interface Group {
  j: Jurisdiction;
  rate: string;
  jts: JurisdictionTax[];
  nets: bigint[];
  shares: Rational[];
}

/** Groups are searched linearly (an invoice has a few); past this many a Map by jurisdiction takes over. */
const LINEAR_GROUPS = 8;

function groupFor(groups: Group[], byJ: Map<Jurisdiction, Group[]> | undefined, jt: JurisdictionTax): Group | undefined {
  if (byJ) {
    const list = byJ.get(jt.jurisdiction);
    if (list) for (let i = 0; i < list.length; i++) if (list[i]!.rate === jt.rate) return list[i];
    return undefined;
  }
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (g.j === jt.jurisdiction && g.rate === jt.rate) return g;
  }
  return undefined;
}

/**
 * Re-rounds `result` in place at document level for the jurisdictions that take it. A result with one
 * line, or no document-level jurisdiction, is left as it is (line and document level agree on one line).
 * Hot path (a Texas invoice on every call): no string keys and no object per line, fractions cached, and
 * amounts stay Numbers (a BigInt is made only for an amount that changes) where they are exact.
 */
export function applyRounding(result: EngineResult, policy: RoundingPolicy, data: TaxData, date: string): void {
  if (result.lines.length < 2) return;
  let groups: Group[] | undefined;
  let byJ: Map<Jurisdiction, Group[]> | undefined;
  for (const line of result.lines) {
    if (line.line.inclusive) continue;
    let share: Rational | undefined;
    for (const jt of line.jurisdictions) {
      if (jt.rate === '0' || !documentLevel(policy, jt.jurisdiction)) continue;
      share ??= shareOf(line, data, date);
      groups ??= [];
      let g = groupFor(groups, byJ, jt);
      if (!g) {
        g = { j: jt.jurisdiction, rate: jt.rate, jts: [], nets: [], shares: [] };
        groups.push(g);
        if (byJ) addToIndex(byJ, g);
        else if (groups.length > LINEAR_GROUPS) {
          byJ = new Map();
          for (const x of groups) addToIndex(byJ, x);
        }
      }
      g.jts.push(jt);
      g.nets.push(line.net);
      g.shares.push(share);
    }
  }
  if (!groups) return;
  let changed = false;
  for (const g of groups) {
    if (g.jts.length < 2) continue;
    const rate = fraction(g.rate);
    if (roundGroupFast(g, rate) ?? roundGroup(g, rate)) changed = true;
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

function addToIndex(byJ: Map<Jurisdiction, Group[]>, g: Group): void {
  const list = byJ.get(g.j);
  if (list) list.push(g);
  else byJ.set(g.j, [g]);
}

const SAFE = 2 ** 53;

/** Exact in BigInt: the exact taxable amounts (net x share) on a common denominator as integer weights. */
function roundGroup(g: Group, rate: Rational): boolean {
  const n = g.jts.length;
  let den = g.shares[0]!.d;
  for (const s of g.shares) if (s.d !== den) den = lcm(den, s.d);
  const weights: bigint[] = new Array(n);
  let sumW = 0n;
  for (let i = 0; i < n; i++) {
    const s = g.shares[i]!;
    weights[i] = g.nets[i]! * s.n * (den / s.d);
    sumW += weights[i]!;
  }
  const taxes = allocate(halfUp(sumW * rate.n, den * rate.d), weights);
  const taxables = allocate(halfUp(sumW, den), weights);
  let changed = false;
  for (let i = 0; i < n; i++) {
    const jt = g.jts[i]!;
    if (jt.amount !== taxes[i] || jt.taxable !== taxables[i]) changed = true;
    jt.amount = taxes[i]!;
    jt.taxable = taxables[i]!;
  }
  return changed;
}

// Scratch arrays of the Number path (reused: the engine runs one calculation at a time).
const W: number[] = [];
const Q: number[] = [];
const R: number[] = [];

/**
 * The same in Number arithmetic, exact because every product is an integer below 2^53 (checked): the usual
 * invoice, without BigInt division per part. Shares of one group have one denominator here (one tax code per
 * state: Texas SaaS 4/5), else undefined and the BigInt path runs.
 */
function roundGroupFast(g: Group, rate: Rational): boolean | undefined {
  const n = g.jts.length;
  const d0 = g.shares[0]!.d;
  const rn = Number(rate.n);
  const rd = Number(rate.d);
  const den = Number(d0);
  let sumW = 0;
  for (let i = 0; i < n; i++) {
    const s = g.shares[i]!;
    if (s.d !== d0) return undefined;
    const w = Number(g.nets[i]!) * Number(s.n);
    W[i] = w;
    sumW += w;
  }
  if (sumW * rn >= SAFE || den * rd >= SAFE || !Number.isSafeInteger(sumW)) return undefined;
  const tax = halfUpNum(sumW * rn, den * rd);
  const taxable = halfUpNum(sumW, den);
  if (tax * sumW >= SAFE || taxable * sumW >= SAFE) return undefined;
  let changed = false;
  splitNum(tax, n, sumW);
  for (let i = 0; i < n; i++) {
    const jt = g.jts[i]!;
    if (Number(jt.amount) !== Q[i]) {
      jt.amount = BigInt(Q[i]!);
      changed = true;
    }
  }
  splitNum(taxable, n, sumW);
  for (let i = 0; i < n; i++) {
    const jt = g.jts[i]!;
    if (Number(jt.taxable) !== Q[i]) {
      jt.taxable = BigInt(Q[i]!);
      changed = true;
    }
  }
  return changed;
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

/** Largest remainder over W[0..n) into Q, ties to the earlier part (as src/money/allocate.ts). */
function splitNum(total: number, n: number, sumW: number): void {
  let given = 0;
  for (let i = 0; i < n; i++) {
    if (sumW === 0) {
      Q[i] = i === 0 ? total : 0;
      R[i] = 0;
    } else {
      Q[i] = divNum(total * W[i]!, sumW);
      R[i] = rest;
    }
    given += Q[i]!;
  }
  for (let left = total - given; left > 0; left--) {
    let best = -1;
    for (let i = 0; i < n; i++) if (R[i]! >= 0 && (best < 0 || R[i]! > R[best]!)) best = i;
    Q[best] = Q[best]! + 1;
    R[best] = -1;
  }
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
