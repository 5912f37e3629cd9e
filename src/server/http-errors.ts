/**
 * How the server answers errors: always a JSON body `{"type":"api_error","code","message","hint"?,"param"?}`
 * (the admin and tax APIs' shape), a 4xx for anything the client can fix, a 5xx only for what it cannot,
 * and never a stack trace. Unknown routes answer 404 in the same shape.
 */
import type { Context, Middleware } from 'koa';
import { TaxbridgeError, isTaxbridgeError, publicCode } from '../errors.ts';
import type { Logger } from '../log/index.ts';
import { BodyError } from './raw-body.ts';

/** HTTP status of a TaxbridgeError code raised by the connection routes and the parts they call. */
const STATUS_BY_CODE: Record<string, number> = {
  not_found: 404,
  conflict: 409,
  invalid_input: 400,
  validation_errors: 400,
  unauthorized_access: 401,
  CLI_USAGE: 400,
  CONNECTION_INPUT: 400,
  CONNECTOR_UNKNOWN: 400,
  CONNECTOR_INVALID: 400,
  CONNECTION_ENVIRONMENT_MISMATCH: 400,
  CONNECTION_INCOMPLETE: 409,
  CONNECTION_NOT_ACTIVE: 409,
  SYNC_ALREADY_RUNNING: 409,
  CONNECTION_BAD_CREDENTIALS: 422,
  CONNECTION_CHECK_FAILED: 422,
  CONNECTION_UNREACHABLE: 502,
  WEBHOOK_REGISTRATION_FAILED: 502,
  SHUTTING_DOWN: 503,
  STREAMS_UNAVAILABLE: 503,
  STORE_IO: 503,
  STORE_UNREACHABLE: 503,
  STORE_TIMEOUT: 503,
  // OAuth connections (src/connections/oauth-*.ts)
  CONNECTION_NOT_OAUTH: 409,
  CONNECTION_NEEDS_REAUTHORIZATION: 409,
  OAUTH_NOT_AUTHORIZED: 409,
  OAUTH_APP_MISSING: 409,
  CONNECTION_BASE_URL: 400,
  // The spec playground's try-mapping (src/server/specs-api.ts)
  SPEC_INVALID: 422,
  SYNC_UNKNOWN_STREAM: 400,
  MAPPING_FAILED: 422,
};

export function statusOf(e: unknown): number {
  if (e instanceof BodyError) return e.status;
  if (isTaxbridgeError(e)) return STATUS_BY_CODE[e.code] ?? 500;
  return 500;
}

export function sendJson(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body);
}

export function errorBody(e: TaxbridgeError): Record<string, unknown> {
  const field = e.details?.field;
  const extra = e.details ? Object.fromEntries(Object.entries(e.details).filter(([k]) => k !== 'field')) : {};
  return {
    type: 'api_error',
    code: e instanceof BodyError ? 'validation_errors' : publicCode(e.code),
    message: e.message,
    ...(typeof field === 'string' ? { param: field } : {}),
    ...(e.hint ? { hint: e.hint } : {}),
    ...(Object.keys(extra).length ? { details: extra } : {}),
  };
}

/** Answers an error thrown by a handler; unexpected ones are logged and hidden behind internal_server_error. */
export function sendError(ctx: Context, e: unknown, log?: Logger): void {
  const status = statusOf(e);
  if (status < 500 || (isTaxbridgeError(e) && STATUS_BY_CODE[e.code])) {
    if (status === 413) ctx.set('Connection', 'close');
    return sendJson(ctx, status, errorBody(e as TaxbridgeError));
  }
  log?.error('request failed', { method: ctx.method, path: safePath(ctx.path), error: e });
  sendJson(ctx, 500, { type: 'api_error', code: 'internal_server_error', message: 'an internal error occurred; the request can be retried' });
}

/** The outermost middleware: nothing escapes as koa's plain-text 500. */
export function errorBoundary(log?: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (e) {
      sendError(ctx, e, log);
    }
  };
}

/** A JSON 404 (or 405) for requests no router answered. */
export function notFoundFallback(): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.body !== undefined && ctx.body !== null) return;
    if (ctx.status === 404) {
      sendJson(ctx, 404, { type: 'api_error', code: 'not_found', message: `no such endpoint: ${ctx.method} ${safePath(ctx.path).slice(0, 200)}`, hint: 'paths are case-sensitive and have no trailing slash; the API is described at GET /openapi.json' });
    } else if (ctx.status === 405 || ctx.status === 501) {
      const allow = ctx.response.get('Allow');
      sendJson(ctx, ctx.status, { type: 'api_error', code: 'method_not_allowed', message: `${ctx.method} is not allowed on ${safePath(ctx.path).slice(0, 200)}${allow ? `; use ${allow}` : ''}` });
    }
  };
}

function decodedLower(segment: string): string {
  try {
    return decodeURIComponent(segment).toLowerCase();
  } catch {
    return segment.toLowerCase();
  }
}

/** A webhook URL token (src/connections/service.ts makes them `whk_` + 32 base62) anywhere in a segment. */
const TOKEN_LIKE = /whk_[0-9a-z]{8,}/i;

/**
 * A path fit for logs and messages: the segment after any "webhooks" segment (the URL token) is replaced by
 * ":token", however the path is spelt (case, percent-encoding, doubled slashes, dot segments), and so is any
 * segment holding something token-shaped, wherever a sender with a wrong path put it (/webhook/whk_...).
 */
export function safePath(path: string): string {
  const segments = path.split('/');
  for (let i = 0; i < segments.length; i++) {
    const lower = decodedLower(segments[i]!);
    if (TOKEN_LIKE.test(lower)) {
      segments[i] = ':token';
      continue;
    }
    if (lower !== 'webhooks') continue;
    let j = i + 1;
    while (j < segments.length && (segments[j] === '' || segments[j] === '.')) j++;
    if (j < segments.length) segments[j] = ':token';
    i = j;
  }
  return segments.join('/');
}

export function httpError(code: string, message: string, hint?: string): TaxbridgeError {
  return new TaxbridgeError(code, message, hint ? { hint } : {});
}
