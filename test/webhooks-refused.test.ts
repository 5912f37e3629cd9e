/**
 * Refused webhook deliveries over real sockets: `taxbridge serve` in process with a Rillet connection. Signed
 * deliveries are accepted and not listed; forged, oversized, not-JSON and unknown-URL ones are listed through
 * GET /admin/webhooks/refused with their code, size, address and delivery id, never a body or signature, in
 * the shape of schemas/entities/webhook_refused.schema.json. A burst of forged deliveries costs a bounded
 * number of store writes (counted on the server's own store) and keeps only the last 100.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rilletSignatureHeader, startFakeRillet, type FakeRillet } from '../fakes/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { entityValidator } from '../src/spec/schemas.ts';
import { REFUSED, RefusedDeliveries } from '../src/webhooks/refused.ts';
import { openStore } from '../src/store/index.ts';
import { adminClient, freePort, inProcessConfig, startTestServer, until } from './helpers/e2e.ts';

const TOKEN = `t_${randomBytes(16).toString('hex')}`;
const admin = adminClient(() => server.url, TOKEN);
let server: RunningServer;
let ril: FakeRillet;
let dir: string;
let connId: string;
let webhookUrl: string;

/** A Rillet-style delivery: signed with `token` over `body`, or with `signature` as given. */
async function deliver(url: string, body: string, o: { token?: string; signature?: string; id?: string } = {}): Promise<{ status: number; json: any }> {
  const id = o.id ?? randomUUID();
  const ts = new Date().toISOString();
  const headers = {
    'content-type': 'application/json',
    'x-rillet-id': id,
    'x-rillet-timestamp': ts,
    'x-rillet-entity': 'INVOICE',
    'x-rillet-event': 'CREATED',
    'x-rillet-signature': o.signature ?? rilletSignatureHeader([o.token ?? ril.signingToken], ts, id, 'INVOICE', 'CREATED', body),
  };
  const res = await request(url, { method: 'POST', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  ril = await startFakeRillet({ seed: 5, counts: { customers: 1, products: 1, invoices: 0, creditNotes: 0 } });
  dir = mkdtempSync(join(tmpdir(), 'tb-refused-'));
  const port = await freePort();
  server = await startTestServer(inProcessConfig({ dataDir: join(dir, 'data'), port, env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }));
  const org = (await admin('POST', '/admin/organizations', { name: 'Refused Co', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' } })).json.data.id;
  const r1 = await admin('POST', '/admin/connections', { connector: 'rillet', organization_id: org, credentials: { api_key: ril.apiKey }, base_url: ril.url });
  connId = r1.json.data.connection.id;
  webhookUrl = r1.json.data.webhook_url;
  const usd = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!;
  const r2 = await admin('PATCH', `/admin/connections/${connId}`, { settings: { subsidiary_id: usd.id }, credentials: { signing_token: ril.signingToken } });
  expect(r2.json.data.connection.status).toBe('active');
}, 60_000);

afterAll(async () => {
  await server?.close();
  await ril?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('refused webhook deliveries', () => {
  const forgedSignature = 'Zm9yZ2VkLXNpZ25hdHVyZS1ub3QtYnktcmlsbGV0';
  const marker = `secret-marker-${randomBytes(6).toString('hex')}`;

  it('lists forged, oversized and not-JSON deliveries with their code, never a signed one, a body or a signature', async () => {
    const invoice = JSON.stringify({ id: 'inv_ok_1', status: 'UNPAID', marker });
    expect((await deliver(webhookUrl, invoice)).status).toBe(200);
    const forged = await deliver(webhookUrl, invoice, { signature: forgedSignature, id: 'dlv_forged_1' });
    expect(forged.status).toBe(401);
    const otherToken = await deliver(webhookUrl, invoice, { token: randomBytes(32).toString('base64'), id: 'dlv_forged_2' });
    expect(otherToken.status).toBe(401);
    const notJson = `{"id": "inv_${marker}"`;
    const bad = await deliver(webhookUrl, notJson, { id: 'dlv_badjson' });
    expect(bad.status).toBe(400);
    const big = await deliver(webhookUrl, JSON.stringify({ pad: 'x'.repeat(1024 * 1024 + 10) }), { id: 'dlv_big' });
    expect(big.status).toBe(413);
    const unknown = await deliver(`${server.url}/webhooks/whk_${'n'.repeat(30)}`, invoice, { id: 'dlv_unknown' });
    expect(unknown.status).toBe(404);

    const r = await admin('GET', `/admin/webhooks/refused?connection=${connId}`);
    expect(r.status).toBe(200);
    const data = r.json.data;
    const valid = entityValidator('webhook_refused');
    expect(valid(data), JSON.stringify(valid.errors)).toBe(true);
    expect(data.connection_id).toBe(connId);
    expect(data.count).toBe(4);
    expect(data.recent.map((x: any) => [x.status, x.code, x.delivery_id])).toEqual([
      [413, 'webhook_body_too_large', 'dlv_big'],
      [400, expect.stringMatching(/^webhook_body_/), 'dlv_badjson'],
      [401, 'webhook_signature_invalid', 'dlv_forged_2'],
      [401, 'webhook_signature_invalid', 'dlv_forged_1'],
    ]);
    expect(data.recent[1].size).toBe(Buffer.byteLength(notJson));
    expect(data.recent[3].size).toBe(Buffer.byteLength(invoice));
    expect(data.recent[0].size).toBeGreaterThan(1024 * 1024);
    for (const x of data.recent) expect(x.remote_address).toBe('127.0.0.1');
    // The accepted one is an event, not a refusal.
    expect((await admin('GET', `/admin/events?connection=${connId}`)).json.data).toHaveLength(1);

    const unknownBucket = (await admin('GET', '/admin/webhooks/refused')).json.data;
    expect(unknownBucket).toMatchObject({ unknown_url: true, count: 1, recent: [{ status: 404, code: 'webhook_token_unknown', size: Buffer.byteLength(invoice) }] });
    // No delivery id from an unknown URL: no spec says where it is.
    expect(unknownBucket.recent[0].delivery_id).toBeUndefined();

    // A connector's shared URL has its own bucket: QuickBooks' app secret is not configured on this server.
    const shared = await deliver(`${server.url}/webhooks/connectors/quickbooks`, '{"eventNotifications":[]}', { signature: forgedSignature });
    expect(shared.status).toBe(503);
    const sharedBucket = (await admin('GET', '/admin/webhooks/refused?connector=quickbooks')).json.data;
    expect(sharedBucket).toMatchObject({ connector: 'quickbooks', count: 1, recent: [{ status: 503, code: 'webhook_secret_missing' }] });
    expect(valid(sharedBucket), JSON.stringify(valid.errors)).toBe(true);

    // Written to the store within the flush interval; nothing of the bodies or signatures in it or the answer.
    const stored = await until(async () => ((await server.store.get<any>(REFUSED, `conn:${connId}`))?.count === 4 ? server.store.get<any>(REFUSED, `conn:${connId}`) : undefined), 'the refusals in the store', 10_000, 100);
    for (const text of [JSON.stringify(stored), JSON.stringify(data), JSON.stringify(unknownBucket)]) {
      expect(text).not.toContain(marker);
      expect(text).not.toContain(forgedSignature);
      expect(text).not.toContain(ril.signingToken);
    }
  });

  it('asks for the admin token and a known connection', async () => {
    const res = await request(`${server.url}/admin/webhooks/refused?connection=${connId}`);
    await res.body.text();
    expect(res.statusCode).toBe(401);
    expect((await admin('GET', '/admin/webhooks/refused?connection=conn_nope')).status).toBe(404);
    expect((await admin('GET', `/admin/webhooks/refused?connection=${connId}&connector=rillet`)).status).toBe(400);
    // A repeated parameter is refused, not read as "no filter" (which would answer the unknown-URL record).
    expect((await admin('GET', `/admin/webhooks/refused?connection=${connId}&connection=${connId}`)).status).toBe(400);
    for (const path of ['/admin/events', '/admin/writebacks']) expect((await admin('GET', `${path}?connection=${connId}&connection=conn_other`)).json).toMatchObject({ code: 'validation_errors', param: 'connection' });
    // Without a token the answer is still 401: the check runs after the router's authentication.
    expect((await request(`${server.url}/admin/events?connection=a&connection=b`)).statusCode).toBe(401);
    // A connector that is not loaded (a prototype name among them) is 404, not an empty record.
    for (const name of ['constructor', 'nosuchsystem']) expect((await admin('GET', `/admin/webhooks/refused?connector=${name}`)).json).toMatchObject({ code: 'not_found' });
  });

  it('a burst of forged deliveries costs a bounded number of store writes and keeps the last 100', async () => {
    let writes = 0;
    const put = server.store.put.bind(server.store);
    server.store.put = (async (collection: string, id: string, doc: object) => {
      if (collection === REFUSED) writes++;
      return put(collection, id, doc);
    }) as typeof server.store.put;
    try {
      const before = (await admin('GET', `/admin/webhooks/refused?connection=${connId}`)).json.data.count;
      const n = 2000;
      const started = Date.now();
      const body = JSON.stringify({ id: 'inv_burst' });
      let next = 0;
      await Promise.all(Array.from({ length: 40 }, async () => {
        while (next < n) {
          next++;
          const r = await deliver(webhookUrl, body, { signature: forgedSignature });
          expect(r.status).toBe(401);
        }
      }));
      const ms = Date.now() - started;
      const after = await until(async () => {
        const d = (await admin('GET', `/admin/webhooks/refused?connection=${connId}`)).json.data;
        const doc = await server.store.get<any>(REFUSED, `conn:${connId}`);
        return doc?.count === before + n ? d : undefined;
      }, 'the burst stored', 10_000, 100);
      expect(after.count).toBe(before + n);
      expect(after.recent).toHaveLength(100);
      // One write per 2 s interval of the burst, plus the last: not one per request.
      expect(writes).toBeLessThanOrEqual(Math.ceil(ms / 2000) + 2);
      process.stderr.write(`webhooks-refused: ${n} forged deliveries in ${ms} ms -> ${writes} store writes of ${REFUSED}\n`);
    } finally {
      server.store.put = put;
    }
  });
});

describe('the refused-deliveries record on its own', () => {
  const entry = (code: string) => ({ at: new Date().toISOString(), status: 401, code, size: 10, remote_address: '127.0.0.1' });

  it('writes again after a flush that found nothing, and after the store failed', async () => {
    const store = await openStore({ memory: true });
    let failPuts = 0;
    const put = store.put.bind(store);
    store.put = (async (collection: string, id: string, doc: object) => {
      if (collection === REFUSED && failPuts > 0) {
        failPuts--;
        throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      }
      return put(collection, id, doc);
    }) as typeof store.put;
    const errors: unknown[] = [];
    const r = new RefusedDeliveries(store, { flushMs: 30, maxRecent: 3, onError: (e) => errors.push(e) });
    const stored = () => store.get<any>(REFUSED, 'conn:c1');
    r.record({ connection_id: 'c1' }, entry('A'));
    await r.flush();
    await r.flush();
    r.record({ connection_id: 'c1' }, entry('B'));
    await until(async () => ((await stored())?.count === 2 ? true : undefined), 'the second refusal written by the timer', 2000, 10);
    // The store refuses one write: the refusals wait (bounded) and the next flush writes them.
    failPuts = 1;
    for (const c of ['C', 'D', 'E', 'F']) r.record({ connection_id: 'c1' }, entry(c));
    await until(async () => ((await stored())?.count === 6 ? true : undefined), 'the refusals after the failed write', 2000, 10);
    expect(errors).toHaveLength(1);
    expect((await stored()).recent.map((x: any) => x.code)).toEqual(['F', 'E', 'D']);
    await r.close();
    await store.close();
  });
});
