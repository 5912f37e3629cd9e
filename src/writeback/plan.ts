import { compileExpression } from '../expressions/index.ts';
import type { ConnectorSpec, RequestSpec } from '../spec/types.ts';

/** Tax for one document, shaped for write-back templates (exact decimal strings, percent and fraction rates). */
export interface WritebackTax {
  calculation_id: string;
  currency: string;
  total_tax: string;
  lines: Array<{
    id: string;
    amount: string;
    taxable_amount: string;
    tax_amount: string;
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
    }>;
  }>;
}

/** Everything a write-back template can read: `document`, `raw`, `tax`, `now`, `item` (per for_each), credentials, settings. */
export interface WritebackContext {
  document: Record<string, unknown>;
  raw: unknown;
  tax: WritebackTax;
  now: string;
  credentials: Record<string, string | undefined>;
  settings: Record<string, unknown>;
  environment: string;
}

export type WritebackPlan = { skip: string } | { requests: Array<{ request: RequestSpec; context: Record<string, unknown> }> };

/**
 * Decides from the spec whether a document takes tax and which requests put it there. Pure: sending is the
 * caller's (the job runner's) business, so spec tests can check the plan against recorded expectations.
 */
export async function planWriteback(spec: ConnectorSpec, kind: 'invoice' | 'credit_note', ctx: WritebackContext): Promise<WritebackPlan> {
  const target = spec.writeback?.[kind];
  if (!target) return { skip: `the ${spec.name} connector does not write tax onto ${kind === 'invoice' ? 'invoices' : 'credit notes'}` };
  const base = ctx as unknown as Record<string, unknown>;
  if (target.when) {
    const ok = await compileExpression(target.when).evaluate(base, base);
    if (ok !== true) return { skip: `write-back condition \`${target.when.trim()}\` is not met` };
  }
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
  if (requests.length === 0) return { skip: 'the write-back produced no requests (no lines to tax)' };
  return { requests };
}
