/**
 * Write-back triggered by sync (`writeback.invoice.trigger: [.., sync]`), in process (startServer on port 0)
 * against the fake Rillet with no webhook delivery at all: an invoice that arrives only by sync gets its tax
 * written once; the system's own update after our write (seen by the next incremental and full syncs) is
 * recognised as carrying the tax and writes nothing more. The connection status lists both schedules of
 * the stream with their modes and next runs.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { startFakeRillet, type FakeRillet } from '../fakes/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer } from './helpers/e2e.ts';

const ROOT = join(import.meta.dirname, '..');
const TOKEN = `t_${randomBytes(16).toString('hex')}`;
let ril: FakeRillet;
let server: RunningServer;
let dataDir: string;
let connectorsDir: string;
let connId: string;
/** The invoice created in the fake by the first case (its customer is in Texas, where the organization collects). */
let invoiceId: string;

const admin = adminClient(() => server.url, TOKEN);

/** Runs of the connection and the write-back jobs they queued, all finished. */
async function settled(): Promise<void> {
  await server.runtime.idle();
  await server.webhooks.writebacks!.idle();
}

async function syncNow(full: boolean): Promise<void> {
  const r = await admin('POST', `/admin/connections/${connId}/sync`, { streams: ['invoices'], full });
  expect(r.status, JSON.stringify(r.json)).toBe(202);
  await settled();
}

const taxPosts = (invoiceId: string) => ril.requests.filter((r) => r.method === 'POST' && r.path === `/invoices/${invoiceId}/taxes`).length;

