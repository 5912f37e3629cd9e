/**
 * Reverse charge only on a checked tax id: format and check digits for the EU, GB, NO, CH, AU and IN
 * (python-stdnum's own valid numbers as vectors), then over a socket a registry fake standing in for VIES and
 * HMRC: confirmed, not registered, down, too slow (offline fallback), cached; `tax_id_status` in the answer;
 * a malformed id taxed as a consumer with a warning; an unverified one following the organization setting.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HmrcRegistry, TaxIdVerifier, ViesRegistry, parseTaxId } from '../src/tax/vat-ids/index.ts';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';
import { startVatRegistryFake, type VatRegistryFake } from './helpers/vat-registry-fake.ts';

const FIX = new URL('./fixtures/vat-ids/', import.meta.url);
const vectors = (file: string): string[] => readFileSync(new URL(file, FIX), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);

describe('tax id formats and check digits', () => {
  it.each([
    ['eu-valid.txt', undefined],
    ['gb_vat-valid.txt', 'GB'],
    ['no_mva-valid.txt', 'NO'],
    ['ch_vat-valid.txt', 'CH'],
    ['au_abn-valid.txt', 'AU'],
  ] as const)('every valid number of %s is well formed', (file, country) => {
    const bad = vectors(file).filter((n) => parseTaxId(n, country).wellFormed !== true);
    expect(bad).toEqual([]);
  });

  it('a changed first digit is caught by the check digits (nearly always; some schemes have two valid keys)', () => {
    let changed = 0;
    let caught = 0;
    for (const n of [...vectors('eu-valid.txt'), ...vectors('gb_vat-valid.txt'), ...vectors('au_abn-valid.txt')]) {
      const compact = n.replace(/[^0-9A-Za-z]/g, '');
      const i = compact.search(/\d/); // the first digit of the number (NL branch suffixes carry no check)
      if (i < 0) continue;
      const wrong = compact.slice(0, i) + String((Number(compact[i]) + 1) % 10) + compact.slice(i + 1);
      changed++;
      if (parseTaxId(wrong, /^\d/.test(compact) ? (n.length > 12 ? 'GB' : 'AU') : undefined).wellFormed !== true) caught++;
    }
    expect(changed).toBeGreaterThan(700);
    expect(caught / changed).toBeGreaterThan(0.97);
  });

  it('Indian GSTINs: state code, PAN, Z and a base-36 Luhn check character', () => {
    expect(parseTaxId('27AAPFU0939F1ZV', 'IN').wellFormed).toBe(true);
    expect(parseTaxId('27AAPFU0939F1ZO', 'IN').wellFormed).toBe(false);
    expect(parseTaxId('27AAPFU0939F1AA', 'IN').wellFormed).toBe(false);
    expect(parseTaxId('369296450896540', 'IN').wellFormed).toBe(false);
  });

  it('prefixes: EL for Greece (GR accepted), CHE for Switzerland, MVA suffix, separators ignored', () => {
    expect(parseTaxId('EL 094259216', 'GR')).toMatchObject({ scheme: 'EL', wellFormed: true });
    expect(parseTaxId('094259216', 'GR')).toMatchObject({ scheme: 'EL', wellFormed: true });
    expect(parseTaxId('CHE-116.281.710 MWST', 'CH')).toMatchObject({ scheme: 'CH', wellFormed: true });
    expect(parseTaxId('NO 974 760 673 MVA', 'NO')).toMatchObject({ scheme: 'NO', wellFormed: true });
    expect(parseTaxId('DE12', 'DE')).toMatchObject({ scheme: 'DE', wellFormed: false });
    expect(parseTaxId('T1234567', 'JP').wellFormed).toBeUndefined(); // no rule: unverified, never invalid
  });
});

describe('tax ids over the tax API', () => {
  let fake: VatRegistryFake;
  let s: TaxServer;
  let key: string;
  let orgId: string;
  const PARIS = { city: 'Paris', postal_code: '75001', country: 'FR' };
  const LONDON = { city: 'London', postal_code: 'SW1A 1AA', country: 'GB' };
  const calc = (body: Record<string, unknown>) =>
    s.post('/tax_api/calculate_tax', { currency: 'eur', tax_date: '2026-06-01', include_taxability_reason: true, line_items: [{ id: 'l', amount: 10_000, product_id: 'p' }], ...body }, { 'x-api-key': key });

  beforeAll(async () => {
    fake = await startVatRegistryFake();
    const taxIds = new TaxIdVerifier({
      registries: [new ViesRegistry(`${fake.url}/vies`), new HmrcRegistry({ baseUrl: `${fake.url}/hmrc`, token: 'hmrc-test-token' })],
      timeoutMs: 300,
    });
    s = await startTaxServer({ taxIds });
    const org = (await s.admin('POST', '/admin/organizations', { name: 'SaaS Inc', mode: 'test', origin_address: { country: 'US', state: 'CA' }, default_product_tax_code: 'saas' })).json.data;
    orgId = org.id;
    for (const country of ['EU', 'GB', 'AU', 'IN', 'NO', 'CH']) expect((await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { country, effective_from: '2020-01-01' })).status).toBe(201);
    key = (await s.admin('POST', `/admin/organizations/${org.id}/keys`, {})).json.data.key;
  });
  afterAll(async () => {
    await s?.close();
    await fake?.close();
  });

  it('"DE12"-style malformed id: taxed as a consumer (French VAT 20 %), tax_id_status invalid_format, a warning', async () => {
    const r = await calc({ tax_id: 'FR12', customer_address: PARIS });
    expect(r.status).toBe(200);
    expect(r.json.data.tax_id_status).toBe('invalid_format');
    expect(r.json.data.lines[0].taxability_reason).toBe('standard_rated');
    expect(r.json.data.lines[0].tax_amounts[0].amount).toBe(2000);
    expect(r.json.data.warnings).toEqual([expect.objectContaining({ code: 'tax_id_invalid', param: 'tax_id' })]);
    expect(fake.calls).toEqual([]); // never asked the registry about a malformed id
  });

  it('a VIES-confirmed id is reverse-charged, status valid, evidence kept; the answer is cached', async () => {
    const r = await calc({ tax_id: 'FR 40 303 265 045', customer_address: PARIS });
    expect(r.json.data.tax_id_status).toBe('valid');
    expect(r.json.data.lines[0]).toMatchObject({ taxability_reason: 'reverse_charge', tax_amounts: [] });
    expect(r.json.data.warnings).toEqual([]);
    const doc = await s.get(`/tax_api/calculations/${r.json.data.sphere_tax_calculation_id}`, { 'x-api-key': key });
    expect(doc.json.data.response).toEqual(r.json);
    const stored = await s.service.getCalculation((await s.service.authenticate(key))!, r.json.data.sphere_tax_calculation_id);
    expect(stored?.tax_id_evidence).toBe('WAPIAAAA40303265045');
    await calc({ tax_id: 'FR40303265045', customer_address: PARIS });
    expect(fake.calls.filter((c) => c === 'vies:FR40303265045')).toHaveLength(1);
  });

  it('VIES says not registered: taxed as a consumer with a warning', async () => {
    fake.answers.set('DE136695976', 'not_registered');
    const r = await calc({ tax_id: 'DE136695976', customer_address: { city: 'Berlin', postal_code: '10117', country: 'DE' } });
    expect(r.json.data.tax_id_status).toBe('not_registered');
    expect(r.json.data.lines[0].tax_amounts[0]).toMatchObject({ amount: 1900 });
    expect(r.json.data.warnings[0].code).toBe('tax_id_invalid');
  });

  it('VIES down or too slow: unverified (offline fallback); reverse charge by default, VAT under unverified_tax_ids=tax', async () => {
    fake.answers.set('ATU13585627', 'unavailable');
    fake.answers.set('BE0202239951', 'slow');
    const VIENNA = { city: 'Wien', postal_code: '1010', country: 'AT' };
    const BRUSSELS = { city: 'Bruxelles', postal_code: '1000', country: 'BE' };
    const down = await calc({ tax_id: 'ATU13585627', customer_address: VIENNA });
    expect(down.json.data.tax_id_status).toBe('unverified');
    expect(down.json.data.lines[0].taxability_reason).toBe('reverse_charge');
    expect(down.json.data.warnings[0]).toMatchObject({ code: 'tax_id_unverified' });
    expect(down.json.data.warnings[0].message).toContain('MS_UNAVAILABLE');
    const slow = await calc({ tax_id: 'BE0202239951', customer_address: BRUSSELS });
    expect(slow.json.data.tax_id_status).toBe('unverified');
    expect(slow.json.data.warnings[0].message).toContain('did not answer in time');

    expect((await s.admin('PATCH', `/admin/organizations/${orgId}`, { unverified_tax_ids: 'tax' })).status).toBe(200);
    const taxed = await calc({ tax_id: 'ATU13585627', customer_address: VIENNA });
    expect(taxed.json.data.tax_id_status).toBe('unverified');
    expect(taxed.json.data.lines[0].taxability_reason).toBe('standard_rated');
    expect(taxed.json.data.lines[0].tax_amounts[0].amount).toBe(2000);
    expect((await s.admin('PATCH', `/admin/organizations/${orgId}`, { unverified_tax_ids: 'sometimes' })).status).toBe(400);
    expect((await s.admin('PATCH', `/admin/organizations/${orgId}`, { unverified_tax_ids: null })).status).toBe(200);
  });

  it('GB ids through HMRC: 200 valid, 404 not registered', async () => {
    const ok = await calc({ currency: 'gbp', tax_id: 'GB 980 7806 84', customer_address: LONDON });
    expect(ok.json.data.tax_id_status).toBe('valid');
    expect(ok.json.data.lines[0].taxability_reason).toBe('reverse_charge');
    fake.answers.set('GB434031494', 'not_registered');
    const no = await calc({ currency: 'gbp', tax_id: 'GB434031494', customer_address: LONDON });
    expect(no.json.data.tax_id_status).toBe('not_registered');
    expect(no.json.data.lines[0].tax_amounts[0].amount).toBe(2000);
    expect(fake.calls).toContain('hmrc:GB980780684');
  });

  it('AU ABN, IN GSTIN, NO and CH: checked offline; well formed = unverified (no registry), malformed = taxed', async () => {
    const cases: Array<[string, Record<string, string>, string, string]> = [
      ['aud', { city: 'Sydney', postal_code: '2000', country: 'AU' }, '51 824 753 556', '51 824 753 557'],
      ['inr', { city: 'Mumbai', postal_code: '400001', country: 'IN' }, '27AAPFU0939F1ZV', '27AAPFU0939F1ZO'],
      ['nok', { city: 'Oslo', postal_code: '0150', country: 'NO' }, 'NO 974 760 673 MVA', 'NO 974 760 674 MVA'],
      ['chf', { city: 'Zürich', postal_code: '8001', country: 'CH' }, 'CHE-116.281.710 MWST', 'CHE-116.281.711 MWST'],
    ];
    for (const [currency, addr, good, bad] of cases) {
      const g = await calc({ currency, tax_id: good, customer_address: addr });
      expect([addr.country, g.json.data.tax_id_status, g.json.data.lines[0].taxability_reason]).toEqual([addr.country, 'unverified', 'reverse_charge']);
      const b = await calc({ currency, tax_id: bad, customer_address: addr });
      expect([addr.country, b.json.data.tax_id_status, b.json.data.lines[0].tax_amounts.length > 0]).toEqual([addr.country, 'invalid_format', true]);
    }
  });

  it('no tax id: no tax_id_status field at all (Sphere clients see what they always saw)', async () => {
    const r = await calc({ customer_address: PARIS });
    expect(r.json.data).not.toHaveProperty('tax_id_status');
  });
});
