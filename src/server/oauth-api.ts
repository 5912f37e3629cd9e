/**
 * OAuth consent routes.
 *
 *   GET  /oauth/callback?code=&state=[&realmId=...]      public (no admin token: the single-use state
 *        /oauth/callback?error=access_denied&state=      authenticates it); the system's redirect after
 *                                                         consent. A small HTML page for the person in the
 *                                                         browser, JSON when Accept asks for it.
 *   POST /admin/connections/:id/reauthorize              a new authorization URL for an OAuth connection
 *
 * Every input is bounded (query string size, parameter count and lengths, a repeated parameter refused), so
 * garbage gets a 4xx page, never a 5xx. The page is not cached, sends no Referer (the URL held a code) and
 * runs no script.
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from '../log/index.ts';
import type { AuthorizationOutcome, ConnectionService } from '../connections/service.ts';
import { STATE_PATTERN } from '../connections/oauth-flow.ts';
import type { AdminCredential } from './admin-bearer.ts';
import { TaxbridgeError, publicCode } from '../errors.ts';
import { wireValidator } from '../wire-schemas.ts';
import type { ServerOauthCallbackQuery } from './admin-api-types.generated.ts';
import { adminBody } from './admin-body.ts';
import { sendError, sendJson } from './http-errors.ts';
import { createAdminRouter, createRouter } from './routing.ts';

// The parameters taxbridge reads are bounded by schemas/admin-api/server.schema.json#/$defs/oauth_callback_query;
// these bound the query as a whole and what else the system adds (realmId, ...), passed on as it is.
export const CALLBACK_LIMITS = { queryBytes: 8192, params: 32, name: 64, other: 512 } as const;
const CALLBACK_PARAMS = new Set(Object.keys((wireValidator('admin-api', 'server', 'oauth_callback_query').schema as { properties: object }).properties));

export interface OAuthApiOptions {
  connections: ConnectionService;
  adminToken: AdminCredential;
  log?: Logger;
}

interface Page {
  status: number;
  code: string;
  title: string;
  message: string;
  outcome: AuthorizationOutcome['outcome'] | 'invalid';
  connection_id?: string;
  connection_status?: string;
  next?: string[];
}

const STATUS_BY_CODE: Record<string, number> = {
  OAUTH_STATE_INVALID: 400,
  OAUTH_STATE_UNKNOWN: 400,
  OAUTH_CALLBACK_INVALID: 400,
  OAUTH_STATE_USED: 409,
  OAUTH_STATE_EXPIRED: 410,
  OAUTH_CONSENT_DENIED: 403,
  OAUTH_ACCOUNT_MISMATCH: 409,
  OAUTH_CONNECTION_GONE: 410,
  CONNECTION_NOT_OAUTH: 409,
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function render(ctx: Context, p: Page): void {
  ctx.set('cache-control', 'no-store');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.set('x-content-type-options', 'nosniff');
  const wantsJson = ctx.accepts('html', 'json') === 'json';
  if (wantsJson) {
    sendJson(ctx, p.status, { outcome: p.outcome, code: publicCode(p.code), message: p.message, ...(p.connection_id ? { connection_id: p.connection_id, connection_status: p.connection_status } : {}), ...(p.next?.length ? { next: p.next } : {}) });
    return;
  }
  ctx.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
  ctx.status = p.status;
  ctx.type = 'text/html; charset=utf-8';
  // Back to where the person started (the console's connection page), or nothing to do here any more.
  const back = p.connection_id ? `<p><a href="/console#/connections/${encodeURIComponent(p.connection_id)}">Open the connection in the console</a>, or close this window.</p>` : '<p>You can close this window.</p>';
  const next = p.next?.length ? `<ul>${p.next.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(p.title)} – taxbridge</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}</style></head>
<body><h1>${escapeHtml(p.title)}</h1><p>${escapeHtml(p.message)}</p>${next}<p><small>${escapeHtml(publicCode(p.code))}${p.connection_id ? ` · ${escapeHtml(p.connection_id)}` : ''}</small></p>${back}</body></html>\n`;
}

function invalid(ctx: Context, message: string): void {
  render(ctx, { status: 400, code: 'OAUTH_CALLBACK_INVALID', title: 'Authorization not completed', message, outcome: 'invalid' });
}

/** The callback's query, bounded, the known parameters checked by their schema; a string saying what is wrong, or the parameters. */
function readQuery(ctx: Context): (ServerOauthCallbackQuery & Record<string, string>) | string {
  const qs = ctx.querystring;
  if (Buffer.byteLength(qs, 'utf8') > CALLBACK_LIMITS.queryBytes) return `the query string is longer than ${CALLBACK_LIMITS.queryBytes} bytes`;
  let sp: URLSearchParams;
  try {
    sp = new URLSearchParams(qs);
  } catch {
    return 'the query string cannot be read';
  }
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let n = 0;
  for (const [k, v] of sp) {
    if (++n > CALLBACK_LIMITS.params) return `more than ${CALLBACK_LIMITS.params} query parameters`;
    if (Object.hasOwn(out, k)) return `the parameter ${k.slice(0, 40)} appears more than once`;
    if (k.length > CALLBACK_LIMITS.name) return `the parameter ${k.slice(0, 40)} is longer than ${CALLBACK_LIMITS.name} characters`;
    if (!CALLBACK_PARAMS.has(k) && v.length > CALLBACK_LIMITS.other) return `the parameter ${k} is longer than ${CALLBACK_LIMITS.other} characters`;
    out[k] = v;
  }
  try {
    // Repeats are refused above; adminQuery leaves out empty values, which the callback tells apart (error=).
    adminBody<ServerOauthCallbackQuery>('server', 'oauth_callback_query', Object.fromEntries([...CALLBACK_PARAMS].filter((k) => Object.hasOwn(out, k)).map((k) => [k, out[k]])));
  } catch (e) {
    if (e instanceof TaxbridgeError) return e.message;
    throw e;
  }
  return out;
}

