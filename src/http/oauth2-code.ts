/**
 * The wire side of the OAuth 2.0 authorization code grant (RFC 6749 §4.1, PKCE RFC 7636, revocation RFC
 * 7009): the authorization URL, the code exchange and refresh at the token endpoint with client_secret_basic
 * or client_secret_post, and revocation. What is stored, when to refresh and who waits for whom is
 * src/connections/oauth-tokens.ts; this module only speaks HTTP and reports typed errors.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import { TaxbridgeError } from '../errors.ts';
import type { OAuth2CodeAuthSpec } from '../spec/types.ts';
import { RESERVED_AUTHORIZE_PARAMS } from './oauth2-params.ts';

/** The deployment's app credentials at the system (configuration, never a connection's). */
export interface OAuthApp {
  clientId: string;
  clientSecret: string;
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  token_type: string;
  /** Seconds, when the system said. */
  expires_in?: number;
  scope?: string;
  /** String fields of the response other than the tokens (for `settings_from_token`). */
  fields: Record<string, string>;
}

export interface TokenCallOptions {
  dispatcher?: Dispatcher;
  timeoutMs?: number;
  userAgent?: string;
  signal?: AbortSignal;
}

const MAX_RESPONSE_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
const UA = 'taxbridge/0.1 (+https://taxbridge.dev)';

/** A PKCE verifier (43 chars of base64url) and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier, 'ascii').digest('base64url') };
}

export { RESERVED_AUTHORIZE_PARAMS };

export function authorizationUrl(auth: OAuth2CodeAuthSpec, p: { authorizeUrl: string; clientId: string; redirectUri: string; state: string; challenge?: string }): string {
  const u = new URL(p.authorizeUrl);
  for (const [k, v] of Object.entries(auth.authorize_params ?? {})) if (!RESERVED_AUTHORIZE_PARAMS.has(k)) u.searchParams.set(k, v);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', p.clientId);
  u.searchParams.set('redirect_uri', p.redirectUri);
  if (auth.scopes?.length) u.searchParams.set('scope', auth.scopes.join(auth.scope_separator ?? ' '));
  u.searchParams.set('state', p.state);
  if (p.challenge) {
    u.searchParams.set('code_challenge', p.challenge);
    u.searchParams.set('code_challenge_method', 'S256');
  }
  return u.toString();
}

/**
 * The token endpoint refused the grant (RFC 6749 §5.2 `invalid_grant`): the code or refresh token is
 * expired, revoked or was issued to another client. Only new consent helps.
 */
export class OAuthGrantError extends TaxbridgeError {
  constructor(system: string, description: string | undefined) {
    super('OAUTH_INVALID_GRANT', `${system} refused the authorization (invalid_grant${description ? `: ${description}` : ''}): the consent was revoked or has expired`, {
      hint: 'authorize again: taxbridge connect --connection <id> --reauthorize',
    });
  }
}

/** Anything else from the token endpoint: app credentials refused (permanent) or the endpoint failing (transient). */
export class OAuthTokenError extends TaxbridgeError {
  constructor(
    code: 'OAUTH_CLIENT_INVALID' | 'OAUTH_TOKEN_REFUSED' | 'OAUTH_TOKEN_UNAVAILABLE',
    message: string,
    readonly status?: number,
    hint?: string,
  ) {
    super(code, message, { hint, ...(status ? { details: { status } } : {}) });
  }
  get transient(): boolean {
    return this.code === 'OAUTH_TOKEN_UNAVAILABLE';
  }
}

function clientAuth(app: OAuthApp, how: 'basic' | 'body', headers: Record<string, string>, form: URLSearchParams): void {
  if (how === 'basic') {
    // RFC 6749 §2.3.1: form-encode id and secret before base64.
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    headers.authorization = `Basic ${Buffer.from(`${enc(app.clientId)}:${enc(app.clientSecret)}`).toString('base64')}`;
  } else {
    form.set('client_id', app.clientId);
    form.set('client_secret', app.clientSecret);
  }
}

