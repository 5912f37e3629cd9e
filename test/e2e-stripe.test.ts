/**
 * Stripe end to end: `taxbridge serve` as a child process on a real port, the fake Stripe in this process.
 * Through the admin API: a test organization registered in Texas, Stripe connected with its secret key (the
 * webhook endpoint registered by API, its returned secret kept), the backfill, a draft -> invoice.created ->
 * manual tax_amounts on its lines (form-encoded on the wire); tax A -> B -> A sends a new idempotency key;
 * then with the endpoint disabled a draft gets its tax through a sync (the /v1/events feed), and a customer
 * deleted upstream disappears on the next full sync.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeStripe, type FakeStripe } from '../fakes/index.ts';
import { adminClient, childServeEnv, freePort, waitFor } from './helpers/e2e.ts';
import { CLI } from './helpers/serve-child.ts';

const ROOT = join(import.meta.dirname, '..');

let st: FakeStripe;
let dataDir: string;
let base: string;
let child: ChildProcess | undefined;
const output: string[] = [];
const ADMIN = `adm_${randomBytes(18).toString('base64url')}`;

const call = adminClient(() => base, ADMIN);

/** A form POST to the fake Stripe, as a Stripe user (dashboard or their own code) would make it. */
async function stripePost(path: string, fields: Record<string, string>): Promise<any> {
  const res = await request(st.url + path, {
    method: 'POST',
    headers: { authorization: st.authorization, 'content-type': 'application/x-www-form-urlencoded', 'stripe-version': st.apiVersion },
    body: new URLSearchParams(fields).toString(),
  });
  const json = await res.body.json();
  expect(res.statusCode, JSON.stringify(json)).toBe(200);
  return json;
}

const taxOf = (invoiceId: string) => st.linesOf(invoiceId).map((l) => (l.taxes ?? []).reduce((s, t) => s + t.amount, 0));
const taxWritesOf = (invoiceId: string) => st.writes.filter((w) => w.path === `/v1/invoices/${invoiceId}/update_lines`);
const keysOf = (invoiceId: string) =>
  st.requests.filter((r) => r.method === 'POST' && r.path === `/v1/invoices/${invoiceId}/update_lines` && r.status === 200).map((r) => String((r.headers as Record<string, unknown>)['idempotency-key']));

async function sync(conn: string, streams: string[], full: boolean): Promise<void> {
  const before = (await call('GET', `/admin/connections/${conn}`)).json.data.sync;
  const r = await call('POST', `/admin/connections/${conn}/sync`, { streams, full });
  expect(r.status, JSON.stringify(r.json)).toBe(202);
  for (const s of streams) {
    await waitFor(`sync of ${s}`, async () => {
      const now = (await call('GET', `/admin/connections/${conn}`)).json.data.sync[s];
      return now?.last_sync && now.last_sync.finished_at && now.last_sync.finished_at !== before[s]?.last_sync?.finished_at ? now : undefined;
    }, 20_000, 100);
  }
}