export function createOAuthCallbackRouter(opts: OAuthApiOptions): Router {
  const router = createRouter();
  router.get('/oauth/callback', async (ctx) => {
    try {
      const q = readQuery(ctx);
      if (typeof q === 'string') return invalid(ctx, q);
      const state = q.state;
      if (state === undefined || !STATE_PATTERN.test(state)) return invalid(ctx, 'the authorization response carries no valid state; start again from taxbridge');
      if (q.error === undefined && (q.code === undefined || q.code === '')) return invalid(ctx, 'the authorization response carries neither a code nor an error');
      const r = await opts.connections.completeAuthorization({ state, ...(q.code !== undefined ? { code: q.code } : {}), ...(q.error !== undefined ? { error: q.error } : {}), ...(q.error_description !== undefined ? { error_description: q.error_description } : {}), params: q });
      const c = r.connection;
      if (r.outcome === 'authorized') {
        render(ctx, { status: 200, code: 'OAUTH_AUTHORIZED', title: `Connected${c?.connector_title ? ` to ${c.connector_title}` : ''}`, message: r.message, outcome: r.outcome, ...(c ? { connection_id: c.id, connection_status: c.status } : {}), next: r.messages?.slice(1) });
        return;
      }
      const code = r.code ?? 'OAUTH_AUTHORIZATION_FAILED';
      const status = STATUS_BY_CODE[code] ?? (/UNAVAILABLE/.test(code) ? 502 : 400);
      render(ctx, {
        status,
        code,
        title: r.outcome === 'denied' ? 'Access was not granted' : 'Authorization not completed',
        message: r.message,
        outcome: r.outcome,
        ...(c ? { connection_id: c.id, connection_status: c.status } : {}),
        next: [c ? `To try again: taxbridge connect --connection ${c.id} --reauthorize` : 'Start again from taxbridge: taxbridge connect <connector> --org <id>, or --reauthorize for an existing connection'],
      });
    } catch (e) {
      opts.log?.error('OAuth callback failed', { error: e });
      sendError(ctx, e, opts.log);
    }
  });
  return router;
}

export function createOAuthAdminRouter(opts: OAuthApiOptions): Router {
  const router = createAdminRouter(opts.adminToken);
  router.post('/connections/:id/reauthorize', async (ctx) => {
    try {
      sendJson(ctx, 200, { data: await opts.connections.reauthorize(String(ctx.params.id)) });
    } catch (e) {
      sendError(ctx, e, opts.log);
    }
  });
  return router;
}
