/**
 * Chargebee end to end: `taxbridge serve` as a child process on a real port, the fake Chargebee in this
 * process. The spec under test is connectors/chargebee.yaml, copied to a temporary connectors folder with its
 * host template pointed at loopback: `https://{{ settings.site }}.chargebee.com/api/v2` becomes
 * `http://127.0.0.1:PORT/sites/{{ settings.site }}/api/v2` (the fake reads the site from that path), which the
 * runtime accepts only because the deployment sets TAXBRIDGE_ALLOW_LOOPBACK_HTTP=true. So the `site` setting
 * (with its pattern) really builds the host. Then: backfill counts equal the fake's data; the webhook is
 * registered by API with generated Basic credentials; a new invoice arrives by that webhook and, with the
 * webhook off, by an incremental sync; records deleted upstream (flagged, and gone altogether) are deleted by
 * the next full sync; wrong or missing Basic credentials are refused with 401.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChargebee, type FakeChargebee } from '../fakes/index.ts';
import { ADMIN_TOKEN, serveEnv, startServe, type ServeChild } from './helpers/serve-child.ts';
import { freePort, waitFor } from './helpers/e2e.ts';

const ROOT = join(import.meta.dirname, '..');
const SITE = 'acme-test';
const HOST_TEMPLATE = 'https://{{ settings.site }}.chargebee.com/api/v2';

let cb: FakeChargebee;
let dataDir: string;
let connectorsDir: string;
let base: string;
let serve: ServeChild | undefined;
const API_KEY = `test_${randomBytes(12).toString('hex')}`;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await request(base + path, {
    method: method as 'GET',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.statusCode, json };
}
const admin = (method: string, path: string, body?: unknown) => call(method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });

beforeAll(async () => {
  cb = await startFakeChargebee({ seed: 7, site: SITE, apiKey: API_KEY, rateLimit: false, counts: { customers: 14, items: 4, invoices: 23, creditNotes: 3 } });
  connectorsDir = mkdtempSync(join(tmpdir(), 'tb-cb-connectors-'));
  const text = readFileSync(join(ROOT, 'connectors', 'chargebee.yaml'), 'utf8');
  expect(text).toContain(HOST_TEMPLATE);
  writeFileSync(join(connectorsDir, 'chargebee.yaml'), text.replaceAll(HOST_TEMPLATE, `${cb.origin}/sites/{{ settings.site }}/api/v2`));
  dataDir = mkdtempSync(join(tmpdir(), 'tb-e2e-cb-'));
  // A fixed port, not 0: the webhook URL registered with Chargebee is built from the public URL, which
  // defaults to the configured port.
  const port = await freePort();
  serve = await startServe(dataDir, { env: serveEnv({ TAXBRIDGE_CONNECTORS_DIR: connectorsDir, TAXBRIDGE_ALLOW_LOOPBACK_HTTP: 'true', TAXBRIDGE_BACKFILL: 'true' }), args: ['--port', String(port)] });
  base = serve.url;
}, 40_000);

afterAll(async () => {
  await serve?.stop();
  await cb?.close();
  for (const d of [dataDir, connectorsDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const state: { org?: string; conn?: string; webhookUrl?: string; endpointId?: string } = {};

async function connection(): Promise<any> {
  return (await admin('GET', `/admin/connections/${state.conn}`)).json.data;
}

/** Starts a sync and waits until every stream's last run has finished after it started. */
async function syncAndWait(full: boolean, streams?: string[]): Promise<any> {
  const before = await connection();
  const started = (s: string): string | undefined => before.sync[s]?.last_sync?.finished_at ?? before.sync[s]?.last_sync?.started_at;
  const r = await admin('POST', `/admin/connections/${state.conn}/sync`, { full, ...(streams ? { streams } : {}) });
  expect(r.status, JSON.stringify(r.json)).toBe(202);
  const names = streams ?? Object.keys(before.sync);
  return waitFor('the sync', async () => {
    const c = await connection();
    return names.every((s) => c.sync[s]?.last_sync && c.sync[s].last_sync.status !== 'running' && (c.sync[s].last_sync.finished_at ?? c.sync[s].last_sync.started_at) !== started(s)) ? c : undefined;
  }, 30_000, 150);
}

const active = <T extends { deleted: boolean }>(m: { values(): IterableIterator<T> }): number => [...m.values()].filter((r) => !r.deleted).length;

