import { isTaxbridgeError } from '../errors.ts';

/**
 * Store error codes that mean "storage cannot serve right now" (a full or failing disk, an unreachable or
 * overloaded database): a condition that passes, as /readyz reports, so requests answer 503 + Retry-After.
 */
export const STORE_UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['STORE_IO', 'STORE_UNREACHABLE', 'STORE_TIMEOUT']);

export function isStoreUnavailable(e: unknown): boolean {
  return isTaxbridgeError(e) && STORE_UNAVAILABLE_CODES.has(e.code);
}
