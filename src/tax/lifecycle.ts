/**
 * A recorded calculation's life after it was answered, as AvaTax, Anrok and Stripe Tax model it:
 *
 *   calculated --commit--> committed --refund (full)--> refunded
 *        \                    \--void--> voided
 *         \--void--> voided
 *
 * - commit: the invoice was finalized; the calculation counts as tax collected (exports filter on it).
 * - void: the invoice was voided or deleted before it was filed; the calculation no longer counts. Voiding a
 *   voided calculation is a no-op (idempotent); a refunded one cannot be voided (void its refunds first).
 * - refund: an exact inverse dated now at the original rates, recorded as its own calculation (kind
 *   `refund`, negative amounts, committed) referring to the original: full, or partial by line amount, the
 *   tax of each jurisdiction in proportion (half-up) and never more than what is left to refund.
 * Pure functions over documents; TaxService does the store work.
 */
import { TaxApiError, validationError } from './errors.ts';
import type { CalculationStatus, StoredLine, TaxCalculationDoc } from './model.ts';
import { decodeCalculationLines } from './record.ts';

export const MAX_REFUNDS = 100;
export const MAX_REASON_LENGTH = 200;

export function statusOf(doc: TaxCalculationDoc): CalculationStatus {
  return doc.status ?? 'calculated';
}

function conflict(message: string, param?: string): TaxApiError {
  return new TaxApiError(409, 'validation_errors', message, param ? { param } : {});
}

export function committed(doc: TaxCalculationDoc, at: string): TaxCalculationDoc {
  const s = statusOf(doc);
  if (s === 'committed' || s === 'refunded') return doc;
  if (s === 'voided') throw conflict(`calculation ${doc.id} is voided; a voided calculation cannot be committed (calculate again)`);
  return { ...doc, status: 'committed', committed_at: at };
}

export function voided(doc: TaxCalculationDoc, at: string, reason: string | undefined): TaxCalculationDoc {
  const s = statusOf(doc);
  if (s === 'voided') return doc;
  if (doc.refund_ids?.length) throw conflict(`calculation ${doc.id} has refunds (${doc.refund_ids.join(', ')}); void them first`);
  return { ...doc, status: 'voided', voided_at: at, ...(reason ? { void_reason: reason } : {}) };
}

export interface RefundLineInput {
  id: string | number;
  /** Net amount to refund, minor units. */
  amount: number;
}

/** Net and tax already refunded per line index, from the existing refund documents. */
export function refundedSoFar(refunds: readonly TaxCalculationDoc[]): Map<number, { net: number; taxes: number[] }> {
  const out = new Map<number, { net: number; taxes: number[] }>();
  for (const r of refunds) {
    if (statusOf(r) === 'voided') continue;
    const idx = r.refund_line_index ?? [];
    decodeCalculationLines(r).forEach((l, i) => {
      const at = idx[i] ?? i;
      const cur = out.get(at) ?? { net: 0, taxes: [] };
      cur.net += -l.net_amount;
      l.taxes.forEach((t, k) => (cur.taxes[k] = (cur.taxes[k] ?? 0) + -t.amount));
      out.set(at, cur);
    });
  }
  return out;
}

/**
 * The refund document's lines (negative amounts) for a full refund (`lines` undefined) or a partial one.
 * Throws 400/409 naming the field when a line is unknown or more than its remainder is asked.
 */
export function refundLines(original: TaxCalculationDoc, refunds: readonly TaxCalculationDoc[], lines: RefundLineInput[] | undefined): { lines: StoredLine[]; index: number[]; full: boolean } {
  const s = statusOf(original);
  if (s !== 'committed' && s !== 'refunded') throw conflict(`calculation ${original.id} is ${s}; only a committed calculation can be refunded (commit it first)`);
  if (original.kind === 'refund') throw conflict(`calculation ${original.id} is itself a refund`);
  if ((original.refund_ids?.length ?? 0) >= MAX_REFUNDS) throw conflict(`calculation ${original.id} has ${MAX_REFUNDS} refunds already`);
  const decoded = decodeCalculationLines(original);
  const done = refundedSoFar(refunds);
  const asked = new Map<number, number>();
  if (lines === undefined) decoded.forEach((l, i) => asked.set(i, l.net_amount - (done.get(i)?.net ?? 0)));
  else {
    lines.forEach((r, k) => {
      const i = decoded.findIndex((l) => String(l.id) === String(r.id));
      if (i < 0) throw validationError(`lines[${k}].id`, `calculation ${original.id} has no line ${JSON.stringify(String(r.id).slice(0, 100))}`);
      if (asked.has(i)) throw validationError(`lines[${k}].id`, `line ${JSON.stringify(String(r.id).slice(0, 100))} is named twice`);
      asked.set(i, r.amount);
    });
  }
  const out: StoredLine[] = [];
  const index: number[] = [];
  let full = true;
  decoded.forEach((l, i) => {
    const before = done.get(i) ?? { net: 0, taxes: [] };
    const left = l.net_amount - before.net;
    const amount = asked.get(i) ?? 0;
    if (amount > left) {
      const k = lines ? lines.findIndex((r) => String(r.id) === String(l.id)) : i;
      throw conflict(`line ${JSON.stringify(String(l.id))}: ${amount} asked, but only ${left} of its ${l.net_amount} is left to refund`, `lines[${k}].amount`);
    }
    if (amount !== left) full = false;
    if (amount === 0) return;
    const last = amount === left; // the last refund takes exactly what is left, so refunds add up to the original
    let tax = 0;
    const taxes = l.taxes.map((t, k) => {
      const leftTax = t.amount - (before.taxes[k] ?? 0);
      const part = last ? leftTax : Math.min(leftTax, halfUpShare(t.amount, amount, l.net_amount));
      tax += part;
      const taxable = last ? t.taxable_amount : halfUpShare(t.taxable_amount, amount, l.net_amount);
      return `${t.jurisdiction}:${t.rate}:${-taxable}:${-part}${t.taxability_reason ? `:${t.taxability_reason}` : ''}`;
    });
    out.push([l.id, l.product_id, l.tax_code, l.tax_inclusive, -amount, -tax, l.taxability_reason, taxes.join('|')]);
    index.push(i);
  });
  if (out.length === 0) throw validationError('lines', 'nothing to refund: every line is refunded already, or the amounts are 0');
  return { lines: out, index, full };
}

/** round_half_up(total x part / whole) over safe integers (amounts are < 2^53, products via BigInt). */
function halfUpShare(total: number, part: number, whole: number): number {
  if (whole === 0) return 0;
  const n = BigInt(total) * BigInt(part) * 2n + BigInt(whole);
  return Number(n / (2n * BigInt(whole)));
}
