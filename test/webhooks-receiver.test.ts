/**
 * The receiver refuses what it cannot trust or read, stores nothing for it, and answers in JSON without
 * internals: bad/missing/malformed signatures and stale timestamps (401), malformed bodies (400), bodies over
 * the limit (413), unknown tokens (404). Real sockets, the fake Rillet's signing, the specs' schemes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeRillet, type FakeRillet } from '../fakes/rillet.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { compileSignature } from '../src/webhooks/signature.ts';
import { EVENTS, listEvents } from '../src/webhooks/inbox.ts';
import { connection, makeOrganization, spec, startHarness, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';

describe('webhook receiver', () => {
  let rillet: FakeRillet;
  let store: Store;
  let h: Harness;
  let conn: TestConnection;
  let previousToken: string;
  let invoiceId: string;

  beforeAll(async () => {
    rillet = await startFakeRillet({ seed: 3, counts: { customers: 2, products: 2, invoices: 1, creditNotes: 0 } });
    store = await openStore({ memory: true });
    const org = await makeOrganization(store);
    previousToken = Buffer.alloc(32, 7).toString('base64');
    conn = connection(spec('rillet'), org.id, {
      connection_id: 'conn_r',
      base_url: rillet.url,
      settings: { subsidiary_id: 'sub_us' },
      credentials: { api_key: rillet.apiKey, signing_token: rillet.signingToken, signing_token_previous: previousToken },
    });
    // Processing is not what these tests look at: keep every accepted event pending.
    h = await startHarness({ store, connections: [conn], start: false, writeback: false });
    invoiceId = rillet.data.invoices.keys().next().value!;
  });
  afterAll(async () => {
    await h.close();
    await rillet.close();
    await store.close();
  });
  beforeEach(async () => {
    for (const e of await store.list<{ id: string }>(EVENTS)) await store.delete(EVENTS, e.id);
  });

  const stored = async () => (await listEvents(store)).length;
  const send = (opts: Parameters<FakeRillet['sendWebhook']>[2] = {}, event = 'CREATED') => rillet.sendWebhook(h.webhookUrl(conn), { entity: 'INVOICE', event, id: invoiceId }, opts);

  async function post(path: string, body: string | Buffer, headers: Record<string, string>) {
    const res = await request(`${h.origin}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    return { status: res.statusCode, body: (await res.body.json()) as { type?: string; code?: string; message?: string; received?: boolean } };
  }

  it('accepts a correctly signed delivery and stores it before answering', async () => {
    const res = await send();
    expect(res.status).toBe(200);
    const [event] = await listEvents(store);
    expect(event).toMatchObject({ connection_id: 'conn_r', event_type: 'INVOICE.CREATED', status: 'pending', action: 'upsert', stream: 'invoices' });
    expect(event!.event_id).toBe(res.sent.headers['X-Rillet-Id']);
    // The signature header is not kept; the body is kept byte for byte.
    expect(event!.headers['x-rillet-signature']).toBeUndefined();
    expect(event!.raw_body).toBe(res.sent.body);
  });

  it('accepts a delivery signed with the previous token (rotation) or carrying several signatures', async () => {
    expect((await send({ token: previousToken })).status).toBe(200);
    expect((await send({ tokens: [Buffer.alloc(32, 9).toString('base64'), rillet.signingToken] })).status).toBe(200);
    expect(await stored()).toBe(2);
  });

  it('follows a rotated token at once: the new one is accepted, the replaced one refused', async () => {
    const before = conn.conn;
    try {
      const oldToken = rillet.signingToken;
      const newToken = rillet.rotateSigningToken();
      conn.conn = { ...conn.conn, credentials: { ...conn.conn.credentials, signing_token: newToken, signing_token_previous: undefined } };
      expect((await send()).status).toBe(200);
      expect((await send({ token: oldToken })).status).toBe(401);
      rillet.signingTokens = [oldToken];
    } finally {
      conn.conn = before;
    }
    expect((await send()).status).toBe(200);
  });

  it.each([
    ['a tampered body', { tamper: true }, 'webhook_signature_invalid'],
    ['a signature by another token', { token: Buffer.alloc(32, 1).toString('base64') }, 'webhook_signature_invalid'],
    ['a stale timestamp (10 minutes old)', { timestamp: new Date(Date.now() - 600_000).toISOString() }, 'webhook_timestamp_stale'],
    ['a timestamp from the future', { timestamp: new Date(Date.now() + 600_000).toISOString() }, 'webhook_timestamp_stale'],
    ['a signature that is not base64', { signature: '***not-base64***' }, 'webhook_signature_malformed'],
    ['a timestamp that is not a date', { timestamp: 'yesterday' }, 'webhook_signature_malformed'],
  ])('refuses %s with 401 and stores nothing', async (_what, opts, code) => {
    const res = await send(opts);
    expect(res.status).toBe(401);
    const body = JSON.parse(res.body) as { error: { code: string; message: string } };
    expect(body).toMatchObject({ type: 'api_error', code });
    expect(res.body).not.toContain(rillet.signingToken);
    expect(res.body).not.toMatch(/at .*\.ts:\d+/);
    expect(await stored()).toBe(0);
  });

  it('refuses a delivery without the signature header (never "verification skipped")', async () => {
    const raw = JSON.stringify(rillet.data.invoices.get(invoiceId));
    const res = await post(`/webhooks/${conn.token}`, raw, {
      'x-rillet-id': 'evt-nosig',
      'x-rillet-timestamp': new Date().toISOString(),
      'x-rillet-entity': 'INVOICE',
      'x-rillet-event': 'CREATED',
    });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('webhook_signature_missing');
    expect(await stored()).toBe(0);
  });

  it('refuses a correctly signed body that is not JSON with 400', async () => {
    const sig = compileSignature(conn.spec.webhooks!.signature!);
    const raw = '{"id": "inv_1", "items": [';
    const headers = { 'x-rillet-id': 'evt-bad-json', 'x-rillet-entity': 'INVOICE', 'x-rillet-event': 'CREATED' };
    const signed = await sig.sign(rillet.signingToken, raw, headers, Date.now());
    const res = await post(`/webhooks/${conn.token}`, raw, { ...headers, ...signed });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('webhook_body_malformed');
    expect(await stored()).toBe(0);
  });

  it.each([
    ['a trailing comma', '{"id":"inv_1",}'],
    ['a raw control character in a string', '{"id":"inv\u0001"}'],
    ['two values', '{"id":"inv_1"} {}'],
    ['a number with a leading zero', '{"total":01}'],
  ])('refuses a correctly signed body with %s (not JSON) with 400 and stores nothing', async (_what, raw) => {
    const sig = compileSignature(conn.spec.webhooks!.signature!);
    const headers = { 'x-rillet-id': 'evt-not-json', 'x-rillet-entity': 'INVOICE', 'x-rillet-event': 'CREATED' };
    const res = await post(`/webhooks/${conn.token}`, raw, { ...headers, ...(await sig.sign(rillet.signingToken, raw, headers, Date.now())) });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('webhook_body_malformed');
    expect(await stored()).toBe(0);
  });

  it('keeps an invoice event whose JSON body is no object as failed (no record), and one with an array body as pending', async () => {
    const sig = compileSignature(conn.spec.webhooks!.signature!);
    for (const [id, raw] of [['evt-string', '"inv_1"'], ['evt-null', 'null'], ['evt-number', ' 42 '], ['evt-array', '[{"id":"inv_1"}]']] as const) {
      const headers = { 'x-rillet-id': id, 'x-rillet-entity': 'INVOICE', 'x-rillet-event': 'CREATED' };
      const res = await post(`/webhooks/${conn.token}`, raw, { ...headers, ...(await sig.sign(rillet.signingToken, raw, headers, Date.now())) });
      expect(res.status, id).toBe(200);
    }
    const byId = new Map((await listEvents(store)).map((e) => [e.event_id, e]));
    for (const id of ['evt-string', 'evt-null', 'evt-number']) expect(byId.get(id), id).toMatchObject({ status: 'failed', action: 'unmatched', last_error: { code: 'webhook_record_missing' } });
    expect(byId.get('evt-array')).toMatchObject({ status: 'pending', action: 'upsert', raw_body: '[{"id":"inv_1"}]' });
  });

  it('refuses a signed delivery that names no event with 400', async () => {
    const sig = compileSignature(conn.spec.webhooks!.signature!);
    const raw = '{"id":"x"}';
    const headers = { 'x-rillet-entity': 'INVOICE', 'x-rillet-event': 'CREATED' };
    const signed = await sig.sign(rillet.signingToken, raw, headers, Date.now());
    const res = await post(`/webhooks/${conn.token}`, raw, { ...headers, ...signed });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('webhook_event_id_missing');
    expect(await stored()).toBe(0);
  });

  it('refuses a body over the limit with 413 before reading it all', async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 0x20);
    const res = await post(`/webhooks/${conn.token}`, big, { 'x-rillet-signature': 'abc' });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('webhook_body_too_large');
    expect(await stored()).toBe(0);
  });

  it('answers 404 for an unknown token', async () => {
    const res = await post('/webhooks/tok_unknown_0000000000', '{}', {});
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('webhook_token_unknown');
  });
});

describe('webhook receiver: Sequence scheme and a connection without a secret', () => {
  it('verifies Sequence-Signature t=..,s=.. and refuses a stale t; 503 while no secret is configured', async () => {
    const store = await openStore({ memory: true });
    const org = await makeOrganization(store);
    const secret = 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=';
    const seq = connection(spec('sequence'), org.id, { connection_id: 'conn_s', base_url: 'http://127.0.0.1:9', credentials: { client_id: 'id', client_secret: 'cs', webhook_secret: secret } });
    const bare = connection(spec('sequence'), org.id, { connection_id: 'conn_s2', base_url: 'http://127.0.0.1:9', credentials: { client_id: 'id', client_secret: 'cs' } }, 'tok_nosecret_0123456789');
    const h = await startHarness({ store, connections: [seq, bare], start: false, writeback: false });
    try {
      const sig = compileSignature(seq.spec.webhooks!.signature!);
      const raw = JSON.stringify({ notificationType: 'BILLING_SCHEDULE_CREATED', sequenceAccountId: 'acc', resourceId: 'bs_1' });
      const post = async (url: string, headers: Record<string, string>) => {
        const r = await request(url, { method: 'POST', body: raw, headers: { 'content-type': 'application/json', ...headers } });
        return { status: r.statusCode, body: (await r.body.json()) as { code?: string } };
      };
      const ok = await post(h.webhookUrl(seq), await sig.sign(secret, raw, {}, Date.now()));
      expect(ok.status).toBe(200);
      const stale = await post(h.webhookUrl(seq), await sig.sign(secret, raw, {}, Date.now() - 301_000));
      expect(stale.status).toBe(401);
      expect(stale.body.code).toBe('webhook_timestamp_stale');
      const noSecret = await post(h.webhookUrl(bare), await sig.sign(secret, raw, {}, Date.now()));
      expect(noSecret.status).toBe(503);
      expect(noSecret.body.code).toBe('webhook_secret_missing');
      // The ignore rule stores the event as ignored, no processing needed.
      const events = await listEvents(store);
      expect(events.map((e) => [e.connection_id, e.status])).toEqual([['conn_s', 'ignored']]);
    } finally {
      await h.close();
      await store.close();
    }
  });
});
