/**
 * connectors/quickbooks.yaml end to end over real sockets: taxbridge serve in process against the fake
 * QuickBooks Online (fakes/quickbooks.ts: Intuit's OAuth paths with realmId on the redirect, two companies
 * whose invoice ids repeat, realm-scoped tokens, the query endpoint, SyncToken/5010, app-level webhooks).
 * Nothing QuickBooks-specific runs in taxbridge: the spec says it all.
 *
 * One story, in order: connect through consent -> backfill counts equal the fake's; an access token that
 * dies before a sync is refreshed once; one batched webhook with 3 entities of this company and 1 of the
 * other -> 3 processed, 1 unrouted, no request of ours to the other company; tax on the invoice as
 * TxnTaxDetail.TotalTax with the current SyncToken; a revoked consent -> needs_reauthorization.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeQuickBooks, type FakeQuickBooks } from '../fakes/quickbooks.ts';
import { US_PLACES } from '../fakes/quickbooks-data.ts';
import type { ServeConfig } from '../src/config/index.ts';
import type { ConnectionDoc } from '../src/connections/model.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, freePort, inProcessConfig, startTestServer, until } from './helpers/e2e.ts';

const TOKEN = `t_${randomBytes(16).toString('hex')}`;
const VERIFIER = `verifier-${randomBytes(8).toString('hex')}`;
const COUNTS = { customers: 6, items: 4, invoices: 12, creditMemos: 2 };

let qb: FakeQuickBooks;
let server: RunningServer;
let config: ServeConfig;
let dataDir: string;
let orgId: string;
let connId: string;
let realmA: string;
let realmB: string;

const admin = adminClient(() => server.url, TOKEN);

const stored = () => server.store.get<ConnectionDoc>('connections', connId) as Promise<ConnectionDoc>;
const ourRequests = (realm: string) => qb.requests.filter((r: { path: string }) => r.path.startsWith(`/v3/company/${realm}/`));

async function syncAndWait(): Promise<any> {
  const before = (await server.store.list<any>('sync_runs', (r) => r.connection_id === connId)).length;
  const r = await admin('POST', `/admin/connections/${connId}/sync`, { full: true });
  expect(r.status).toBe(202);
  await until(async () => ((await server.store.list<any>('sync_runs', (x) => x.connection_id === connId)).length >= before + 4 ? true : undefined), 'the sync runs');
  await server.runtime.idle();
  return server.store.list<any>('sync_runs', (x) => x.connection_id === connId);
}

/** Write-back jobs settled: none queued or running. */
async function writebacksIdle(): Promise<any[]> {
  return until(async () => {
    const jobs = (await admin('GET', '/admin/writebacks')).json.data as any[];
    return jobs.every((j) => !['pending', 'running', 'retrying', 'waiting'].includes(j.status)) ? jobs : undefined;
  }, 'write-back jobs to settle');
}

