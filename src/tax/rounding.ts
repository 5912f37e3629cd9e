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
import { type Rational, allocate, mul, percentToFraction } from '../money/index.ts';
import type { EngineLine, EngineResult, JurisdictionTax } from './engine.ts';
import type { TaxData } from './rates/index.ts';

export type RoundingPolicy = 'line' | 'document';

/** Jurisdictions (US state codes) whose law requires document-level rounding. */
export const DOCUMENT_ROUNDING_REQUIRED: ReadonlySet<string> = new Set(['US|TX']);

const ONE: Rational = { n: 1n, d: 1n };

function documentLevel(policy: RoundingPolicy, jt: JurisdictionTax): boolean {
  if (policy === 'document') return true;
  const j = jt.jurisdiction;
  return DOCUMENT_ROUNDING_REQUIRED.has(`${j.country}|${j.state ?? ''}`);
}

function shareOf(line: EngineLine, data: TaxData, date: string): Rational {
  if (line.reason !== 'taxable_basis_reduced' || !line.state) return ONE;
  return percentToFraction(data.usTaxability(line.state, line.taxCode, date).taxable_percent);
}

interface Part {
  line: EngineLine;
  jt: JurisdictionTax;
  exact: Rational;
}

/**
 * Re-rounds `result` in place at document level for the jurisdictions that take it. A result with one
 * line, or no document-level jurisdiction, is left as it is (line and document level agree on one line).
 */
export function applyRounding(result: EngineResult, policy: RoundingPolicy, data: TaxData, date: string): void {
  if (result.lines.length < 2) return;
  let groups: Map<string, Part[]> | undefined;
  for (const line of result.lines) {
    if (line.line.inclusive) continue;
    let share: Rational | undefined;
    for (const jt of line.jurisdictions) {
      if (jt.amount === 0n && jt.rate === '0') continue;
      if (!documentLevel(policy, jt)) continue;
      share ??= shareOf(line, data, date);
      const j = jt.jurisdiction;
      const key = `${j.country}|${j.state ?? ''}|${j.level}|${j.name}|${jt.rate}`;
      groups ??= new Map();
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push({ line, jt, exact: mul({ n: line.net, d: 1n }, share) });
    }
  }
  if (!groups) return;
  let changed = false;
  for (const parts of groups.values()) {
    if (parts.length < 2) continue;
    // Common denominator of the exact taxable amounts, so they become integer weights.
    let den = 1n;
    for (const p of parts) den = lcm(den, p.exact.d);
    const weights = parts.map((p) => p.exact.n * (den / p.exact.d));
    let sumW = 0n;
    for (const w of weights) sumW += w;
    const rate = percentToFraction(parts[0]!.jt.rate);
    const taxableTotal = halfUp(sumW, den);
    const taxTotal = halfUp(sumW * rate.n, den * rate.d);
    const taxes = allocate(taxTotal, weights);
    const taxables = allocate(taxableTotal, weights);
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.jt.amount !== taxes[i] || p.jt.taxable !== taxables[i]) changed = true;
      p.jt.amount = taxes[i]!;
      p.jt.taxable = taxables[i]!;
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
