/**
 * Event rules with wildcards and `when`, and write-back triggers, over real sockets: signed deliveries to the
 * receiver, a fake Ledger upstream. Exact names win over `invoice.*`; a rule whose `when` is false passes the
 * event on; `*` catches the rest. A kind whose `trigger` leaves out webhook is not written from events; one
 * that leaves out api is refused by calculate_invoice_tax.
 */
import { createHmac } from 'node:crypto';
import Koa from 'koa';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInvoiceTaxRouter } from '../src/server/webhooks-api.ts';
import { loadConnector } from '../src/spec/index.ts';
import type { ConnectorSpec, WritebackTrigger } from '../src/spec/types.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { TaxService } from '../src/tax/service.ts';
import { getEvent } from '../src/webhooks/inbox.ts';
import { compileRouter } from '../src/webhooks/route.ts';
import { connection, makeOrganization, sharedTaxData, startHarness, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';
import { ledgerInvoice, startFakeLedger, type FakeLedger } from './fixtures/ledger/fake.ts';

const SECRET = 'whsec_test';
const ledgerSpec = (): ConnectorSpec => loadConnector(new URL('./fixtures/ledger/ledger.yaml', import.meta.url).pathname);
const withTrigger = (spec: ConnectorSpec, trigger: WritebackTrigger[]): ConnectorSpec => ({ ...spec, writeback: { invoice: { ...spec.writeback!.invoice!, trigger } } });

describe('event rules: exact names, wildcards, when', () => {
  const router = compileRouter(ledgerSpec().webhooks!);
  const route = (type: string, object: unknown) => {
    const body = { id: `ev_${type}`, type, object };
    return router.route({ headers: {}, body, raw: JSON.stringify(body) });
  };

  it('prefers the exact name, then the wildcard rule whose when holds, then the catch-all', async () => {
    expect(await route('invoice.deleted', { Id: '1', Status: 'Draft' })).toMatchObject({ action: 'delete', id: '1' });
    expect(await route('invoice.created', { Id: '1', Status: 'Draft' })).toMatchObject({ action: 'upsert', writeback: true });
    expect(await route('invoice.payment.failed', { Id: '1', Status: 'Open' })).toMatchObject({ action: 'upsert', writeback: false });
    expect(await route('customer.created', { Id: 'c' })).toMatchObject({ action: 'ignore' });
  });

  it('orders wildcards by their literal characters, and leaves events no rule takes unmatched', async () => {
    const r = compileRouter({
      ...ledgerSpec().webhooks!,
      events: [
        { on: 'customer.*', action: 'ignore' },
        { on: 'customer.tax_id.*', action: 'refetch', stream: 'invoices', id: 'body.object.Id' },
        { on: 'invoice.paid', when: 'body.object.Status = "Draft"', action: 'ignore' },
      ],
    });
    const go = (type: string, object: unknown = { Id: 'x', Status: 'Open' }) => r.route({ headers: {}, body: { id: type, type, object }, raw: type });
    expect(await go('customer.tax_id.created')).toMatchObject({ action: 'refetch', id: 'x' });
    expect(await go('customer.updated')).toMatchObject({ action: 'ignore' });
    expect(await go('invoice.paid')).toMatchObject({ action: 'unmatched' });
    expect(await go('invoice.paid', { Status: 'Draft' })).toMatchObject({ action: 'ignore' });
    expect(await go('customerXupdated')).toMatchObject({ action: 'unmatched' });
  });
});

describe('write-back triggers over the webhook and api paths', () => {
  let ledger: FakeLedger;
  let store: Store;
  let h: Harness | undefined;
  let server: http.Server | undefined;
  let orgId: string;

  beforeEach(async () => {
    ledger = await startFakeLedger([ledgerInvoice('130')]);
    store = await openStore({ memory: true });
    orgId = (await makeOrganization(store, { states: ['TX'] })).id;
  });
  afterEach(async () => {
    if (server) await new Promise<void>((r) => (server!.close(() => r()), server!.closeAllConnections()));
    server = undefined;
    await h?.close();
    await ledger.close();
    await store.close();
  });

  const start = async (spec: ConnectorSpec): Promise<TestConnection> => {
    const conn = connection(spec, orgId, { connection_id: 'conn_l', base_url: ledger.url, credentials: { api_key: ledger.apiKey, webhook_secret: SECRET } });
    h = await startHarness({ store, connections: [conn] });
    return conn;
  };

  const deliver = async (conn: TestConnection, type: string, object: unknown) => {
    const raw = JSON.stringify({ id: `ev_${type}_${Math.random().toString(36).slice(2)}`, type, object });
    const res = await request(h!.webhookUrl(conn), { method: 'POST', headers: { 'content-type': 'application/json', 'x-ledger-signature': createHmac('sha256', SECRET).update(raw).digest('hex') }, body: raw });
    expect(res.statusCode).toBe(200);
    const ack = (await res.body.json()) as { id: string };
    await h!.runtime.idle();
    await h!.runtime.writebacks!.idle();
    return (await getEvent(store, ack.id))!;
  };

  it('writes tax from a draft invoice event by default (webhook in the default trigger)', async () => {
    const conn = await start(ledgerSpec());
    const ev = await deliver(conn, 'invoice.created', ledger.invoices.get('130'));
    expect(ev.outcome).toMatchObject({ action: 'upsert', result: 'created', writeback: { status: 'pending' } });
    expect(ledger.log.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /invoice/130', 'POST /invoice']);
    expect(ledger.invoices.get('130')!.TotalTaxMinor).toBe(1036);
    // An open invoice takes the next invoice.* rule: stored, no write-back.
    const open = await deliver(conn, 'invoice.updated', { ...ledger.invoices.get('130'), Status: 'Open' });
    expect(open.outcome).toMatchObject({ action: 'upsert', result: 'updated' });
    expect(open.outcome!.writeback).toBeUndefined();
  });

  it('stores the event but writes nothing when the trigger leaves out webhook', async () => {
    const conn = await start(withTrigger(ledgerSpec(), ['sync', 'api']));
    const ev = await deliver(conn, 'invoice.created', ledger.invoices.get('130'));
    expect(ev.outcome).toMatchObject({ action: 'upsert', result: 'created', writeback: { status: 'skipped', reason: expect.stringMatching(/does not write invoices on webhook triggers \(writeback\.invoice\.trigger: \[sync, api\]\)/) } });
    expect(ledger.log).toEqual([]);
    expect((await store.getEntity('conn_l', 'invoices', '130'))!.data).toMatchObject({ status: 'draft' });
  });

  it('refuses calculate_invoice_tax when the trigger leaves out api, and writes when it has it', async () => {
    const tax = await TaxService.open({ store, data: sharedTaxData() });
    const key = (await tax.createApiKey(orgId)).key;
    let spec = withTrigger(ledgerSpec(), ['webhook']);
    const conn = await start(spec);
    const app = new Koa();
    app.use(createInvoiceTaxRouter({ service: tax, writebacks: h!.runtime.writebacks!, findConnection: async () => ({ ...conn, spec }) }).routes());
    server = http.createServer(app.callback());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const call = async () => {
      const res = await request(`http://127.0.0.1:${(server!.address() as AddressInfo).port}/tax_api/v1/ledger/calculate_invoice_tax`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ external_id: '130' }) });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    await h!.runtime.records.upsert(conn, 'invoices', ledger.invoices.get('130'));
    expect(await call()).toEqual({ status: 400, body: { type: 'api_error', code: 'unsupported_feature', message: 'the ledger spec does not write invoices on calculate_invoice_tax calls (writeback.invoice.trigger: [webhook])' } });
    expect(ledger.log).toEqual([]);
    spec = ledgerSpec();
    expect(await call()).toMatchObject({ status: 200, body: { external_id: '130', status: 'applied' } });
    expect(ledger.log.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /invoice/130', 'POST /invoice']);
  });
});
