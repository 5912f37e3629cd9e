/**
 * The seeds' connect flows against the fake Sequence and Rillet over real sockets: checks, choices, webhook
 * registration, sealed credentials, the tax API key, the sandbox/test rule, disconnect.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeRillet, startFakeSequence, type FakeRillet, type FakeSequence } from '../fakes/index.ts';
import { connectionLookup } from '../src/connections/lookup.ts';
import { CONNECTIONS, type ConnectionDoc } from '../src/connections/model.ts';
import { ConnectorRegistry } from '../src/connections/registry.ts';
import { SecretBox, createKeyring, parseMasterKey } from '../src/connections/secrets.ts';
import { ConnectionService, type ConnectionHooks } from '../src/connections/service.ts';
import { connectionStatus } from '../src/connections/status.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { API_KEYS, parseApiKey, verifyApiKey } from '../src/tax/keys.ts';
import type { ApiKeyDoc } from '../src/tax/model.ts';
import { createOrganization } from '../src/tax/orgs.ts';
import { registerWebhook } from '../src/webhooks/registration.ts';
import { entityValidator } from '../src/spec/index.ts';

const CONNECTORS_DIR = join(import.meta.dirname, '..', 'connectors');

let seq: FakeSequence;
let ril: FakeRillet;
let store: Store;
let svc: ConnectionService;
let hookCalls: Array<{ hook: keyof ConnectionHooks; id: string; status: string }>;
let testOrg: string;
let liveOrg: string;

beforeAll(async () => {
  [seq, ril] = await Promise.all([startFakeSequence({ counts: { customers: 3, products: 2, invoices: 2, creditNotes: 0 } as never }), startFakeRillet({ counts: { customers: 3 } as never })]);
});
afterAll(async () => {
  await Promise.all([seq?.close(), ril?.close()]);
});

beforeEach(async () => {
  store = await openStore({ memory: true });
  const box = new SecretBox(createKeyring(parseMasterKey(randomBytes(32).toString('base64'), 'test')));
  hookCalls = [];
  const rec = (hook: keyof ConnectionHooks) => (doc: ConnectionDoc) => void hookCalls.push({ hook, id: doc.id, status: doc.status });
  svc = new ConnectionService({
    store,
    registry: ConnectorRegistry.load(CONNECTORS_DIR),
    box,
    publicUrl: 'http://127.0.0.1:9999/',
    registrar: {
      async register(spec, conn, url) {
        const r = await registerWebhook(spec, conn, { url, store });
        return r.registration_id ? { registration_id: r.registration_id } : {};
      },
    },
    hooks: { activated: rec('activated'), changed: rec('changed'), deactivated: rec('deactivated') },
  });
  testOrg = (await createOrganization(store, { name: 'Test Co', mode: 'test' })).id;
  liveOrg = (await createOrganization(store, { name: 'Live Co', mode: 'live' })).id;
});

// Every stored connection, in whatever state a test left it, matches schemas/entities/connection.schema.json.
afterEach(async () => {
  const validate = entityValidator('connection');
  for (const doc of await store.list(CONNECTIONS)) {
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
  }
});

const seqCreds = () => ({ client_id: seq.clientId, client_secret: seq.clientSecret });

async function rawDoc(id: string): Promise<ConnectionDoc> {
  return (await store.get<ConnectionDoc>(CONNECTIONS, id))!;
}

describe('Sequence: credentials -> check -> webhook registered -> tax key -> active', () => {
  it('connects a sandbox to a test organization', async () => {
    const policiesBefore = seq.data.policies.size;
    const r = await svc.connect({ connector: 'sequence', organization_id: testOrg, credentials: seqCreds(), base_url: seq.url });
    const c = r.connection;
    expect(c.status).toBe('active');
    expect(c.environment).toBe('sandbox');
    expect(c.webhook.mode).toBe('api');
    expect(c.webhook.registration_id).toBeTruthy();
    expect(c.checked_at).toBeTruthy();
    expect(c.backfill).toEqual({ status: 'pending' });
    expect(hookCalls).toEqual([{ hook: 'activated', id: c.id, status: 'active' }]);

    // The policy in the fake points at this connection's URL and carries the generated secret.
    expect(seq.data.policies.size).toBe(policiesBefore + 1);
    const policy = [...seq.data.policies.values()].find((p) => p.id === c.webhook.registration_id)!;
    const doc = await rawDoc(c.id);
    expect(policy.recipients).toEqual([`http://127.0.0.1:9999/webhooks/${doc.webhook_token}`]);
    const ctx = svc.context(doc);
    expect(ctx.credentials.webhook_secret).toMatch(/^whsec_/);
    expect(policy.webhookSecret).toBe(ctx.credentials.webhook_secret);

    // Secrets are sealed at rest; the client id (secret: false) is plain and shown.
    expect(doc.credentials.client_secret).toMatch(/^enc:v1:/);
    expect(doc.credentials.webhook_secret).toMatch(/^enc:v1:/);
    expect(doc.credentials.client_id).toBe(seq.clientId);
    const stored = JSON.stringify(doc);
    expect(stored).not.toContain(seq.clientSecret);
    expect(stored).not.toContain(ctx.credentials.webhook_secret!);
    expect(c.credentials.client_id).toEqual({ set: true, value: seq.clientId, title: 'Client ID' });
    expect(c.credentials.client_secret).toEqual({ set: true, title: 'Client secret' });
    expect(JSON.stringify(r)).not.toContain(seq.clientSecret);

    // The tax API key: shown once, stored only as a hash, of the organization's mode.
    expect(r.tax_api_key).toMatch(/^tb_test_/);
    const parsed = parseApiKey(r.tax_api_key!)!;
    const keyDoc = (await store.get<ApiKeyDoc>(API_KEYS, parsed.id))!;
    expect(keyDoc.organization_id).toBe(testOrg);
    expect(verifyApiKey(r.tax_api_key!, keyDoc.hash)).toBe(true);
    expect(JSON.stringify(keyDoc)).not.toContain(r.tax_api_key!);
    expect(c.tax_api_key).toEqual({ id: parsed.id, prefix: keyDoc.prefix });
    expect(r.messages.join(' ')).toMatch(/shown once/);

    // The tax API finds customers through `streams`.
    expect(doc.streams.customer).toEqual(['customers']);
  });

  it('refuses bad credentials with a clear message and stores nothing', async () => {
    const err = await svc.connect({ connector: 'sequence', organization_id: testOrg, credentials: { client_id: seq.clientId, client_secret: 'wrong-secret' }, base_url: seq.url }).catch((e) => e);
    expect(err.code).toBe('CONNECTION_BAD_CREDENTIALS');
    expect(err.message).toMatch(/Sequence \(sandbox\) rejected the credentials: HTTP 401/);
    expect(err.hint).toMatch(/Client ID and Client secret/);
    expect(err.message + err.hint).not.toContain('wrong-secret');
    expect(await store.list(CONNECTIONS)).toEqual([]);
  });

  it('names a missing or misspelt credential', async () => {
    const missing = await svc.connect({ connector: 'sequence', organization_id: testOrg, credentials: { client_id: 'x' }, base_url: seq.url }).catch((e) => e);
    expect(missing.code).toBe('CONNECTION_INPUT');
    expect(missing.message).toContain('Client secret (client_secret)');
    expect(missing.details.field).toBe('credentials.client_secret');
    const typo = await svc.connect({ connector: 'sequence', organization_id: testOrg, credentials: { ...seqCreds(), client_secrt: 'x' }, base_url: seq.url }).catch((e) => e);
    expect(typo.message).toMatch(/no credential named "client_secrt"; did you mean "client_secret"\?/);
    const connector = await svc.connect({ connector: 'sequense', organization_id: testOrg, credentials: seqCreds() }).catch((e) => e);
    expect(connector.code).toBe('CONNECTOR_UNKNOWN');
    expect(connector.message).toContain('did you mean "sequence"');
  });

  it('keeps sandbox with test organizations and production with live ones', async () => {
    const a = await svc.connect({ connector: 'sequence', organization_id: liveOrg, environment: 'sandbox', credentials: seqCreds(), base_url: seq.url }).catch((e) => e);
    expect(a.code).toBe('CONNECTION_ENVIRONMENT_MISMATCH');
    expect(a.message).toMatch(/a sandbox connection belongs to a test organization, and organization .* is live/);
    const b = await svc.connect({ connector: 'sequence', organization_id: testOrg, environment: 'production', credentials: seqCreds(), base_url: seq.url }).catch((e) => e);
    expect(b.code).toBe('CONNECTION_ENVIRONMENT_MISMATCH');
    expect(b.message).toMatch(/a production connection belongs to a live organization/);
    // A live organization defaults to production.
    const live = await svc.connect({ connector: 'sequence', organization_id: liveOrg, credentials: seqCreds(), base_url: seq.url });
    expect(live.connection.environment).toBe('production');
    expect(live.tax_api_key).toMatch(/^tb_live_/);
    const unknownOrg = await svc.connect({ connector: 'sequence', organization_id: 'org_nope', credentials: seqCreds() }).catch((e) => e);
    expect(unknownOrg.code).toBe('not_found');
  });

  it('refuses a second connection of the same system for one organization', async () => {
    const first = await svc.connect({ connector: 'sequence', organization_id: testOrg, credentials: seqCreds(), base_url: seq.url });
    const again = await svc.connect({ connector: 'sequence', organization_id: testOrg, credentials: seqCreds(), base_url: seq.url }).catch((e) => e);
    expect(again.code).toBe('conflict');
    expect(again.details.connection_id).toBe(first.connection.id);
  });

  it('disconnect revokes the webhook URL and the tax key, erases credentials, keeps the record', async () => {
    const r = await svc.connect({ connector: 'sequence', organization_id: testOrg, credentials: seqCreds(), base_url: seq.url });
    const token = (await rawDoc(r.connection.id)).webhook_token!;
    const lookup = connectionLookup(svc);
    expect((await lookup.resolveConnection(token))?.conn.credentials.client_secret).toBe(seq.clientSecret);
    const v = await svc.disconnect(r.connection.id);
    expect(v.status).toBe('disconnected');
    expect(await lookup.resolveConnection(token)).toBeUndefined();
    expect(await lookup.loadConnection(r.connection.id)).toBeUndefined();
    const doc = await rawDoc(r.connection.id);
    expect(doc.credentials).toEqual({});
    expect(doc.webhook_token).toBeNull();
    const keyDoc = (await store.get<ApiKeyDoc>(API_KEYS, parseApiKey(r.tax_api_key!)!.id))!;
    expect(keyDoc.revoked_at).toBeTruthy();
    expect(hookCalls.at(-1)).toEqual({ hook: 'deactivated', id: r.connection.id, status: 'disconnected' });
    // A new connection may be made once the old one is gone.
    expect((await svc.connect({ connector: 'sequence', organization_id: testOrg, credentials: seqCreds(), base_url: seq.url })).connection.status).toBe('active');
  });
});

describe('Rillet: API key -> subsidiaries -> webhook URL -> signing token -> active', () => {
  it('walks the two steps', async () => {
    const subs = [...ril.data.subsidiaries.values()];
    expect(subs.length).toBeGreaterThan(1);
    const r1 = await svc.connect({ connector: 'rillet', organization_id: testOrg, credentials: { api_key: ril.apiKey }, base_url: ril.url });
    expect(r1.connection.status).toBe('pending');
    expect(r1.connection.next_step).toEqual({ step: 'choose_setting', setting: 'subsidiary_id', title: 'Subsidiary' });
    expect(r1.choices?.subsidiary_id).toEqual(subs.map((s) => ({ value: s.id, label: s.trade_name })));
    const token = (await rawDoc(r1.connection.id)).webhook_token!;
    expect(r1.webhook_url).toBe(`http://127.0.0.1:9999/webhooks/${token}`);
    expect(r1.tax_api_key).toBeUndefined(); // accounting systems get tax written back; they do not call the tax API
    expect(hookCalls).toEqual([]);

    const bad = await svc.update(r1.connection.id, { settings: { subsidiary_id: 'sub_nope' } }).catch((e) => e);
    expect(bad.code).toBe('CONNECTION_INPUT');
    expect(bad.message).toMatch(/Subsidiary "sub_nope" is not one of Rillet's subsidiaries/);
    expect(bad.hint).toContain(subs[0]!.id);

    const r2 = await svc.update(r1.connection.id, { settings: { subsidiary_id: subs[0]!.id } });
    expect(r2.connection.status).toBe('pending');
    expect(r2.connection.next_step).toMatchObject({ step: 'webhook_secret', credential: 'signing_token' });
    expect(r2.webhook_url).toBe(r1.webhook_url);
    expect(r2.messages.join('\n')).toContain(r1.webhook_url!);

    const r3 = await svc.update(r1.connection.id, { credentials: { signing_token: ril.signingToken } });
    expect(r3.connection.status).toBe('active');
    expect(r3.connection.next_step).toBeUndefined();
    expect(r3.connection.settings).toEqual({ subsidiary_id: subs[0]!.id });
    expect(hookCalls).toEqual([{ hook: 'activated', id: r1.connection.id, status: 'active' }]);
    const doc = await rawDoc(r1.connection.id);
    expect(doc.credentials.signing_token).toMatch(/^enc:v1:/);
    expect(doc.credentials.api_key).toMatch(/^enc:v1:/);
    expect(JSON.stringify(doc)).not.toContain(ril.apiKey);
    expect(svc.context(doc).credentials.signing_token).toBe(ril.signingToken);

    // The webhook lookup gives the receiver what it needs to verify.
    const resolved = await connectionLookup(svc).resolveConnection(token);
    expect(resolved?.spec.name).toBe('rillet');
    expect(resolved?.conn.settings.subsidiary_id).toBe(subs[0]!.id);
    expect(resolved?.organizationId).toBe(testOrg);

    // Status of a connection with nothing synced yet.
    const st = await connectionStatus(store, doc, resolved!.spec);
    expect(Object.keys(st.streams)).toEqual(['subsidiaries', 'customers', 'products', 'invoices', 'credit_memos']);
    expect(st.streams.invoices).toEqual({ entity: 'invoice', counts: { active: 0, deleted: 0 } });
    expect(st.webhooks).toMatchObject({ mode: 'manual', received: 0, failed: 0, pending: 0 });
    expect(st.writebacks).toMatchObject({ pending: 0, dead: 0 });
  });

  it('accepts everything in one call and can go without webhooks', async () => {
    const sub = [...ril.data.subsidiaries.values()][1]!;
    const all = await svc.connect({ connector: 'rillet', organization_id: testOrg, credentials: { api_key: ril.apiKey, signing_token: ril.signingToken }, settings: { subsidiary_id: sub.id }, base_url: ril.url });
    expect(all.connection.status).toBe('active');
    await svc.disconnect(all.connection.id);
    const noHooks = await svc.connect({ connector: 'rillet', organization_id: testOrg, credentials: { api_key: ril.apiKey }, settings: { subsidiary_id: sub.id }, base_url: ril.url, skip_webhooks: true });
    expect(noHooks.connection.status).toBe('active');
    expect(noHooks.connection.webhook).toEqual({ mode: 'manual', skipped: true });
  });

  it('a wrong API key is refused at the first step', async () => {
    const err = await svc.connect({ connector: 'rillet', organization_id: testOrg, credentials: { api_key: 'not-the-key' }, base_url: ril.url }).catch((e) => e);
    expect(err.code).toBe('CONNECTION_BAD_CREDENTIALS');
    expect(err.hint).toContain('API key');
    expect(await store.list(CONNECTIONS)).toEqual([]);
  });

  it('a changed API key is checked again; a changed signing token is not', async () => {
    const sub = [...ril.data.subsidiaries.values()][0]!;
    const r = await svc.connect({ connector: 'rillet', organization_id: testOrg, credentials: { api_key: ril.apiKey, signing_token: ril.signingToken }, settings: { subsidiary_id: sub.id }, base_url: ril.url });
    const bad = await svc.update(r.connection.id, { credentials: { api_key: 'revoked-key' } }).catch((e) => e);
    expect(bad.code).toBe('CONNECTION_BAD_CREDENTIALS');
    expect(svc.context(await rawDoc(r.connection.id)).credentials.api_key).toBe(ril.apiKey); // unchanged after a failed check
    const notBase64 = await svc.update(r.connection.id, { credentials: { signing_token: 'not base64!' } }).catch((e) => e);
    expect(notBase64.code).toBe('CONNECTION_INPUT');
    expect(notBase64.message).toContain('must be base64 text');
    const before = ril.requests.length;
    await svc.update(r.connection.id, { credentials: { signing_token: 'bmV3LXRva2VuLXZhbHVlLTAxMjM0NTY3ODk=' } });
    expect(ril.requests.length).toBe(before);
    expect(hookCalls.filter((h) => h.hook === 'changed')).toHaveLength(1);
  });
});