async function post(url: string, headers: Record<string, string>, body: string, o: TokenCallOptions): Promise<{ status: number; text: string }> {
  const timeout = AbortSignal.timeout(o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const res = await request(url, {
    method: 'POST',
    headers: { 'user-agent': o.userAgent ?? UA, accept: 'application/json', ...headers },
    body,
    ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
    signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout,
  });
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of res.body) {
    size += (c as Buffer).length;
    if (size > MAX_RESPONSE_BYTES) {
      res.body.destroy();
      throw new OAuthTokenError('OAUTH_TOKEN_UNAVAILABLE', `the answer of ${new URL(url).host} is larger than ${MAX_RESPONSE_BYTES} bytes`, res.statusCode);
    }
    chunks.push(c as Buffer);
  }
  return { status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') };
}

/** POSTs a grant to the token endpoint and reads the token response (RFC 6749 §5.1) or error (§5.2). */
export async function tokenRequest(system: string, tokenUrl: string, app: OAuthApp, how: 'basic' | 'body', grant: Record<string, string>, o: TokenCallOptions = {}): Promise<TokenSet> {
  const form = new URLSearchParams(grant);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  clientAuth(app, how, headers, form);
  let res: { status: number; text: string };
  try {
    res = await post(tokenUrl, headers, form.toString(), o);
  } catch (e) {
    if (e instanceof OAuthTokenError) throw e;
    if (o.signal?.aborted) throw o.signal.reason;
    throw new OAuthTokenError('OAUTH_TOKEN_UNAVAILABLE', `${system}'s token endpoint is unreachable: ${(e as Error).message}`);
  }
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(res.text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  const error = typeof body.error === 'string' ? body.error.slice(0, 100) : undefined;
  const description = typeof body.error_description === 'string' ? body.error_description.slice(0, 300) : undefined;
  if (res.status < 200 || res.status >= 300 || error) {
    if (error === 'invalid_grant') throw new OAuthGrantError(system, description);
    if (error === 'invalid_client' || error === 'unauthorized_client') {
      throw new OAuthTokenError('OAUTH_CLIENT_INVALID', `${system} refused taxbridge's app credentials (${error}${description ? `: ${description}` : ''})`, res.status, `check the deployment's OAuth client id and secret for ${system} (TAXBRIDGE_OAUTH_<NAME>_CLIENT_ID / _CLIENT_SECRET)`);
    }
    const why = `${res.status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`;
    if (res.status === 429 || res.status >= 500) throw new OAuthTokenError('OAUTH_TOKEN_UNAVAILABLE', `${system}'s token endpoint answered ${why}`, res.status);
    throw new OAuthTokenError('OAUTH_TOKEN_REFUSED', `${system}'s token endpoint refused the request (${why})`, res.status);
  }
  if (typeof body.access_token !== 'string' || body.access_token === '' || body.access_token.length > 8192) {
    throw new OAuthTokenError('OAUTH_TOKEN_REFUSED', `${system}'s token endpoint returned no usable access_token`, res.status);
  }
  const tokenType = typeof body.token_type === 'string' ? body.token_type : 'Bearer';
  if (tokenType.toLowerCase() !== 'bearer') throw new OAuthTokenError('OAUTH_TOKEN_REFUSED', `${system} issued a ${tokenType.slice(0, 40)} token; only bearer tokens are supported`, res.status);
  const lifetime = typeof body.expires_in === 'number' ? body.expires_in : typeof body.expires_in === 'string' && /^\d+$/.test(body.expires_in) ? Number(body.expires_in) : undefined;
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string' && k !== 'access_token' && k !== 'refresh_token' && k !== 'id_token' && v.length <= 2048) fields[k] = v;
  return {
    access_token: body.access_token,
    ...(typeof body.refresh_token === 'string' && body.refresh_token !== '' ? { refresh_token: body.refresh_token } : {}),
    token_type: tokenType,
    ...(lifetime !== undefined && Number.isFinite(lifetime) && lifetime > 0 ? { expires_in: lifetime } : {}),
    ...(typeof body.scope === 'string' ? { scope: body.scope } : {}),
    fields,
  };
}

/** RFC 7009 revocation (or Intuit's JSON variant). 200 even for unknown tokens; anything else is an error. */
export async function revokeToken(system: string, url: string, app: OAuthApp, how: 'basic' | 'body', bodyKind: 'form' | 'json', token: string, hint: 'refresh_token' | 'access_token', o: TokenCallOptions = {}): Promise<void> {
  const form = new URLSearchParams({ token, token_type_hint: hint });
  const headers: Record<string, string> = {};
  clientAuth(app, how, headers, form);
  let body: string;
  if (bodyKind === 'json') {
    headers['content-type'] = 'application/json';
    const obj: Record<string, string> = { token };
    if (how === 'body') Object.assign(obj, { client_id: app.clientId, client_secret: app.clientSecret });
    body = JSON.stringify(obj);
  } else {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = form.toString();
  }
  const res = await post(url, headers, body, o).catch((e: unknown) => {
    throw new OAuthTokenError('OAUTH_TOKEN_UNAVAILABLE', `${system}'s revocation endpoint is unreachable: ${(e as Error).message}`);
  });
  if (res.status < 200 || res.status >= 300) throw new OAuthTokenError('OAUTH_TOKEN_REFUSED', `${system}'s revocation endpoint answered ${res.status}`, res.status);
}