beforeAll(async () => {
  ril = await startFakeRillet({ counts: { customers: 4, products: 2, invoices: 2, creditNotes: 0 } });
  // The shipped Rillet spec, changed only where this test needs it: write-back on sync, two schedules.
  connectorsDir = mkdtempSync(join(tmpdir(), 'tb-wb-sync-specs-'));
  const doc = parseDocument(readFileSync(join(ROOT, 'connectors', 'rillet.yaml'), 'utf8'));
  doc.setIn(['writeback', 'invoice', 'trigger'], ['webhook', 'sync', 'api']);
  doc.deleteIn(['streams', 'invoices', 'schedule']);
  doc.setIn(['streams', 'invoices', 'schedules'], [
    { cron: '*/15 * * * *', mode: 'incremental' },
    { cron: '0 3 * * *', mode: 'full' },
  ]);
  writeFileSync(join(connectorsDir, 'rillet.yaml'), doc.toString());
  copyFileSync(join(ROOT, 'connectors', 'sequence.yaml'), join(connectorsDir, 'sequence.yaml'));
  dataDir = mkdtempSync(join(tmpdir(), 'tb-wb-sync-'));
  const config = inProcessConfig({ dataDir, connectors: connectorsDir, env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_LOG_LEVEL: 'warn' } });
  server = await startTestServer(config);
  const org = (await admin('POST', '/admin/organizations', { name: 'Sync WB', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' }, default_product_tax_code: 'general' })).json.data.id;
  expect((await admin('POST', `/admin/organizations/${org}/registrations`, { country: 'US', state: 'TX', tax_calculation: true, effective_from: '2020-01-01' })).status).toBe(201);
  const usd = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!;
  const r1 = await admin('POST', '/admin/connections', { connector: 'rillet', organization_id: org, credentials: { api_key: ril.apiKey }, base_url: ril.url });
  expect(r1.status, JSON.stringify(r1.json)).toBe(201);
  connId = r1.json.data.connection.id;
  await admin('PATCH', `/admin/connections/${connId}`, { settings: { subsidiary_id: usd.id } });
  const r3 = await admin('PATCH', `/admin/connections/${connId}`, { credentials: { signing_token: ril.signingToken } });
  expect(r3.json.data.connection.status).toBe('active');
  await settled();
  const s = (await admin('GET', `/admin/connections/${connId}`)).json.data;
  expect(s.backfill.status, JSON.stringify(s.backfill)).toBe('succeeded');
}, 60_000);

afterAll(async () => {
  await server?.close();
  await ril?.close();
  for (const d of [dataDir, connectorsDir]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('write-back triggered by sync', () => {
  it('an invoice that only arrives by sync gets its tax, written once', async () => {
    const austin = [...ril.data.customers.values()].find((c) => c.address?.state === 'TX')!;
    expect(austin).toBeTruthy();
    const usdId = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!.id;
    const inv = ril.createInvoice({ customer_id: austin.id, subsidiary_id: usdId, status: 'UNPAID', itemCount: 2 });
    invoiceId = inv.id;
    expect(taxPosts(inv.id)).toBe(0);

    await syncNow(false);
    expect(taxPosts(inv.id)).toBe(1);
    const taxed = ril.data.invoices.get(inv.id)!;
    expect(taxed.taxes_calculated_at).toBeTruthy();
    expect(Number(taxed.taxed_amount.amount)).toBeGreaterThan(0);
    const jobs = (await admin('GET', `/admin/writebacks?connection=${connId}`)).json.data.filter((j: { document_id: string }) => j.document_id === inv.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ status: 'applied' });
    expect(jobs[0].trigger).toMatch(/^sync invoices/);
  });

  it("the system's own update after our write does not write again (incremental, full, and a webhook-style request)", async () => {
    const inv = ril.data.invoices.get(invoiceId)!;
    // The next incremental sync reads the invoice again (its updated_at moved when the tax was written).
    await syncNow(false);
    await syncNow(true);
    expect(taxPosts(inv.id)).toBe(1);
    const jobs = (await admin('GET', `/admin/writebacks?connection=${connId}`)).json.data.filter((j: { document_id: string }) => j.document_id === inv.id);
    expect(jobs).toHaveLength(1);
    // What a webhook for the same change would ask: the same decision, no second job, nothing sent.
    const c = await server.webhooks.loadConnection(connId);
    const again = await server.webhooks.writebacks!.request(c!, 'invoice', inv.id, 'event test');
    expect(again.status).toBe('unchanged');
    await settled();
    expect(taxPosts(inv.id)).toBe(1);
  });

  it('a changed invoice is written again, once per change', async () => {
    const inv = ril.data.invoices.get(invoiceId)!;
    // One more unit on the first line: a new amount, so the tax it carries is no longer right.
    const items = inv.items.map((it, i) => (i === 0 ? { ...it, quantity: String(Number(it.quantity) + 1), total_amount: { amount: (Number(it.total_amount.amount) + Number(it.gross_rate.amount)).toFixed(2), currency: it.total_amount.currency } } : it));
    ril.updateInvoice(inv.id, { items } as never);
    await syncNow(false);
    expect(taxPosts(inv.id)).toBe(2);
    await syncNow(false);
    await syncNow(true);
    expect(taxPosts(inv.id)).toBe(2);
    const jobs = (await admin('GET', `/admin/writebacks?connection=${connId}`)).json.data.filter((j: { document_id: string }) => j.document_id === inv.id);
    expect(jobs.map((j: { status: string }) => j.status)).toEqual(['applied', 'applied']);
  });

  it('connection status lists every schedule of the stream with its mode and next run', async () => {
    const s = (await admin('GET', `/admin/connections/${connId}`)).json.data;
    expect(s.sync.invoices.schedule).toMatchObject({ cron: '*/15 * * * *', mode: 'incremental' });
    expect(s.sync.invoices.schedules.map((x: { cron: string; mode: string }) => [x.cron, x.mode])).toEqual([
      ['*/15 * * * *', 'incremental'],
      ['0 3 * * *', 'full'],
    ]);
    for (const x of s.sync.invoices.schedules) expect(Date.parse(x.next_run)).toBeGreaterThan(Date.now());
  });
});
