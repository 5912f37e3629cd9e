/**
 * The fake OAuth 2.0 authorization server over real sockets: authorization code with PKCE S256 and
 * state, consent approved / denied / given extra redirect parameters, client_secret_basic and
 * client_secret_post, rotating refresh tokens, revocation, revoked consent -> invalid_grant, and
 * RFC 6749 error bodies. PKCE challenges are computed here, independently of the fake's code.
 */
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuth, type FakeOAuth } from '../fakes/index.ts';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const REDIRECT = 'http://127.0.0.1:9/cb';
const basic = (id: string, secret: string): string =>
  'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`, 'utf8').toString('base64');

async function post(url: string, form: Record<string, string> | string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Json }> {
  const body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
  const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** RFC 7636: verifier from the unreserved set, challenge = base64url(sha256(verifier)) without padding. */
function pkce(): { verifier: string; challenge: string } {
  const verifier = 'v'.repeat(10) + Math.random().toString(36).slice(2).padEnd(40, 'x') + '-._~';
  const challenge = createHash('sha256').update(verifier).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return { verifier, challenge };
}

function query(location: string | undefined): URLSearchParams {
  expect(location).toBeDefined();
  const u = new URL(location!);
  expect(`${u.origin}${u.pathname}`).toBe(REDIRECT);
  return u.searchParams;
}

describe('fake OAuth 2.0 server', () => {
  let as: FakeOAuth;

  beforeAll(async () => {
    as = await startFakeOAuth({
      clients: [
        { clientId: 'app', clientSecret: 's3cret:with%chars+', redirectUris: [REDIRECT] },
        { clientId: 'basic_only', clientSecret: 'b', redirectUris: [REDIRECT], authMethods: ['client_secret_basic'] },
        { clientId: 'post_only', clientSecret: 'p', redirectUris: [REDIRECT], authMethods: ['client_secret_post'] },
      ],
      scopes: ['read', 'write', 'offline_access'],
      accessTokenTtlSeconds: 60,
    });
  });
  afterAll(async () => {
    await as.close();
  });

  /** Authorize (approved) and exchange the code with Basic auth; returns the token response. */
  async function authorize(clientId = 'app', secret = 's3cret:with%chars+'): Promise<Json> {
    const { verifier, challenge } = pkce();
    const v = await as.visit(as.buildAuthorizeUrl({ clientId, redirectUri: REDIRECT, scope: 'read write', state: 'st', codeChallenge: challenge }));
    const code = query(v.location).get('code')!;
    const r = await post(as.tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic(clientId, secret) });
    expect(r.status).toBe(200);
    return r.body;
  }

  it('runs the authorization code flow with PKCE S256 and echoes state', async () => {
    const { verifier, challenge } = pkce();
    const v = await as.visit(as.buildAuthorizeUrl({ clientId: 'app', redirectUri: REDIRECT, scope: 'read offline_access', state: 'xyz-123', codeChallenge: challenge }));
    expect(v.status).toBe(302);
    const q = query(v.location);
    expect(q.get('state')).toBe('xyz-123');
    expect(q.get('code')).toMatch(/^code_/);
    const r = await post(as.tokenUrl, { grant_type: 'authorization_code', code: q.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic('app', 's3cret:with%chars+') });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.body).toEqual({ access_token: expect.stringMatching(/^at_/), token_type: 'Bearer', expires_in: 60, refresh_token: expect.stringMatching(/^rt_/), scope: 'read offline_access' });
    expect(as.checkAccessToken(r.body.access_token).ok).toBe(true);
  });

  it('refuses a wrong or missing code_verifier and a replayed code (which revokes its tokens)', async () => {
    const { verifier, challenge } = pkce();
    const go = async (): Promise<string> => query((await as.visit(as.buildAuthorizeUrl({ clientId: 'app', redirectUri: REDIRECT, state: 's', codeChallenge: challenge }))).location).get('code')!;
    const auth = { authorization: basic('app', 's3cret:with%chars+') };

    const wrong = await post(as.tokenUrl, { grant_type: 'authorization_code', code: await go(), redirect_uri: REDIRECT, code_verifier: pkce().verifier }, auth);
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining('PKCE') });
    const none = await post(as.tokenUrl, { grant_type: 'authorization_code', code: await go(), redirect_uri: REDIRECT }, auth);
    expect(none.body.error).toBe('invalid_grant');

    const code = await go();
    const first = await post(as.tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
    expect(first.status).toBe(200);
    const again = await post(as.tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expect(as.checkAccessToken(first.body.access_token)).toMatchObject({ ok: false, reason: 'revoked' });
    const refresh = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token }, auth);
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('redirects errors back with state: plain PKCE, unknown scope, denied consent', async () => {
    const plain = await as.visit(as.buildAuthorizeUrl({ clientId: 'app', redirectUri: REDIRECT, state: 'a', extra: { code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' } }));
    expect(Object.fromEntries(query(plain.location))).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('S256'), state: 'a' });
    const scope = await as.visit(as.buildAuthorizeUrl({ clientId: 'app', redirectUri: REDIRECT, state: 'b', scope: 'read admin' }));
    expect(query(scope.location).get('error')).toBe('invalid_scope');
    as.denyNext();
    const denied = await as.visit(as.buildAuthorizeUrl({ clientId: 'app', redirectUri: REDIRECT, state: 'c' }));
    const q = query(denied.location);
    expect(q.get('error')).toBe('access_denied');
    expect(q.get('state')).toBe('c');
    expect(q.has('code')).toBe(false);
  });

  it('never redirects for an unknown client or an unregistered redirect URI', async () => {
    const unknown = await as.visit(as.buildAuthorizeUrl({ clientId: 'nobody', redirectUri: REDIRECT, state: 'a' }));
    expect(unknown.status).toBe(400);
    expect(unknown.location).toBeUndefined();
    expect(JSON.parse(unknown.body).error).toBe('invalid_client');
    const foreign = await as.visit(as.buildAuthorizeUrl({ clientId: 'app', redirectUri: 'http://127.0.0.1:9/cb/', state: 'a' }));
    expect(foreign.status).toBe(400);
    expect(JSON.parse(foreign.body)).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('exact match') });
  });

  it('adds extra redirect parameters and keeps them on the grant', async () => {
    as.approveNext({ redirectParams: { realmId: '1234567890' }, context: { realmId: '1234567890' } });
    const v = await as.visit(as.buildAuthorizeUrl({ clientId: 'app', redirectUri: REDIRECT, state: 'r' }));
    const q = query(v.location);
    expect(q.get('realmId')).toBe('1234567890');
    const r = await post(as.tokenUrl, { grant_type: 'authorization_code', code: q.get('code')!, redirect_uri: REDIRECT }, { authorization: basic('app', 's3cret:with%chars+') });
    const check = as.checkAccessToken(r.body.access_token);
    expect(check.ok && check.grant.context).toEqual({ realmId: '1234567890' });
  });

  it('authenticates clients by Basic or by body, one method at a time, as each client allows', async () => {
    const t = await authorize();
    const rt = t.refresh_token as string;
    const both = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: rt, client_id: 'app', client_secret: 's3cret:with%chars+' }, { authorization: basic('app', 's3cret:with%chars+') });
    expect(both.body.error).toBe('invalid_request');
    const wrong = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: rt }, { authorization: basic('app', 'nope') });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic/);
    const none = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: rt });
    expect(none.status).toBe(401);
    const viaBody = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: rt, client_id: 'app', client_secret: 's3cret:with%chars+' });
    expect(viaBody.status).toBe(200);

    await authorize('basic_only', 'b');
    const { verifier, challenge } = pkce();
    const code = query((await as.visit(as.buildAuthorizeUrl({ clientId: 'post_only', redirectUri: REDIRECT, codeChallenge: challenge }))).location).get('code')!;
    const exchange = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    const refused = await post(as.tokenUrl, exchange, { authorization: basic('post_only', 'p') });
    expect(refused.status).toBe(401);
    expect(refused.body.error_description).toContain('client_secret_post');
    const ok = await post(as.tokenUrl, { ...exchange, client_id: 'post_only', client_secret: 'p' });
    expect(ok.status).toBe(200);
  });

  it('rotates refresh tokens: the old one gets invalid_grant, the new one works', async () => {
    const t = await authorize();
    const auth = { authorization: basic('app', 's3cret:with%chars+') };
    const r1 = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: t.refresh_token }, auth);
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(t.refresh_token);
    expect(r1.body.access_token).not.toBe(t.access_token);
    const reuse = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: t.refresh_token }, auth);
    expect(reuse.status).toBe(400);
    expect(reuse.body).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining('rotation') });
    const r2 = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: r1.body.refresh_token }, auth);
    expect(r2.status).toBe(200);
    const wider = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: r2.body.refresh_token, scope: 'read write offline_access' }, auth);
    expect(wider.body.error).toBe('invalid_scope');
  });

  it('expires access tokens on its own clock', async () => {
    const t = await authorize();
    expect(as.checkAccessToken(t.access_token).ok).toBe(true);
    as.advanceTime(61);
    expect(as.checkAccessToken(t.access_token)).toMatchObject({ ok: false, reason: 'expired' });
    const r = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: t.refresh_token }, { authorization: basic('app', 's3cret:with%chars+') });
    expect(as.checkAccessToken(r.body.access_token).ok).toBe(true);
  });

  it('revokes through RFC 7009 and through a revoked consent; the next refresh gets invalid_grant', async () => {
    const auth = { authorization: basic('app', 's3cret:with%chars+') };
    const a = await authorize();
    const rev = await post(as.revokeUrl, { token: a.refresh_token, token_type_hint: 'refresh_token' }, auth);
    expect(rev.status).toBe(200);
    expect(as.checkAccessToken(a.access_token)).toMatchObject({ ok: false, reason: 'revoked' });
    expect((await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: a.refresh_token }, auth)).body.error).toBe('invalid_grant');
    expect((await post(as.revokeUrl, { token: 'never-issued' }, auth)).status).toBe(200);

    as.approveNext({ context: { tenant: 't-42' } });
    const b = await authorize();
    expect(as.revokeConsent({ tenant: 't-42' })).toBe(1);
    const r = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: b.refresh_token }, auth);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining('authorize again') });
  });

  it('answers RFC 6749 errors for malformed token requests and injected faults', async () => {
    const auth = { authorization: basic('app', 's3cret:with%chars+') };
    expect((await post(as.tokenUrl, { grant_type: 'password' }, auth)).body.error).toBe('unsupported_grant_type');
    expect((await post(as.tokenUrl, 'grant_type=refresh_token&grant_type=refresh_token', auth)).body.error).toBe('invalid_request');
    const json = await request(as.tokenUrl, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', ...auth } });
    expect(json.statusCode).toBe(400);
    expect((await json.body.json() as Json).error).toBe('invalid_request');
    as.faults.failNext(1, 503);
    const f = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: 'x' }, auth);
    expect(f.status).toBe(503);
    expect(f.body.error).toBe('temporarily_unavailable');
    const meta = await request(`${as.url}/.well-known/oauth-authorization-server`);
    expect(await meta.body.json()).toMatchObject({ token_endpoint: as.tokenUrl, code_challenge_methods_supported: ['S256'] });
  });
});

describe('fake OAuth 2.0 server with a rotation grace window (Intuit-style)', () => {
  it('keeps a rotated-out refresh token working for the grace period only', async () => {
    const as = await startFakeOAuth({ clients: [{ clientId: 'c', clientSecret: 's', redirectUris: [REDIRECT] }], refreshTokenGraceSeconds: 60, tokenType: 'bearer', refreshExpiresInField: 'x_refresh_token_expires_in', includeScope: false });
    try {
      const t = as.issueTokens('c').tokens;
      expect(Object.keys(t).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type', 'x_refresh_token_expires_in']);
      const auth = { authorization: basic('c', 's') };
      const first = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: t.refresh_token! }, auth);
      expect(first.status).toBe(200);
      const within = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: t.refresh_token! }, auth);
      expect(within.status).toBe(200);
      as.advanceTime(61);
      const after = await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: t.refresh_token! }, auth);
      expect(after.body.error).toBe('invalid_grant');
      expect((await post(as.tokenUrl, { grant_type: 'refresh_token', refresh_token: within.body.refresh_token }, auth)).status).toBe(200);
    } finally {
      await as.close();
    }
  });
});
