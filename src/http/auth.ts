import { request, type Dispatcher } from 'undici';
import { compileTemplate, renderTemplate, templateExpressions } from '../expressions/index.ts';
import { TaxbridgeError } from '../errors.ts';
import type { AccessTokenSource, AuthSpec } from '../spec/types.ts';
import { buildUrl } from './render.ts';

/** Adds credentials to an outgoing request; oauth2 also keeps the access token. */
export interface Authenticator {
  apply(headers: Record<string, string>, query: Array<[string, string]>, signal?: AbortSignal): Promise<void>;
  /** True when the auth can recover from a 401 by getting a new token (oauth2). */
  readonly refreshable: boolean;
  /** Forget the cached token so the next request fetches a new one. */
  invalidate(): void;
}

/** Reported by the token endpoint; the client turns it into the connection's typed error. */
export class TokenRequestError extends Error {
  constructor(
    readonly status: number | undefined,
    readonly upstream: string,
  ) {
    super(upstream);
  }
}

export interface AuthEnv {
  context: Record<string, unknown>;
  baseUrl: string;
  dispatcher: Dispatcher;
  timeoutMs: number;
  now: () => number;
  userAgent: string;
  /** auth oauth2_authorization_code: the connection's stored tokens. */
  tokens?: AccessTokenSource;
}

async function renderText(source: string, ctx: Record<string, unknown>): Promise<string> {
  const v = await renderTemplate(compileTemplate(source), ctx, ctx);
  return v === null || v === undefined ? '' : String(v);
}

/** Names of the credentials an auth block reads (for "replace client_id, client_secret" hints). */
export function authCredentialNames(auth: AuthSpec): string[] {
  const names = new Set<string>();
  for (const { segment } of templateExpressions(auth)) for (const m of segment.source.matchAll(/credentials\.([a-z][a-z0-9_]*)/g)) names.add(m[1]!);
  return [...names];
}

export function createAuthenticator(auth: AuthSpec, env: AuthEnv): Authenticator {
  switch (auth.type) {
    case 'none':
      return { refreshable: false, invalidate() {}, async apply() {} };
    case 'basic': {
      let value: Promise<string> | undefined;
      return {
        refreshable: false,
        invalidate() {},
        async apply(headers) {
          value ??= Promise.all([renderText(auth.username, env.context), renderText(auth.password, env.context)]).then(
            ([u, p]) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`,
          );
          headers.authorization = await value;
        },
      };
    }
    case 'bearer': {
      let value: Promise<string> | undefined;
      return {
        refreshable: false,
        invalidate() {},
        async apply(headers) {
          value ??= renderText(auth.token, env.context);
          headers.authorization = `Bearer ${await value}`;
        },
      };
    }
    case 'api_key': {
      let value: Promise<string> | undefined;
      return {
        refreshable: false,
        invalidate() {},
        async apply(headers, query) {
          value ??= renderText(auth.value, env.context);
          const key = await value;
          if (auth.in === 'header') headers[auth.name.toLowerCase()] = key;
          else query.push([auth.name, key]);
        },
      };
    }
    case 'oauth2_client_credentials':
      return oauth2(auth, env);
    case 'oauth2_authorization_code':
      return oauth2Code(env);
  }
}

/**
 * Authorization code: the token lives with the connection (env.tokens, src/connections/oauth-tokens.ts),
 * which refreshes, persists and shares it; a 401 reports the token used so the next request refreshes.
 */
function oauth2Code(env: AuthEnv): Authenticator {
  let last: string | undefined;
  return {
    refreshable: true,
    invalidate() {
      if (last !== undefined) env.tokens?.rejected(last);
    },
    async apply(headers, _query, signal) {
      if (!env.tokens) {
        throw new TaxbridgeError('OAUTH_NOT_AUTHORIZED', 'this connection authenticates with OAuth and has no stored authorization', {
          hint: 'complete the authorization: taxbridge connect --connection <id> --reauthorize',
        });
      }
      last = await env.tokens.accessToken(signal);
      headers.authorization = `Bearer ${last}`;
    },
  };
}

function oauth2(auth: Extract<AuthSpec, { type: 'oauth2_client_credentials' }>, env: AuthEnv): Authenticator {
  const marginMs = (auth.refresh_margin_seconds ?? 60) * 1000;
  let token: { value: string; expiresAt: number } | undefined;
  // Concurrent requests share one token fetch.
  let pending: Promise<string> | undefined;

  async function fetchToken(signal?: AbortSignal): Promise<string> {
    const [url, id, secret] = await Promise.all([renderText(auth.token_url, env.context), renderText(auth.client_id, env.context), renderText(auth.client_secret, env.context)]);
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scopes?.length) form.set('scope', auth.scopes.join(' '));
    if (auth.audience) form.set('audience', auth.audience);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': env.userAgent };
    if ((auth.client_auth ?? 'basic') === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    } else {
      form.set('client_id', id);
      form.set('client_secret', secret);
    }
    const timeout = AbortSignal.timeout(env.timeoutMs);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(buildUrl(env.baseUrl, url, []), {
        method: 'POST',
        headers,
        body: form.toString(),
        dispatcher: env.dispatcher,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      throw new TokenRequestError(undefined, `token endpoint unreachable: ${(e as Error).message}`);
    }
    const text = await res.body.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Reported below as a missing access_token.
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const why = [body.error, body.error_description].filter((v) => typeof v === 'string').join(': ');
      throw new TokenRequestError(res.statusCode, `token endpoint answered ${res.statusCode}${why ? ` (${why})` : ''}`);
    }
    if (typeof body.access_token !== 'string' || body.access_token === '') throw new TokenRequestError(res.statusCode, 'token endpoint returned no access_token');
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600);
    token = { value: body.access_token, expiresAt: env.now() + (Number.isFinite(lifetime) ? lifetime : 3600) * 1000 };
    return token.value;
  }

  return {
    refreshable: true,
    invalidate() {
      token = undefined;
    },
    async apply(headers, _query, signal) {
      let value: string;
      if (token && env.now() < token.expiresAt - marginMs) value = token.value;
      else {
        pending ??= fetchToken(signal).finally(() => {
          pending = undefined;
        });
        value = await pending;
      }
      headers.authorization = `Bearer ${value}`;
    },
  };
}
