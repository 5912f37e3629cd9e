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
    conn = connection(spec('rillet'), org.id, { connection_id: 'conn_rillet', base_url: rillet.url, credentials: { api_key: rillet.apiKey, signing_token: rillet.signingToken } });
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
});
