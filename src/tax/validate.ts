/**
 * Checks a parsed calculate_tax body and turns it into a normalized request: BigInt minor units, an
 * upper-case currency with its exponent, booleans defaulted. Every problem is a 400 naming the field
 * (`param`), never an exception escaping as a 500. Unknown fields are ignored, as Sphere does, so billing
 * systems that send extra fields keep working. Location completeness (US needs state and ZIP) is checked
 * later, once a synced customer's address may have filled in a missing one.
 */
import { currencyExponent, normalizeCurrency } from '../money/index.ts';
import { TaxApiError, validationError } from './errors.ts';
import { isIsoDate } from './geo.ts';

export const DEFAULT_MAX_LINES = 1000;

export interface RawAddress {
  line1?: string;
  line2?: string;
  city?: string;
  state?: string;
  postal_code?: string;
  country?: string;
}

export interface NormalizedLine {
  index: number;
  /** Echoed back exactly as sent (string or number); product_id when absent. */
  id: string | number;
  amount: bigint;
  discount: bigint;
  inclusive: boolean;
  product_id: string;
  ship_to?: RawAddress;
  ship_from?: RawAddress;
}

export interface NormalizedRequest {
  currency: string;
  exponent: number;
  lines: NormalizedLine[];
  customer_address?: RawAddress;
  customer_id?: string;
  tax_id?: string;
  tax_exempt: boolean;
  include_taxability_reason: boolean;
  ship_from?: RawAddress;
  tax_date?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number with a fraction';
  return `a ${typeof v}`;
}

function optString(v: unknown, param: string, max = 500): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw validationError(param, `${param} must be a string, got ${typeName(v)}`);
  if (v.length > max) throw validationError(param, `${param} is longer than ${max} characters`);
  const t = v.trim();
  return t === '' ? undefined : t;
}

function optBool(v: unknown, param: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw validationError(param, `${param} must be true or false, got ${typeName(v)}`);
  return v;
}

function minorUnits(v: unknown, param: string, required: boolean): bigint | undefined {
  if (v === undefined || v === null) {
    if (required) throw validationError(param, `${param} is required: an integer amount in the currency's minor units (cents)`);
    return undefined;
  }
  if (typeof v !== 'number') throw validationError(param, `${param} must be an integer number of minor units, got ${typeName(v)}`);
  if (!Number.isFinite(v) || !Number.isInteger(v)) {
    throw validationError(param, `${param} must be a whole number of minor units (e.g. 1050 for 10.50), got ${v}`);
  }
  if (v < 0) throw validationError(param, `${param} must not be negative, got ${v}`);
  if (!Number.isSafeInteger(v)) throw validationError(param, `${param} is too large (more than 2^53 - 1)`);
  return BigInt(v);
}

function address(v: unknown, param: string): RawAddress | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw validationError(param, `${param} must be an object with address1, city, state, postal_code, country; got ${typeName(v)}`);
  const a: RawAddress = {
    line1: optString(v.address1 ?? v.line1, `${param}.address1`),
    line2: optString(v.address2 ?? v.line2, `${param}.address2`),
    city: optString(v.city, `${param}.city`),
    state: optString(v.state, `${param}.state`),
    postal_code: optString(v.postal_code ?? v.zip, `${param}.postal_code`, 40),
    country: optString(v.country, `${param}.country`, 60),
  };
  if (!a.line1 && !a.line2 && !a.city && !a.state && !a.postal_code && !a.country) return undefined;
  return a;
}

function date(v: unknown, param: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw validationError(param, `${param} must be a date string YYYY-MM-DD, got ${typeName(v)}`);
  // Accept a full ISO timestamp and keep its UTC date.
  let d = v;
  if (v.length > 10 && /^\d{4}-\d{2}-\d{2}T/.test(v)) {
    const t = new Date(v);
    if (Number.isNaN(t.getTime())) throw validationError(param, `${param} is not a valid date or timestamp: ${JSON.stringify(v.slice(0, 40))}`);
    d = t.toISOString().slice(0, 10);
  }
  if (!isIsoDate(d)) throw validationError(param, `${param} must be a date YYYY-MM-DD, got ${JSON.stringify(v.slice(0, 40))}`);
  return d;
}

