/**
 * Parameter reading and errors of the fake Stripe API: Stripe's error envelope, typed readers for
 * decoded form parameters that name the offending key (`tax_amounts[0][tax_rate_data][percentage]`),
 * and the validation of manual `tax_amounts` on invoice lines.
 */
import { ApiError } from './http.ts';
import { isFormTree, type FormTree, type FormValue } from './stripe-form.ts';
import type { StripeAddress, StripeTaxRate } from './stripe-data.ts';

// ------------------------------------------------------------------------------------------------
// errors: {"error": {"type", "code"?, "message", "param"?, "doc_url"?}}

const DOC = 'https://docs.stripe.com/error-codes';

export function errorBody(status: number, message: string, type?: string, code?: string, param?: string): unknown {
  const t = type ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  return {
    error: {
      type: t,
      ...(code !== undefined ? { code, doc_url: `${DOC}/${code.replace(/_/g, '-')}` } : {}),
      message,
      ...(param !== undefined ? { param } : {}),
    },
  };
}

/** A 400 raised while checking parameters (not stored for idempotent replay, as Stripe). */
export function bad(param: string, message: string, code = 'parameter_invalid'): ApiError {
  return new ApiError(400, 'invalid_request_error', message, { param, code, validation: true });
}

export function missing(what: string, id: string, param = 'id'): ApiError {
  return new ApiError(404, 'invalid_request_error', `No such ${what}: '${id}'`, { param, code: 'resource_missing', validation: true });
}

export function render(e: unknown): { status: number; body: unknown } {
  if (e instanceof ApiError) {
    const d = e.details ?? {};
    return { status: e.status, body: errorBody(e.status, e.message, e.kind, d.code as string | undefined, d.param as string | undefined) };
  }
  return { status: 500, body: errorBody(500, 'An unknown error occurred in the fake Stripe API.') };
}

// ------------------------------------------------------------------------------------------------
// parameter reading

export const INT_RE = /^-?\d{1,15}$/;
export const P = (prefix: string, k: string): string => (prefix === '' ? k : `${prefix}[${k}]`);

export function allow(p: FormTree, names: readonly string[], prefix = ''): void {
  for (const k of Object.keys(p)) if (!names.includes(k)) throw bad(P(prefix, k), `Received unknown parameter: ${P(prefix, k)}`, 'parameter_unknown');
}
export function str(p: FormTree, k: string, prefix = ''): string | undefined {
  const v = p[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(P(prefix, k), `Invalid string: ${P(prefix, k)} must be a string, not an object or array`);
  if (v.length > 5000) throw bad(P(prefix, k), `${P(prefix, k)} must be at most 5000 characters`);
  return v;
}
export function reqStr(p: FormTree, k: string, prefix = ''): string {
  const v = str(p, k, prefix);
  if (v === undefined || v === '') throw bad(P(prefix, k), `Missing required param: ${P(prefix, k)}.`, 'parameter_missing');
  return v;
}
export function int(p: FormTree, k: string, prefix = ''): number | undefined {
  const v = str(p, k, prefix);
  if (v === undefined) return undefined;
  if (!INT_RE.test(v)) throw bad(P(prefix, k), `Invalid integer: ${v}`, 'parameter_invalid_integer');
  return Number(v);
}
export function bool(p: FormTree, k: string, prefix = ''): boolean | undefined {
  const v = str(p, k, prefix);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw bad(P(prefix, k), `Invalid boolean: ${v}`);
  return v === 'true';
}
export function tree(p: FormTree, k: string, prefix = ''): FormTree | '' | undefined {
  const v = p[k];
  if (v === undefined || v === '') return v as '' | undefined;
  if (!isFormTree(v)) throw bad(P(prefix, k), `Invalid object: ${P(prefix, k)} must be a hash such as ${P(prefix, k)}[key]=value`);
  return v;
}
export function list(p: FormTree, k: string, prefix = ''): FormValue[] | '' | undefined {
  const v = p[k];
  if (v === undefined || v === '') return v as '' | undefined;
  if (!Array.isArray(v)) throw bad(P(prefix, k), `Invalid array: ${P(prefix, k)} must be an array, sent as ${P(prefix, k)}[0]=...`);
  return v;
}
export function strings(p: FormTree, k: string, prefix = ''): string[] | undefined {
  const v = list(p, k, prefix);
  if (v === undefined || v === '') return v === '' ? [] : undefined;
  return v.map((x, i) => {
    if (typeof x !== 'string') throw bad(`${P(prefix, k)}[${i}]`, `Invalid string: ${P(prefix, k)}[${i}]`);
    return x;
  });
}
export function metadata(p: FormTree, current: Record<string, string>): Record<string, string> | undefined {
  const v = tree(p, 'metadata');
  if (v === undefined) return undefined;
  if (v === '') return {};
  const next = { ...current };
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw bad(`metadata[${k}]`, `Invalid string: metadata[${k}]`);
    if (x === '') delete next[k];
    else next[k] = x;
  }
  if (Object.keys(next).length > 50) throw bad('metadata', 'metadata can have at most 50 keys');
  return next;
}
export function address(p: FormTree, k: string): StripeAddress | null | undefined {
  const v = tree(p, k);
  if (v === undefined) return undefined;
  if (v === '') return null;
  allow(v, ['city', 'country', 'line1', 'line2', 'postal_code', 'state'], k);
  const s = (f: string): string | null => {
    const x = str(v, f, k);
    return x === undefined || x === '' ? null : x;
  };
  const country = s('country');
  if (country !== null && !/^[A-Z]{2}$/.test(country)) throw bad(`${k}[country]`, `Country '${country}' is unknown. Try using a 2-character alphanumeric country code instead, such as 'US', 'EG', or 'GB'.`);
  return { city: s('city'), country, line1: s('line1'), line2: s('line2'), postal_code: s('postal_code'), state: s('state') };
}
export function expandOf(p: FormTree, allowed: readonly string[]): Set<string> {
  const e = strings(p, 'expand') ?? [];
  for (const x of e) if (!allowed.includes(x)) throw bad('expand', `This property cannot be expanded (${x}).`);
  return new Set(e);
}

