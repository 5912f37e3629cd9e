/**
 * POST /tax_api/v1/:connector/calculate_invoice_tax {"external_id"} with the tax API's X-API-KEY: the
 * invoice is read fresh from the system, taxed and written back; asked again it is `unchanged`; a customer
 * where the organization is not registered gives `no_tax` with the reason. Also the admin routes for
 * write-back jobs and events.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/rillet.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { ADMIN_TOKEN, connection, makeOrganization, spec, startHarness, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';
import { startInvoiceTaxApi, type InvoiceTaxApi } from './helpers/invoice-tax-api.ts';

describe('calculate_invoice_tax and the write-back admin routes', () => {
  let rillet: FakeRillet;
  let store: Store;
  let h: Harness;
  let conn: TestConnection;
  let apiKey: string;
  let api: InvoiceTaxApi;
  let origin: string;

  beforeAll(async () => {
    rillet = await startFakeRillet({ seed: 21, counts: { customers: 2, products: 2, invoices: 0, creditNotes: 0 } });
    store = await openStore({ memory: true });
    const org = await makeOrganization(store, { states: ['TX'] });
    conn = connection(spec('rillet'), org.id, { connection_id: 'conn_api', base_url: rillet.url, settings: { subsidiary_id: 'sub_us' }, credentials: { api_key: rillet.apiKey } });
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

  async function calc(externalId: unknown, key: string | null = apiKey, connector = 'rillet') {
    const res = await request(`${origin}/tax_api/v1/${connector}/calculate_invoice_tax`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      body: JSON.stringify({ external_id: externalId }),
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  async function admin(method: 'GET' | 'POST', path: string, token: string | null = ADMIN_TOKEN) {
    const res = await request(`${h.origin}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.statusCode, body: (await res.body.json()) as { data?: unknown; code?: string } };
  }

  it('writes the tax onto an invoice the runtime has never seen, then answers unchanged', async () => {
    const customer = rillet.createCustomer({ address: { line1: '1 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' } });
    const inv = rillet.createInvoice({ customer_id: customer.id, status: 'UNBILLED', itemInputs: [{ quantity: '1', gross_rate: '1234.56' }] });
    const first = await calc(inv.id);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ external_id: inv.id, status: 'applied', reason: null });
    expect(first.body.calculation_id).toMatch(/^calc_/);
    // 1234.56 x 6.25 % = 77.16, x 1 % = 12.35 twice
    expect(rillet.data.invoices.get(inv.id)!.taxed_amount.amount).toBe('101.86');
    const again = await calc(inv.id);
    expect(again.body).toMatchObject({ external_id: inv.id, status: 'unchanged' });
    expect(rillet.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/taxes'))).toHaveLength(1);
  });

  it('answers no_tax with the reason where the organization is not registered', async () => {
    const customer = rillet.createCustomer({ address: { line1: '1 Main St', city: 'Seattle', state: 'WA', zip_code: '98101', country: 'US' } });
    const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '10.00' }] });
    const r = await calc(inv.id);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('no_tax');
    expect(String(r.body.reason)).toContain('not_collecting');
  });

  it('refuses without a valid key, without external_id, for an unknown invoice or connector', async () => {
    expect((await calc('x', null)).status).toBe(401);
    expect((await calc('x', 'tb_test_nope')).body).toMatchObject({ type: 'api_error', code: 'unauthorized_access' });
    expect((await calc(42)).body).toMatchObject({ code: 'validation_errors', param: 'external_id' });
    expect((await calc('inv_does_not_exist')).status).toBe(404);
    expect((await calc('x', apiKey, 'sequence')).status).toBe(404);
  });

  it('an upstream refusal of the invoice read is a 502 naming the request, never a 500', async () => {
    for (const status of [403, 400, 401]) {
      rillet.faults.failNext(1, status, { method: 'GET' });
      const r = await calc(`inv_refused_${status}`);
      expect(r.status, JSON.stringify(r.body)).toBe(502);
      expect(r.body).toMatchObject({ type: 'api_error', code: 'upstream_error' });
      expect(String(r.body.message)).toContain(String(status));
      expect(String(r.body.message)).not.toContain(rillet.apiKey);
    }
    rillet.faults.clear();
  });

  it('lists jobs and events for the admin, dead letters included, and replays a dead job', async () => {
    expect((await admin('GET', '/admin/writebacks')).status).toBe(200);
    expect((await admin('GET', '/admin/writebacks', null)).status).toBe(401);
    expect((await admin('GET', '/admin/writebacks', 'wrong-token-wrong-token')).status).toBe(401);
    const customer = rillet.createCustomer({ address: { line1: '1 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' } });
    const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '20.00' }] });
    rillet.setReadOnly(true);
    const failed = await calc(inv.id);
    expect(failed.status).toBe(502);
    expect(failed.body).toMatchObject({ code: 'writeback_failed' });
    const dead = (await admin('GET', '/admin/writebacks?dead=true')).body.data as Array<{ id: string; document_id: string; reason: string }>;
    expect(dead.map((d) => d.document_id)).toEqual([inv.id]);
    expect(dead[0]!.reason).toContain('403');
    rillet.setReadOnly(false);
    const replayed = await admin('POST', `/admin/writebacks/${dead[0]!.id}/replay`);
    expect(replayed.body.data).toMatchObject({ status: 'applied' });
    expect((await admin('GET', '/admin/writebacks?status=bogus')).status).toBe(400);
    expect((await admin('GET', '/admin/events')).body.data).toEqual([]);
    expect((await admin('POST', '/admin/events/evt_nope/replay')).status).toBe(404);
  });
});
