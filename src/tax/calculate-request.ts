/**
 * The calculate_tax request: checked by its JSON Schema (schemas/tax-api/calculate_tax_request.schema.json,
 * compiled by ajv: ./api-schemas.ts; a failure is a 400 naming the field, ./schema-errors.ts), then what a
 * schema cannot say (a known currency, a real date, at most 6 decimals of quantity, amount = quantity x
 * unit_amount, a discount within the amount, ids that are not blank), and turned into a normalized request:
 * BigInt minor units, an upper-case currency with its exponent, trimmed text, booleans defaulted. Unknown
 * fields are ignored, as Sphere does, and never recorded. Location completeness (US needs state and ZIP) is
 * checked later, once a synced customer's address may have filled in a missing one. The line cap and the
 * free-text length are configurable (src/config): other values compile a variant of the schema with them.
 * The nesting depth is checked before this runs (./depth.ts).
 */
import { type Rational, currencyExponent, mulRound, normalizeCurrency, parseRational, toDecimalString } from '../money/index.ts';
import { taxApiVariantValidator } from './api-schemas.ts';
import { validationError } from './errors.ts';
import { isIsoDate } from './geo.ts';
import { CALCULATE_TAX_REQUEST_SCHEMA, DEFAULT_TAX_API_LIMITS } from './request-schema.ts';
import { checkSchema } from './schema-errors.ts';

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

type Json = Record<string, unknown>;

/**
 * The schema with this process's line cap and free-text length (the fields the schema describes as "Free
 * text." take the configured length), compiled once per pair of values.
 */
function requestValidator(maxLines: number, text: number) {
  const variant = `lines=${maxLines}&text=${text}`;
  const withText = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(withText);
    if (!v || typeof v !== 'object') return v;
    const o: Json = {};
    for (const [k, x] of Object.entries(v)) o[k] = withText(x);
    if (typeof o.description === 'string' && o.description.includes('Free text.') && typeof o.maxLength === 'number') o.maxLength = text;
    return o;
  };
  const schema = withText(CALCULATE_TAX_REQUEST_SCHEMA) as Json;
  const props = schema.properties as Json;
  props.line_items = { ...(props.line_items as Json), maxItems: maxLines };
  return taxApiVariantValidator('calculate_tax_request', variant, schema);
}

let lastValidator: { maxLines: number; text: number; validate: ReturnType<typeof requestValidator> } | undefined;
function validatorFor(maxLines: number, text: number) {
  const l = lastValidator;
  if (l && l.maxLines === maxLines && l.text === text) return l.validate;
  lastValidator = { maxLines, text, validate: requestValidator(maxLines, text) };
  return lastValidator.validate;
}

/** Text of a field the schema checked (a string or a number); undefined when absent or blank. */
function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v === 'number' ? String(v) : (v as string).trim();
  return t === '' ? undefined : t;
}

function bool(v: unknown): boolean | undefined {
  return v === undefined || v === null ? undefined : (v as boolean);
}

/** Minor units the schema checked (a non-negative safe integer). */
function minorUnits(v: unknown): bigint | undefined {
  return v === undefined || v === null ? undefined : BigInt(v as number);
}

const ONE_QTY: Rational = { n: 1n, d: 1n };
/** At most 6 decimals (the schema bounds the range): exact as a rational (0.1 is 1/10, never a float product). */
function quantityOf(v: unknown, param: string): Rational | undefined {
  if (v === undefined || v === null) return undefined;
  const t = String(v);
  if (!/^\d+(\.\d{1,6})?$/.test(t)) throw validationError(param, `${param} has more than 6 decimals (${t})`);
  return parseRational(t);
}

