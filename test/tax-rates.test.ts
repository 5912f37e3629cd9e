import { describe, it, expect, beforeAll } from 'vitest';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadTaxData, importZipRateCsv, type Jurisdiction, type TaxData } from '../src/tax/rates/index.ts';
import { addRates, fractionToPercent } from '../src/tax/rates/validate.ts';

const DATA_DIR = fileURLToPath(new URL('../src/tax/data/', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/tax/zip-rates-sample.csv', import.meta.url));

const combined = (js: Jurisdiction[] | undefined): string => addRates('0', ...(js ?? []).map((j) => j.rate));

/** A copy of the real data dir that a test may break. */
/** "line:column" (1-based) of `token` on the first line of `text` that contains `line`. */
function at(text: string, line: string, token: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(line));
  if (i < 0) throw new Error(`no line with ${line}`);
  return `${i + 1}:${lines[i]!.indexOf(token, lines[i]!.indexOf(line)) + 1}`;
}

function dataCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'taxdata-'));
  cpSync(DATA_DIR, dir, { recursive: true });
  return dir;
}

let data: TaxData;
beforeAll(() => {
  data = loadTaxData();
});

describe('US states', () => {
  it('has a row for all 50 states, DC and Puerto Rico', () => {
    const doc = parse(readFileSync(join(DATA_DIR, 'us-states.yaml'), 'utf8')) as { states: Array<{ state: string }> };
    const codes = new Set(doc.states.map((s) => s.state));
    expect(codes.size).toBe(52);
    expect(codes.has('DC')).toBe(true);
    for (const st of codes) expect(data.usJurisdictions(st, undefined, '2026-06-01'), st).toBeDefined();
  });

  it('gives state-only jurisdictions when the ZIP is unknown', () => {
    const ca = data.usJurisdictions('CA', undefined, '2026-06-01')!;
    expect(ca).toHaveLength(1);
    expect(ca[0]).toMatchObject({ level: 'state', name: 'California', country: 'US', state: 'CA', rate: '7.25', tax_type: 'sales_tax', display_name: 'CA State Sales Tax' });
    // a CA ZIP that is not in the local table still belongs to CA: state only
    expect(data.usJurisdictions('CA', '93401', '2026-06-01')!.map((j) => j.rate)).toEqual(['7.25']);
  });

  it('returns no jurisdictions for states without a sales tax, undefined for unknown states', () => {
    for (const st of ['OR', 'DE', 'MT', 'NH', 'AK']) expect(data.usJurisdictions(st, undefined, '2026-06-01'), st).toEqual([]);
    expect(data.usJurisdictions('XX', undefined, '2026-06-01')).toBeUndefined();
    expect(data.usJurisdictions('TX', undefined, '2015-01-01')).toBeUndefined(); // before coverage
  });

  it('applies state rate history by date', () => {
    expect(data.usJurisdictions('LA', undefined, '2024-12-31')![0].rate).toBe('4.45');
    expect(data.usJurisdictions('LA', undefined, '2025-01-01')![0].rate).toBe('5');
    expect(data.usJurisdictions('NM', undefined, '2022-08-01')![0].rate).toBe('5');
    expect(data.usJurisdictions('NM', undefined, '2024-01-01')![0].rate).toBe('4.875');
    expect(data.usJurisdictions('DC', '20001', '2026-09-30')![0].rate).toBe('6');
    expect(data.usJurisdictions('DC', '20001', '2026-10-01')![0].rate).toBe('7');
  });
});

