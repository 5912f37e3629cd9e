/**
 * Transaction export for filing over the tax API: POST /tax_api/exports (date range, countries, statuses,
 * period, format) and GET /tax_api/exports/:id (+ CSV), with a per-jurisdiction summary of taxable, tax and
 * exempt amounts by period; credit notes and refunds count negative, voided calculations are left out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

let s: TaxServer;
let key: string;
let otherKey: string;
const AUSTIN = { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const BERLIN = { city: 'Berlin', postal_code: '10117', country: 'DE' };
const H = () => ({ 'x-api-key': key });
const calc = (body: Record<string, unknown>) => s.post('/tax_api/calculate_tax', body, H());
const exp = (body: unknown, k = key) => s.post('/tax_api/exports', body, { 'x-api-key': k });
let voidedId: string;

beforeAll(async () => {
  s = await startTaxServer();
  const org = (await s.admin('POST', '/admin/organizations', { name: 'Filer', mode: 'test', origin_address: { country: 'US', state: 'TX' }, default_product_tax_code: 'saas' })).json.data;
  for (const reg of [{ country: 'US', state: 'TX' }, { country: 'DE' }]) await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { ...reg, effective_from: '2020-01-01' });
  key = (await s.admin('POST', `/admin/organizations/${org.id}/keys`, {})).json.data.key;
  const other = (await s.admin('POST', '/admin/organizations', { name: 'Other', mode: 'test', default_product_tax_code: 'saas' })).json.data;
  otherKey = (await s.admin('POST', `/admin/organizations/${other.id}/keys`, {})).json.data.key;
  // January: Austin 100.00 (TX taxes 80 %), Berlin 50.00 (DE 19 %), an exempt product in Austin.
  expect((await s.admin('POST', `/admin/organizations/${org.id}/product_tax_codes`, { product_id: 'freebie', tax_code: 'exempt' })).status).toBeLessThan(300);
  const a = (await calc({ currency: 'usd', tax_date: '2026-01-10', customer_address: AUSTIN, line_items: [{ id: 'a', amount: 10_000, product_id: 'p' }, { id: 'f', amount: 1_000, product_id: 'freebie' }] })).json.data;
  await s.post(`/tax_api/calculations/${a.sphere_tax_calculation_id}/commit`, undefined, H());
  await calc({ currency: 'eur', tax_date: '2026-01-20', customer_address: BERLIN, line_items: [{ id: 'b', amount: 5_000, product_id: 'p' }] });
  // February: a credit note of the Austin invoice (25.00), and a voided invoice.
  await calc({ currency: 'usd', tax_date: '2026-02-03', reference_calculation_id: a.sphere_tax_calculation_id, line_items: [{ id: 'cn', amount: 2_500, product_id: 'p' }] });
  voidedId = (await calc({ currency: 'usd', tax_date: '2026-02-05', customer_address: AUSTIN, line_items: [{ id: 'v', amount: 99_999, product_id: 'p' }] })).json.data.sphere_tax_calculation_id;
  await s.post(`/tax_api/calculations/${voidedId}/void`, { reason: 'deleted' }, H());
});
afterAll(async () => s?.close());

describe('exports', () => {
  it('a JSON export with a per-jurisdiction summary by month; credit notes negative, voided left out', async () => {
    const r = await exp({ from: '2026-01-01', to: '2026-03-31', period: 'month' });
    expect(r.status).toBe(201);
    const d = r.json.data;
    expect(d).toMatchObject({ status: 'completed', calculations: 3, parameters: { statuses: ['calculated', 'committed', 'refunded'] } });
    expect(d.transactions.some((t: any) => t.calculation_id === voidedId)).toBe(false);
    const texas = d.summary.filter((x: any) => x.jurisdiction === 'Texas').map((x: any) => [x.period, x.taxable_amount, x.exempt_amount, x.tax_amount]);
    // Jan: 100.00 at 80 % = 80.00 taxable, 20.00 + 10.00 (exempt product) exempt, 5.00 tax. Feb: credit note -25.00.
    expect(texas).toEqual([['2026-01', 8000, 3000, 500], ['2026-02', -2000, -500, -125]]);
    const de = d.summary.find((x: any) => x.country === 'DE');
    expect(de).toMatchObject({ period: '2026-01', currency: 'EUR', taxable_amount: 5000, tax_amount: 950, exempt_amount: 0, transactions: 1 });
    const got = await s.get(`/tax_api/exports/${d.id}`, H());
    expect(got.json.data.summary).toEqual(d.summary);
    expect((await s.get(`/tax_api/exports/${d.id}`, { 'x-api-key': otherKey })).status).toBe(404);
  });

  it('filters: countries, statuses (voided on request), quarters; CSV of rows and summary', async () => {
    const de = await exp({ from: '2026-01-01', to: '2026-12-31', countries: ['de'], period: 'quarter' });
    expect(de.json.data.summary.map((x: any) => [x.period, x.country])).toEqual([['2026-Q1', 'DE']]);
    const voided = await exp({ from: '2026-01-01', to: '2026-12-31', statuses: ['voided'] });
    expect(voided.json.data.transactions.map((t: any) => t.calculation_id)).toEqual([voidedId, voidedId, voidedId]);
    const committed = await exp({ from: '2026-01-01', to: '2026-12-31', statuses: ['committed'] });
    expect(committed.json.data.calculations).toBe(1);
    const csv = await exp({ from: '2026-01-01', to: '2026-01-31', format: 'csv' });
    expect(csv.status).toBe(201);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('calculation_id,kind,status,created_at,filing_date,tax_date,currency,customer_country,customer_state,line_id,product_id,tax_code,taxability_reason,jurisdiction,jurisdiction_level,jurisdiction_country,jurisdiction_state,tax_type,rate,net_amount,taxable_amount,exempt_amount,tax_amount');
    expect(lines).toHaveLength(1 + 3 + 3 + 1); // Austin line x3 jurisdictions, exempt product x3, Berlin
    const id = String(csv.headers.location).split('/').pop();
    const sum = await s.get(`/tax_api/exports/${id}/summary.csv`, H());
    expect(sum.text.split('\r\n')[0]).toBe('period,currency,country,state,jurisdiction_level,jurisdiction,tax_type,taxable_amount,exempt_amount,tax_amount,transactions');
    expect((await s.get(`/tax_api/exports/${id}/transactions.csv`, H())).text).toBe(csv.text);
  });

  it('bounds: dates, range, countries, statuses, format, unknown ids; a formula in a product id is defused in CSV', async () => {
    const cases: Array<[unknown, string]> = [
      [{ to: '2026-01-01' }, 'from'],
      [{ from: '2026-02-30', to: '2026-03-01' }, 'from'],
      [{ from: '2026-03-01', to: '2026-01-01' }, 'to'],
      [{ from: '2024-01-01', to: '2026-01-01' }, 'to'],
      [{ from: '2026-01-01', to: '2026-01-02', countries: Array(51).fill('DE') }, 'countries'],
      [{ from: '2026-01-01', to: '2026-01-02', countries: ['Narnia'] }, 'countries[0]'],
      [{ from: '2026-01-01', to: '2026-01-02', statuses: ['filed'] }, 'statuses[0]'],
      [{ from: '2026-01-01', to: '2026-01-02', format: 'xlsx' }, 'format'],
      [[1], 'body'],
    ];
    for (const [body, param] of cases) {
      const r = await exp(body);
      expect([r.status, r.json?.param]).toEqual([400, param]);
    }
    expect((await s.get('/tax_api/exports/exp_nope', H())).status).toBe(404);
    expect((await s.get('/tax_api/exports/exp_nope', {})).status).toBe(401);
    await calc({ currency: 'eur', tax_date: '2026-05-01', customer_address: BERLIN, line_items: [{ id: 'x', amount: 100, product_id: '=HYPERLINK("http://evil")' }] });
    const csv = await exp({ from: '2026-05-01', to: '2026-05-01', format: 'csv' });
    expect(csv.text).toContain(`"'=HYPERLINK(""http://evil"")"`);
  });

  it('attacker input is a 400 naming the field, from the schema: wrong types, huge arrays, prototype keys, unknown fields', async () => {
    const range = { from: '2026-01-01', to: '2026-01-31' };
    const cases: Array<[string | Record<string, unknown>, string]> = [
      [{ ...range, from: 20260101 }, 'from'],
      [{ ...range, to: ['2026-01-31'] }, 'to'],
      [{ ...range, from: 'x'.repeat(20_000) }, 'from'],
      [{ ...range, from: '2026-1-1' }, 'from'],
      [{ ...range, countries: 'DE' }, 'countries'],
      [{ ...range, countries: [{ code: 'DE' }] }, 'countries[0]'],
      [{ ...range, countries: [''] }, 'countries[0]'],
      [{ ...range, countries: Array(10_000).fill('DE') }, 'countries'],
      [{ ...range, statuses: [] }, 'statuses'],
      [{ ...range, statuses: Array(5).fill('committed') }, 'statuses'],
      [{ ...range, statuses: [1] }, 'statuses[0]'],
      [{ ...range, period: ['month'] }, 'period'],
      [{ ...range, format: null }, 'format'],
      [{ ...range, statues: ['voided'] }, 'statues'],
      [`{"from":"2026-01-01","to":"2026-01-31","__proto__":{"statuses":["voided"]}}`, '__proto__'],
      [`{"from":"2026-01-01","to":"2026-01-31","constructor":{"prototype":{"polluted":true}}}`, 'constructor'],
      [`{"from":"2026-01-01","to":"2026-01-31","countries":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, 'countries[0]'],
      ['"2026-01-01"', 'body'],
      ['null', 'body'],
    ];
    for (const [body, param] of cases) {
      const r = await exp(body);
      expect([r.status, r.json?.code, r.json?.param], JSON.stringify(body).slice(0, 120)).toEqual([400, 'validation_errors', param]);
      // Sphere's wording, never ajv's or a schema path.
      expect(r.json.message).not.toMatch(/must NOT|#\/|\$defs|instancePath/);
      expect(r.json.message.length).toBeLessThan(400);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).statuses).toBeUndefined();
    // The body cap holds before parsing: a huge array is a 413, not a slow 400.
    expect((await exp({ ...range, countries: Array(30_000).fill('DE') })).status).toBe(413);
    // What was applied is answered, and only the schema's fields are kept.
    const ok = await exp({ ...range, countries: ['de', 'Germany'] });
    expect(ok.status).toBe(201);
    expect(ok.json.data.parameters).toEqual({ ...range, countries: ['DE', 'DE'], statuses: ['calculated', 'committed', 'refunded'], period: 'month', format: 'json' });
  });
});