describe('Chargebee through taxbridge serve', () => {
  it('connects with a site and an API key: the templated host reaches the site, the webhook is registered with Basic credentials', async () => {
    const o = await admin('POST', '/admin/organizations', { name: 'Chargebee E2E Co', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' } });
    expect(o.status).toBe(201);
    state.org = o.json.data.id;
    const bad = await admin('POST', '/admin/connections', { connector: 'chargebee', organization_id: state.org, environment: 'sandbox', credentials: { api_key: API_KEY }, settings: { site: 'evil.example/x' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/settings\.site/);
    const r = await admin('POST', '/admin/connections', { connector: 'chargebee', organization_id: state.org, environment: 'sandbox', credentials: { api_key: API_KEY }, settings: { site: SITE } });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const c = r.json.data.connection;
    expect(c.status).toBe('active');
    expect(r.json.data.tax_api_key).toBeUndefined(); // calls_tax_api: false
    state.conn = c.id;
    state.webhookUrl = r.json.data.webhook_url ?? c.webhook?.url;
    const eps = [...cb.data.webhookEndpoints.values()];
    expect(eps).toHaveLength(1);
    state.endpointId = eps[0]!.id;
    expect(c.webhook?.registration_id).toBe(state.endpointId);
    expect(eps[0]!.url).toMatch(new RegExp(`^${base}/webhooks/whk_`));
    state.webhookUrl ??= eps[0]!.url;
    const cred = cb.data.endpointCredentials.get(state.endpointId!)!;
    expect(cred.username).toBe('taxbridge');
    expect(cred.password).toMatch(/^[0-9a-f]{64}$/);
    // The registration went out form-encoded with index-last arrays, as Chargebee takes it.
    const reg = cb.writes.find((w) => w.path.endsWith('/webhook_endpoints'))!;
    expect(reg.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(reg.raw).toContain('enabled_events%5B0%5D=customer_created');
    expect(cb.sitesSeen.length).toBeGreaterThan(0);
    expect(new Set(cb.sitesSeen)).toEqual(new Set([SITE]));
  });

  it('backfills: every stream counts what the fake holds', async () => {
    const c = await waitFor('backfill', async () => {
      const d = await connection();
      return d.backfill?.status === 'succeeded' || d.backfill?.status === 'failed' ? d : undefined;
    }, 30_000, 200);
    expect(c.backfill.status, JSON.stringify(c.backfill)).toBe('succeeded');
    expect(c.sync.customers.counts.active).toBe(active(cb.data.customers));
    expect(c.sync.items.counts.active).toBe(active(cb.data.items));
    expect(c.sync.item_prices.counts.active).toBe(active(cb.data.itemPrices));
    expect(c.sync.invoices.counts.active).toBe(active(cb.data.invoices));
    expect(c.sync.credit_notes.counts.active).toBe(active(cb.data.creditNotes));
    expect(c.sync.invoices.counts.active).toBe(23);
    for (const s of ['customers', 'items', 'item_prices', 'invoices', 'credit_notes']) {
      expect(c.sync[s].last_sync, s).toMatchObject({ status: 'ok', failed: 0 });
    }
    // Lists were read with Chargebee's parameters.
    const list = cb.requests.find((q) => q.path.endsWith('/invoices') && q.method === 'GET')!;
    expect(list.query).toMatchObject({ include_deleted: 'true', 'sort_by[asc]': 'updated_at', limit: '100' });
  });

  it('a new invoice arrives by the Basic-auth webhook', async () => {
    const before = (await connection()).sync.invoices.counts.active;
    const inv = cb.createInvoice({ lineCount: 2 });
    await cb.deliveriesIdle();
    const ok = cb.deliveries.filter((d) => d.resourceId === inv.id && d.event === 'invoice_generated');
    expect(ok.map((d) => d.status)).toContain(200);
    const c = await waitFor('the webhook invoice stored', async () => {
      const d = await connection();
      return d.sync.invoices.counts.active === before + 1 ? d : undefined;
    });
    expect(c.webhooks.received).toBeGreaterThan(0);
    // The event is marked processed after its invoice is stored: on a busy machine a read can fall between the two.
    await waitFor('the webhook event processed', async () => {
      const events = (await admin('GET', `/admin/events?connection=${state.conn}`)).json.data;
      return events.some((e: { event_type: string; status: string }) => e.event_type === 'invoice_generated' && e.status === 'processed') || undefined;
    });
  });

  it('refuses wrong or missing Basic credentials with 401, and stores nothing from them', async () => {
    const before = (await connection()).sync.invoices.counts.active;
    const invoice = { ...[...cb.data.invoices.values()][0]!, id: 'forged_1' };
    const wrong = await cb.sendWebhook(state.webhookUrl!, { event_type: 'invoice_generated', content: { invoice } }, { username: 'taxbridge', password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    const none = await cb.sendWebhook(state.webhookUrl!, { event_type: 'invoice_generated', content: { invoice } }, { omitAuth: true });
    expect(none.status).toBe(401);
    const otherUser = await cb.sendWebhook(state.webhookUrl!, { event_type: 'invoice_generated', content: { invoice } }, { username: 'admin', password: cb.data.endpointCredentials.get(state.endpointId!)!.password });
    expect(otherUser.status).toBe(401);
    for (const r of [wrong, none, otherUser]) expect(r.body).not.toMatch(/stack|at .*\.ts/);
    expect((await connection()).sync.invoices.counts.active).toBe(before);
  });

  it('with the webhook off, a new invoice arrives by an incremental sync (updated_at[after])', async () => {
    cb.data.webhookEndpoints.get(state.endpointId!)!.disabled = true;
    const before = (await connection()).sync.invoices.counts.active;
    const inv = cb.createInvoice({ lineCount: 3 });
    await cb.deliveriesIdle();
    expect(cb.deliveries.some((d) => d.resourceId === inv.id)).toBe(false);
    cb.requests.clear();
    const c = await syncAndWait(false, ['invoices']);
    expect(c.sync.invoices.last_sync.status).toBe('ok');
    expect(c.sync.invoices.counts.active).toBe(before + 1);
    const q = cb.requests.find((r) => r.path.endsWith('/invoices'))!;
    expect(q.query['updated_at[after]']).toMatch(/^\d{10}$/);
  });

  it('records deleted upstream disappear on the next full sync: flagged (include_deleted) and gone altogether (absence)', async () => {
    const before = (await connection()).sync.customers.counts;
    const [flagged, gone] = [...cb.data.customers.values()].filter((c) => !c.deleted).slice(0, 2);
    cb.deleteCustomer(flagged!.id);            // Chargebee keeps it with deleted: true
    cb.data.customers.delete(gone!.id);        // and this one is not listed at all any more
    await cb.deliveriesIdle();
    const c = await syncAndWait(true, ['customers']);
    expect(c.sync.customers.last_sync.status).toBe('ok');
    expect(c.sync.customers.counts.active).toBe(before.active - 2);
    expect(c.sync.customers.counts.deleted).toBe(before.deleted + 2);
    expect(c.sync.customers.counts.active).toBe(active(cb.data.customers));
  });
});