describe('US local', () => {
  it('Austin 78701 = 6.25 state + 1 Austin + 1 Capital Metro = 8.25', () => {
    const js = data.usJurisdictions('TX', '78701', '2026-06-01')!;
    expect(combined(js)).toBe('8.25');
    expect(js.map((j) => [j.level, j.name, j.rate])).toEqual([
      ['state', 'Texas', '6.25'],
      ['city', 'Austin', '1'],
      ['special', 'Austin MTA (Capital Metro)', '1'],
    ]);
    // ZIP+4 accepted
    expect(combined(data.usJurisdictions('TX', '78701-1234', '2026-06-01'))).toBe('8.25');
  });

  it('has the expected combined rates for other downtown ZIPs', () => {
    const cases: Array<[string, string, string, string]> = [
      ['TX', '77002', '2026-06-01', '8.25'],
      ['TX', '75201', '2026-06-01', '8.25'],
      ['TX', '78205', '2026-06-01', '8.25'],
      ['NY', '10001', '2026-06-01', '8.875'],
      ['CA', '90012', '2025-03-31', '9.5'],
      ['CA', '90012', '2025-04-01', '9.75'],
      ['IL', '60601', '2026-06-01', '10.25'],
      ['AZ', '85004', '2025-06-30', '8.6'],
      ['AZ', '85004', '2025-07-01', '9.1'],
      ['PA', '19107', '2026-06-01', '8'],
      ['WA', '98101', '2025-06-01', '10.35'],
      ['WA', '98101', '2026-06-01', '10.55'],
      ['CO', '80202', '2026-06-01', '9.15'],
      ['OH', '43215', '2025-03-31', '7.5'],
      ['OH', '43215', '2025-04-01', '8'],
      ['TN', '37203', '2026-06-01', '9.75'],
      ['NC', '28202', '2026-03-31', '7.25'],
      ['NC', '28202', '2026-04-01', '8.25'],
      ['CA', '95113', '2026-04-01', '10'],
      ['MA', '02108', '2026-06-01', '6.25'],
      ['NV', '89101', '2026-06-01', '8.375'],
    ];
    for (const [st, zip, date, rate] of cases) expect(combined(data.usJurisdictions(st, zip, date)), `${st} ${zip} ${date}`).toBe(rate);
    expect(data.usJurisdictions('OR', '97204', '2026-06-01')).toEqual([]);
  });

  it('rejects a ZIP that does not belong to the state', () => {
    expect(data.usJurisdictions('CA', '78701', '2026-06-01')).toBeUndefined();
    expect(data.usJurisdictions('NY', '90012', '2026-06-01')).toBeUndefined();
    expect(data.usJurisdictions('TX', 'abcde', '2026-06-01')).toBeUndefined();
  });

  it('returns frozen jurisdictions so callers cannot corrupt the tables', () => {
    const js = data.usJurisdictions('TX', '78701', '2026-06-01')!;
    expect(Object.isFrozen(js[0])).toBe(true);
  });

  it('answers lookups well under a millisecond', () => {
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) data.usJurisdictions('TX', '78701', '2026-06-01');
    const perCall = (performance.now() - t0) / n;
    expect(perCall).toBeLessThan(0.05);
  });
});

describe('SaaS taxability', () => {
  it('Texas taxes 80% of SaaS, California exempts it, New York taxes it', () => {
    expect(data.usTaxability('TX', 'saas', '2026-06-01')).toMatchObject({ treatment: 'partial', taxable_percent: '80' });
    expect(data.usTaxability('CA', 'saas', '2026-06-01')).toMatchObject({ treatment: 'exempt', taxable_percent: '0' });
    expect(data.usTaxability('NY', 'saas', '2026-06-01')).toMatchObject({ treatment: 'taxable', taxable_percent: '100' });
  });

  it('covers every state and DC with a cited source', () => {
    for (const st of ['AL', 'DC', 'WY', 'VT', 'KY', 'CT']) {
      const t = data.usTaxability(st, 'saas', '2026-06-01');
      expect(t.source.length, st).toBeGreaterThan(5);
      expect(t.reason.length, st).toBeGreaterThan(5);
    }
  });

  it('follows taxability changes by date', () => {
    expect(data.usTaxability('VT', 'saas', '2024-06-30').treatment).toBe('exempt');
    expect(data.usTaxability('VT', 'saas', '2024-07-01').treatment).toBe('taxable');
    expect(data.usTaxability('KY', 'saas', '2022-12-31').treatment).toBe('exempt');
    expect(data.usTaxability('KY', 'saas', '2023-01-01').treatment).toBe('taxable');
  });

  it('gives Connecticut 1% as a rate override', () => {
    const ct = data.usTaxability('CT', 'saas', '2026-06-01');
    expect(ct).toMatchObject({ treatment: 'partial', rate_override: '1' });
  });

  it('uses defaults for general and services_nontaxable, and exempts no-tax states', () => {
    expect(data.usTaxability('TX', 'general', '2026-06-01')).toMatchObject({ treatment: 'taxable', taxable_percent: '100' });
    expect(data.usTaxability('TX', 'services_nontaxable', '2026-06-01')).toMatchObject({ treatment: 'exempt', taxable_percent: '0' });
    expect(data.usTaxability('OR', 'general', '2026-06-01')).toMatchObject({ treatment: 'exempt' });
    expect(data.usTaxability('TX', 'no_such_code', '2026-06-01').treatment).toBe('taxable');
  });
});

