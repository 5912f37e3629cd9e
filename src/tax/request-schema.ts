/**
 * The calculate_tax request schema (schemas/tax-api/calculate_tax_request.schema.json) and the limits taken
 * from it. The schema is the one place the shape and its bounds are written: the validator (./calculate-request.ts)
 * reads maxItems / maxLength from here, and the OpenAPI document is built from the schema files (./api-schemas.ts).
 * Limits that are not shapes (the body size, the nesting depth) are defaults here, configurable in
 * src/config (TAXBRIDGE_TAX_MAX_BODY_BYTES, TAXBRIDGE_TAX_MAX_DEPTH, ...).
 */
import { readFileSync } from 'node:fs';
import { packagePath } from '../package-root.ts';

type Json = Record<string, unknown>;

const FILE = packagePath('schemas', 'tax-api', 'calculate_tax_request.schema.json');

export const CALCULATE_TAX_REQUEST_SCHEMA: Readonly<Json> = JSON.parse(readFileSync(FILE, 'utf8')) as Json;

function at(path: string[]): Json {
  let v: unknown = CALCULATE_TAX_REQUEST_SCHEMA;
  for (const k of path) {
    v = v && typeof v === 'object' && Object.hasOwn(v, k) ? (v as Json)[k] : undefined;
    if (v === undefined) throw new Error(`calculate_tax_request.schema.json has no ${path.join('.')}`);
  }
  return v as Json;
}

function num(path: string[]): number {
  const v = at(path.slice(0, -1))[path[path.length - 1]!];
  if (typeof v !== 'number') throw new Error(`calculate_tax_request.schema.json: ${path.join('.')} must be a number`);
  return v;
}

const P = 'properties';
const line = ['properties', 'line_items', 'items', 'properties'];
const addr = ['$defs', 'address', 'properties'];

/** String caps of the request's fields, from the schema. "Free text" fields follow maxTextLength when it is configured. */
export const FIELD_MAX_LENGTH = {
  line_id: num([...line, 'id', 'maxLength']),
  product_id: num([...line, 'product_id', 'maxLength']),
  line_description: num([...line, 'description', 'maxLength']),
  customer_id: num([P, 'customer_id', 'maxLength']),
  customer_name: num([P, 'customer_name', 'maxLength']),
  tax_id: num([P, 'tax_id', 'maxLength']),
  date: num([P, 'tax_date', 'maxLength']),
  address_line: num([...addr, 'address1', 'maxLength']),
  city: num([...addr, 'city', 'maxLength']),
  state: num([...addr, 'state', 'maxLength']),
  postal_code: num([...addr, 'postal_code', 'maxLength']),
  country: num([...addr, 'country', 'maxLength']),
  metadata_key: num([P, 'metadata', 'propertyNames', 'maxLength']),
  metadata_value: num([P, 'metadata', 'additionalProperties', 'maxLength']),
} as const;

export const METADATA_MAX_KEYS = num([P, 'metadata', 'maxProperties']);

export interface TaxApiLimits {
  /** Largest request body in bytes (413 above). */
  maxBodyBytes: number;
  /** Line items per calculation. */
  maxLineItems: number;
  /** Nesting depth of the body, unknown fields included (the top-level object is 1). */
  maxDepth: number;
  /** Cap of the free-text fields (ids, product ids, descriptions, address lines, city, customer name). */
  maxTextLength: number;
}

export const DEFAULT_TAX_API_LIMITS: Readonly<TaxApiLimits> = Object.freeze({
  maxBodyBytes: 1024 * 1024,
  maxLineItems: num([P, 'line_items', 'maxItems']),
  maxDepth: 32,
  maxTextLength: FIELD_MAX_LENGTH.product_id,
});