beforeAll(async () => {
  qb = await startFakeQuickBooks({ seed: 3, companies: 2, counts: COUNTS, webhook: { verifierToken: VERIFIER, hold: true } });
  [realmA, realmB] = qb.realmIds as [string, string];
  dataDir = mkdtempSync(join(tmpdir(), 'tb-qbo-'));
  const port = await freePort();
  config = inProcessConfig({
    dataDir: join(dataDir, 'data'),
    port,
    env: {
      TAXBRIDGE_ADMIN_TOKEN: TOKEN,
      TAXBRIDGE_ALLOW_LOOPBACK_HTTP: 'true',
      TAXBRIDGE_OAUTH_QUICKBOOKS_CLIENT_ID: qb.clientId,
      TAXBRIDGE_OAUTH_QUICKBOOKS_CLIENT_SECRET: qb.clientSecret,
      TAXBRIDGE_OAUTH_QUICKBOOKS_AUTHORIZE_URL: qb.oauth.authorizeUrl,
      TAXBRIDGE_OAUTH_QUICKBOOKS_TOKEN_URL: qb.oauth.tokenUrl,
      TAXBRIDGE_OAUTH_QUICKBOOKS_REVOKE_URL: qb.oauth.revokeUrl,
      TAXBRIDGE_WEBHOOK_QUICKBOOKS_SECRET: VERIFIER,
      TAXBRIDGE_LOG_LEVEL: 'error',
    },
  });
  qb.addRedirectUri(`${config.publicUrl}/oauth/callback`);
  server = await startTestServer(config);
  qb.setWebhook({ url: `${server.url}/webhooks/connectors/quickbooks`, verifierToken: VERIFIER, hold: true });
  orgId = (await admin('POST', '/admin/organizations', { name: 'QBO Test', mode: 'test', origin_address: { line1: '100 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, default_product_tax_code: 'general' })).json.data.id;
  for (const state of new Set(US_PLACES.map((p) => p.state!))) {
    await admin('POST', `/admin/organizations/${orgId}/registrations`, { country: 'US', state, tax_calculation: true, effective_from: '2020-01-01' });
  }
}, 60_000);

afterAll(async () => {
  await server?.close();
  await qb?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('QuickBooks Online end to end (connectors/quickbooks.yaml against the fake)', () => {
  it('connects through Intuit-style consent: realmId kept as the realm_id setting, backfill counts equal the company', async () => {
    qb.chooseCompanyNext(realmA);
    const r = await admin('POST', '/admin/connections', { connector: 'quickbooks', organization_id: orgId, environment: 'sandbox', base_url: qb.baseUrl(realmA) });
    expect(r.status).toBe(201);
    connId = r.json.data.connection.id;
    const url = new URL(r.json.data.authorization_url);
    expect(url.origin + url.pathname).toBe(qb.oauth.authorizeUrl);
    expect(url.searchParams.get('scope')).toBe('com.intuit.quickbooks.accounting');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');

    const visit = await qb.oauth.visit(r.json.data.authorization_url);
    expect(visit.status).toBe(302);
    expect(new URL(visit.location!).searchParams.get('realmId')).toBe(realmA);
    const cb = await request(visit.location!, { headers: { accept: 'application/json' } });
    const cbJson = JSON.parse(await cb.body.text());
    expect(cb.statusCode).toBe(200);
    expect(cbJson).toMatchObject({ outcome: 'authorized', connection_status: 'active' });

    const doc = await stored();
    expect(doc.settings.realm_id).toBe(realmA);
    await until(async () => ((await stored()).backfill?.status === 'succeeded' ? true : undefined), 'the backfill', 60_000);
    const company = qb.companies.get(realmA)!;
    expect(await server.store.countEntities(connId, 'customers')).toEqual({ active: company.customers.size, deleted: 0 });
    expect(await server.store.countEntities(connId, 'products')).toEqual({ active: company.items.size, deleted: 0 });
    expect(await server.store.countEntities(connId, 'invoices')).toEqual({ active: company.invoices.size, deleted: 0 });
    expect(await server.store.countEntities(connId, 'credit_memos')).toEqual({ active: company.creditMemos.size, deleted: 0 });
    // Every call carried minorversion and stayed on this company.
    expect(ourRequests(realmB)).toHaveLength(0);
    expect(ourRequests(realmA).every((q: { query: Record<string, unknown> }) => q.query.minorversion === '75')).toBe(true);
    // Every document existed before the connection: the backfill imports them and writes no tax onto any.
    const jobs = await writebacksIdle();
    expect(jobs.filter((j) => j.status === 'applied')).toHaveLength(0);
    expect(ourRequests(realmA).filter((q: { method: string }) => q.method === 'POST')).toHaveLength(0);
  }, 90_000);

  it('an access token that died is refreshed once mid-sync (the runs succeed) and the rotated refresh token is stored', async () => {
    const before = await stored();
    const refreshes = qb.oauth.stats.refreshes;
    const from = qb.requests.length;
    qb.oauth.expireAccessTokens();
    const runs = await syncAndWait();
    expect(runs.slice(-4).every((x: any) => x.status === 'ok')).toBe(true);
    expect(qb.oauth.stats.refreshes).toBe(refreshes + 1);
    expect(qb.requests.slice(from).some((q: { status: number }) => q.status === 401)).toBe(true);
    const after = await stored();
    expect(after.status).toBe('active');
    expect(after.oauth!.refresh_token).not.toBe(before.oauth!.refresh_token);
    await writebacksIdle();
  }, 90_000);

  it('one batched webhook: 3 entities of this company are processed, 1 of the other company is ignored and nothing is written there; the invoice gets its tax as TotalTax', async () => {
    const a = qb.companies.get(realmA)!;
    const b = qb.companies.get(realmB)!;
    // An invoice id both companies have, and a taxable customer with a known ship-to place in this one.
    const sharedId = [...a.invoices.keys()].find((id) => b.invoices.has(id) && a.invoices.get(id)!.Balance === a.invoices.get(id)!.TotalAmt)!;
    expect(sharedId).toBeDefined();
    const customer = [...a.customers.values()].find((c) => c.Taxable && c.Active && c.ShipAddr?.CountrySubDivisionCode)!;
    qb.flushWebhooks();
    await qb.deliveriesIdle();
    const seenBefore = new Set(((await admin('GET', '/admin/events')).json.data as any[]).map((e) => e.id));
    const deliveriesBefore = qb.deliveries.length;
    const bBefore = structuredClone(b.invoices.get(sharedId)!);

    // Held, so the four changes leave in one delivery (grouped per realm).
    const fresh = qb.createInvoice(realmA, { customerId: customer.Id, lines: [{ itemId: [...a.items.values()].find((i) => i.Taxable)!.Id, qty: 3, unitPrice: 100 }] });
    qb.updateInvoice(realmA, sharedId, { PrivateNote: 'changed in QuickBooks' });
    qb.updateCustomer(realmA, customer.Id, { CompanyName: `${customer.CompanyName} (renamed)` });
    qb.updateInvoice(realmB, sharedId, { PrivateNote: 'the other company' });
    const bAfterHelper = structuredClone(b.invoices.get(sharedId)!);
    const fromRequest = qb.requests.length;
    qb.flushWebhooks();
    await qb.deliveriesIdle();
    const delivery = qb.deliveries[deliveriesBefore]!;
    expect(delivery.status).toBe(200);
    const sent = JSON.parse(delivery.body);
    expect(sent.eventNotifications.map((n: any) => n.realmId).sort()).toEqual([realmA, realmB].sort());
    expect(sent.eventNotifications.flatMap((n: any) => n.dataChangeEvent.entities)).toHaveLength(4);

    const events = await until(async () => {
      const all = ((await admin('GET', '/admin/events')).json.data as any[]).filter((e) => !seenBefore.has(e.id));
      const ours = all.filter((e) => e.connection_id === connId);
      return ours.length >= 3 && ours.every((e) => e.status === 'processed') ? ours : undefined;
    }, 'three processed events');
    expect(events.map((e) => e.event_type).sort()).toEqual(['customer.update', 'invoice.create', 'invoice.update']);

    const jobs = await writebacksIdle();
    expect(jobs.filter((j) => j.status === 'dead')).toHaveLength(0);
    // The new invoice carries the tax QuickBooks spread over its rates; the write used the current SyncToken.
    const taxed = a.invoices.get(fresh.Id)!;
    expect(taxed.TxnTaxDetail.TotalTax).toBeGreaterThan(0);
    expect(taxed.TxnTaxDetail.TaxLine.length).toBeGreaterThan(0);
    const writes = qb.requests.slice(fromRequest).filter((q: { method: string; path: string }) => q.method === 'POST' && q.path === `/v3/company/${realmA}/invoice`);
    expect(writes.length).toBeGreaterThanOrEqual(1);
    expect(writes.every((q: { status: number }) => q.status === 200)).toBe(true);

    // Our write comes back as an Update: re-read, it already carries the tax, so nothing is written again.
    const postsBefore = qb.requests.filter((q) => q.method === 'POST' && q.path.startsWith(`/v3/company/${realmA}/`)).length;
    qb.flushWebhooks();
    await qb.deliveriesIdle();
    await until(async () => {
      const e = await server.store.getEntity(connId, 'invoices', fresh.Id);
      return (e?.data as any)?.tax_total === taxed.TxnTaxDetail.TotalTax.toFixed(2) ? true : undefined;
    }, 'the re-read invoice with its tax');
    await writebacksIdle();
    expect(qb.requests.filter((q) => q.method === 'POST' && q.path.startsWith(`/v3/company/${realmA}/`)).length).toBe(postsBefore);

    // The other company's entity was acknowledged and counted as unrouted, with its realm.
    const unrouted = (await admin('GET', '/admin/webhooks/unrouted?connector=quickbooks')).json.data;
    expect(unrouted.count).toBe(1);
    expect(unrouted.recent[0]).toMatchObject({ connector: 'quickbooks', tenant: realmB, event_type: 'invoice.update' });

    // The other company: no request of ours, its invoice with the same id untouched since the helper's change.
    expect(ourRequests(realmB)).toHaveLength(0);
    expect(b.invoices.get(sharedId)).toEqual(bAfterHelper);
    expect(bAfterHelper.TxnTaxDetail).toEqual(bBefore.TxnTaxDetail);
  }, 90_000);

  it('a revoked consent puts the connection in needs_reauthorization', async () => {
    qb.revokeConsent(realmA);
    qb.oauth.expireAccessTokens();
    await admin('POST', `/admin/connections/${connId}/sync`, { full: true });
    await until(async () => ((await stored()).status === 'needs_reauthorization' ? true : undefined), 'needs_reauthorization');
    await server.runtime.idle();
    const st = await admin('GET', `/admin/connections/${connId}`);
    expect(st.json.data.status).toBe('needs_reauthorization');
    expect(JSON.stringify(st.json.data)).toMatch(/authoriz/i);
  }, 60_000);
  it('deliveries that arrive while it waits stay open with no attempt spent, and are processed once it is authorized again', async () => {
    const a = qb.companies.get(realmA)!;
    const seen = new Set(((await admin('GET', '/admin/events')).json.data as any[]).map((e) => e.id));
    const invoiceId = [...a.invoices.keys()][0]!;
    qb.updateInvoice(realmA, invoiceId, { PrivateNote: 'changed while the consent is revoked' });
    qb.flushWebhooks();
    await qb.deliveriesIdle();
    const fresh = await until(async () => {
      const ours = ((await admin('GET', '/admin/events')).json.data as any[]).filter((e) => e.connection_id === connId && !seen.has(e.id));
      return ours.length ? ours : undefined;
    }, 'the delivery stored');
    // Long enough for retries at the default 1 s backoff, had the event been run against the refused grant.
    await new Promise((r) => setTimeout(r, 2500));
    for (const e of fresh) {
      const held = await server.store.get<any>('webhook_events', e.id);
      expect(held.status, JSON.stringify(held.last_error)).toBe('pending');
      expect(held.attempts).toBe(0);
    }

    const again = await admin('POST', `/admin/connections/${connId}/reauthorize`);
    expect(again.status).toBe(200);
    qb.chooseCompanyNext(realmA);
    const visit = await qb.oauth.visit(again.json.data.authorization_url);
    const cb = await request(visit.location!, { headers: { accept: 'application/json' } });
    expect(JSON.parse(await cb.body.text())).toMatchObject({ outcome: 'authorized', connection_status: 'active' });
    await until(async () => {
      const docs = await Promise.all(fresh.map((e) => server.store.get<any>('webhook_events', e.id)));
      return docs.every((d) => d.status === 'processed') ? true : undefined;
    }, 'the waiting events processed');
    // Processed means re-read from QuickBooks with the new grant: the stored invoice is the changed one.
    const entity = await server.store.getEntity(connId, 'invoices', invoiceId);
    expect((entity?.data as any).updated_at).toBe(a.invoices.get(invoiceId)!.MetaData.LastUpdatedTime);
  }, 60_000);
  it('writeback_from brings older documents in: a change to an old unpaid invoice is written once the cut-off is earlier', async () => {
    const a = qb.companies.get(realmA)!;
    const activated = Date.parse((await stored()).activated_at!);
    const old = [...a.invoices.values()].find((i) => i.Balance === i.TotalAmt && i.TotalAmt > 0 && Date.parse(i.MetaData.CreateTime) < activated && !(i.TxnTaxDetail?.TotalTax > 0))!;
    expect(old).toBeDefined();
    const jobOf = async () => ((await admin('GET', '/admin/writebacks')).json.data as any[]).find((j) => j.kind === 'invoice' && j.document_id === old.Id && j.status === 'applied');
    const processedAfter = async (n: number) =>
      until(async () => {
        const ours = ((await admin('GET', '/admin/events')).json.data as any[]).filter((e) => e.connection_id === connId && e.status === 'processed');
        return ours.length >= n ? true : undefined;
      }, 'the change processed');
    const change = async (note: string) => {
      const before = ((await admin('GET', '/admin/events')).json.data as any[]).filter((e) => e.connection_id === connId && e.status === 'processed').length;
      qb.updateInvoice(realmA, old.Id, { PrivateNote: note });
      qb.flushWebhooks();
      await qb.deliveriesIdle();
      await processedAfter(before + 1);
      await writebacksIdle();
    };

    await change('edited before the cut-off moved');
    expect(await jobOf()).toBeUndefined();
    expect(a.invoices.get(old.Id)!.TxnTaxDetail?.TotalTax ?? 0).toBe(0);

    const bad = await admin('PATCH', `/admin/connections/${connId}`, { settings: { writeback_from: 'last year' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('writeback_from');
    expect((await admin('PATCH', `/admin/connections/${connId}`, { settings: { writeback_from: '2020-01-01' } })).status).toBe(200);

    await change('edited after the cut-off moved');
    expect(await until(jobOf, 'the write-back applied')).toBeDefined();
    expect(a.invoices.get(old.Id)!.TxnTaxDetail.TotalTax).toBeGreaterThan(0);
  }, 90_000);
});
