/**
 * The Salesforce shape of OAuth: the API host comes from the token response (`instance_url`, kept as a
 * setting by `settings_from_token` and used by a templated base URL), client credentials in the body
 * (client_secret_post), no `expires_in` (the token is used until a 401, then refreshed), no rotation (the
 * old refresh token is kept). Also: an app whose credentials the system refuses is a configuration error,
 * not a dead grant; a token response whose instance_url breaks the setting's pattern fails the consent.
 * Real sockets: the generic fake authorization server and a resource API here.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuth, type FakeOAuth } from '../fakes/oauth.ts';
import type { ConnectionDoc } from '../src/connections/model.ts';
import { ConnectorRegistry } from '../src/connections/registry.ts';
import { SecretBox, createKeyring, parseMasterKey } from '../src/connections/secrets.ts';
import { ConnectionService } from '../src/connections/service.ts';
import { createHttpClient } from '../src/http/index.ts';
import { checkSpecFile } from '../src/spec/index.ts';
import { tokenPlace, tokenState } from '../src/connections/oauth-tokens.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { createOrganization } from '../src/tax/orgs.ts';

let as: FakeOAuth;
let api: Server;
let apiUrl: string;
let dir: string;
let instanceUrl: string;
let store: Store;
let svc: ConnectionService;
let org: string;
let secret = 'post-secret';
let statuses: number[] = [];

async function authorize(url: string) {
  const v = await as.visit(url);
  const q = new URL(v.location!).searchParams;
  return svc.completeAuthorization({ state: q.get('state') ?? undefined, code: q.get('code') ?? undefined, error: q.get('error') ?? undefined, params: Object.fromEntries(q) });
}

beforeAll(async () => {
  api = createServer((req, res) => {
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const ok = as.checkAccessToken(token).ok && req.url === '/services/data/v60.0/limits';
    statuses.push(ok ? 200 : 401);
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? '{"DailyApiRequests":{"Max":15000}}' : '[{"errorCode":"INVALID_SESSION_ID"}]');
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  instanceUrl = apiUrl;
  as = await startFakeOAuth({
    clients: [{ clientId: 'sf_app', clientSecret: 'post-secret', redirectUris: ['https://tb.example.test/oauth/callback'], authMethods: ['client_secret_post'] }],
    rotateRefreshTokens: false,
    extraTokenFields: () => ({ instance_url: instanceUrl, id: 'https://login.example/id/00D/005', expires_in: undefined }),
  });
  dir = mkdtempSync(join(tmpdir(), 'tb-oauth-sf-'));
  writeFileSync(
    join(dir, 'salesforceish.yaml'),
    `spec_version: 1
name: salesforceish
title: Salesforce-ish
environments:
  production: { base_url: '{{ settings.instance_url }}/services/data/v60.0' }
  sandbox: { base_url: '{{ settings.instance_url }}/services/data/v60.0' }
settings:
  - { name: instance_url, title: Instance URL, pattern: '^(https://[a-z0-9-]+\\.my\\.salesforce\\.com|http://127\\.0\\.0\\.1:\\d+)$' }
auth:
  type: oauth2_authorization_code
  authorize_url: ${as.authorizeUrl}
  token_url: ${as.tokenUrl}
  client_auth: body
  scopes: [api, refresh_token]
  authorize_params: { prompt: consent, state: not-mine }
  settings_from_token: { instance_url: instance_url }
check:
  request: { path: /limits }
streams:
  customers:
    entity: customer
    request: { path: /query }
    records: records
    mapping: '{ "external_id": Id, "name": Name }'
`,
  );
  store = await openStore({ memory: true });
  svc = new ConnectionService({
    store,
    registry: ConnectorRegistry.load(dir),
    box: new SecretBox(createKeyring(parseMasterKey(randomBytes(32).toString('base64'), 'test'))),
    publicUrl: 'https://tb.example.test',
    allowLoopbackHttp: true,
    oauthApps: () => ({ clientId: 'sf_app', clientSecret: secret }),
  });
  org = (await createOrganization(store, { name: 'SF Co', mode: 'test' })).id;
});

afterAll(async () => {
  await store?.close();
  await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  await as?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('settings from the token response, client_secret_post, no expires_in', () => {
  it('keeps instance_url as a setting, builds the host from it, and refreshes only on a 401 keeping the unrotated refresh token', async () => {
    const r = await svc.connect({ connector: 'salesforceish', organization_id: org });
    const url = new URL(r.authorization_url!);
    expect(url.searchParams.get('prompt')).toBe('consent');
    expect(url.searchParams.get('state')).not.toBe('not-mine');
    const lint = checkSpecFile(join(dir, 'salesforceish.yaml')).diagnostics;
    expect(lint.filter((d) => d.severity === 'error')).toEqual([]);
    expect(lint.find((d) => d.code === 'LINT_OAUTH_RESERVED_PARAM')).toMatchObject({ path: 'auth.authorize_params.state', severity: 'warning' });
    const done = await authorize(r.authorization_url!);
    expect(done).toMatchObject({ outcome: 'authorized', connection: { status: 'active', settings: { instance_url: apiUrl } } });
    const doc = (await store.get<ConnectionDoc>('connections', r.connection.id))!;
    expect(doc.oauth!.expires_at).toBeUndefined();
    const tokenRequests = as.requests.filter((x) => x.path.endsWith('/token'));
    expect(tokenRequests.every((x) => !x.headers.authorization)).toBe(true);

    const client = createHttpClient(svc.specOf(doc), svc.context(doc));
    try {
      expect((await client.request({ path: '/limits' })).status).toBe(200);
      as.expireAccessTokens();
      statuses = [];
      expect((await client.request({ path: '/limits' })).status).toBe(200);
      expect(statuses).toEqual([401, 200]);
    } finally {
      await client.close();
    }
    const after = (await store.get<ConnectionDoc>('connections', r.connection.id))!;
    expect(after.oauth!.version).toBe(doc.oauth!.version + 1);
    expect(after.oauth!.refresh_token).toBeDefined();
    // The same (unrotated) refresh token keeps working.
    as.expireAccessTokens();
    const again = createHttpClient(svc.specOf(after), svc.context(after));
    try {
      expect((await again.request({ path: '/limits' })).status).toBe(200);
    } finally {
      await again.close();
    }
    expect(as.stats.invalidGrants).toBe(0);
    expect(after.status).toBe('active');
    await svc.disconnect(r.connection.id);
  });

  it('refused app credentials are a configuration error, not a dead grant', async () => {
    const r = await svc.connect({ connector: 'salesforceish', organization_id: org });
    await authorize(r.authorization_url!);
    const doc = (await store.get<ConnectionDoc>('connections', r.connection.id))!;
    as.expireAccessTokens();
    secret = 'wrong';
    const client = createHttpClient(svc.specOf(doc), svc.context(doc));
    try {
      await expect(client.request({ path: '/limits' })).rejects.toMatchObject({ code: 'OAUTH_CLIENT_INVALID' });
    } finally {
      await client.close();
      secret = 'post-secret';
    }
    expect((await store.get<ConnectionDoc>('connections', r.connection.id))!.status).toBe('active');
    await svc.disconnect(r.connection.id);
  });

  it('a token response whose instance_url breaks the pattern fails the consent and keeps nothing', async () => {
    instanceUrl = 'https://attacker.example';
    try {
      const r = await svc.connect({ connector: 'salesforceish', organization_id: org });
      const done = await authorize(r.authorization_url!);
      expect(done).toMatchObject({ outcome: 'refused', code: 'OAUTH_SETTING_INVALID' });
      const doc = (await store.get<ConnectionDoc>('connections', r.connection.id))!;
      expect(doc.status).toBe('pending');
      expect(doc.oauth).toBeUndefined();
      expect(doc.settings.instance_url).toBeUndefined();
      expect(doc.last_error?.code).toBe('oauth_setting_invalid');
    } finally {
      instanceUrl = apiUrl;
    }
  });

  it('a refresh answer without refresh_token keeps the stored one (RFC 6749 §6); a new one replaces it', () => {
    const box = new SecretBox(createKeyring(parseMasterKey(randomBytes(32).toString('base64'), 'test')));
    const auth = { type: 'oauth2_authorization_code' as const, authorize_url: 'https://a.example/authorize', token_url: 'https://a.example/token' };
    const first = tokenState(box, 'conn_x', { access_token: 'at1', refresh_token: 'rt1', token_type: 'bearer', expires_in: 3600, fields: {} }, 0, auth);
    const kept = tokenState(box, 'conn_x', { access_token: 'at2', token_type: 'bearer', expires_in: 3600, fields: {} }, 1000, auth, first);
    expect(box.open(kept.refresh_token!, tokenPlace('conn_x', 'refresh_token'))).toBe('rt1');
    expect(box.open(kept.access_token, tokenPlace('conn_x', 'access_token'))).toBe('at2');
    expect(kept).toMatchObject({ version: 2, authorized_at: first.authorized_at, expires_at: new Date(3_601_000).toISOString() });
    const rotated = tokenState(box, 'conn_x', { access_token: 'at3', refresh_token: 'rt2', token_type: 'bearer', fields: {} }, 2000, { ...auth, default_expires_in_seconds: 60 }, kept);
    expect(box.open(rotated.refresh_token!, tokenPlace('conn_x', 'refresh_token'))).toBe('rt2');
    expect(rotated.expires_at).toBe(new Date(62_000).toISOString());
    // A token sealed for one connection does not open as another's.
    expect(() => box.open(rotated.refresh_token!, tokenPlace('conn_y', 'refresh_token'))).toThrow();
  });
});