beforeAll(async () => {
  st = await startFakeStripe({ seed: 3, counts: { customers: 12, products: 4, invoices: 30, creditNotes: 3 }, rateLimit: false, secretKey: `sk_test_${randomBytes(12).toString('hex')}` });
  dataDir = mkdtempSync(join(tmpdir(), 'tb-e2e-stripe-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = childServeEnv({ port, dataDir, adminToken: ADMIN, masterKey: randomBytes(32).toString('base64') });
  child = spawn(process.execPath, [...CLI, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => output.push(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => output.push(d));
  await waitFor('readyz', async () => (await request(`${base}/readyz`)).statusCode === 200, 20_000, 100);
}, 40_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exit = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exit;
  }
  await st?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const state: { org?: string; conn?: string; endpoint?: string; austin?: string; draft?: string } = {};

describe('Stripe through taxbridge serve, end to end', () => {
  it('connects Stripe with a secret key; the webhook endpoint is registered by API and its returned secret kept', async () => {
    const o = await call('POST', '/admin/organizations', { name: 'Stripe E2E Co', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' }, default_product_tax_code: 'general' });
    expect(o.status).toBe(201);
    state.org = o.json.data.id;
    const reg = await call('POST', `/admin/organizations/${state.org}/registrations`, { country: 'US', state: 'TX', tax_calculation: true, effective_from: '2020-01-01' });
    expect(reg.status).toBe(201);

    const r = await call('POST', '/admin/connections', { connector: 'stripe', organization_id: state.org, environment: 'sandbox', credentials: { secret_key: st.secretKey }, base_url: st.url });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const c = r.json.data.connection;
    expect(c.status).toBe('active');
    expect(r.json.data.tax_api_key).toBeUndefined(); // Stripe never calls the tax API
    expect(c.credentials.webhook_secret?.set).toBe(true);
    state.conn = c.id;
    const endpoints = [...st.data.webhookEndpoints.values()];
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]!.url).toMatch(new RegExp(`^${base}/webhooks/whk_`));
    expect(endpoints[0]!.api_version).toBe('2025-03-31.basil');
    expect(endpoints[0]!.enabled_events).toContain('invoice.created');
    state.endpoint = endpoints[0]!.id;
    const registration = st.writes.find((w) => w.path === '/v1/webhook_endpoints')!;
    expect(registration.contentType).toBe('application/x-www-form-urlencoded');
    expect(registration.raw).toContain('enabled_events%5B0%5D=invoice.created');
  });

  it('backfills counts equal to the fake\'s data', async () => {
    const c = await waitFor('backfill', async () => {
      const r = (await call('GET', `/admin/connections/${state.conn}`)).json.data;
      return r.backfill?.status === 'succeeded' || r.backfill?.status === 'failed' ? r : undefined;
    }, 30_000, 200);
    expect(c.backfill.status, JSON.stringify(c.backfill)).toBe('succeeded');
    expect(c.sync.customers.counts.active).toBe(st.data.customers.size);
    expect(c.sync.products.counts.active).toBe(st.data.products.size);
    expect(c.sync.invoices.counts.active).toBe(st.data.invoices.size);
    expect(c.sync.credit_notes.counts.active).toBe(st.data.creditNotes.size);
  });

  it('a draft created in Stripe gets its tax_amounts through the webhook, form-encoded on the wire', async () => {
    const austin = [...st.data.customers.values()].find((x) => x.address?.city === 'Austin')!;
    state.austin = austin.id;
    const inv = st.createInvoice({ customer: austin.id, currency: 'usd', lines: [{ amount: 10_000, description: 'Platform fee' }, { amount: 2_500, description: 'Seats' }] });
    state.draft = inv.id;
    await waitFor('tax on the Stripe draft', () => taxOf(inv.id).every((t) => t > 0));
    const w = taxWritesOf(inv.id);
    expect(w).toHaveLength(1);
    expect(w[0]!.contentType).toBe('application/x-www-form-urlencoded');
    expect(w[0]!.status).toBe(200);
    const fields = new URLSearchParams(w[0]!.raw);
    expect(fields.get('lines[0][id]')).toBe(st.linesOf(inv.id)[0]!.id);
    expect(fields.get('lines[0][tax_amounts][0][tax_rate_data][country]')).toBe('US');
    expect(fields.get('lines[0][tax_amounts][0][tax_rate_data][inclusive]')).toBe('false');
    expect(Number(fields.get('lines[0][tax_amounts][0][amount]'))).toBe(st.linesOf(inv.id)[0]!.taxes[0]!.amount);
    const jobs = (await call('GET', `/admin/writebacks?connection=${state.conn}`)).json.data;
    const job = jobs.find((j: { document_id: string; status: string }) => j.document_id === inv.id && j.status === 'applied');
    expect(job?.total_tax).toBeDefined();
    // Our own write comes back as invoice.updated and is not written again.
    await st.deliveriesIdle();
    await waitFor('the echo processed', async () => (await call('GET', `/admin/events?connection=${state.conn}`)).json.data.length >= 2);
    expect(taxWritesOf(inv.id)).toHaveLength(1);
  });

  it('tax A -> B -> A is written three times, the second A with a new idempotency key', async () => {
    const id = state.draft!;
    const line = st.linesOf(id)[0]!;
    const taxA = taxOf(id)[0]!;
    // The user changes the line's amount (the fake takes no `amount` on a line update, so it is changed in
    // the fake's data), and an invoice update sends invoice.updated with it.
    line.amount = 20_000;
    await stripePost(`/v1/invoices/${id}`, { 'metadata[edit]': 'b' });
    await waitFor('tax B', () => taxWritesOf(id).length === 2 && taxOf(id)[0] !== taxA);
    line.amount = 10_000;
    await stripePost(`/v1/invoices/${id}`, { 'metadata[edit]': 'a' });
    await waitFor('tax A again', () => taxWritesOf(id).length === 3 && taxOf(id)[0] === taxA);
    expect(taxWritesOf(id).every((w) => w.status === 200)).toBe(true);
    const keys = keysOf(id);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(3);
    expect(taxWritesOf(id)[2]!.raw).toBe(taxWritesOf(id)[0]!.raw); // same content, new key: not an idempotent replay
  });

  it('a draft with more lines than Stripe embeds (12 > 10) is read again with all of them and every line is taxed', async () => {
    const inv = st.createInvoice({ customer: state.austin!, currency: 'usd', lines: Array.from({ length: 12 }, (_, i) => ({ amount: 1_000 + i, description: `Item ${i + 1}` })) });
    expect(st.linesOf(inv.id)).toHaveLength(12);
    await waitFor('tax on all 12 lines', () => taxOf(inv.id).every((t) => t > 0));
    const fields = new URLSearchParams(taxWritesOf(inv.id)[0]!.raw);
    expect(fields.get('lines[11][id]')).toBe(st.linesOf(inv.id)[11]!.id);
    expect(st.requests.some((r) => r.path === `/v1/invoices/${inv.id}/lines`)).toBe(true);
  });

  it('with webhooks off, a new draft gets its tax through a sync (the /v1/events feed, write-back triggered by sync)', async () => {
    await stripePost(`/v1/webhook_endpoints/${state.endpoint}`, { disabled: 'true' });
    const inv = st.createInvoice({ customer: state.austin!, currency: 'usd', lines: [{ amount: 5_000, description: 'Add-on' }] });
    await st.deliveriesIdle();
    expect(st.deliveries.some((d) => d.resourceId === inv.id)).toBe(false);
    expect(taxWritesOf(inv.id)).toHaveLength(0);
    await sync(state.conn!, ['invoices'], false);
    await waitFor('tax on the draft after the sync', () => taxOf(inv.id)[0]! > 0);
    expect(taxWritesOf(inv.id)).toHaveLength(1);
    const jobs = (await call('GET', `/admin/writebacks?connection=${state.conn}`)).json.data;
    expect(jobs.find((j: { document_id: string }) => j.document_id === inv.id)?.trigger).toMatch(/sync/);
  });

  it('a customer deleted upstream disappears on the next full sync (deletion by absence)', async () => {
    const before = (await call('GET', `/admin/connections/${state.conn}`)).json.data.sync.customers.counts.active;
    const victim = [...st.data.customers.values()].find((x) => x.id !== state.austin)!;
    st.deleteCustomer(victim.id);
    await sync(state.conn!, ['customers'], true);
    const after = (await call('GET', `/admin/connections/${state.conn}`)).json.data.sync.customers.counts;
    expect(after.active).toBe(before - 1);
    expect(after.active).toBe(st.data.customers.size);
  });

  it('never logged the secret key or the webhook secret', () => {
    const all = output.join('');
    expect(all).not.toContain(st.secretKey);
    for (const [, secret] of st.data.endpointSecrets) expect(all).not.toContain(secret);
  });
});