describe('VAT / GST', () => {
  const rate = (c: string, date: string, region?: string): string[] | undefined =>
    data.countryJurisdictions(c, region, date)?.map((j) => `${j.tax_type}:${j.rate}`);

  it('has standard rates for the EU, UK and others', () => {
    expect(rate('DE', '2026-06-01')).toEqual(['vat:19']);
    expect(rate('FR', '2026-06-01')).toEqual(['vat:20']);
    expect(rate('GB', '2026-06-01')).toEqual(['vat:20']);
    expect(rate('AU', '2026-06-01')).toEqual(['gst:10']);
    expect(rate('IN', '2026-06-01')).toEqual(['gst:18']);
    expect(data.countryJurisdictions('DE', undefined, '2026-06-01')![0]).toMatchObject({ level: 'country', name: 'Germany', country: 'DE', display_name: 'MwSt' });
  });

  it('applies rate history', () => {
    expect(rate('CH', '2024-06-01')).toEqual(['vat:8.1']);
    expect(rate('CH', '2023-06-01')).toEqual(['vat:7.7']);
    expect(rate('SG', '2023-06-01')).toEqual(['gst:8']);
    expect(rate('SG', '2024-01-01')).toEqual(['gst:9']);
    expect(rate('EE', '2025-06-30')).toEqual(['vat:22']);
    expect(rate('EE', '2025-07-01')).toEqual(['vat:24']);
    expect(rate('FI', '2024-08-31')).toEqual(['vat:24']);
    expect(rate('FI', '2024-09-01')).toEqual(['vat:25.5']);
    expect(rate('SK', '2025-01-01')).toEqual(['vat:23']);
    expect(rate('RO', '2025-07-31')).toEqual(['vat:19']);
    expect(rate('RO', '2025-08-01')).toEqual(['vat:21']);
    expect(rate('DE', '2020-10-01')).toEqual(['vat:16']);
  });

  it('knows EU membership and coverage', () => {
    expect(data.isEu('DE')).toBe(true);
    expect(data.isEu('fr')).toBe(true);
    expect(data.isEu('GB')).toBe(false);
    expect(data.isEu('CH')).toBe(false);
    const covered = data.coveredCountries();
    expect(covered.filter((c) => data.isEu(c))).toHaveLength(27);
    for (const c of ['GB', 'NO', 'CH', 'AU', 'NZ', 'JP', 'SG', 'IN', 'CA', 'US']) expect(covered).toContain(c);
    expect(data.countryJurisdictions('BR', undefined, '2026-06-01')).toBeUndefined();
  });
});

describe('Canada', () => {
  const rate = (region: string | undefined, date = '2026-06-01'): string[] | undefined =>
    data.countryJurisdictions('CA', region, date)?.map((j) => `${j.tax_type}:${j.rate}`);

  it('HST provinces charge HST only', () => {
    expect(rate('ON')).toEqual(['hst:13']);
    expect(rate('NB')).toEqual(['hst:15']);
    expect(rate('NS', '2025-03-31')).toEqual(['hst:15']);
    expect(rate('NS', '2025-04-01')).toEqual(['hst:14']);
  });

  it('Quebec charges GST 5 + QST 9.975; other provinces GST + PST/RST; Alberta GST only', () => {
    expect(rate('QC')).toEqual(['gst:5', 'qst:9.975']);
    expect(data.countryJurisdictions('CA', 'QC', '2026-06-01')![1]).toMatchObject({ level: 'province', state: 'QC', display_name: 'QST' });
    expect(rate('BC')).toEqual(['gst:5', 'pst:7']);
    expect(rate('SK')).toEqual(['gst:5', 'pst:6']);
    expect(rate('MB')).toEqual(['gst:5', 'rst:7']);
    expect(rate('AB')).toEqual(['gst:5']);
    expect(rate(undefined)).toEqual(['gst:5']);
    expect(rate('XX')).toBeUndefined();
  });

  it('flags provinces whose provincial tax reaches SaaS', () => {
    for (const p of ['BC', 'SK', 'MB', 'QC']) expect(data.caDigitalTaxable(p), p).toBe(true);
    expect(data.caDigitalTaxable('AB')).toBe(false);
    expect(data.caDigitalTaxable('ZZ')).toBe(false);
  });
});

