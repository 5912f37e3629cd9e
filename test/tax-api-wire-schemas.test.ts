/**
 * The tax API's answers over a socket match the JSON Schemas they are documented by (schemas/tax-api/, compiled
 * by ajv): calculate_tax (with warnings, tax_id_status, rate_source), recorded calculations read back, test_credentials,
 * lifecycle answers and exports, so the one
 * schema that /openapi.json and the generated types come from cannot drift from the wire.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { taxApiValidator } from '../src/tax/api-schemas.ts';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

let s: TaxServer;
let key: string;
beforeAll(async () => {
  s = await startTaxServer();
  const org = (await s.admin('POST', '/admin/organizations', { name: 'Wire', mode: 'test', origin_address: { country: 'US', state: 'TX' }, default_product_tax_code: 'saas' })).json.data;
  for (const reg of [{ country: 'US', state: 'TX' }, { country: 'EU' }]) await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { ...reg, effective_from: '2020-01-01' });
  key = (await s.admin('POST', `/admin/organizations/${org.id}/keys`, {})).json.data.key;
});
afterAll(async () => s?.close());

function valid(stem: string, def: string | undefined, value: unknown): void {
  const v = taxApiValidator(stem, def);
  expect(v(value) ? [] : v.errors).toEqual([]);
}

it('calculate_tax, lifecycle and export answers validate against their schemas', async () => {
  const H = { 'x-api-key': key };
  const bodies = [
    { currency: 'usd', customer_address: { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, line_items: [{ id: 'a', amount: 3333, product_id: 'p' }, { id: 'b', quantity: 2, unit_amount: 3333, product_id: 'p' }] },
    { currency: 'usd', include_taxability_reason: true, customer_address: { city: 'Houston', state: 'TX', postal_code: '77002', country: 'US' }, line_items: [{ amount: 100, product_id: 'p', tax_inclusive: true }] },
    { currency: 'eur', include_taxability_reason: true, tax_id: 'DE12', customer_address: { city: 'Berlin', postal_code: '10117', country: 'DE' }, line_items: [{ amount: 100, product_id: 'p' }] },
    { currency: 'eur', tax_id: 'FR40303265045', customer_address: { city: 'Paris', postal_code: '75001', country: 'FR' }, line_items: [{ amount: 100, product_id: 'p' }] },
  ];
  const ids: string[] = [];
  for (const b of bodies) {
    const r = await s.post('/tax_api/calculate_tax', { tax_date: '2026-03-01', ...b }, H);
    expect(r.status).toBe(200);
    valid('calculate_tax_response', undefined, r.json);
    valid('calculate_tax_request', undefined, { tax_date: '2026-03-01', ...b });
    ids.push(r.json.data.sphere_tax_calculation_id);
  }
  for (const id of ids) {
    const rec = await s.get(`/tax_api/calculations/${id}`, H);
    expect(rec.status).toBe(200);
    valid('calculation_record', undefined, rec.json);
    valid('calculate_tax_request', undefined, rec.json.data.request);
  }
  const tc = await s.get('/tax_api/test_credentials', H);
  valid('test_credentials', undefined, tc.json);
  const c = await s.post(`/tax_api/calculations/${ids[0]}/commit`, undefined, H);
  valid('calculation_lifecycle', 'status_response', c.json);
  const rf = await s.post(`/tax_api/calculations/${ids[0]}/refund`, { lines: [{ id: 'a', amount: 1000 }] }, H);
  expect(rf.status).toBe(201);
  valid('calculation_lifecycle', 'refund_response', rf.json);
  const v = await s.post(`/tax_api/calculations/${ids[1]}/void`, { reason: 'deleted upstream' }, H);
  valid('calculation_lifecycle', 'status_response', v.json);
  const e = await s.post('/tax_api/exports', { from: '2026-01-01', to: '2026-12-31', period: 'quarter' }, H);
  expect(e.status).toBe(201);
  valid('export', 'response', e.json);
  valid('export', 'request', { from: '2026-01-01', to: '2026-12-31', period: 'quarter' });
});
