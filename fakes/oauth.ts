/**
 * A fake OAuth 2.0 authorization server (RFC 6749 authorization code grant, RFC 7636 PKCE S256,
 * RFC 7009 revocation, RFC 8414 metadata) as a real koa HTTP server on 127.0.0.1.
 *
 * Consent is decided by the test, not a browser: approved by default, denied or given extra
 * redirect parameters (QuickBooks' `realmId`) on demand. Time is the server's own clock, which a
 * test can move forward (`advanceTime`) so expiry is tested without waiting.
 * See /work/shared/research/oauth2.md.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { request } from 'undici';
import { Router } from '@koa/router';
import { FaultController, RateLimiter, controlMiddleware, createRequestLog, type Faults, type RateLimit, type RequestLog } from './faults.ts';
import { isPlainObject, listen, quietApp, readRawBody } from './http.ts';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
  /** Redirect URIs, compared by exact string match (RFC 9700). */
  redirectUris: string[];
  /** Accepted client authentication at the token and revocation endpoints (default both). */
  authMethods?: ClientAuthMethod[];
}

export interface OAuthPaths {
  authorize: string;
  token: string;
  revoke: string;
}

export interface FakeOAuthOptions {
  port?: number;
  clients?: OAuthClient[];
  /** Endpoint paths (default /oauth2/authorize, /oauth2/token, /oauth2/revoke). */
  paths?: Partial<OAuthPaths>;
  /** Scopes a client may ask for (default: any). */
  scopes?: string[];
  /** Scope granted when the request names none (default: none). */
  defaultScope?: string[];
  /** PKCE: 'required' refuses authorization requests without an S256 challenge (default 'optional'). */
  pkce?: 'required' | 'optional';
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  codeTtlSeconds?: number;
  /** Issue a new refresh token on each refresh; the old one stops working (default true). */
  rotateRefreshTokens?: boolean;
  /** Seconds a rotated-out refresh token still works (Intuit: 24 h; default 0). */
  refreshTokenGraceSeconds?: number;
  /** Reuse of a rotated-out refresh token revokes the whole grant (RFC 9700 §4.14; default false). */
  reuseRevokesGrant?: boolean;
  /** Revoking an access token revokes its whole grant too (default false: only that token). */
  revokeGrantOnAccessToken?: boolean;
  /** `token_type` in token responses (default "Bearer"; Intuit sends "bearer"). */
  tokenType?: string;
  /** Name of a token-response field carrying the refresh token's remaining lifetime (Intuit: x_refresh_token_expires_in). */
  refreshExpiresInField?: string;
  /** Send `scope` in token responses (default true). */
  includeScope?: boolean;
  /** Extra token-response fields for a grant (Salesforce-style `instance_url`, ...). */
  extraTokenFields?: (grant: OAuthGrant) => Record<string, unknown>;
  /** Revocation body: 'form' (RFC 7009), 'json' (Intuit's `{"token": ...}`) or 'any' (default). */
  revokeBody?: 'form' | 'json' | 'any';
  /** Add RFC 9207 `iss` to authorization responses (default false). */
  issuerInRedirect?: boolean;
  /**
   * Show a consent page (Allow / Deny buttons, as a person sees at the real system) to a request without a
   * `consent` parameter, instead of deciding at once (default false: redirect straight back, for HTTP tests).
   */
  consentPage?: boolean;
  /** How consent is decided when no queued decision applies (default: approve). */
  defaultConsent?: (req: AuthorizeRequest) => ConsentDecision;
  /** Prefixes of issued tokens (default at_ / rt_ / code_). */
  tokenPrefix?: { access?: string; refresh?: string; code?: string };
  rateLimit?: RateLimit;
  latencyMs?: number;
  requestLogLimit?: number;
}

/** A validated authorization request, as the consent decision sees it. */
export interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  scope: string[];
  state?: string;
  codeChallenge?: string;
  /** Every query parameter of the request (first values). */
  params: Record<string, string>;
}

