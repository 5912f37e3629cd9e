import { compileExpression } from '../expressions/index.ts';
import { exponentOf } from '../expressions/money.ts';
import { parseMinor } from '../money/index.ts';
import type { ConnectionContext, ConnectorSpec, RequestSpec } from '../spec/types.ts';

/** Tax for one document, shaped for write-back templates (exact decimal strings, percent and fraction rates). */
export interface WritebackTax {
  calculation_id: string;
  currency: string;
  total_tax: string;
  /** Minor-unit twins (integers; a digit string beyond 2^53), added for templates by withMinorAmounts. */
  total_tax_minor?: number | string;
  lines: Array<{
    id: string;
    amount: string;
    taxable_amount: string;
    tax_amount: string;
    amount_minor?: number | string;
    taxable_amount_minor?: number | string;
    tax_amount_minor?: number | string;
    /** Percent, e.g. "8.25". */
    rate: string;
    /** Fraction, e.g. "0.0825" (what Sequence's taxRate takes). */
    rate_fraction: string;
    reason?: string;
    jurisdictions: Array<{
      name: string;
      display_name: string;
      level: string;
      tax_type: string;
      country: string;
      state?: string;
      rate: string;
      rate_fraction: string;
      /** Percent applied to the whole line amount (rate x taxable share). */
      effective_rate: string;
      tax_amount: string;
      taxable_amount: string;
      tax_amount_minor?: number | string;
      taxable_amount_minor?: number | string;
    }>;
  }>;
}

/**
 * Everything a write-back template can read: `document`, `raw`, `tax`, `now`, `item` (per for_each),
 * `saved` (fields kept from the read), credentials, settings. Templates see `tax` with integer minor-unit
 * twins of its amounts (`withMinorAmounts`).
 */
export interface WritebackConnection {
  id: string;
  environment: string;
  activated_at?: string;
}

/** The connection as write-back templates and conditions see it. */
export function writebackConnection(conn: ConnectionContext): WritebackConnection {
  return { id: conn.connection_id, environment: conn.environment, ...(conn.activated_at ? { activated_at: conn.activated_at } : {}) };
}

export interface WritebackContext {
  document: Record<string, unknown>;
  raw: unknown;
  tax: WritebackTax;
  now: string;
  credentials: Record<string, string | undefined>;
  settings: Record<string, unknown>;
  environment: string;
  /** The connection: `id`, `environment` and `activated_at` (when it first became active: a cut-off for old documents). */
  connection: WritebackConnection;
  /** Fields kept from the read (`writeback.<kind>.read.save_as`) and from earlier requests' `save_as`. */
  saved?: Record<string, unknown>;
}

export type WritebackPlan = { skip: string } | { requests: Array<{ request: RequestSpec; context: Record<string, unknown> }> };

/**
 * Decides from the spec whether a document takes tax and which requests put it there. Pure: sending is the
 * caller's (the job runner's) business, so spec tests can check the plan against recorded expectations.
 */
export async function planWriteback(spec: ConnectorSpec, kind: 'invoice' | 'credit_note', ctx: WritebackContext): Promise<WritebackPlan> {
  const target = spec.writeback?.[kind];
  const skip = await writebackSkipReason(spec, kind, ctx);
  if (skip !== undefined || !target) return { skip: skip ?? '' };
  const base = templateContext(spec, ctx);
  // A write that reads first may build its requests from what it read: they are known only when sent.
  if (target.read) return { requests: [] };
  const requests: Array<{ request: RequestSpec; context: Record<string, unknown> }> = [];
  for (const step of target.requests) {
    if (!step.for_each) {
      requests.push({ request: step.request, context: base });
      continue;
    }
    const items = await compileExpression(step.for_each).evaluate(base, base);
    const list = items === undefined || items === null ? [] : Array.isArray(items) ? items : [items];
    for (const item of list) requests.push({ request: step.request, context: { ...base, item } });
  }
  if (requests.length === 0) return { skip: NO_REQUESTS };
  return { requests };
}

export const NO_REQUESTS = 'the write-back produced no requests (no lines to tax)';

/** Why the spec does not write this document (no section for the kind, or its `when` is false); undefined to write. */
export async function writebackSkipReason(spec: ConnectorSpec, kind: 'invoice' | 'credit_note', ctx: WritebackContext): Promise<string | undefined> {
  const target = spec.writeback?.[kind];
  if (!target) return `the ${spec.name} connector does not write tax onto ${kind === 'invoice' ? 'invoices' : 'credit notes'}`;
  if (target.when) {
    const base = templateContext(spec, ctx);
    const ok = await compileExpression(target.when).evaluate(base, base);
    if (ok !== true) return `write-back condition \`${target.when.trim()}\` is not met`;
  }
  return undefined;
}

/** The context as templates see it: `tax` with its minor-unit amounts. */
export function templateContext(spec: ConnectorSpec, ctx: WritebackContext): Record<string, unknown> {
  return { ...ctx, tax: withMinorAmounts(ctx.tax, spec.definitions?.currency_exponents) };
}

/**
 * `tax` plus `total_tax_minor` and, per line and jurisdiction, `amount_minor`, `taxable_amount_minor` and
 * `tax_amount_minor`: integer minor units in the system's own exponent (ISO 4217 unless the spec's
 * `definitions.currency_exponents` says otherwise), so specs for APIs that count in cents need no conversion.
 * Where the system's exponent is smaller than ISO's (Stripe's MGA), amounts round half up.
 */
export function withMinorAmounts(tax: WritebackTax, overrides?: Record<string, number>): WritebackTax {
  if (!tax || typeof tax !== 'object' || typeof tax.currency !== 'string') return tax;
  const table = overrides ? new Map(Object.entries(overrides).map(([k, v]) => [k.toUpperCase(), v])) : undefined;
  const exp = exponentOf(tax.currency, 'toMinor', table);
  const minor = (v: unknown): number | string | undefined => {
    if (typeof v !== 'string') return undefined;
    const m = parseMinor(v, exp, 'half_up');
    return Number.isSafeInteger(Number(m)) ? Number(m) : m.toString();
  };
  return {
    ...tax,
    total_tax_minor: minor(tax.total_tax),
    lines: (tax.lines ?? []).map((l) => ({
      ...l,
      amount_minor: minor(l.amount),
      taxable_amount_minor: minor(l.taxable_amount),
      tax_amount_minor: minor(l.tax_amount),
      jurisdictions: (l.jurisdictions ?? []).map((j) => ({ ...j, tax_amount_minor: minor(j.tax_amount), taxable_amount_minor: minor(j.taxable_amount) })),
    })),
  };
}