const TAXABILITY = ['customer_exempt', 'not_collecting', 'not_subject_to_tax', 'not_supported', 'portion_product_exempt', 'portion_reduced_rated',
  'portion_standard_rated', 'product_exempt', 'product_exempt_holiday', 'proportionally_rated', 'reduced_rated', 'reverse_charge', 'standard_rated',
  'taxable_basis_reduced', 'zero_rated'];
const JURISDICTION_LEVELS = ['city', 'country', 'county', 'district', 'multiple', 'state'];
const TAX_TYPES = ['amusement_tax', 'communications_tax', 'gst', 'hst', 'igst', 'jct', 'lease_tax', 'pst', 'qst', 'retail_delivery_fee', 'rst', 'sales_tax',
  'service_tax', 'vat'];
const PERCENT_RE = /^\d{1,3}(\.\d{1,4})?$/;
const MAX_TAX_AMOUNTS = 20;
export const EVENT_RE = /^\*$|^[a-z_]+(\.[a-z_]+)+$/;
export const EMBEDDED_LINES = 10;

export interface TaxAmountInput {
  amount: number;
  taxable_amount: number;
  taxability_reason: string | null;
  rate: Omit<StripeTaxRate, 'id' | 'object' | 'active' | 'created' | 'effective_percentage' | 'flat_amount' | 'livemode' | 'metadata' | 'rate_type'>;
}

/** `tax_amounts[i][...]` of a line update: validated, nothing applied. `''` clears them. */
export function readTaxAmounts(v: FormValue | undefined, prefix: string): TaxAmountInput[] | undefined {
  if (v === undefined) return undefined;
  if (v === '') return [];
  if (!Array.isArray(v)) throw bad(prefix, `Invalid array: ${prefix} must be sent as ${prefix}[0][amount]=...`);
  if (v.length > MAX_TAX_AMOUNTS) throw bad(prefix, `${prefix} can have at most ${MAX_TAX_AMOUNTS} entries`);
  return v.map((x, i) => {
    const f = `${prefix}[${i}]`;
    if (!isFormTree(x)) throw bad(f, `Invalid object: ${f}`);
    allow(x, ['amount', 'tax_rate_data', 'taxability_reason', 'taxable_amount'], f);
    const amount = int(x, 'amount', f);
    if (amount === undefined) throw bad(`${f}[amount]`, `Missing required param: ${f}[amount].`, 'parameter_missing');
    if (amount < 0) throw bad(`${f}[amount]`, `${f}[amount] must be a non-negative integer in the currency's smallest unit`);
    const taxable = int(x, 'taxable_amount', f);
    if (taxable === undefined) throw bad(`${f}[taxable_amount]`, `Missing required param: ${f}[taxable_amount].`, 'parameter_missing');
    const reason = str(x, 'taxability_reason', f);
    if (reason !== undefined && !TAXABILITY.includes(reason)) throw bad(`${f}[taxability_reason]`, `Invalid ${f}[taxability_reason]: must be one of ${TAXABILITY.join(', ')}`);
    const d = tree(x, 'tax_rate_data', f);
    const g = `${f}[tax_rate_data]`;
    if (d === undefined || d === '') throw bad(g, `Missing required param: ${g}.`, 'parameter_missing');
    allow(d, ['country', 'description', 'display_name', 'inclusive', 'jurisdiction', 'jurisdiction_level', 'percentage', 'state', 'tax_type'], g);
    const display = reqStr(d, 'display_name', g);
    if (display.length > 50) throw bad(`${g}[display_name]`, `${g}[display_name] must be at most 50 characters`);
    const inclusive = bool(d, 'inclusive', g);
    if (inclusive === undefined) throw bad(`${g}[inclusive]`, `Missing required param: ${g}[inclusive].`, 'parameter_missing');
    const pct = reqStr(d, 'percentage', g);
    if (!PERCENT_RE.test(pct) || Number(pct) > 100) throw bad(`${g}[percentage]`, `Invalid ${g}[percentage]: a number from 0 to 100 with at most 4 decimal places (6.25 means 6.25%), got '${pct}'`);
    const country = str(d, 'country', g);
    if (country !== undefined && !/^[A-Z]{2}$/.test(country)) throw bad(`${g}[country]`, `Invalid ${g}[country]: a two-letter ISO 3166-1 code such as US, got '${country}'`);
    const level = str(d, 'jurisdiction_level', g);
    if (level !== undefined && !JURISDICTION_LEVELS.includes(level)) throw bad(`${g}[jurisdiction_level]`, `Invalid ${g}[jurisdiction_level]: must be one of ${JURISDICTION_LEVELS.join(', ')}`);
    const taxType = str(d, 'tax_type', g);
    if (taxType !== undefined && !TAX_TYPES.includes(taxType)) throw bad(`${g}[tax_type]`, `Invalid ${g}[tax_type]: must be one of ${TAX_TYPES.join(', ')}`);
    return {
      amount, taxable_amount: taxable, taxability_reason: reason ?? null,
      rate: {
        country: country ?? null, description: str(d, 'description', g) ?? null, display_name: display, inclusive, jurisdiction: str(d, 'jurisdiction', g) ?? null,
        jurisdiction_level: level ?? null, percentage: Number(pct), state: str(d, 'state', g) ?? null, tax_type: taxType ?? null,
      },
    };
  });
}
