/**
 * Webhook authentication kinds over real sockets: HTTP Basic on the URL (the fake Chargebee's deliveries),
 * a token in a query parameter, HubSpot v3-style HMAC over method + full URL + body + timestamp, and
 * unauthenticated deliveries allowed only with a reason (a lint warning). Refusals are 401 WEBHOOK_*,
 * store nothing, and credentials never reach the inbox.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChargebee, type FakeChargebee } from '../fakes/chargebee.ts';
import { readFileSync } from 'node:fs';
import { checkSpecText } from '../src/spec/index.ts';
import { loadConnector } from '../src/spec/index.ts';
import { getEvent, listEvents } from '../src/webhooks/inbox.ts';
import { matchesAny } from '../src/webhooks/authentication.ts';
import { connection, makeOrganization, startHarness, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';

const fixture = (n: string) => loadConnector(new URL(`./fixtures/specs/${n}.yaml`, import.meta.url).pathname);
const basicSpec = fixture('wh-basic');
const tokenSpec = fixture('wh-token');
const hubSpec = fixture('wh-hubspot');
const noneSpec = fixture('wh-none');
const PUBLIC = 'https://taxbridge.example.com';
const USER = 'cb_user_0123456789abcdef';
const PASS = 'cb_pass_fedcba9876543210';
const TOKEN = 'tok_query_secret_0123456789';
const HUB_SECRET = 'hub-client-secret';

let cb: FakeChargebee;
let store: Store;
let h: Harness;
let basicConn: TestConnection;
let tokenConn: TestConnection;
let hubConn: TestConnection;
let noneConn: TestConnection;

beforeAll(async () => {
  cb = await startFakeChargebee();
  store = await openStore({ memory: true });
  const org = await makeOrganization(store);
  basicConn = connection(basicSpec, org.id, { connection_id: 'conn_basic', base_url: cb.url, credentials: { webhook_username: USER, webhook_password: PASS } });
  tokenConn = connection(tokenSpec, org.id, { connection_id: 'conn_token', base_url: 'https://tok.test', credentials: { webhook_token: TOKEN } });
  hubConn = connection(hubSpec, org.id, { connection_id: 'conn_hub', base_url: 'https://api.hub.test', credentials: { client_secret: HUB_SECRET } });
  noneConn = connection(noneSpec, org.id, { connection_id: 'conn_none', base_url: 'https://noauth.test', credentials: {} });
  h = await startHarness({ connections: [basicConn, tokenConn, hubConn, noneConn], store, writeback: false, receiver: { publicUrl: PUBLIC } });
});
afterAll(async () => {
  await h?.close();
  await store?.close();
  await cb?.close();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${h.origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as Record<string, unknown> }));

describe('basic: HTTP Basic on the webhook URL (Chargebee)', () => {
  const event = { event_type: 'customer_changed', content: { customer: { id: 'cus_1', first_name: 'Ada' } } };

  it('accepts the right user and password, and keeps no Authorization header', async () => {
    const r = await cb.sendWebhook(h.webhookUrl(basicConn), event, { username: USER, password: PASS, eventId: 'ev_basic_ok' });
    expect(r.status).toBe(200);
    const id = (JSON.parse(r.body) as { id: string }).id;
    const doc = await getEvent(store, id);
    expect(doc!.event_id).toBe('ev_basic_ok');
    expect(Object.keys(doc!.headers)).not.toContain('authorization');
  });

  it('refuses a wrong password, a wrong user, no credentials and a malformed header with 401 and WWW-Authenticate', async () => {
    const before = (await listEvents(store, { connectionId: 'conn_basic' })).length;
    for (const [o, code] of [
      [{ username: USER, password: 'wrong' }, 'webhook_credentials_invalid'],
      [{ username: 'other', password: PASS }, 'webhook_credentials_invalid'],
      [{ username: USER, password: `${PASS}x` }, 'webhook_credentials_invalid'],
      [{ omitAuth: true }, 'webhook_credentials_missing'],
    ] as const) {
      const r = await cb.sendWebhook(h.webhookUrl(basicConn), event, { ...o, eventId: `ev_bad_${Math.random()}` });
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body)).toMatchObject({ code });
    }
    const raw = await post(`/webhooks/${basicConn.token}`, JSON.stringify({ id: 'x', event_type: 'customer_changed', content: {} }), { authorization: 'Bearer abc' });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const noColon = await post(`/webhooks/${basicConn.token}`, '{}', { authorization: `Basic ${Buffer.from(USER + PASS).toString('base64')}` });
    expect(noColon.body).toMatchObject({ code: 'webhook_credentials_invalid' });
    expect((await listEvents(store, { connectionId: 'conn_basic' })).length).toBe(before);
  });
});

describe('token: a shared secret in a query parameter', () => {
  const body = JSON.stringify({ id: 'evt_tok_1', type: 'customer.updated' });

  it('accepts the token in the query', async () => {
    const r = await post(`/webhooks/${tokenConn.token}?token=${TOKEN}`, body);
    expect(r.status).toBe(200);
  });

  it('refuses a missing token, a wrong one, one given twice, and the token in a header instead', async () => {
    const before = (await listEvents(store, { connectionId: 'conn_token' })).length;
    expect((await post(`/webhooks/${tokenConn.token}`, body)).body).toMatchObject({ code: 'webhook_credentials_missing' });
    expect((await post(`/webhooks/${tokenConn.token}?token=${TOKEN}x`, body)).body).toMatchObject({ code: 'webhook_credentials_invalid' });
    expect((await post(`/webhooks/${tokenConn.token}?token=nope&token=${TOKEN}`, body)).body).toMatchObject({ code: 'webhook_credentials_invalid' });
    const inHeader = await post(`/webhooks/${tokenConn.token}`, body, { token: TOKEN, authorization: `Bearer ${TOKEN}` });
    expect(inHeader.status).toBe(401);
    expect(inHeader.body).toMatchObject({ code: 'webhook_credentials_missing' });
    expect((await listEvents(store, { connectionId: 'conn_token' })).length).toBe(before);
  });
});

describe('hmac with method and url (HubSpot v3)', () => {
  const sign = (method: string, url: string, body: string, ts: string) => createHmac('sha256', HUB_SECRET).update(`${method}${url}${body}${ts}`).digest('base64');
  const body = JSON.stringify([{ eventId: 11, subscriptionType: 'contact.propertyChange' }, { eventId: 12, subscriptionType: 'contact.propertyChange' }]);

  it('verifies a signature over the public URL with its query, and splits the array into events', async () => {
    const path = `/webhooks/${hubConn.token}?portal=42&x=a%20b`;
    const ts = String(Date.now());
    const r = await post(path, body, { 'x-hubspot-signature-v3': sign('POST', `${PUBLIC}${path}`, body, ts), 'x-hubspot-request-timestamp': ts });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ events: 2 });
  });

  it('refuses a signature over another URL (the loopback origin, or without the query)', async () => {
    const path = `/webhooks/${hubConn.token}?portal=42`;
    const ts = String(Date.now());
    for (const url of [`${h.origin}${path}`, `${PUBLIC}/webhooks/${hubConn.token}`]) {
      const r = await post(path, body, { 'x-hubspot-signature-v3': sign('POST', url, body, ts), 'x-hubspot-request-timestamp': ts });
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ code: 'webhook_signature_invalid' });
    }
  });
});

describe('none: only with a reason, and lint says so', () => {
  it('accepts an unauthenticated delivery', async () => {
    expect((await post(`/webhooks/${noneConn.token}`, JSON.stringify({ id: 'p1', type: 'ping' }))).status).toBe(200);
  });

  it('warns LINT_WEBHOOK_UNAUTHENTICATED, and refuses `none` without a reason (schema)', () => {
    const text = readFileSync(new URL('./fixtures/specs/wh-none.yaml', import.meta.url), 'utf8');
    expect(checkSpecText('wh-none.yaml', text).diagnostics.map((d) => `${d.severity} ${d.code}`)).toContain('warning LINT_WEBHOOK_UNAUTHENTICATED');
    const bad = checkSpecText('wh-none.yaml', text.replace(/, reason: [^}]+/, ' '));
    expect(bad.diagnostics.some((d) => d.severity === 'error' && /reason/.test(d.message))).toBe(true);
  });

  it('lints a shared URL whose secret reads connection credentials, a tenant without its setting, and hmac without a signature', () => {
    const shared = readFileSync(new URL('./fixtures/specs/wh-shared-realms.yaml', import.meta.url), 'utf8');
    const codes = (t: string) => checkSpecText('x.yaml', t).diagnostics.filter((d) => d.severity === 'error').map((d) => d.code);
    expect(codes(shared)).toEqual([]);
    expect(codes(shared.replace("'{{ app.webhook_secret }}'", "'{{ credentials.verifier }}'"))).toContain('LINT_SHARED_URL_SECRET');
    expect(codes(shared.replace('tenant_setting: realm_id', 'tenant_setting: realm'))).toContain('LINT_UNKNOWN_SETTING');
    expect(codes(shared.replace('  tenant_setting: realm_id\n', ''))).toContain('LINT_TENANT_INCOMPLETE');
    const basic = readFileSync(new URL('./fixtures/specs/wh-basic.yaml', import.meta.url), 'utf8');
    expect(codes(basic.replace(/  authentication:\n(    .*\n){3}/, ''))).toContain('LINT_SIGNATURE_INCOMPLETE');
  });
});

describe('constant-time comparison', () => {
  it('compares digests, so a value of another length or a prefix never matches', () => {
    expect(matchesAny('secret', ['secret'])).toBe(true);
    expect(matchesAny('secre', ['secret'])).toBe(false);
    expect(matchesAny('secretx', ['secret'])).toBe(false);
    expect(matchesAny('', ['secret'])).toBe(false);
    expect(matchesAny('b', ['a', 'b'])).toBe(true);
  });
});
