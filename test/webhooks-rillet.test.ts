/**
 * The live loop with the fake Rillet over real sockets: an invoice created in Rillet is delivered by a signed
 * webhook, stored, processed, taxed by the engine and written back with POST /invoices/{id}/taxes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/rillet.ts';
import { listEvents } from '../src/webhooks/inbox.ts';
import { listJobs } from '../src/writeback/jobs.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { connection, makeOrganization, spec, startHarness, waitFor, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';

const SUBSIDIARY = 'sub_us';
const AUSTIN = { line1: '100 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' };

describe('Rillet: invoice created -> signed webhook -> tax written back', () => {
  let rillet: FakeRillet;
  let store: Store;
  let h: Harness;
  let conn: TestConnection;

  beforeEach(async () => {
    rillet = await startFakeRillet({ seed: 7, counts: { customers: 3, products: 3, invoices: 0, creditNotes: 0 } });
    store = await openStore({ memory: true });
    const org = await makeOrganization(store, { states: ['TX'], defaultTaxCode: 'general' });
    conn = connection(spec('rillet'), org.id, { connection_id: 'conn_rillet', base_url: rillet.url, settings: { subsidiary_id: SUBSIDIARY }, credentials: { api_key: rillet.apiKey, signing_token: rillet.signingToken } });
    h = await startHarness({ store, connections: [conn] });
    rillet.webhookTargets = [{ url: h.webhookUrl(conn), entities: ['INVOICE'] }];
  });
  afterEach(async () => {
    await h.close();
    await rillet.close();
    await store.close();
  });

  it('puts the Austin, TX tax on every item of the fake invoice, exactly', async () => {
    const customer = rillet.createCustomer({ address: AUSTIN });
    const product = rillet.data.products.values().next().value!;
    const inv = rillet.createInvoice({
      customer_id: customer.id,
      itemInputs: [
        { product_id: product.id, quantity: '2', gross_rate: '100.00' },
        { product_id: product.id, quantity: '3', gross_rate: '33.33' },
      ],
    });
    await waitFor(() => rillet.data.invoices.get(inv.id)!.taxes_calculated_at, 5000, 'tax on the invoice');
    await h.runtime.idle();
    const taxed = rillet.data.invoices.get(inv.id)!;
    // Texas 6.25 % + Austin 1 % + Austin MTA 1 % = 8.25 %, rounded per jurisdiction.
    expect(taxed.items.map((i) => i.taxed_amount.amount)).toEqual(['16.50', '8.25']);
    expect(taxed.items[0]!.tax_rates.map((r) => [r.percentage, r.tax_amount?.amount])).toEqual([
      ['6.25', '12.50'],
      ['1', '2.00'],
      ['1', '2.00'],
    ]);
    expect(taxed.taxed_amount.amount).toBe('24.75');
    const [event] = await listEvents(store, { connectionId: 'conn_rillet' });
    expect(event).toMatchObject({ event_type: 'INVOICE.CREATED', status: 'processed', outcome: { result: 'created', writeback: { status: 'pending' } } });
    const jobs = await listJobs(store);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ status: 'applied', document_id: inv.id, attempts: 1 });
    expect(rillet.requests.filter((r) => r.method === 'POST' && r.path === `/invoices/${inv.id}/taxes`)).toHaveLength(1);
  });

  it('does not loop: the UPDATED webhook our write causes finds the tax already there', async () => {
    await h.close();
    await rillet.close();
    rillet = await startFakeRillet({ seed: 7, counts: { customers: 3, products: 3, invoices: 0, creditNotes: 0 }, emitOnApiWrites: true });
    conn = connection(spec('rillet'), conn.organizationId, { connection_id: 'conn_rillet2', base_url: rillet.url, settings: { subsidiary_id: SUBSIDIARY }, credentials: { api_key: rillet.apiKey, signing_token: rillet.signingToken } });
    h = await startHarness({ store, connections: [conn] });
    rillet.webhookTargets = [{ url: h.webhookUrl(conn), entities: ['INVOICE'] }];
    const customer = rillet.createCustomer({ address: AUSTIN });
    const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '1000.00' }] });
    const updated = await waitFor(async () => (await listEvents(store, { connectionId: 'conn_rillet2', status: 'processed' })).find((e) => e.event_type === 'INVOICE.UPDATED'), 5000, 'the UPDATED event');
    await rillet.deliveriesIdle();
    await h.runtime.idle();
    expect(updated.outcome).toMatchObject({ result: 'updated', writeback: { status: 'unchanged' } });
    expect(rillet.data.invoices.get(inv.id)!.taxed_amount.amount).toBe('82.50');
    expect(rillet.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/taxes'))).toHaveLength(1);
    expect(await listJobs(store, { connectionId: 'conn_rillet2' })).toHaveLength(1);
  });

  it('processes a duplicate delivery once and acknowledges it', async () => {
    rillet.webhookTargets = [];
    const customer = rillet.createCustomer({ address: AUSTIN });
    const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '10.00' }] });
    const first = await rillet.sendWebhook(h.webhookUrl(conn), { entity: 'INVOICE', event: 'CREATED', id: inv.id }, { eventId: 'evt-dup-1' });
    const second = await rillet.sendWebhook(h.webhookUrl(conn), { entity: 'INVOICE', event: 'CREATED', id: inv.id }, { eventId: 'evt-dup-1' });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ received: true, duplicate: false });
    expect(JSON.parse(second.body)).toMatchObject({ received: true, duplicate: true });
    await h.runtime.idle();
    const events = await listEvents(store, { connectionId: 'conn_rillet' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: 'processed', attempts: 1 });
    expect(rillet.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/taxes'))).toHaveLength(1);
  });

  it('writes the tax exactly once when Rillet answers 503 three times first', async () => {
    rillet.webhookTargets = [];
    const customer = rillet.createCustomer({ address: AUSTIN });
    const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '4', gross_rate: '25.00' }] });
    rillet.faults.failNext(3, 503);
    const res = await rillet.sendWebhook(h.webhookUrl(conn), { entity: 'INVOICE', event: 'CREATED', id: inv.id });
    expect(res.status).toBe(200);
    await waitFor(async () => (await listJobs(store))[0]?.status === 'applied', 5000, 'the job to apply');
    const posts = rillet.requests.filter((r) => r.method === 'POST' && r.path === `/invoices/${inv.id}/taxes`);
    expect(posts.map((p) => p.status)).toEqual([503, 503, 503, 200]);
    // Every attempt carried the same idempotency key: a replay, never a second write.
    expect(new Set(posts.map((p) => p.headers['idempotency-key'])).size).toBe(1);
    expect(rillet.data.invoices.get(inv.id)!.taxed_amount.amount).toBe('8.25');
  });

  it('sends a job through its attempts and dead-letters it with the reason when Rillet refuses', async () => {
    rillet.webhookTargets = [];
    rillet.setReadOnly(true);
    const customer = rillet.createCustomer({ address: AUSTIN });
    const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '50.00' }] });
    await rillet.sendWebhook(h.webhookUrl(conn), { entity: 'INVOICE', event: 'CREATED', id: inv.id });
    const dead = await waitFor(async () => (await listJobs(store, { status: 'dead' }))[0], 5000, 'a dead job');
    expect(dead.last_error?.code).toMatch(/^http_/);
    expect(dead.reason).toContain('403');
    rillet.setReadOnly(false);
    const replayed = await h.runtime.writebacks!.replay(dead.id);
    expect(replayed?.status).toBe('applied');
    expect(rillet.data.invoices.get(inv.id)!.taxed_amount.amount).toBe('4.13');
  });
});
