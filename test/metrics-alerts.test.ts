/**
 * GET /metrics and alerts, in process against the fake Rillet over real sockets:
 *
 * - /metrics needs the admin token or the metrics token (which opens nothing else); its counters move with
 *   tax calculations, webhook deliveries, syncs, upstream requests, write-backs and store writes; no label
 *   carries an id.
 * - A local receiver gets one signed alert (Standard Webhooks, checked here with our own HMAC, and against
 *   schemas/alert-event.schema.json) per condition: signature failures over the threshold, a sync failing
 *   after its retries, credentials rejected, a dead write-back, a queue's oldest item over the threshold;
 *   repeats while it holds send nothing; once it clears, one "resolved". A receiver answering 500 gets the
 *   notification again.
 *
 * (A connection needing re-authorization is covered by test/oauth-connect.test.ts, where a real revoked
 * consent causes it.)
 */
import { createHmac, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { startFakeRillet, type FakeRillet } from '../fakes/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer, until } from './helpers/e2e.ts';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.ts';

const ROOT = join(import.meta.dirname, '..');
const TOKEN = `t_${randomBytes(16).toString('hex')}`;
const METRICS_TOKEN = `m_${randomBytes(16).toString('hex')}`;
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
let ril: FakeRillet;
let server: RunningServer;
let receiver: Receiver;
let dataDir: string;
let connectorsDir: string;
let connId: string;
let webhookUrl: string;
let apiKey: string;
const admin = adminClient(() => server.url, TOKEN);

const ajv = new Ajv2020({ allErrors: true, strict: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validateEvent = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'schemas', 'alert-event.schema.json'), 'utf8')));

interface Alert {
  type: string;
  text: string;
  data: { alert_id: string; condition: string; status: string; connection_id?: string; stream?: string; queue?: string; value?: number; job_id?: string; error?: { code: string } };
}

/** Every notification received (a retried one once, by its webhook-id), each checked: headers, signature (our own HMAC), schema. */
function alerts(): Alert[] {
  const seen = new Set<string>();
  return receiver.got.filter((g) => !seen.has(String(g.headers['webhook-id'])) && seen.add(String(g.headers['webhook-id']))).map((g) => {
    const id = String(g.headers['webhook-id']);
    const ts = String(g.headers['webhook-timestamp']);
    expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(600);
    const expected = createHmac('sha256', Buffer.from(SECRET.slice(6), 'base64')).update(`${id}.${ts}.${g.body}`).digest('base64');
    expect(String(g.headers['webhook-signature']).split(' ')).toContain(`v1,${expected}`);
    expect(g.headers['content-type']).toBe('application/json');
    const body = JSON.parse(g.body) as Alert;
    expect(validateEvent(body), JSON.stringify(validateEvent.errors)).toBe(true);
    return body;
  });
}

const received = (condition: string, status: string) => alerts().filter((a) => a.data.condition === condition && a.data.status === status);

async function waitAlert(condition: string, status: string, n = 1): Promise<Alert[]> {
  return until(() => (received(condition, status).length >= n ? received(condition, status) : undefined), `${n} ${condition} ${status} alert(s)`, 20_000);
}

async function scrape(token = METRICS_TOKEN): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

/** The value of one series (labels given in any order), 0 when absent. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{\s]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** Syncs, webhook events and the write-backs they queued, all finished (so injected faults meet only the next request). */
async function settled(): Promise<void> {
  await server.runtime.idle();
  await server.webhooks.events.idle();
  await server.webhooks.writebacks!.idle();
}

async function syncStream(stream: string): Promise<void> {
  const r = await admin('POST', `/admin/connections/${connId}/sync`, { streams: [stream], full: true });
  expect(r.status, JSON.stringify(r.json)).toBe(202);
  await settled();
}

function invoiceTax(externalId: string): Promise<{ status: number; json: any }> {
  return fetch(`${server.url}/tax_api/v1/rillet/calculate_invoice_tax`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ external_id: externalId }),
  }).then(async (r) => ({ status: r.status, json: await r.json() }));
}

const unpaid = () => [...ril.data.invoices.values()].filter((i) => ['UNPAID', 'UNBILLED', 'PARTIALLY_PAID'].includes(i.status));

/** A new unpaid invoice of a Texas customer (taxed: the organization collects in Texas), synced. */
async function texasInvoice(): Promise<string> {
  const austin = [...ril.data.customers.values()].find((c) => c.address?.state === 'TX')!;
  const usd = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!;
  const inv = ril.createInvoice({ customer_id: austin.id, subsidiary_id: usd.id, status: 'UNPAID', itemCount: 2 });
  await syncStream('invoices');
  return inv.id;
}

