/**
 * An OAuth token refresh happens once across replicas: two replicas (two PostgresStores with their own pools,
 * two coordinators, two connection services) on one fresh database find the stored access token expired at the
 * same moment and each ask for a token several times. The authorization server (rotating refresh tokens, so a
 * second refresh with the old one would be refused) sees one refresh; every caller on both replicas gets the
 * new access token; the connection stays active. The database is dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuth, type FakeOAuth } from '../fakes/oauth.ts';
import { SharedCoordinator } from '../src/coordination/index.ts';
import type { ConnectionDoc } from '../src/connections/model.ts';
import { ConnectorRegistry } from '../src/connections/registry.ts';
import { SecretBox, createKeyring, parseMasterKey } from '../src/connections/secrets.ts';
import { ConnectionService } from '../src/connections/service.ts';
import { openConfiguredStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { createOrganization } from '../src/tax/orgs.ts';
import { createTestDatabase, type TestDatabase } from './helpers/pg.ts';

let as: FakeOAuth;
let db: TestDatabase;
let dir: string;
const stores: Store[] = [];
const coordinators: SharedCoordinator[] = [];
const services: ConnectionService[] = [];
/** Both replicas' clocks: moved past the access token's expiry to make it due for a refresh. */
let skewMs = 0;

beforeAll(async () => {
  as = await startFakeOAuth({
    clients: [{ clientId: 'app', clientSecret: 'app-secret', redirectUris: ['https://tb.example.test/oauth/callback'] }],
    rotateRefreshTokens: true,
    accessTokenTtlSeconds: 3600,
  });
  dir = mkdtempSync(join(tmpdir(), 'tb-oauth-replicas-'));
  writeFileSync(
    join(dir, 'oauthish.yaml'),
    `spec_version: 1
name: oauthish
title: OAuth-ish
environments:
  production: { base_url: 'http://127.0.0.1:9/api' }
  sandbox: { base_url: 'http://127.0.0.1:9/api' }
auth:
  type: oauth2_authorization_code
  authorize_url: ${as.authorizeUrl}
  token_url: ${as.tokenUrl}
  scopes: [read]
streams:
  customers:
    entity: customer
    request: { path: /customers }
    records: customers
    mapping: '{ "external_id": id, "name": name }'
`,
  );
  db = await createTestDatabase();
  const box = new SecretBox(createKeyring(parseMasterKey(randomBytes(32).toString('base64'), 'test')));
  for (const name of ['replica-a', 'replica-b']) {
    const store = await openConfiguredStore({ dataDir: '', databaseUrl: db.url });
    stores.push(store);
    const co = new SharedCoordinator({ store, replicaId: name, leaseMs: 2000, pollMs: 100 });
    await co.start();
    coordinators.push(co);
    services.push(
      new ConnectionService({
        store,
        registry: ConnectorRegistry.load(dir),
        box,
        publicUrl: 'https://tb.example.test',
        allowLoopbackHttp: true,
        oauthApps: () => ({ clientId: 'app', clientSecret: 'app-secret' }),
        now: () => new Date(Date.now() + skewMs),
        exclusive: (n, fn) => co.exclusive(n, fn),
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  for (const c of coordinators) await c.stop();
  for (const s of stores) await s.close();
  await db?.drop();
  await as?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('OAuth refresh with two replicas on one database', () => {
  it('spends the refresh token once; every caller on both replicas gets the new access token', async () => {
    const [a, b] = services as [ConnectionService, ConnectionService];
    const org = (await createOrganization(stores[0]!, { name: 'OAuth Co', mode: 'test' })).id;
    const r = await a.connect({ connector: 'oauthish', organization_id: org, skip_webhooks: true });
    const v = await as.visit(r.authorization_url!);
    const q = new URL(v.location!).searchParams;
    const done = await a.completeAuthorization({ state: q.get('state') ?? undefined, code: q.get('code') ?? undefined, params: Object.fromEntries(q) });
    expect(done.outcome).toBe('authorized');
    const id = r.connection.id;
    const spec = a.specOf((await stores[0]!.get<ConnectionDoc>('connections', id))!);
    const first = await a.oauth.accessToken(id, spec);
    expect(await b.oauth.accessToken(id, spec)).toBe(first); // read from the database, no refresh
    const tokenCalls = () => as.requests.filter((x) => x.method === 'POST' && x.path.endsWith('/token')).length;
    const before = tokenCalls();

    skewMs = 2 * 3600_000; // both replicas now see the token expired
    const got = await Promise.all([a, b, a, b, a, b].map((s) => s.oauth.accessToken(id, spec)));
    expect(tokenCalls() - before).toBe(1);
    expect(new Set(got).size).toBe(1);
    expect(got[0]).not.toBe(first);
    expect(as.checkAccessToken(got[0]).ok).toBe(true);
    const doc = (await stores[1]!.get<ConnectionDoc>('connections', id))!;
    expect(doc.status).toBe('active');
    expect(as.stats.invalidGrants).toBe(0);
  }, 60_000);
});