describe('ZIP rate CSV import', () => {
  const csv = readFileSync(FIXTURE, 'utf8');

  it('converts fractions to percent strings exactly', () => {
    expect(fractionToPercent('0.0825')).toBe('8.25');
    expect(fractionToPercent('0.00375')).toBe('0.375');
    expect(fractionToPercent('0.06')).toBe('6');
    expect(fractionToPercent('0')).toBe('0');
    expect(fractionToPercent('.0975')).toBe('9.75');
    expect(fractionToPercent('0.07')).toBe('7'); // 0.07 * 100 = 7.000000000000001 in floats
  });

  it('round-trips to us-local.yaml rows', () => {
    const yamlText = importZipRateCsv(csv, { source: 'fixture table', asOf: '2026-01-01', effectiveFrom: '2026-01-01' });
    const doc = parse(yamlText) as { source: string[]; as_of: string; rows: Array<Record<string, any>> };
    expect(doc.as_of).toBe('2026-01-01');
    expect(doc.source).toEqual(['fixture table']);
    expect(doc.rows).toHaveLength(4);
    const austin = doc.rows[0];
    expect(austin).toMatchObject({ zip: '78701', state: 'TX', region_name: 'AUSTIN', combined_rate: '8.25', state_rate: '6.25', effective_from: '2026-01-01', source: 'fixture table' });
    expect(austin.city.rate).toBe('1');
    expect(austin.special[0].rate).toBe('1');
    expect(austin.county).toBeUndefined();
    expect(doc.rows[1]).toMatchObject({ zip: '10001', combined_rate: '8.875' });
    expect(doc.rows[1].special[0].rate).toBe('0.375');
    expect(doc.rows[2].zip).toBe('02108'); // leading zero restored
    expect(doc.rows[3].region_name).toBe('LOS ANGELES, CITY OF');
    // every rate read back is still a string, never a number
    expect(yamlText).not.toMatch(/rate: \d/);
  });

  it('loads CSVs dropped into us-zip/ and lets them override the YAML rows', () => {
    const dir = dataCopy();
    mkdirSync(join(dir, 'us-zip'), { recursive: true });
    writeFileSync(
      join(dir, 'us-zip', 'tx.csv'),
      'State,ZipCode,TaxRegionName,EstimatedCombinedRate,StateRate,EstimatedCountyRate,EstimatedCityRate,EstimatedSpecialRate,RiskLevel\n' +
        'TX,78610,BUDA,0.0825,0.0625,0.005,0.015,0,1\n' +
        'TX,78701,AUSTIN,0.0825,0.0625,0,0.02,0,1\n',
    );
    const d = loadTaxData(dir);
    expect(combined(d.usJurisdictions('TX', '78610', '2026-06-01'))).toBe('8.25');
    expect(d.usJurisdictions('TX', '78701', '2026-06-01')!.map((j) => j.rate)).toEqual(['6.25', '2']);
  });

  it('rejects a CSV row whose components do not add up, naming file and line', () => {
    const bad = csv.replace('TX,78701,AUSTIN,0.0825', 'TX,78701,AUSTIN,0.0850');
    expect(() => importZipRateCsv(bad, { source: 's', asOf: '2026-01-01', effectiveFrom: '2026-01-01' })).toThrow(/:2: ZIP 78701: .*8\.25.*8\.5/);
  });
});

