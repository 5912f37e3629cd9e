import { TaxbridgeError } from '../errors.ts';

/** Where a failed request went, without query strings or credentials, for messages and logs. */
export interface RequestTarget {
  system: string;
  connectionId: string;
  method: string;
  /** Path only (query string dropped: it may carry an API key). */
  path: string;
}

function where(t: RequestTarget): string {
  return `${t.system} ${t.method} ${t.path}`;
}

/** Base of every error the request engine throws. */
export class HttpError extends TaxbridgeError {
  readonly status?: number;
  readonly target: RequestTarget;

  constructor(code: string, target: RequestTarget, message: string, opts: { status?: number; hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(code, message, { hint: opts.hint, cause: opts.cause, details: { connection_id: target.connectionId, method: target.method, path: target.path, ...(opts.status ? { status: opts.status } : {}), ...opts.details } });
    this.status = opts.status;
    this.target = target;
  }
}

/** The system refused the connection's credentials (a status listed in http.auth_error_statuses). */
export class BadCredentialsError extends HttpError {
  constructor(target: RequestTarget, status: number, upstream: string | undefined, credentialNames: string[]) {
    const names = credentialNames.length ? credentialNames.join(', ') : 'its credentials';
    super(
      'HTTP_BAD_CREDENTIALS',
      target,
      `${target.system} rejected the credentials of connection "${target.connectionId}" (${status}${upstream ? `: ${upstream}` : ''} on ${target.method} ${target.path}); the connection's credentials must be replaced`,
      { status, hint: `supply valid values for ${names}` },
    );
  }
}

/** 429/5xx/network failures that outlasted every retry. */
export class TransientHttpError extends HttpError {
  readonly attempts: number;
  constructor(target: RequestTarget, attempts: number, last: { status?: number; reason: string }, cause?: unknown) {
    super('HTTP_TRANSIENT', target, `${where(target)} still failing after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${last.reason}`, {
      status: last.status,
      details: { attempts },
      hint: 'the system is unavailable or rate limiting; the run can be retried later',
      cause,
    });
    this.attempts = attempts;
  }
}

/** A 4xx (or other non-retried status) that will not succeed when repeated. */
export class PermanentHttpError extends HttpError {
  readonly upstreamMessage?: string;
  declare readonly body: unknown;
  constructor(target: RequestTarget, status: number, upstream: string | undefined, body: unknown) {
    super('HTTP_PERMANENT', target, `${where(target)} failed with ${status}${upstream ? `: ${upstream}` : ''}`, { status });
    this.upstreamMessage = upstream;
    // The raw upstream body is for programs (not enumerable, so logging the error never prints it: it may
    // echo what the request sent).
    Object.defineProperty(this, 'body', { value: body, enumerable: false });
  }
}

/** Every attempt ran past http.timeout_ms. */
export class HttpTimeoutError extends HttpError {
  constructor(target: RequestTarget, timeoutMs: number, attempts: number) {
    super('HTTP_TIMEOUT', target, `${where(target)} timed out after ${timeoutMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'})`, {
      details: { timeout_ms: timeoutMs, attempts },
      hint: 'raise http.timeout_ms in the spec if the system is slow but working',
    });
  }
}

/** A 2xx response whose body could not be read as the JSON it claimed to be. */
export class InvalidResponseError extends HttpError {
  constructor(target: RequestTarget, status: number, reason: string) {
    super('HTTP_INVALID_RESPONSE', target, `${where(target)} returned ${status} with an unreadable body: ${reason}`, { status });
  }
}

/**
 * Pagination that would never end: the same cursor twice (PAGINATION_LOOP) or more than max_pages
 * (PAGINATION_LIMIT); or a next-page URL that is not one (PAGINATION_BAD_NEXT_URL).
 */
export class PaginationError extends HttpError {
  constructor(code: 'PAGINATION_LOOP' | 'PAGINATION_LIMIT' | 'PAGINATION_BAD_NEXT_URL', target: RequestTarget, message: string, details: Record<string, unknown>) {
    super(code, target, message, {
      details,
      hint:
        code === 'PAGINATION_LOOP'
          ? "check the pagination `cursor` expression: it must read the next page's cursor"
          : code === 'PAGINATION_LIMIT'
            ? 'raise pagination.max_pages if the collection really is this large'
            : "check pagination.next_url: it must read the next page's URL (absolute, or relative to the page's URL)",
    });
  }
}

/** A next-page URL (body or Link header) on another origin than the connection's: refused, never followed. */
export class CrossOriginPageError extends HttpError {
  constructor(target: RequestTarget, got: string, expected: string, page: number) {
    super('PAGINATION_CROSS_ORIGIN', target, `page ${page} of ${target.system} ${target.path} points its next page at ${got}, not the connection's ${expected}; refusing to send the connection's credentials there`, {
      details: { next_origin: got, origin: expected, page },
      hint: "the next page must stay on the connection's base URL (scheme, host and port); if the system really pages across hosts, check the connection's base URL",
    });
  }
}