export function validateCalculateRequest(body: unknown, opts: { maxLines?: number } = {}): NormalizedRequest {
  const maxLines = opts.maxLines ?? DEFAULT_MAX_LINES;
  if (!isObject(body)) throw new TaxApiError(400, 'validation_errors', `the request body must be a JSON object, got ${typeName(body)}`);

  if (body.currency === undefined || body.currency === null) throw validationError('currency', 'currency is required: a three-letter ISO 4217 code such as "usd"');
  if (typeof body.currency !== 'string') throw validationError('currency', `currency must be a string such as "usd", got ${typeName(body.currency)}`);
  const currency = normalizeCurrency(body.currency);
  if (!currency) throw validationError('currency', `currency ${JSON.stringify(body.currency.slice(0, 20))} is not an ISO 4217 currency code`);

  const items = body.line_items;
  if (items === undefined || items === null) throw validationError('line_items', 'line_items is required: a list of lines with amount and product_id');
  if (!Array.isArray(items)) throw validationError('line_items', `line_items must be an array, got ${typeName(items)}`);
  if (items.length === 0) throw validationError('line_items', 'line_items must contain at least one line');
  if (items.length > maxLines) {
    throw validationError('line_items', `line_items has ${items.length} lines; at most ${maxLines} lines are accepted per calculation`);
  }

  const lines: NormalizedLine[] = [];
  for (let i = 0; i < items.length; i++) {
    const p = `line_items[${i}]`;
    const it: unknown = items[i];
    if (!isObject(it)) throw validationError(p, `${p} must be an object, got ${typeName(it)}`);
    const amount = minorUnits(it.amount, `${p}.amount`, true)!;
    const discount = minorUnits(it.discount_amount, `${p}.discount_amount`, false) ?? 0n;
    if (discount > amount) throw validationError(`${p}.discount_amount`, `${p}.discount_amount (${discount}) is greater than the amount (${amount})`);
    const productId = optString(it.product_id, `${p}.product_id`);
    if (!productId) throw validationError(`${p}.product_id`, `${p}.product_id is required: the billing system's product id`);
    let id: string | number = productId;
    if (it.id !== undefined && it.id !== null) {
      if (typeof it.id === 'string') {
        if (it.id.length > 500) throw validationError(`${p}.id`, `${p}.id is longer than 500 characters`);
        id = it.id;
      } else if (typeof it.id === 'number' && Number.isFinite(it.id)) id = it.id;
      else throw validationError(`${p}.id`, `${p}.id must be a string, got ${typeName(it.id)}`);
    }
    lines.push({
      index: i,
      id,
      amount,
      discount,
      inclusive: optBool(it.tax_inclusive, `${p}.tax_inclusive`) ?? false,
      product_id: productId,
      ship_to: address(it.ship_to, `${p}.ship_to`),
      ship_from: address(it.ship_from, `${p}.ship_from`),
    });
  }

  return {
    currency,
    exponent: currencyExponent(currency),
    lines,
    customer_address: address(body.customer_address, 'customer_address'),
    customer_id: optString(body.customer_id, 'customer_id'),
    tax_id: optString(body.tax_id, 'tax_id', 100),
    tax_exempt: optBool(body.tax_exempt, 'tax_exempt') ?? false,
    include_taxability_reason: optBool(body.include_taxability_reason, 'include_taxability_reason') ?? false,
    ship_from: address(body.ship_from, 'ship_from'),
    tax_date: date(body.tax_date, 'tax_date') ?? date(body.transaction_date, 'transaction_date'),
  };
}