describe('data validation', () => {
  it('names the file, line and column for a malformed rate (its schema), with the fix as hint', () => {
    const dir = dataCopy();
    const file = join(dir, 'us-states.yaml');
    const text = readFileSync(file, 'utf8').replace(/(state: TX\n\s+name: Texas\n\s+rate: )"6\.25"/, '$16.25');
    writeFileSync(file, text);
    let err: (Error & { code?: string; hint?: string }) | undefined;
    try {
      loadTaxData(dir);
    } catch (e) {
      err = e as Error & { code?: string; hint?: string };
    }
    expect(err?.code).toBe('tax_data_invalid');
    expect(err?.message).toMatch(new RegExp(`us-states\\.yaml:${at(text, 'rate: 6.25', '6.25')}: \`states\\[\\d+\\]\\.rate\` must be a string, got number 6\\.25`));
    expect(err?.hint).toMatch(/quote it/);
  });

  it('a bad row in any data file names file:line:column of the field at fault', () => {
    const cases: Array<[file: string, edit: (t: string) => string, line: string, token: string, message: RegExp]> = [
      ['us-local.yaml', (t) => t.replace('combined_rate: "8.875"', 'combined_rate: "8.5"'), 'combined_rate: "8.5"', '"8.5"', /row 1 \(zip 10001\): state 4 \+ local 0 \+ 4\.5 \+ 0\.375 = 8\.875, but combined_rate is 8\.5/],
      ['us-local.yaml', (t) => t.replace('- zip: "10004"', '- zip: 10004'), '- zip: 10004', '10004', /`rows\[\d+\]\.zip` must be a string, got number 10004/],
      ['vat.yaml', (t) => t.replace(/(country: DE\n(?:.*\n)*?\s+rate: )"19"/, '$1"19,0"'), 'rate: "19,0"', '"19,0"', /`countries\[\d+\]\.rate` must match/],
      ['vat.yaml', (t) => t.replace('country: DE', 'country: US'), 'country: US', 'US', /country US\): US belongs in us-states\.yaml/],
      ['canada.yaml', (t) => t.replace('digital_services_taxable: true', 'digital_services_taxable: "yes"'), 'digital_services_taxable: "yes"', '"yes"', /must be a boolean/],
      ['canada.yaml', (t) => t.replace('{ tax_type: hst, display_name: HST, rate: "13" }', '{ tax_type: hst, display_name: HST, rate: "130" }'), 'rate: "130"', '"130"', /province ON component 1: rate must be a percent between 0 and 100, got 130/],
      ['us-saas-taxability.yaml', (t) => t.replace('treatment: exempt', 'treatment: exmpt'), 'treatment: exmpt', 'exmpt', /must be one of taxable, exempt, partial/],
      ['us-states.yaml', (t) => t.replace('    effective_from: "2019-01-01"', '    effective_from: "2019-02-30"'), 'effective_from: "2019-02-30"', '"2019-02-30"', /must be a valid date/],
    ];
    for (const [name, edit, line, token, message] of cases) {
      const dir = dataCopy();
      const text = edit(readFileSync(join(dir, name), 'utf8'));
      writeFileSync(join(dir, name), text);
      let msg = '';
      try {
        loadTaxData(dir);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg, `${name}: ${line}`).toContain(`${name}:${at(text, line, token)}: `);
      expect(msg).toMatch(message);
    }
  });

  it('names the file and row for a local row whose parts do not add up', () => {
    const dir = dataCopy();
    const file = join(dir, 'us-local.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('combined_rate: "8.875"', 'combined_rate: "8.5"'));
    expect(() => loadTaxData(dir)).toThrow(/us-local\.yaml:\d+:\d+: row 1 \(zip 10001\): state 4 \+ local 0 \+ 4\.5 \+ 0\.375 = 8\.875, but combined_rate is 8\.5/);
  });

  it('rejects overlapping periods and YAML syntax errors', () => {
    const dir = dataCopy();
    const file = join(dir, 'vat.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/effective_to: "2024-01-01"\n(\s+eu: true\n\s+source: "European Commission[^\n]*\n\s+- country: EE)/, 'effective_to: "2024-06-01"\n$1'));
    expect(() => loadTaxData(dir)).toThrow(/vat\.yaml:\d+:\d+: .*country EE: this row \(from 2024-01-01\) overlaps/);
    const dir2 = dataCopy();
    writeFileSync(join(dir2, 'canada.yaml'), 'source: [x]\nas_of: "2026-01-01"\nfederal: [\n');
    expect(() => loadTaxData(dir2)).toThrow(/canada\.yaml:\d+:\d+: YAML syntax error/);
  });

  it('rejects a lookup date in the wrong format', () => {
    expect(() => data.usJurisdictions('TX', '78701', '06/01/2026')).toThrow(RangeError);
  });
});
