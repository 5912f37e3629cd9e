import { isTaxbridgeError } from '../errors.ts';

/**
 * Whether a failed write-back (or event) is worth another attempt. Transient: the system was unavailable,
 * slow or rate limiting (the HTTP client already retried within the attempt), the network failed, the store
 * hiccupped. Permanent: the system refused the request (4xx), the credentials are bad, the document or spec
 * cannot produce a valid request, the tax engine rejected the input. Unknown errors count as transient,
 * bounded by the attempt limit.
 */
const PERMANENT_CODES = new Set([
  'HTTP_PERMANENT',
  'HTTP_BAD_CREDENTIALS',
  'WRITEBACK_CONFLICT',
  'EXPRESSION_SYNTAX',
  'EXPRESSION_EVALUATION',
  'WRITEBACK_DOCUMENT_INVALID',
  'WRITEBACK_ORGANIZATION_UNKNOWN',
  'CONNECTION_ENVIRONMENT',
  'CONNECTION_INCOMPLETE',
  'SYNC_NO_FETCH',
  'validation_errors',
  'customer_tax_location_invalid',
  'invalid_product_tax_code',
  'unsupported_feature',
  'WEBHOOK_RECORD_MISSING',
  'WEBHOOK_EVENT_TYPE_MISSING',
  'WEBHOOK_EVENT_ID_MISSING',
  'WEBHOOK_BODY_INVALID',
  'MAPPING_FAILED',
  'MAPPING_INVALID',
  // The spec or the system's answer cannot produce a valid request: resending the same one changes nothing.
  'HTTP_BODY_ENCODING',
  'PAGINATION_CROSS_ORIGIN',
  'PAGINATION_BAD_NEXT_URL',
  'PAGINATION_LOOP',
  'PAGINATION_LIMIT',
  'CONNECTION_BASE_URL',
  'OAUTH_SETTING_INVALID',
]);

/** The codes above, for tests and docs. */
export const PERMANENT_ERROR_CODES: ReadonlySet<string> = PERMANENT_CODES;

export function isPermanentError(e: unknown): boolean {
  return isTaxbridgeError(e) && PERMANENT_CODES.has(e.code);
}

export function errorCode(e: unknown): string {
  if (isTaxbridgeError(e)) return e.code;
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}

export function errorStatus(e: unknown): number | undefined {
  const s = (e as { status?: unknown })?.status;
  return typeof s === 'number' ? s : undefined;
}
