/**
 * Checks a parsed calculate_tax body and turns it into a normalized request: BigInt minor units, an
 * upper-case currency with its exponent, booleans defaulted. Every problem is a 400 naming the field
 * (`param`), never an exception escaping as a 500. Unknown fields are ignored, as Sphere does, so billing
 * systems that send extra fields keep working; they are never recorded. Location completeness (US needs
 * state and ZIP) is checked later, once a synced customer's address may have filled in a missing one.
 * The caps (lines, string lengths, metadata) come from the request schema (./request-schema.ts). The
 * nesting depth is checked before this runs (./depth.ts).
 */
import { type Rational, currencyExponent, mulRound, normalizeCurrency, parseRational, toDecimalString } from '../money/index.ts';
import { TaxApiError, validationError } from './errors.ts';
import { isIsoDate } from './geo.ts';
import { DEFAULT_TAX_API_LIMITS, FIELD_MAX_LENGTH, METADATA_MAX_KEYS } from './request-schema.ts';

export const DEFAULT_MAX_LINES = DEFAULT_TAX_API_LIMITS.maxLineItems;

/** An address as recorded: Sphere's field names, trimmed values. */
export interface RecordedAddress {
  address1?: string;
  address2?: string;
  city?: string;
  state?: string;
  postal_code?: string;
  country?: string;
}

/**
 * A line as recorded: the known fields the client sent, except the line id and product id, which the record's
 * line tuple holds already (src/tax/record.ts requestForReader puts them back): `no_id` when the client sent
 * no id (the tuple then echoes the product id), `product_id` only when it was sent as a number.
 */
export interface RecordedLine {
  no_id?: true;
  product_id?: number;
  amount: number;
  /** As sent, when sent (amount = quantity x unit_amount). */
  quantity?: number;
  unit_amount?: number;
  discount_amount?: number;
  tax_inclusive?: boolean;
  ship_to?: RecordedAddress;
  ship_from?: RecordedAddress;
}

/**
 * What a calculation record keeps of its request: the known fields as sent (bounded by the schema's caps),
 * never unknown fields, descriptions or the body text; line ids and product ids are held once, in the lines.
 */
export interface RecordedRequest {
  currency: string;
  line_items: RecordedLine[];
  customer_address?: RecordedAddress;
  customer_id?: string | number;
  tax_id?: string;
  tax_exempt?: boolean;
  include_taxability_reason?: boolean;
  ship_from?: RecordedAddress;
  tax_date?: string;
  transaction_date?: string;
  reference_calculation_id?: string;
  metadata?: Record<string, string | number | boolean | null>;
}

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
  /** A credit note's invoice: its recorded calculation gives the date, place and buyer status (src/tax/service.ts). */
  reference_calculation_id?: string;
  /** The request as a calculation record keeps it. */
  recorded: RecordedRequest;
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

function optString(v: unknown, param: string, max: number): string | undefined {
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

const ONE_QTY: Rational = { n: 1n, d: 1n };
/** At most 1e9 units, at most 6 decimals: exact as a rational (0.1 is 1/10, never a float product). */
function quantityOf(v: unknown, param: string): Rational | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw validationError(param, `${param} must be a number, got ${typeName(v)}`);
  if (v < 0) throw validationError(param, `${param} must not be negative, got ${v}`);
  if (v > 1e9) throw validationError(param, `${param} is larger than 1,000,000,000`);
  const text = String(v);
  if (!/^\d+(\.\d{1,6})?$/.test(text)) throw validationError(param, `${param} has more than 6 decimals (${text})`);
  return parseRational(text);
}

function address(v: unknown, param: string, text: number): RawAddress | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw validationError(param, `${param} must be an object with address1, city, state, postal_code, country; got ${typeName(v)}`);
  const a: RawAddress = {
    line1: optString(v.address1 ?? v.line1, `${param}.address1`, text),
    line2: optString(v.address2 ?? v.line2, `${param}.address2`, text),
    city: optString(v.city, `${param}.city`, text),
    state: optString(v.state, `${param}.state`, FIELD_MAX_LENGTH.state),
    postal_code: optString(v.postal_code ?? v.zip, `${param}.postal_code`, FIELD_MAX_LENGTH.postal_code),
    country: optString(v.country, `${param}.country`, FIELD_MAX_LENGTH.country),
  };
  if (!a.line1 && !a.line2 && !a.city && !a.state && !a.postal_code && !a.country) return undefined;
  return a;
}

