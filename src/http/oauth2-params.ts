/**
 * Parameters taxbridge sets in every authorization request (spec `authorize_params` cannot override them).
 * Apart from ./oauth2-code.ts so the spec linter reads it without loading the HTTP client (CLI start time).
 */
export const RESERVED_AUTHORIZE_PARAMS: ReadonlySet<string> = new Set(['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method']);