export type ConsentDecision =
  | {
      approve: true;
      /** Extra parameters on the redirect (QuickBooks: `{ realmId }`). */
      redirectParams?: Record<string, string>;
      /** Stored on the grant, for resource servers (e.g. which company the tokens reach). */
      context?: Record<string, string>;
      /** Granted scope, when narrower than asked. */
      scope?: string[];
    }
  | { approve: false; error?: string; description?: string };

export interface OAuthGrant {
  id: string;
  clientId: string;
  scope: string[];
  context: Record<string, string>;
  createdAt: number;
  /** Set when the consent was revoked (by the revocation endpoint, `revokeConsent` or code reuse). */
  revokedAt?: number;
  revokedReason?: string;
  /** The refresh token currently valid for this grant. */
  refreshToken?: string;
  /** How many refreshes succeeded. */
  refreshes: number;
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope?: string;
  [k: string]: unknown;
}

export type AccessCheck =
  | { ok: true; grant: OAuthGrant; expiresAt: number }
  | { ok: false; reason: 'missing' | 'unknown' | 'expired' | 'revoked'; grant?: OAuthGrant };

export interface FakeOAuth {
  /** Origin, e.g. http://127.0.0.1:PORT */
  url: string;
  port: number;
  issuer: string;
  authorizeUrl: string;
  tokenUrl: string;
  revokeUrl: string;
  clients: OAuthClient[];
  requests: RequestLog;
  faults: Faults;
  setRateLimit(rl: RateLimit | undefined): void;
  setLatency(ms: number): void;

  /** The server's clock (ms); `Date.now()` plus what `advanceTime` added. */
  now(): number;
  /** Move the server's clock forward (tokens and codes expire as if that time had passed). */
  advanceTime(seconds: number): void;
  setAccessTokenTtl(seconds: number): void;

  /** Decide the next authorization request(s) (queued, first in first out) instead of the default. */
  approveNext(decision?: Omit<Extract<ConsentDecision, { approve: true }>, 'approve'>): void;
  denyNext(error?: string, description?: string): void;
  setDefaultConsent(fn: (req: AuthorizeRequest) => ConsentDecision): void;

  /** Build an authorization URL for a registered client. */
  buildAuthorizeUrl(p: { clientId: string; redirectUri: string; scope?: string; state?: string; codeChallenge?: string; extra?: Record<string, string> }): string;
  /** GET an authorization URL as a browser would; returns the redirect target (not followed). */
  visit(authorizeUrl: string): Promise<{ status: number; location?: string; body: string }>;

  /** Every grant (consent) issued so far. */
  grants(): OAuthGrant[];
  /** Revoke consents whose context matches every given key (or one grant by id): the next refresh gets invalid_grant. */
  revokeConsent(match: string | Record<string, string>, reason?: string): number;
  /** Make every access token issued so far expired now (refresh tokens unaffected). */
  expireAccessTokens(): void;
  /** Consent without a browser: issue a grant and its first tokens directly. */
  issueTokens(clientId: string, p?: { scope?: string[]; context?: Record<string, string> }): { grant: OAuthGrant; tokens: TokenResponse };
  /** What a resource server asks: is this bearer token live, and for which grant? */
  checkAccessToken(token: string | undefined): AccessCheck;
  /** Counters for assertions. */
  stats: { authorizations: number; codeExchanges: number; refreshes: number; invalidGrants: number; revocations: number };
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------

/** An RFC 6749 §5.2 error. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers?: Record<string, string>,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

export const DEFAULT_OAUTH_PATHS: OAuthPaths = { authorize: '/oauth2/authorize', token: '/oauth2/token', revoke: '/oauth2/revoke' };
const PARAM_MAX = 4096;
const PKCE_CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;
const PKCE_VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;

/** base64url(sha256(verifier)) without padding (RFC 7636 §4.2). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Constant-time string compare (hashing first so lengths do not leak). */
function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a, 'utf8').digest();
  const y = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

