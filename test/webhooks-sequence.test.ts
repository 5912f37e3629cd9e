/**
 * The live loop with the fake Sequence over real sockets: the runtime registers its webhook URL with a
 * generated secret (POST /notifications/policies); a DRAFT invoice created in Sequence is delivered, read
 * again with its lines (refetch), taxed, and each line gets its rate by PUT; Sequence recomputes totalTax.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeSequence, type FakeSequence } from '../fakes/sequence.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { listEvents } from '../src/webhooks/inbox.ts';
import { registerWebhook, WEBHOOK_REGISTRATIONS } from '../src/webhooks/registration.ts';
import { listJobs } from '../src/writeback/jobs.ts';
import { connection, makeOrganization, spec, startHarness, waitFor, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';

const AUSTIN = { line1: '100 Congress Ave', town: 'Austin', state: 'TX', postcode: '78701', country: 'US' };

describe('Sequence: registration, DRAFT invoice -> webhook -> taxRate per line', () => {
  let seq: FakeSequence;
  let store: Store;
  let h: Harness;
  let conn: TestConnection;

  beforeEach(async () => {
    seq = await startFakeSequence({ seed: 5, counts: { customers: 2, products: 3, invoices: 0, creditNotes: 0 }, emitOnApiWrites: true });
    store = await openStore({ memory: true });
    const org = await makeOrganization(store, { states: ['TX'], defaultTaxCode: 'saas' });
    conn = connection(spec('sequence'), org.id, { connection_id: 'conn_seq', base_url: seq.url, credentials: { client_id: seq.clientId, client_secret: seq.clientSecret } });
    h = await startHarness({ store, connections: [conn] });
    const reg = await registerWebhook(conn.spec, conn.conn, { url: h.webhookUrl(conn), store });
    expect(reg.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(reg.generated).toBe(true);
    expect(reg.credential).toBe('webhook_secret');
    const policy = seq.data.policies.get(reg.registration_id!);
    expect(policy?.recipients).toEqual([h.webhookUrl(conn)]);
    expect(policy?.webhookSecret).toBe(reg.secret);
    expect(await store.get(WEBHOOK_REGISTRATIONS, 'conn_seq')).not.toHaveProperty('secret');
    // The caller keeps the secret on the connection (encrypted in real life).
    conn.conn = { ...conn.conn, credentials: { ...conn.conn.credentials, webhook_secret: reg.secret } };
  });
  afterEach(async () => {
    await h.close();
    await seq.close();
    await store.close();
  });

  it('puts the Texas SaaS rate (8.25 % on 80 % = 6.6 %) on each DRAFT line; Sequence computes the tax', async () => {
    const customer = seq.createCustomer({ address: AUSTIN, taxStatus: 'TAXED' });
    const product = seq.data.products.values().next().value!;
    const inv = seq.createInvoice({
      customerId: customer.id,
      status: 'DRAFT',
      currency: 'USD',
      lines: [
        { title: 'Platform', quantity: '2', rate: '100.00', productId: product.id },
        { title: 'Seats', quantity: '7', rate: '13.37', productId: product.id },
      ],
    });
    await waitFor(() => seq.lineItemsOf(inv.id).every((l) => l.taxRate === '0.066'), 8000, 'taxRate on every line');
    await seq.deliveriesIdle();
    await h.runtime.idle();
    const lines = seq.lineItemsOf(inv.id);
    expect(lines.map((l) => [l.netTotal, l.totalTax])).toEqual([
      ['200.00', '13.20'],
      ['93.59', '6.18'],
    ]);
    expect(seq.data.invoices.get(inv.id)!.totalTax).toBe('19.38');
    const jobs = await listJobs(store);
    expect(jobs.filter((j) => j.status === 'applied')).toHaveLength(1);
    expect(jobs[0]!.tax!.lines.map((l) => [l.rate, l.rate_fraction, l.tax_amount])).toEqual([
      ['6.6', '0.066', '13.20'],
      ['6.6', '0.066', '6.18'],
    ]);
    // Each PUT caused an INVOICE_UPDATED; none of them wrote again.
    const puts = seq.requests.filter((r) => r.method === 'PUT' && r.path.includes(`/invoices/${inv.id}/line-items/`));
    expect(puts).toHaveLength(2);
    const updates = (await listEvents(store, { connectionId: 'conn_seq' })).filter((e) => e.event_type === 'INVOICE_UPDATED');
    expect(updates.length).toBeGreaterThanOrEqual(1);
    for (const u of updates) expect(['unchanged', 'pending', 'running', 'applied']).toContain(u.outcome?.writeback?.status);
  });

  it('leaves a FINAL invoice alone and says why (no_tax)', async () => {
    const customer = seq.createCustomer({ address: AUSTIN, taxStatus: 'TAXED' });
    const inv = seq.createInvoice({ customerId: customer.id, status: 'FINAL', currency: 'USD', lines: [{ title: 'x', quantity: '1', rate: '10.00' }] });
    const ev = await waitFor(async () => (await listEvents(store, { connectionId: 'conn_seq', status: 'processed' })).find((e) => e.event_type === 'INVOICE_CREATED'), 5000, 'processed event');
    await h.runtime.idle();
    const before = seq.lineItemsOf(inv.id).map((l) => l.taxRate);
    expect(ev.outcome?.writeback).toMatchObject({ status: 'no_tax' });
    expect(ev.outcome?.writeback?.reason).toContain('raw.status = "DRAFT"');
    expect(seq.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
    expect(seq.lineItemsOf(inv.id).map((l) => l.taxRate)).toEqual(before);
  });

  it('says no_tax, with the reason, for a customer where the organization is not registered', async () => {
    const customer = seq.createCustomer({ address: { line1: '1 Market St', town: 'San Francisco', state: 'CA', postcode: '94105', country: 'US' }, taxStatus: 'TAXED' });
    seq.createInvoice({ customerId: customer.id, status: 'DRAFT', currency: 'USD', lines: [{ title: 'x', quantity: '1', rate: '10.00' }] });
    const ev = await waitFor(async () => (await listEvents(store, { connectionId: 'conn_seq', status: 'processed' })).find((e) => e.event_type === 'INVOICE_CREATED'), 5000, 'processed event');
    expect(ev.outcome?.writeback?.status).toBe('no_tax');
    expect(ev.outcome?.writeback?.reason).toContain('not_collecting');
    expect(seq.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });
});
