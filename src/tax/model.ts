/**
 * The documents the tax part keeps in the store: organizations (with their registrations and product tax
 * codes), API keys (hashed) and recorded tax calculations. JSON Schemas: schemas/entities/organization,
 * api_key and tax_calculation.
 */
import type { RecordedRequest } from './calculate-request.ts';

export type OrgMode = 'test' | 'live';

export interface OrgAddress {
  line1?: string;
  line2?: string;
  city?: string;
  state?: string;
  postal_code?: string;
  country: string;
}

/** A "subscribed region": where the organization is registered to collect tax. */
export interface Registration {
  id: string;
  /** ISO alpha-2, or "EU" for an EU One-Stop-Shop registration (charges each EU customer's VAT). */
  country: string;
  /** US state or Canadian province code; absent for country-wide registrations. */
  state?: string;
  /** The "Tax calculations" switch: off keeps the registration but charges nothing there. */
  tax_calculation: boolean;
  /** First date (YYYY-MM-DD) on which tax is charged under this registration. */
  effective_from: string;
  created_at: string;
  updated_at: string;
}

/** A product's tax code, set for one product (optionally of one connection), overriding the org default. */
export interface ProductTaxCode {
  product_id: string;
  /** The connection the product comes from; absent = the product id in any of the org's connections. */
  connection_id?: string;
  tax_code: string;
  updated_at: string;
}

export interface Organization {
  id: string;
  name: string;
  mode: OrgMode;
  origin_address?: OrgAddress;
  registrations: Registration[];
  /** Tax code of products without their own (e.g. "saas"). */
  default_product_tax_code?: string;
  product_tax_codes: ProductTaxCode[];
  /**
   * What a calculation does where the organization is registered but taxbridge does not know the local (county,
   * city, district) rates of the place: `warn` (default) answers the state rate with rate_source state_only and a
   * `local_rates_unknown` warning; `refuse` answers 422 local_rates_unknown naming the place.
   */
  local_rates_unknown?: 'warn' | 'refuse';
  /**
   * A customer tax id that is well formed but not confirmed by a registry (none configured, down or slow):
   * `reverse_charge` (default) trusts it, `tax` charges the customer as a consumer. Both add a warning.
   */
  unverified_tax_ids?: 'reverse_charge' | 'tax';
  /** `line` (default): tax rounded per line where the jurisdiction allows; `document`: per jurisdiction on the document total (src/tax/rounding.ts). */
  rounding?: 'line' | 'document';
  created_at: string;
  updated_at: string;
}

export interface ApiKeyDoc {
  id: string;
  organization_id: string;
  mode: OrgMode;
  /** The visible start of the key ("tb_test_AbC12xYz"), enough to recognize it; never the secret. */
  prefix: string;
  /** "sha256:<hex>" of the whole key. The key itself is shown once, at creation, and never stored. */
  hash: string;
  name?: string;
  created_at: string;
  revoked_at?: string | null;
  last_used_at?: string | null;
  /** Requests per second this key may make (token bucket; burst = 2 x rate). Default: the server's. */
  rate_limit_per_second?: number;
}

/**
 * A jurisdiction named once per calculation document; lines refer to it by index.
 * Stored as a tuple: [level, name, country, state (null when none), tax_type, display_name, rate_source (absent in
 * records written before rate sources)].
 */
export type StoredJurisdiction = [level: string, name: string, country: string, state: string | null, tax_type: string, display_name: string, rate_source?: string | null];

/**
 * One line's result, stored as a tuple (JSON.stringify of keyed objects costs several times more, and the
 * tax API records thousands of these a second):
 * [id, product_id, tax_code, tax_inclusive, net_amount, tax_amount, taxability_reason, taxes], where `taxes`
 * is "<jurisdiction index>:<rate percent>:<taxable amount>:<tax amount>" per jurisdiction joined by "|"
 * ("" when none). Amounts are minor units. decodeCalculationLines (src/tax/record.ts) gives objects.
 */
export type StoredLine = [
  id: string | number,
  product_id: string,
  tax_code: string,
  tax_inclusive: boolean,
  net_amount: number,
  tax_amount: number,
  taxability_reason: string,
  taxes: string,
];

/** A line decoded from its stored tuple. */
export interface CalculationLineRecord {
  id: string | number;
  product_id: string;
  tax_code: string;
  tax_inclusive: boolean;
  /** Amount after discount, net of tax (minor units). */
  net_amount: number;
  /** Sum of the line's jurisdiction taxes (minor units). */
  tax_amount: number;
  taxability_reason: string;
  /** taxability_reason: only where the jurisdiction's own reason differs from the line's (stored as a 5th field). */
  taxes: Array<{ jurisdiction: number; rate: string; taxable_amount: number; amount: number; taxability_reason?: string }>;
}

export type CalculationStatus = 'calculated' | 'committed' | 'voided' | 'refunded';

/**
 * A recorded calculation, kept compact (jurisdictions named once, lines as tuples). Rendering it
 * (renderCalculationResponse in src/tax/record.ts) gives back exactly the response the client received.
 */
export interface TaxCalculationDoc {
  id: string;
  organization_id: string;
  mode: OrgMode;
  api_key_id: string;
  created_at: string;
  tax_date: string;
  /** Upper-case ISO 4217. */
  currency: string;
  /** Where tax was determined: country and region of the customer (first line's). */
  customer_country?: string;
  customer_state?: string;
  /** Sum of all line taxes, minor units. */
  tax_total: number;
  include_taxability_reason: boolean;
  jurisdictions: StoredJurisdiction[];
  lines: StoredLine[];
  /** How the answer falls short of exact (src/tax/warnings.ts); absent when none. */
  warnings?: Array<{ code: string; message: string; param: string; place?: Record<string, string> }>;
  /** The customer tax id's status (src/tax/vat-ids), when one was given. */
  tax_id_status?: 'valid' | 'invalid_format' | 'not_registered' | 'unverified';
  /** Registry evidence of a confirmed tax id (VIES requestIdentifier, HMRC consultationNumber). */
  tax_id_evidence?: string;
  /** Lifecycle (absent = calculated): committed (reported as collected), voided, refunded (fully). */
  status?: CalculationStatus;
  /** invoice (default), credit_note (taxed as its referenced invoice) or refund (an exact inverse of a committed calculation). */
  kind?: 'invoice' | 'credit_note' | 'refund';
  /** The invoice calculation a credit note or refund refers to. */
  reference_calculation_id?: string;
  /** A credit note's or refund's own date (its tax_date is the invoice's, whose rates apply); exports file it in this date's period. */
  issue_date?: string;
  committed_at?: string;
  voided_at?: string;
  void_reason?: string;
  /** Refund calculations made from this one. */
  refund_ids?: string[];
  /** A refund's lines: the original line index of each (partial refunds leave lines out). */
  refund_line_index?: number[];
  /**
   * The request's known fields as sent (src/tax/calculate-request.ts RecordedRequest): never unknown fields or the body
   * text, so a record's size is bounded by the request schema's caps; line ids and product ids are held once,
   * in `lines`. A string in records written before this rule: the body text as received.
   */
  request: RecordedRequest | string;
}