/** application/x-www-form-urlencoded decoding of one component (RFC 6749 §2.3.1 Basic credentials). */
function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Single-valued parameters; a repeated one is invalid_request (RFC 6749 §3.1, §3.2). */
function singleParams(entries: Iterable<[string, string]>, where: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of entries) {
    if (out.has(k)) throw new OAuthError(400, 'invalid_request', `parameter ${k} appears more than once in the ${where}`);
    if (k.length > 100 || v.length > PARAM_MAX) throw new OAuthError(400, 'invalid_request', `parameter ${k.slice(0, 100)} in the ${where} is longer than ${PARAM_MAX} characters`);
    out.set(k, v);
  }
  return out;
}

const token = (prefix: string): string => prefix + randomBytes(32).toString('base64url');

interface CodeRecord {
  clientId: string;
  redirectUri: string;
  /** Whether redirect_uri was in the authorization request (then it is required at the token endpoint). */
  redirectGiven: boolean;
  scope: string[];
  challenge?: string;
  context: Record<string, string>;
  expiresAt: number;
  used: boolean;
  /** Grant created from this code (revoked if the code is replayed). */
  grantId?: string;
}

interface TokenRecord {
  kind: 'access' | 'refresh';
  grantId: string;
  expiresAt: number;
  revoked: boolean;
  /** Refresh tokens: when it was replaced by a newer one. */
  rotatedAt?: number;
}

// ------------------------------------------------------------------------------------------------