function address(v: unknown): RawAddress | undefined {
  if (v === undefined || v === null) return undefined;
  const o = v as Json;
  const a: RawAddress = {
    line1: text(o.address1 ?? o.line1),
    line2: text(o.address2 ?? o.line2),
    city: text(o.city),
    state: text(o.state),
    postal_code: text(o.postal_code ?? o.zip),
    country: text(o.country),
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

/** A null-prototype copy (the schema checked keys and values), so keys such as "__proto__" stay plain data. */
function metadata(v: unknown): RecordedRequest['metadata'] {
  if (v === undefined || v === null) return undefined;
  const keys = Object.keys(v as Json);
  if (keys.length === 0) return undefined;
  const out = Object.create(null) as NonNullable<RecordedRequest['metadata']>;
  for (const k of keys) out[k] = (v as Json)[k] as string | number | boolean | null;
  return out;
}

function date(v: unknown, param: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = v as string;
  // Accept a full ISO timestamp and keep its UTC date.
  let d = s;
  if (s.length > 10 && /^\d{4}-\d{2}-\d{2}T/.test(s)) {
    const t = new Date(s);
    if (Number.isNaN(t.getTime())) throw validationError(param, `${param} is not a valid date or timestamp: ${JSON.stringify(s.slice(0, 40))}`);
    d = t.toISOString().slice(0, 10);
  }
  if (!isIsoDate(d)) throw validationError(param, `${param} must be a date YYYY-MM-DD, got ${JSON.stringify(s.slice(0, 40))}`);
  return d;
}

export function validateCalculateRequest(input: unknown, opts: { maxLines?: number; maxTextLength?: number } = {}): NormalizedRequest {
  checkSchema(validatorFor(opts.maxLines ?? DEFAULT_MAX_LINES, opts.maxTextLength ?? DEFAULT_TAX_API_LIMITS.maxTextLength), input);
  const body = input as Json;
  const currency = normalizeCurrency(body.currency as string);
  if (!currency) throw validationError('currency', `currency ${JSON.stringify((body.currency as string).slice(0, 20))} is not an ISO 4217 currency code`);

  const items = body.line_items as Json[];
  const lines: NormalizedLine[] = [];
  const recordedLines: RecordedLine[] = [];
  for (let i = 0; i < items.length; i++) {
    const p = `line_items[${i}]`;
    const it = items[i]!;
    const sentAmount = minorUnits(it.amount);
    const q = quantityOf(it.quantity, `${p}.quantity`);
    const unit = minorUnits(it.unit_amount);
    let amount = sentAmount ?? 0n;
    if (unit !== undefined) {
      const product = mulRound(unit, q ?? ONE_QTY);
      if (sentAmount !== undefined && sentAmount !== product) {
        throw validationError(`${p}.amount`, `${p}.amount (${sentAmount}) contradicts quantity x unit_amount (${q ? toDecimalString(q, 6) : '1'} x ${unit} = ${product}); send amount as the line total, or leave it out`);
      }
      if (!Number.isSafeInteger(Number(product))) throw validationError(`${p}.amount`, `${p}: quantity x unit_amount is too large (more than 2^53 - 1)`);
      amount = product;
    } else if (sentAmount === undefined) throw validationError(`${p}.amount`, `${p}.amount is required: an integer amount in the currency's minor units (cents)`);
    const discount = minorUnits(it.discount_amount) ?? 0n;
    if (discount > amount) throw validationError(`${p}.discount_amount`, `${p}.discount_amount (${discount}) is greater than the amount (${amount})`);
    const productId = text(it.product_id);
    if (!productId) throw validationError(`${p}.product_id`, `${p}.product_id is required: the billing system's product id`);
    const id: string | number = it.id === undefined || it.id === null ? productId : (it.id as string | number);
    const inclusive = bool(it.tax_inclusive);
    const shipTo = address(it.ship_to);
    const shipFrom = address(it.ship_from);
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

  const customerAddress = address(body.customer_address);
  const customerId = text(body.customer_id);
  const taxId = text(body.tax_id);
  const taxExempt = bool(body.tax_exempt);
  const withReason = bool(body.include_taxability_reason);
  const shipFrom = address(body.ship_from);
  const taxDate = date(body.tax_date, 'tax_date');
  const transactionDate = date(body.transaction_date, 'transaction_date');
  const reference = text(body.reference_calculation_id);
  const meta = metadata(body.metadata);

  const recorded: RecordedRequest = { currency: body.currency as string, line_items: recordedLines };
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