beforeAll(async () => {
  receiver = await startReceiver('/alerts');
  ril = await startFakeRillet({ counts: { customers: 3, products: 2, invoices: 4, creditNotes: 0 } });
  // The shipped Rillet spec with fast retries (2 attempts, 50 ms), so a failing sync fails within the test.
  connectorsDir = mkdtempSync(join(tmpdir(), 'tb-metrics-specs-'));
  const doc = parseDocument(readFileSync(join(ROOT, 'connectors', 'rillet.yaml'), 'utf8'));
  doc.setIn(['http', 'retry', 'max_attempts'], 2);
  doc.setIn(['http', 'retry', 'initial_delay_ms'], 50);
  doc.setIn(['http', 'retry', 'max_delay_ms'], 100);
  writeFileSync(join(connectorsDir, 'rillet.yaml'), doc.toString());
  copyFileSync(join(ROOT, 'connectors', 'sequence.yaml'), join(connectorsDir, 'sequence.yaml'));
  dataDir = mkdtempSync(join(tmpdir(), 'tb-metrics-'));
  const config = inProcessConfig({
    dataDir,
    connectors: connectorsDir,
    env: {
      TAXBRIDGE_ADMIN_TOKEN: TOKEN,
      TAXBRIDGE_METRICS_TOKEN: METRICS_TOKEN,
      TAXBRIDGE_SCHEDULES: 'false',
      TAXBRIDGE_LOG_LEVEL: 'warn',
      TAXBRIDGE_ALERT_URLS: receiver.url,
      TAXBRIDGE_ALERT_SECRET: SECRET,
      TAXBRIDGE_ALERT_SIGNATURE_FAILURES: '3',
      TAXBRIDGE_ALERT_QUEUE_AGE_SECONDS: '1',
    },
  });
  server = await startTestServer(config, process.env.DEBUG_METRICS ? { writeLog: (l) => void process.stderr.write(l + '\n') } : {});
  const org = (await admin('POST', '/admin/organizations', { name: 'Metrics', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' }, default_product_tax_code: 'general' })).json.data.id;
  expect((await admin('POST', `/admin/organizations/${org}/registrations`, { country: 'US', state: 'TX', tax_calculation: true, effective_from: '2020-01-01' })).status).toBe(201);
  apiKey = (await admin('POST', `/admin/organizations/${org}/keys`, {})).json.data.key;
  const usd = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!;
  const r1 = await admin('POST', '/admin/connections', { connector: 'rillet', organization_id: org, credentials: { api_key: ril.apiKey }, base_url: ril.url });
  expect(r1.status, JSON.stringify(r1.json)).toBe(201);
  connId = r1.json.data.connection.id;
  await admin('PATCH', `/admin/connections/${connId}`, { settings: { subsidiary_id: usd.id } });
  const r3 = await admin('PATCH', `/admin/connections/${connId}`, { credentials: { signing_token: ril.signingToken } });
  expect(r3.json.data.connection.status).toBe('active');
  webhookUrl = `${server.url}${new URL(r3.json.data.connection.webhook_url).pathname}`;
  await settled();
}, 60_000);

afterAll(async () => {
  await server?.close();
  await ril?.close();
  await receiver?.close();
  for (const d of [dataDir, connectorsDir]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('GET /metrics', () => {
  it('needs the admin token or the metrics token; the metrics token opens nothing else', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await scrape('wrong-token-0123456789abcdef')).status).toBe(401);
    expect((await scrape(METRICS_TOKEN.toUpperCase())).status).toBe(401);
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect((await scrape(TOKEN)).status).toBe(200);
    const adminWithMetricsToken = await fetch(`${server.url}/admin/organizations`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(adminWithMetricsToken.status).toBe(401);
  });

  it('counts the backfill: sync runs and records by connector and stream, upstream requests, store writes', async () => {
    const { text } = await scrape();
    expect(value(text, 'taxbridge_sync_runs_total', { connector: 'rillet', stream: 'invoices', status: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'taxbridge_sync_records_total', { connector: 'rillet', stream: 'invoices' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'taxbridge_sync_duration_seconds_count', { connector: 'rillet', stream: 'customers', status: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'taxbridge_upstream_requests_total', { connector: 'rillet', status: '200' })).toBeGreaterThanOrEqual(5);
    expect(value(text, 'taxbridge_store_write_duration_seconds_count', { op: 'commit_page', collection: 'entities', result: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'taxbridge_store_write_duration_seconds_count', { op: 'put', collection: 'connections' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'taxbridge_queue_depth', { queue: 'inbox' })).toBe(0);
    expect(text).toMatch(/^taxbridge_process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^taxbridge_nodejs_eventloop_lag_seconds /m);
  });

  it('moves with HTTP requests (by route template) and tax calculations (by result and reason)', async () => {
    const before = (await scrape()).text;
    const body = { currency: 'usd', customer_address: { line1: '1 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, line_items: [{ id: 'a', amount: 10_000, product_id: 'p' }] };
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${server.url}/tax_api/calculate_tax`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: JSON.stringify(body) });
      expect(r.status).toBe(200);
    }
    const bad = await fetch(`${server.url}/tax_api/calculate_tax`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: JSON.stringify({ currency: 'usd' }) });
    expect(bad.status).toBe(400);
    expect((await admin('GET', `/admin/connections/${connId}`)).status).toBe(200);
    await fetch(`${server.url}/no/such/path/${randomBytes(4).toString('hex')}`);
    const after = (await scrape()).text;
    if (process.env.DEBUG_METRICS) console.log(after);
    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(delta('taxbridge_http_requests_total', { method: 'POST', route: '/tax_api/calculate_tax', status: '200' })).toBe(3);
    expect(delta('taxbridge_http_request_duration_seconds_count', { method: 'POST', route: '/tax_api/calculate_tax', status: '200' })).toBe(3);
    expect(delta('taxbridge_http_requests_total', { method: 'POST', route: '/tax_api/calculate_tax', status: '400' })).toBe(1);
    expect(delta('taxbridge_http_requests_total', { method: 'GET', route: '/admin/connections/:id', status: '200' })).toBe(1);
    expect(delta('taxbridge_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    expect(delta('taxbridge_tax_calculations_total', { result: 'taxed', reason: 'standard_rated' })).toBe(3);
    expect(delta('taxbridge_tax_calculations_total', { result: 'error' })).toBe(1);
    // Bounded labels: no connection id, raw path or key anywhere.
    expect(after).not.toContain(connId);
    expect(after).not.toContain('/no/such/path');
    expect(after).not.toContain(apiKey);
  });
});

describe('alerts', () => {
  it('signature failures over the threshold: one alert, then resolved by an accepted delivery; webhook metrics move', async () => {
    const before = (await scrape()).text;
    const inv = unpaid()[0]!;
    receiver.statuses.push(500); // the first notification is answered 500 and must arrive again
    for (let i = 0; i < 5; i++) {
      const r = await ril.sendWebhook(webhookUrl, { entity: 'INVOICE', event: 'UPDATED', id: inv.id }, { tamper: true });
      expect(r.status).toBe(401);
    }
    const fired = await waitAlert('signature_failures', 'firing');
    expect(fired[0]!.data).toMatchObject({ connection_id: connId, value: 3 });
    expect(fired[0]!.text).toMatch(/^taxbridge \[FIRING\] webhook signature failures: connection /);
    // Answered 500 once, delivered on the retry with the same webhook-id.
    const gotIds = await until(() => {
      const ids = receiver.got.filter((g) => JSON.parse(g.body).data.condition === 'signature_failures').map((g) => g.headers['webhook-id']);
      return ids.length >= 2 ? ids : undefined;
    }, 'the retried notification');
    expect(gotIds).toHaveLength(2);
    expect(gotIds[0]).toBe(gotIds[1]);

    const ok = await ril.sendWebhook(webhookUrl, { entity: 'INVOICE', event: 'UPDATED', id: inv.id }, { eventId: 'evt-metrics-1' });
    expect(ok.status).toBe(200);
    const dup = await ril.sendWebhook(webhookUrl, { entity: 'INVOICE', event: 'UPDATED', id: inv.id }, { eventId: 'evt-metrics-1' });
    expect(dup.status).toBe(200);
    const resolved = await waitAlert('signature_failures', 'resolved');
    expect(resolved[0]!.data.alert_id).toBe(fired[0]!.data.alert_id);
    expect(resolved).toHaveLength(1);
    await settled();
    const after = (await scrape()).text;
    const delta = (labels: Record<string, string>) => value(after, 'taxbridge_webhook_deliveries_total', labels) - value(before, 'taxbridge_webhook_deliveries_total', labels);
    expect(delta({ connector: 'rillet', outcome: 'refused', code: 'webhook_signature_invalid' })).toBe(5);
    expect(delta({ connector: 'rillet', outcome: 'accepted' })).toBe(1);
    expect(delta({ connector: 'rillet', outcome: 'duplicate' })).toBe(1);
    expect(value(after, 'taxbridge_alert_deliveries_total', { condition: 'signature_failures', result: 'retried' })).toBe(1);
    expect(received('signature_failures', 'firing')).toHaveLength(1);
  });

  it('a sync failing after its retries fires once per stream; a good run resolves it', async () => {
    ril.faults.failNext(2, 500);
    await syncStream('products');
    ril.faults.failNext(2, 500);
    await syncStream('products');
    const fired = await waitAlert('sync_failed', 'firing');
    expect(fired).toHaveLength(1);
    expect(fired[0]!.data).toMatchObject({ connection_id: connId, connector: 'rillet', stream: 'products', error: { code: 'http_transient' } });
    const { text } = await scrape();
    expect(value(text, 'taxbridge_sync_runs_total', { connector: 'rillet', stream: 'products', status: 'failed' })).toBe(2);
    expect(value(text, 'taxbridge_upstream_retries_total', { connector: 'rillet', status: '500' })).toBeGreaterThanOrEqual(2);
    await syncStream('products');
    const resolved = await waitAlert('sync_failed', 'resolved');
    expect(resolved[0]!.data.alert_id).toBe(fired[0]!.data.alert_id);
  });

  it('credentials rejected (401 from the system) fires; a successful sync resolves it', async () => {
    ril.faults.failNext(1, 401);
    await syncStream('customers');
    const fired = await waitAlert('credentials_rejected', 'firing');
    expect(fired[0]!.data).toMatchObject({ connection_id: connId, error: { code: 'http_bad_credentials' } });
    await syncStream('customers');
    await waitAlert('credentials_rejected', 'resolved');
    expect(received('credentials_rejected', 'firing')).toHaveLength(1);
  });

  it('a dead write-back fires; the replayed job applied resolves it; write-backs are counted by outcome', async () => {
    const before = (await scrape()).text;
    const inv = await texasInvoice();
    ril.faults.failNext(1, 400, { method: 'POST' });
    const r = await invoiceTax(inv);
    expect(r.status, JSON.stringify(r.json)).toBe(502);
    const fired = await waitAlert('writeback_dead', 'firing');
    expect(fired[0]!.data).toMatchObject({ connection_id: connId, connector: 'rillet' });
    const jobId = fired[0]!.data.job_id!;
    expect(jobId).toBeTruthy();
    const replay = await admin('POST', `/admin/writebacks/${jobId}/replay`);
    expect(replay.status, JSON.stringify(replay.json)).toBe(200);
    await settled();
    await waitAlert('writeback_dead', 'resolved');
    const after = (await scrape()).text;
    const delta = (outcome: string) => value(after, 'taxbridge_writebacks_total', { connector: 'rillet', outcome }) - value(before, 'taxbridge_writebacks_total', { connector: 'rillet', outcome });
    expect(delta('dead')).toBe(1);
    expect(delta('applied')).toBe(1);
  });

  it("a queue's oldest item over the threshold fires; resolved once the queue moves", async () => {
    const inv = await texasInvoice();
    // Every write fails (503) until the faults are cleared: the job waits for its retries in the write-back queue.
    ril.faults.failNext(50, 503, { method: 'POST' });
    const r = await invoiceTax(inv);
    expect(r.status, JSON.stringify(r.json)).toBe(202);
    await until(async () => {
      const { text } = await scrape();
      return value(text, 'taxbridge_queue_depth', { queue: 'writeback' }) >= 1 && value(text, 'taxbridge_queue_oldest_age_seconds', { queue: 'writeback' }) >= 2 ? true : undefined;
    }, 'the job to be 2 s old in the queue', 20_000);
    await server.alerts!.check();
    await server.alerts!.check();
    const fired = await waitAlert('queue_oldest_age', 'firing');
    expect(fired).toHaveLength(1);
    expect(fired[0]!.data).toMatchObject({ queue: 'writeback', threshold: 1 });
    // The system works again; the operator replays the job; the queue empties.
    ril.faults.clear();
    const replay = await admin('POST', `/admin/writebacks/${r.json.job_id}/replay`);
    expect(replay.status, JSON.stringify(replay.json)).toBe(200);
    await until(async () => ((await admin('GET', `/admin/writebacks/${r.json.job_id}`)).json.data.status === 'applied' ? true : undefined), 'the replayed job to apply', 20_000);
    await server.alerts!.check();
    await waitAlert('queue_oldest_age', 'resolved');
    const { text } = await scrape();
    expect(value(text, 'taxbridge_writebacks_total', { connector: 'rillet', outcome: 'retrying' })).toBeGreaterThanOrEqual(1);
  });

  it('each condition fired exactly once and resolved exactly once; the text is Slack-compatible', () => {
    const all = alerts();
    const byId = new Map<string, string[]>();
    for (const a of all) byId.set(a.data.alert_id, [...(byId.get(a.data.alert_id) ?? []), a.data.status]);
    for (const [id, states] of byId) expect(states, `${id}: ${JSON.stringify(all.filter((a) => a.data.alert_id === id))}`).toEqual(['firing', 'resolved']);
    expect(new Set(all.map((a) => a.data.condition))).toEqual(new Set(['signature_failures', 'sync_failed', 'credentials_rejected', 'writeback_dead', 'queue_oldest_age']));
    for (const a of all) expect(a.text).toMatch(/^taxbridge \[(FIRING|FIRING, critical|RESOLVED)\] /);
  });
});