export async function startFakeOAuth(opts: FakeOAuthOptions = {}): Promise<FakeOAuth> {
  const clients: OAuthClient[] = (opts.clients ?? [{ clientId: 'test_client', clientSecret: 'test_secret', redirectUris: ['http://127.0.0.1/callback'] }]).map((c) => ({ ...c, redirectUris: [...c.redirectUris] }));
  const paths: OAuthPaths = { ...DEFAULT_OAUTH_PATHS, ...opts.paths };
  const allowedScopes = opts.scopes ? new Set(opts.scopes) : undefined;
  let accessTtl = opts.accessTokenTtlSeconds ?? 3600;
  const refreshTtl = opts.refreshTokenTtlSeconds ?? 8_726_400;
  const codeTtl = opts.codeTtlSeconds ?? 600;
  const rotate = opts.rotateRefreshTokens !== false;
  const grace = (opts.refreshTokenGraceSeconds ?? 0) * 1000;
  const prefix = { access: 'at_', refresh: 'rt_', code: 'code_', ...opts.tokenPrefix };
  const revokeBody = opts.revokeBody ?? 'any';

  const requests = createRequestLog();
  const faults = new FaultController();
  const limiter = new RateLimiter(opts.rateLimit);
  let latency = opts.latencyMs ?? 0;
  let offsetMs = 0;
  const now = (): number => Date.now() + offsetMs;

  const codes = new Map<string, CodeRecord>();
  const tokens = new Map<string, TokenRecord>();
  const grants = new Map<string, OAuthGrant>();
  const consentQueue: ConsentDecision[] = [];
  let defaultConsent = opts.defaultConsent ?? ((): ConsentDecision => ({ approve: true }));
  const stats = { authorizations: 0, codeExchanges: 0, refreshes: 0, invalidGrants: 0, revocations: 0 };
  let grantSeq = 0;

  const clientById = (id: string): OAuthClient | undefined => clients.find((c) => c.clientId === id);
  const invalidGrant = (description: string): OAuthError => {
    stats.invalidGrants++;
    return new OAuthError(400, 'invalid_grant', description);
  };

  function revokeGrant(g: OAuthGrant, reason: string): void {
    if (g.revokedAt !== undefined) return;
    g.revokedAt = now();
    g.revokedReason = reason;
    for (const rec of tokens.values()) if (rec.grantId === g.id) rec.revoked = true;
  }

  function parseScope(raw: string | undefined): string[] {
    if (raw === undefined || raw.trim() === '') return [...(opts.defaultScope ?? [])];
    const list = [...new Set(raw.split(' ').filter((s) => s !== ''))];
    if (allowedScopes) {
      const bad = list.filter((s) => !allowedScopes.has(s));
      if (bad.length > 0) throw new OAuthError(400, 'invalid_scope', `unknown scope ${bad.map((s) => JSON.stringify(s)).join(', ')}; this server knows ${[...allowedScopes].join(' ')}`);
    }
    return list;
  }

  /** Issue an access token (and a refresh token, rotating the previous one) for a grant. */
  function issue(g: OAuthGrant, scope: string[], newRefresh: boolean): TokenResponse {
    const at = now();
    const access = token(prefix.access);
    tokens.set(access, { kind: 'access', grantId: g.id, expiresAt: at + accessTtl * 1000, revoked: false });
    if (newRefresh) {
      if (g.refreshToken) {
        const old = tokens.get(g.refreshToken);
        if (old) old.rotatedAt = at;
      }
      const rt = token(prefix.refresh);
      tokens.set(rt, { kind: 'refresh', grantId: g.id, expiresAt: at + refreshTtl * 1000, revoked: false });
      g.refreshToken = rt;
    }
    const res: TokenResponse = { access_token: access, token_type: opts.tokenType ?? 'Bearer', expires_in: accessTtl };
    if (g.refreshToken) {
      res.refresh_token = g.refreshToken;
      if (opts.refreshExpiresInField) {
        const rec = tokens.get(g.refreshToken)!;
        res[opts.refreshExpiresInField] = Math.max(0, Math.floor((rec.expiresAt - at) / 1000));
      }
    }
    if (opts.includeScope !== false) res.scope = scope.join(' ');
    if (opts.extraTokenFields) Object.assign(res, opts.extraTokenFields(g));
    return res;
  }

  function newGrant(clientId: string, scope: string[], context: Record<string, string>): OAuthGrant {
    const g: OAuthGrant = { id: `grant_${++grantSeq}`, clientId, scope, context: { ...context }, createdAt: now(), refreshes: 0 };
    grants.set(g.id, g);
    return g;
  }

  /** Client authentication: exactly one method, allowed for the client, right secret. */
  function authenticateClient(ctx: Koa.Context, body: Map<string, string>): OAuthClient {
    const header = ctx.get('authorization');
    const basic = /^basic\s+(.+)$/i.exec(header);
    const bodyId = body.get('client_id');
    const bodySecret = body.get('client_secret');
    if (basic && bodySecret !== undefined) throw new OAuthError(400, 'invalid_request', 'client credentials were sent both in the Authorization header and in the body; use one method');
    let id: string;
    let secret: string;
    let method: ClientAuthMethod;
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new OAuthError(401, 'invalid_client', 'Basic credentials must be base64(client_id:client_secret)', { 'WWW-Authenticate': 'Basic realm="oauth"' });
      id = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
      method = 'client_secret_basic';
      if (bodyId !== undefined && bodyId !== id) throw new OAuthError(400, 'invalid_request', 'client_id in the body differs from the one in the Authorization header');
    } else if (bodyId !== undefined && bodySecret !== undefined) {
      id = bodyId;
      secret = bodySecret;
      method = 'client_secret_post';
    } else {
      throw new OAuthError(401, 'invalid_client', 'client authentication is required: HTTP Basic (client_secret_basic) or client_id and client_secret in the body (client_secret_post)', { 'WWW-Authenticate': 'Basic realm="oauth"' });
    }
    const client = clientById(id);
    const challenge = method === 'client_secret_basic' ? { 'WWW-Authenticate': 'Basic realm="oauth"' } : undefined;
    if (!client || !safeEqual(secret, client.clientSecret)) throw new OAuthError(401, 'invalid_client', 'unknown client or wrong client secret', challenge);
    const methods = client.authMethods ?? ['client_secret_basic', 'client_secret_post'];
    if (!methods.includes(method)) throw new OAuthError(401, 'invalid_client', `this client must authenticate with ${methods.join(' or ')}, not ${method}`, challenge);
    return client;
  }

  async function formBody(ctx: Koa.Context): Promise<Map<string, string>> {
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') throw new OAuthError(400, 'invalid_request', `the token endpoint takes an application/x-www-form-urlencoded body, got ${type === '' ? 'no content type' : type}`);
    return singleParams(new URLSearchParams(await readRawBody(ctx)).entries(), 'request body');
  }

  // ---- token grants ----
  function exchangeCode(client: OAuthClient, body: Map<string, string>): TokenResponse {
    const code = body.get('code');
    if (!code) throw new OAuthError(400, 'invalid_request', 'code is required for grant_type=authorization_code');
    const rec = codes.get(code);
    if (!rec || rec.clientId !== client.clientId) throw invalidGrant('unknown authorization code, or it was issued to another client');
    if (rec.used) {
      // RFC 6749 §4.1.2: a replayed code revokes what it already produced
      const g = rec.grantId ? grants.get(rec.grantId) : undefined;
      if (g) revokeGrant(g, 'authorization code reused');
      throw invalidGrant('authorization code was already used; tokens issued from it are revoked');
    }
    if (now() >= rec.expiresAt) throw invalidGrant(`authorization code expired (codes live ${codeTtl} s)`);
    const redirect = body.get('redirect_uri');
    if (rec.redirectGiven && redirect === undefined) throw new OAuthError(400, 'invalid_request', 'redirect_uri is required: it was part of the authorization request');
    if (redirect !== undefined && redirect !== rec.redirectUri) throw invalidGrant('redirect_uri does not match the one of the authorization request');
    const verifier = body.get('code_verifier');
    if (rec.challenge !== undefined) {
      if (verifier === undefined) throw invalidGrant('code_verifier is required: the authorization request had a code_challenge');
      if (!PKCE_VERIFIER_RE.test(verifier)) throw new OAuthError(400, 'invalid_request', 'code_verifier must be 43-128 characters of [A-Za-z0-9-._~]');
      if (!safeEqual(pkceChallenge(verifier), rec.challenge)) throw invalidGrant('PKCE verification failed: base64url(sha256(code_verifier)) does not match code_challenge');
    } else if (verifier !== undefined) {
      throw invalidGrant('code_verifier sent but the authorization request had no code_challenge');
    }
    rec.used = true;
    stats.codeExchanges++;
    const g = newGrant(client.clientId, rec.scope, rec.context);
    rec.grantId = g.id;
    return issue(g, g.scope, true);
  }

  function refresh(client: OAuthClient, body: Map<string, string>): TokenResponse {
    const rt = body.get('refresh_token');
    if (!rt) throw new OAuthError(400, 'invalid_request', 'refresh_token is required for grant_type=refresh_token');
    const rec = tokens.get(rt);
    if (!rec || rec.kind !== 'refresh') throw invalidGrant('unknown refresh token');
    const g = grants.get(rec.grantId)!;
    if (g.clientId !== client.clientId) throw invalidGrant('refresh token was issued to another client');
    if (rec.revoked || g.revokedAt !== undefined) throw invalidGrant(`refresh token revoked${g.revokedReason ? ` (${g.revokedReason})` : ''}: the user must authorize again`);
    if (now() >= rec.expiresAt) throw invalidGrant('refresh token expired: the user must authorize again');
    if (rec.rotatedAt !== undefined && now() - rec.rotatedAt >= grace) {
      if (opts.reuseRevokesGrant) revokeGrant(g, 'rotated-out refresh token reused');
      throw invalidGrant('refresh token was already used and replaced by a newer one (rotation)');
    }
    let scope = g.scope;
    const asked = body.get('scope');
    if (asked !== undefined) {
      const list = parseScope(asked);
      const extra = list.filter((s) => !g.scope.includes(s));
      if (extra.length > 0) throw new OAuthError(400, 'invalid_scope', `scope ${extra.join(' ')} was not granted; a refresh may only narrow the scope`);
      scope = list;
    }
    g.refreshes++;
    stats.refreshes++;
    return issue(g, scope, rotate);
  }

  // ---- HTTP ----
  const app = quietApp();
  app.use(controlMiddleware({
    log: requests,
    logLimit: opts.requestLogLimit ?? 10_000,
    faults,
    limiter,
    latency: () => latency,
    errorBody: (status, message) => ({ error: status === 429 || status === 503 ? 'temporarily_unavailable' : 'server_error', error_description: message }),
  }));
  app.use(async (ctx, next) => {
    try {
      await next();
      if ((ctx.body === undefined || ctx.body === null) && (ctx.status === 404 || ctx.status === 405)) {
        const status = ctx.status;
        ctx.status = status;
        ctx.body = { error: 'invalid_request', error_description: status === 404 ? `no endpoint ${ctx.path}` : `${ctx.method} is not allowed on ${ctx.path}` };
      }
    } catch (e) {
      if (e instanceof OAuthError) {
        ctx.status = e.status;
        if (e.headers) ctx.set(e.headers);
        ctx.body = { error: e.error, error_description: e.description };
      } else if (e instanceof Error && 'status' in e && typeof (e as { status: unknown }).status === 'number' && (e as { status: number }).status < 500) {
        ctx.status = (e as { status: number }).status;
        ctx.body = { error: 'invalid_request', error_description: e.message };
      } else {
        ctx.status = 500;
        ctx.body = { error: 'server_error', error_description: 'internal error in the fake authorization server' };
      }
    }
  });

  const router = new Router();

  /** The page a person sees: the request's parameters resent with consent=allow or consent=deny. */
  const consentPageFor = (ctx: Koa.Context, clientId: string, scope: string[], q: Map<string, string>): void => {
    const hidden = [...q].map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
    ctx.status = 200;
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Content-Security-Policy', "default-src 'none'; form-action *");
    ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Authorize ${escapeHtml(clientId)}</title></head><body><main>
<h1>Authorize ${escapeHtml(clientId)}</h1><p>The app asks for: ${escapeHtml(scope.join(' ') || 'no scope')}</p>
<form method="get" action="${escapeHtml(paths.authorize)}">${hidden}<button type="submit" name="consent" value="allow">Allow</button> <button type="submit" name="consent" value="deny">Deny</button></form>
</main></body></html>\n`;
  };

  router.get(paths.authorize, (ctx) => {
    const q = singleParams(Object.entries(ctx.query).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as [string, string]) : v === undefined ? [] : [[k, v] as [string, string]])), 'authorization request');
    // Errors about the client or the redirect URI are shown here, never redirected (RFC 6749 §4.1.2.1).
    const clientId = q.get('client_id');
    if (!clientId) throw new OAuthError(400, 'invalid_request', 'client_id is required');
    const client = clientById(clientId);
    if (!client) throw new OAuthError(400, 'invalid_client', `unknown client_id ${JSON.stringify(clientId.slice(0, 100))}`);
    const given = q.get('redirect_uri');
    let redirectUri: string;
    if (given !== undefined) {
      if (!client.redirectUris.includes(given)) throw new OAuthError(400, 'invalid_request', `redirect_uri ${JSON.stringify(given)} is not registered for this client (exact match required)`);
      redirectUri = given;
    } else if (client.redirectUris.length === 1) {
      redirectUri = client.redirectUris[0]!;
    } else {
      throw new OAuthError(400, 'invalid_request', 'redirect_uri is required: this client has several registered');
    }
    const state = q.get('state');
    const back = (params: Record<string, string>): void => {
      const u = new URL(redirectUri);
      for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
      if (state !== undefined) u.searchParams.set('state', state);
      if (opts.issuerInRedirect) u.searchParams.set('iss', self.issuer);
      ctx.status = 302;
      ctx.redirect(u.toString());
    };
    const fail = (error: string, description: string): void => back({ error, error_description: description });

    const responseType = q.get('response_type');
    if (responseType !== 'code') return fail(responseType === undefined ? 'invalid_request' : 'unsupported_response_type', responseType === undefined ? 'response_type is required' : `response_type ${responseType} is not supported; use code`);
    let scope: string[];
    try {
      scope = parseScope(q.get('scope'));
    } catch (e) {
      return fail((e as OAuthError).error, (e as OAuthError).description);
    }
    const challenge = q.get('code_challenge');
    const method = q.get('code_challenge_method');
    if (challenge === undefined) {
      if (opts.pkce === 'required') return fail('invalid_request', 'PKCE is required: send code_challenge and code_challenge_method=S256');
      if (method !== undefined) return fail('invalid_request', 'code_challenge_method without code_challenge');
    } else {
      if (method !== 'S256') return fail('invalid_request', method === undefined || method === 'plain' ? 'code_challenge_method must be S256 (plain is not accepted)' : `unknown code_challenge_method ${method}`);
      if (!PKCE_CHALLENGE_RE.test(challenge)) return fail('invalid_request', 'code_challenge must be base64url(sha256(verifier)) without padding: 43 characters');
    }

    const clicked = q.get('consent');
    q.delete('consent');
    if (opts.consentPage && clicked === undefined) return consentPageFor(ctx, client.clientId, scope, q);
    const req: AuthorizeRequest = { clientId, redirectUri, scope, state, codeChallenge: challenge, params: Object.fromEntries(q) };
    if (clicked === 'deny') return fail('access_denied', 'the user chose Deny on the consent page');
    const decision = consentQueue.shift() ?? defaultConsent(req);
    stats.authorizations++;
    if (!decision.approve) return fail(decision.error ?? 'access_denied', decision.description ?? 'the user denied the request');
    const granted = decision.scope ?? scope;
    const code = token(prefix.code);
    codes.set(code, {
      clientId, redirectUri, redirectGiven: given !== undefined, scope: granted, challenge, context: { ...decision.context }, expiresAt: now() + codeTtl * 1000, used: false,
    });
    back({ code, ...decision.redirectParams });
  });

  router.post(paths.token, async (ctx) => {
    ctx.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    const body = await formBody(ctx);
    const client = authenticateClient(ctx, body);
    const grantType = body.get('grant_type');
    if (grantType === 'authorization_code') ctx.body = exchangeCode(client, body);
    else if (grantType === 'refresh_token') ctx.body = refresh(client, body);
    else if (grantType === undefined) throw new OAuthError(400, 'invalid_request', 'grant_type is required');
    else throw new OAuthError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported; use authorization_code or refresh_token`);
  });

  router.post(paths.revoke, async (ctx) => {
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    let body: Map<string, string>;
    if (type === 'application/json' && revokeBody !== 'form') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readRawBody(ctx));
      } catch {
        throw new OAuthError(400, 'invalid_request', 'revocation body is not valid JSON');
      }
      if (!isPlainObject(parsed)) throw new OAuthError(400, 'invalid_request', 'revocation body must be a JSON object {"token": "..."}');
      body = new Map(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
    } else if (type === 'application/x-www-form-urlencoded' && revokeBody !== 'json') {
      body = await formBody(ctx);
    } else {
      throw new OAuthError(400, 'invalid_request', `the revocation endpoint takes ${revokeBody === 'json' ? 'a JSON body {"token": ...}' : revokeBody === 'form' ? 'a form body token=...' : 'a form or JSON body with token'}, got ${type || 'no content type'}`);
    }
    const client = authenticateClient(ctx, body);
    const t = body.get('token');
    if (!t) throw new OAuthError(400, 'invalid_request', 'token is required');
    const hint = body.get('token_type_hint');
    if (hint !== undefined && hint !== 'access_token' && hint !== 'refresh_token') throw new OAuthError(400, 'unsupported_token_type', `token_type_hint ${hint} is not supported`);
    const rec = tokens.get(t);
    // RFC 7009 §2.2: unknown or foreign tokens still get 200
    if (rec) {
      const g = grants.get(rec.grantId)!;
      if (g.clientId === client.clientId) {
        stats.revocations++;
        if (rec.kind === 'refresh' || opts.revokeGrantOnAccessToken) revokeGrant(g, 'revoked through the revocation endpoint');
        else rec.revoked = true;
      }
    }
    ctx.status = 200;
    ctx.body = '';
  });

  router.get('/.well-known/oauth-authorization-server', (ctx) => {
    ctx.body = {
      issuer: self.issuer,
      authorization_endpoint: self.authorizeUrl,
      token_endpoint: self.tokenUrl,
      revocation_endpoint: self.revokeUrl,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      ...(allowedScopes ? { scopes_supported: [...allowedScopes] } : {}),
    };
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  const l = await listen(app, opts.port ?? 0);

  const self: FakeOAuth = {
    url: l.origin,
    port: l.port,
    issuer: l.origin,
    authorizeUrl: l.origin + paths.authorize,
    tokenUrl: l.origin + paths.token,
    revokeUrl: l.origin + paths.revoke,
    clients,
    requests,
    faults,
    setRateLimit: (rl) => limiter.set(rl),
    setLatency: (ms) => {
      latency = ms;
    },
    now,
    advanceTime(seconds) {
      offsetMs += seconds * 1000;
    },
    setAccessTokenTtl(seconds) {
      accessTtl = seconds;
    },
    approveNext(decision = {}) {
      consentQueue.push({ approve: true, ...decision });
    },
    denyNext(error = 'access_denied', description = 'the user denied the request') {
      consentQueue.push({ approve: false, error, description });
    },
    setDefaultConsent(fn) {
      defaultConsent = fn;
    },
    buildAuthorizeUrl(p) {
      const u = new URL(self.authorizeUrl);
      u.searchParams.set('response_type', 'code');
      u.searchParams.set('client_id', p.clientId);
      u.searchParams.set('redirect_uri', p.redirectUri);
      if (p.scope !== undefined) u.searchParams.set('scope', p.scope);
      if (p.state !== undefined) u.searchParams.set('state', p.state);
      if (p.codeChallenge !== undefined) {
        u.searchParams.set('code_challenge', p.codeChallenge);
        u.searchParams.set('code_challenge_method', 'S256');
      }
      for (const [k, v] of Object.entries(p.extra ?? {})) u.searchParams.set(k, v);
      return u.toString();
    },
    async visit(authorizeUrl) {
      const res = await request(authorizeUrl, { method: 'GET' });
      const body = await res.body.text();
      const loc = res.headers.location;
      return { status: res.statusCode, location: Array.isArray(loc) ? loc[0] : loc, body };
    },
    grants: () => [...grants.values()],
    revokeConsent(match, reason = 'consent revoked by the user') {
      let n = 0;
      for (const g of grants.values()) {
        if (g.revokedAt !== undefined) continue;
        const hit = typeof match === 'string' ? g.id === match : Object.entries(match).every(([k, v]) => g.context[k] === v);
        if (hit) {
          revokeGrant(g, reason);
          n++;
        }
      }
      return n;
    },
    expireAccessTokens() {
      const at = now();
      for (const rec of tokens.values()) if (rec.kind === 'access' && rec.expiresAt > at) rec.expiresAt = at;
    },
    issueTokens(clientId, p = {}) {
      if (!clientById(clientId)) throw new Error(`issueTokens: unknown client ${clientId}`);
      const g = newGrant(clientId, p.scope ?? [...(opts.defaultScope ?? [])], p.context ?? {});
      return { grant: g, tokens: issue(g, g.scope, true) };
    },
    checkAccessToken(t) {
      if (t === undefined || t === '') return { ok: false, reason: 'missing' };
      const rec = tokens.get(t);
      if (!rec || rec.kind !== 'access') return { ok: false, reason: 'unknown' };
      const grant = grants.get(rec.grantId)!;
      if (rec.revoked || grant.revokedAt !== undefined) return { ok: false, reason: 'revoked', grant };
      if (now() >= rec.expiresAt) return { ok: false, reason: 'expired', grant };
      return { ok: true, grant, expiresAt: rec.expiresAt };
    },
    stats,
    close: () => l.close(),
  };
  return self;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
