/**
 * Routing by the spec, against the fakes over real sockets: Rillet created/updated -> upsert from the payload
 * (older payloads never overwrite newer ones), PAYMENT_UPDATED -> payment status, DELETED (a bare JSON string)
 * -> marked deleted, credit memos -> tax on /credit-memos/{id}/taxes, unmatched events stored and ignored;
 * Sequence CUSTOMER_* -> re-read by id; an event whose re-read keeps failing is retried with backoff.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/rillet.ts';
import { startFakeSequence, type FakeSequence } from '../fakes/sequence.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { getEvent, listEvents } from '../src/webhooks/inbox.ts';
import { listJobs } from '../src/writeback/jobs.ts';
import { connection, makeOrganization, spec, startHarness, waitFor, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';

const AUSTIN = { line1: '100 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' };

describe('Rillet events by the spec', () => {
  let rillet: FakeRillet;
  let store: Store;
  let h: Harness;
  let conn: TestConnection;

  beforeEach(async () => {
    rillet = await startFakeRillet({ seed: 9, counts: { customers: 2, products: 2, invoices: 0, creditNotes: 0 } });
    store = await openStore({ memory: true });
    const org = await makeOrganization(store);
    conn = connection(spec('rillet'), org.id, { connection_id: 'conn_r', base_url: rillet.url, settings: { subsidiary_id: 'sub_us' }, credentials: { api_key: rillet.apiKey, signing_token: rillet.signingToken } });
    h = await startHarness({ store, connections: [conn] });
  });
  afterEach(async () => {
    await h.close();
    await rillet.close();
    await store.close();
  });

  const send = async (entity: string, event: string, id: string, extra: Parameters<FakeRillet['sendWebhook']>[2] = {}, resource?: unknown) => {
    const r = await rillet.sendWebhook(h.webhookUrl(conn), { entity, event, id, ...(resource !== undefined ? { resource } : {}) }, extra);
    expect(r.status).toBe(200);
    await h.runtime.idle();
    return (await getEvent(store, (JSON.parse(r.body) as { id: string }).id))!;
  };

  it('upserts, updates the payment status, then marks the invoice deleted', async () => {
    const customer = rillet.createCustomer({ address: AUSTIN });
    const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '100.00' }] });
    expect((await send('INVOICE', 'CREATED', inv.id)).outcome).toMatchObject({ action: 'upsert', result: 'created', record_id: inv.id });
    expect((await store.getEntity('conn_r', 'invoices', inv.id))!.data).toMatchObject({ payment_status: 'unpaid', lines: [{ amount: '100.00' }] });

    rillet.recordPayment(inv.id);
    const paid = await send('INVOICE', 'PAYMENT_UPDATED', inv.id);
    expect(paid.outcome).toMatchObject({ action: 'payment_status', result: 'updated' });
    expect((await store.getEntity('conn_r', 'invoices', inv.id))!.data.payment_status).toBe('paid');

    rillet.deleteInvoice(inv.id);
    const del = await send('INVOICE', 'DELETED', inv.id);
    expect(del.raw_body).toBe(JSON.stringify(inv.id));
    expect(del.outcome).toMatchObject({ action: 'delete', result: 'deleted', record_id: inv.id });
    expect((await store.getEntity('conn_r', 'invoices', inv.id))!.deleted).toBe(true);
    expect((await send('INVOICE', 'DELETED', 'inv_never_seen')).outcome).toMatchObject({ result: 'not_found' });
  });

  it('never lets an older payload overwrite a newer stored record', async () => {
    const customer = rillet.createCustomer({ address: AUSTIN });
    const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '10.00' }] });
    const older = JSON.parse(JSON.stringify(rillet.data.invoices.get(inv.id))) as Record<string, unknown>;
    rillet.updateInvoice(inv.id, { invoice_number: 'INV-NEW', updated_at: '2099-01-01T00:00:00.000Z' });
    await send('INVOICE', 'UPDATED', inv.id);
    const stale = await send('INVOICE', 'UPDATED', inv.id, {}, older);
    expect(stale.outcome).toMatchObject({ result: 'stale' });
    expect((await store.getEntity('conn_r', 'invoices', inv.id))!.data.number).toBe('INV-NEW');
  });

  it('writes tax onto a credit memo through /credit-memos/{id}/taxes', async () => {
    const customer = rillet.createCustomer({ address: AUSTIN });
    const inv = rillet.createInvoice({ customer_id: customer.id, status: 'PAID', itemInputs: [{ quantity: '1', gross_rate: '80.00' }] });
    const memo = rillet.createCreditMemo({ invoice_id: inv.id, customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '40.00' }] });
    const ev = await send('CREDIT_MEMO', 'CREATED', memo.id);
    expect(ev.outcome).toMatchObject({ action: 'upsert', stream: 'credit_memos', result: 'created' });
    await waitFor(async () => (await listJobs(store, { documentId: memo.id }))[0]?.status === 'applied', 5000, 'credit memo job');
    expect(rillet.data.creditMemos.get(memo.id)!.taxed_amount.amount).toBe('3.30');
    expect(rillet.requests.some((r) => r.method === 'POST' && r.path === `/credit-memos/${memo.id}/taxes`)).toBe(true);
  });

  it('stores events no rule names and customer events without write-back', async () => {
    const customer = rillet.createCustomer({ address: AUSTIN });
    const unknown = await send('CONTRACT', 'CREATED', 'ctr_1', {}, { id: 'ctr_1' });
    expect(unknown).toMatchObject({ event_type: 'CONTRACT.CREATED', status: 'ignored', action: 'unmatched' });
    const cust = await send('CUSTOMER', 'CREATED', customer.id);
    expect(cust.outcome).toMatchObject({ action: 'upsert', stream: 'customers', result: 'created' });
    expect(cust.outcome?.writeback).toBeUndefined();
    expect((await store.getEntity('conn_r', 'customers', customer.id))!.data.address).toMatchObject({ city: 'Austin', postal_code: '78701' });
  });
});

describe('Sequence events by the spec', () => {
  let seq: FakeSequence;
  let store: Store;
  let h: Harness;
  let conn: TestConnection;
  const secret = 'whsec_cm91dGluZ3Rlc3RzZWNyZXQxMjM0NTY3OA==';

  beforeEach(async () => {
    seq = await startFakeSequence({ seed: 4, counts: { customers: 1, products: 1, invoices: 0, creditNotes: 0 }, webhookSecret: secret });
    store = await openStore({ memory: true });
    const org = await makeOrganization(store);
    conn = connection(spec('sequence'), org.id, { connection_id: 'conn_s', base_url: seq.url, credentials: { client_id: seq.clientId, client_secret: seq.clientSecret, webhook_secret: secret } });
    h = await startHarness({ store, connections: [conn] });
  });
  afterEach(async () => {
    await h.close();
    await seq.close();
    await store.close();
  });

  it('re-reads a customer by id on CUSTOMER_CREATED and marks it deleted once archived', async () => {
    const c = seq.createCustomer({ legalName: 'Initech LLC' });
    await seq.sendWebhook(h.webhookUrl(conn), { type: 'CUSTOMER_CREATED', resourceId: c.id });
    await h.runtime.idle();
    expect((await store.getEntity('conn_s', 'customers', c.id))!.data).toMatchObject({ name: 'Initech LLC', archived: false });
    seq.archiveCustomer(c.id);
    await seq.sendWebhook(h.webhookUrl(conn), { type: 'CUSTOMER_ARCHIVED', resourceId: c.id });
    await h.runtime.idle();
    expect((await store.getEntity('conn_s', 'customers', c.id))!.deleted).toBe(true);
    expect(seq.requests.filter((r) => r.method === 'GET' && r.path === `/api/customers/${c.id}`)).toHaveLength(2);
  });

  it('retries an event whose re-read fails past the HTTP retries, then processes it', async () => {
    const c = seq.createCustomer({ legalName: 'Flaky Corp' });
    seq.faults.failNext(8, 503);
    await seq.sendWebhook(h.webhookUrl(conn), { type: 'CUSTOMER_UPDATED', resourceId: c.id });
    const ev = await waitFor(async () => (await listEvents(store, { status: 'processed' }))[0], 8000, 'the event to be processed');
    expect(ev.attempts).toBe(2);
    expect(ev.last_error).toMatchObject({ code: 'http_transient' });
    expect((await store.getEntity('conn_s', 'customers', c.id))!.data.name).toBe('Flaky Corp');
  });
});
