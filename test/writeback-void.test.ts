/**
 * The write-back path voids: an invoice deleted upstream after taxbridge wrote its tax has its applied job
 * marked `voided` (the tax no longer counts as collected), over calculate_invoice_tax and the admin API.
 */
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/rillet.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { ADMIN_TOKEN, connection, makeOrganization, spec, startHarness, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';
import { startInvoiceTaxApi, type InvoiceTaxApi } from './helpers/invoice-tax-api.ts';

let rillet: FakeRillet;
let store: Store;
let h: Harness;
let conn: TestConnection;
let apiKey: string;
let api: InvoiceTaxApi;
let origin: string;

beforeAll(async () => {
  rillet = await startFakeRillet({ seed: 33, counts: { customers: 1, products: 1, invoices: 0, creditNotes: 0 } });
  store = await openStore({ memory: true });
  const org = await makeOrganization(store, { states: ['TX'] });
  conn = connection(spec('rillet'), org.id, { connection_id: 'conn_void', base_url: rillet.url, settings: { subsidiary_id: 'sub_us' }, credentials: { api_key: rillet.apiKey } });
  h = await startHarness({ store, connections: [conn] });
  api = await startInvoiceTaxApi({ store, harness: h, conn, connector: 'rillet' });
  apiKey = api.apiKey;
  origin = api.origin;
});
afterAll(async () => {
  await api.close();
  await h.close();
  await rillet.close();
  await store.close();
});

const calc = async (id: string) => {
  const res = await request(`${origin}/tax_api/v1/rillet/calculate_invoice_tax`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: JSON.stringify({ external_id: id }) });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
};
const jobs = async (q: string) => {
  const res = await request(`${h.origin}/admin/writebacks?${q}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return ((await res.body.json()) as { data: Array<Record<string, any>> }).data;
};

it('an invoice deleted after its tax was written: the applied job becomes voided, idempotently', async () => {
  const customer = rillet.createCustomer({ address: { line1: '1 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' } });
  const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '100.00' }] });
  expect((await calc(inv.id)).body.status).toBe('applied');
  rillet.deleteInvoice(inv.id);
  const gone = await calc(inv.id);
  expect(gone.status).toBe(404);
  expect(gone.body.message).toContain('voided');
  const voided = await jobs('status=voided');
  expect(voided.map((j) => [j.document_id, j.status])).toEqual([[inv.id, 'voided']]);
  expect(voided[0]!.reason).toContain('deleted after its tax was written');
  expect((await jobs('status=applied')).filter((j) => j.document_id === inv.id)).toEqual([]);
  // Asked again: still one voided job, nothing else written.
  await calc(inv.id);
  expect((await jobs('status=voided')).length).toBe(1);
  // An invoice never taxed and then deleted: nothing to void.
  const other = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '5.00' }] });
  rillet.deleteInvoice(other.id);
  expect((await calc(other.id)).body.message).not.toContain('voided');
});
