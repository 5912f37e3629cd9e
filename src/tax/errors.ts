/**
 * Errors of the Sphere-compatible tax API. Each carries the HTTP status and Sphere's error `code`
 * (unauthorized_access, validation_errors, customer_tax_location_invalid, invalid_product_tax_code,
 * unsupported_feature, too_many_requests, internal_server_error, plus not_found for unknown (or pruned)
 * calculations and routes, and recording_backlog (503 with Retry-After) when calculations arrive faster than
 * they can be recorded) and, where one field is at fault, `param` naming it ("line_items[2].amount"). On the
 * wire: `{"type":"api_error","code":"...","message":"...","param":"..."}`.
 */
import { TaxbridgeError } from '../errors.ts';

export type SphereErrorCode =
  | 'unauthorized_access'
  | 'validation_errors'
  | 'customer_tax_location_invalid'
  | 'invalid_product_tax_code'
  | 'unsupported_feature'
  | 'too_many_requests'
  | 'not_found'
  | 'recording_backlog'
  | 'storage_unavailable'
  | 'local_rates_unknown'
  | 'internal_server_error';

export class TaxApiError extends TaxbridgeError {
  readonly status: number;
  readonly param?: string;
  readonly headers?: Record<string, string>;
  /** Extra fields of the error body (local_rates_unknown's `place`). */
  readonly extra?: Record<string, unknown>;

  constructor(status: number, code: SphereErrorCode, message: string, opts: { param?: string; headers?: Record<string, string>; hint?: string; extra?: Record<string, unknown> } = {}) {
    super(code, message, { hint: opts.hint });
    this.status = status;
    this.param = opts.param;
    this.headers = opts.headers;
    this.extra = opts.extra;
  }

  body(): SphereErrorBody {
    return { type: 'api_error', code: this.code as SphereErrorCode, message: this.message, ...(this.param ? { param: this.param } : {}), ...(this.extra ?? {}) };
  }
}

export interface SphereErrorBody {
  type: 'api_error';
  code: SphereErrorCode;
  message: string;
  param?: string;
  /** local_rates_unknown: the place whose local rates are unknown. */
  place?: Record<string, unknown>;
}

export function validationError(param: string, message: string): TaxApiError {
  return new TaxApiError(400, 'validation_errors', message, { param });
}

export function locationError(param: string, message: string): TaxApiError {
  return new TaxApiError(400, 'customer_tax_location_invalid', message, { param });
}