function recordedAddress(a: RawAddress | undefined): RecordedAddress | undefined {
  if (!a) return undefined;
  const r: RecordedAddress = {};
  if (a.line1 !== undefined) r.address1 = a.line1;
  if (a.line2 !== undefined) r.address2 = a.line2;
  if (a.city !== undefined) r.city = a.city;
  if (a.state !== undefined) r.state = a.state;
  if (a.postal_code !== undefined) r.postal_code = a.postal_code;
  if (a.country !== undefined) r.country = a.country;
  return r;
}

/** Checked against the schema's caps; a null-prototype copy, so keys such as "__proto__" stay plain data. */
function metadata(v: unknown): RecordedRequest['metadata'] {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw validationError('metadata', `metadata must be an object of keys and string values, got ${typeName(v)}`);
  const keys = Object.keys(v);
  if (keys.length > METADATA_MAX_KEYS) throw validationError('metadata', `metadata has ${keys.length} keys; at most ${METADATA_MAX_KEYS} are accepted`);
  if (keys.length === 0) return undefined;
  const out = Object.create(null) as NonNullable<RecordedRequest['metadata']>;
  for (const k of keys) {
    const shown = JSON.stringify(k.slice(0, 40));
    if (k.length > FIELD_MAX_LENGTH.metadata_key) throw validationError('metadata', `metadata key ${shown}... is longer than ${FIELD_MAX_LENGTH.metadata_key} characters`);
    const x = v[k];
    const param = `metadata.${k}`;
    if (x !== null && typeof x !== 'string' && typeof x !== 'boolean' && !(typeof x === 'number' && Number.isFinite(x))) {
      throw validationError(param, `${param} must be a string, number, boolean or null, got ${typeName(x)}`);
    }
    if (typeof x === 'string' && x.length > FIELD_MAX_LENGTH.metadata_value) throw validationError(param, `${param} is longer than ${FIELD_MAX_LENGTH.metadata_value} characters`);
    out[k] = x as string | number | boolean | null;
  }
  return out;
}

function date(v: unknown, param: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw validationError(param, `${param} must be a date string YYYY-MM-DD, got ${typeName(v)}`);
  if (v.length > FIELD_MAX_LENGTH.date) throw validationError(param, `${param} is longer than ${FIELD_MAX_LENGTH.date} characters; send YYYY-MM-DD`);
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

export function validateCalculateRequest(body: unknown, opts: { maxLines?: number; maxTextLength?: number } = {}): NormalizedRequest {
  const maxLines = opts.maxLines ?? DEFAULT_MAX_LINES;
  const text = opts.maxTextLength ?? DEFAULT_TAX_API_LIMITS.maxTextLength;
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
  const recordedLines: RecordedLine[] = [];
  for (let i = 0; i < items.length; i++) {
    const p = `line_items[${i}]`;
    const it: unknown = items[i];
    if (!isObject(it)) throw validationError(p, `${p} must be an object, got ${typeName(it)}`);
    const sentAmount = minorUnits(it.amount, `${p}.amount`, it.unit_amount === undefined || it.unit_amount === null);
    const q = quantityOf(it.quantity, `${p}.quantity`);
    const unit = minorUnits(it.unit_amount, `${p}.unit_amount`, false);
    let amount = sentAmount ?? 0n;
    if (unit !== undefined) {
      const product = mulRound(unit, q ?? ONE_QTY);
      if (sentAmount !== undefined && sentAmount !== product) {
        throw validationError(`${p}.amount`, `${p}.amount (${sentAmount}) contradicts quantity x unit_amount (${q ? toDecimalString(q, 6) : '1'} x ${unit} = ${product}); send amount as the line total, or leave it out`);
      }
      if (!Number.isSafeInteger(Number(product))) throw validationError(`${p}.amount`, `${p}: quantity x unit_amount is too large (more than 2^53 - 1)`);
      amount = product;
    }
    const discount = minorUnits(it.discount_amount, `${p}.discount_amount`, false) ?? 0n;
    if (discount > amount) throw validationError(`${p}.discount_amount`, `${p}.discount_amount (${discount}) is greater than the amount (${amount})`);
    const productId = optString(it.product_id, `${p}.product_id`, text);
    if (!productId) throw validationError(`${p}.product_id`, `${p}.product_id is required: the billing system's product id`);
    let id: string | number = productId;
    if (it.id !== undefined && it.id !== null) {
      if (typeof it.id === 'string') {
        if (it.id.length > text) throw validationError(`${p}.id`, `${p}.id is longer than ${text} characters`);
        id = it.id;
      } else if (typeof it.id === 'number' && Number.isFinite(it.id)) id = it.id;
      else throw validationError(`${p}.id`, `${p}.id must be a string, got ${typeName(it.id)}`);
    }
    optString(it.description, `${p}.description`, text);
    const inclusive = optBool(it.tax_inclusive, `${p}.tax_inclusive`);
    const shipTo = address(it.ship_to, `${p}.ship_to`, text);
    const shipFrom = address(it.ship_from, `${p}.ship_from`, text);
    lines.push({ index: i, id, amount, discount, inclusive: inclusive ?? false, product_id: productId, ship_to: shipTo, ship_from: shipFrom });
    const rec: RecordedLine = { amount: Number(amount) };
    if (q !== undefined) rec.quantity = it.quantity as number;
    if (unit !== undefined) rec.unit_amount = Number(unit);
    if (it.id === undefined || it.id === null) rec.no_id = true;
    if (typeof it.product_id === 'number') rec.product_id = it.product_id;
    if (it.discount_amount !== undefined && it.discount_amount !== null) rec.discount_amount = Number(discount);
    if (inclusive !== undefined) rec.tax_inclusive = inclusive;
    if (shipTo) rec.ship_to = recordedAddress(shipTo);
    if (shipFrom) rec.ship_from = recordedAddress(shipFrom);
    recordedLines.push(rec);
  }

  const customerAddress = address(body.customer_address, 'customer_address', text);
  const customerId = optString(body.customer_id, 'customer_id', text);
  optString(body.customer_name, 'customer_name', text);
  const taxId = optString(body.tax_id, 'tax_id', FIELD_MAX_LENGTH.tax_id);
  const taxExempt = optBool(body.tax_exempt, 'tax_exempt');
  const withReason = optBool(body.include_taxability_reason, 'include_taxability_reason');
  const shipFrom = address(body.ship_from, 'ship_from', text);
  const taxDate = date(body.tax_date, 'tax_date');
  const transactionDate = date(body.transaction_date, 'transaction_date');
  const reference = optString(body.reference_calculation_id, 'reference_calculation_id', FIELD_MAX_LENGTH.customer_id);
  if (reference !== undefined && !/^[A-Za-z0-9_-]{1,100}$/.test(reference)) throw validationError('reference_calculation_id', 'reference_calculation_id must be a sphere_tax_calculation_id (letters, digits, _ and -)');
  const meta = metadata(body.metadata);

  const recorded: RecordedRequest = { currency: body.currency, line_items: recordedLines };
  if (customerAddress) recorded.customer_address = recordedAddress(customerAddress);
  if (customerId !== undefined) recorded.customer_id = typeof body.customer_id === 'number' ? body.customer_id : customerId;
  if (taxId !== undefined) recorded.tax_id = taxId;
  if (taxExempt !== undefined) recorded.tax_exempt = taxExempt;
  if (withReason !== undefined) recorded.include_taxability_reason = withReason;
  if (shipFrom) recorded.ship_from = recordedAddress(shipFrom);
  if (taxDate !== undefined) recorded.tax_date = body.tax_date as string;
  if (transactionDate !== undefined) recorded.transaction_date = body.transaction_date as string;
  if (reference !== undefined) recorded.reference_calculation_id = reference;
  if (meta) recorded.metadata = meta;

  return {
    currency,
    exponent: currencyExponent(currency),
    lines,
    customer_address: customerAddress,
    customer_id: customerId,
    tax_id: taxId,
    tax_exempt: taxExempt ?? false,
    include_taxability_reason: withReason ?? false,
    ship_from: shipFrom,
    tax_date: taxDate ?? transactionDate,
    ...(reference !== undefined ? { reference_calculation_id: reference } : {}),
    recorded,
  };
}
