/**
 * US local rates by place (src/tax/data/us-places.yaml): loading (src/spec's YAML positions), validation
 * (schemas/tax-data/us-places.schema.json through ajv, then the checks a schema cannot make: components add up
 * to combined_rate, periods of one place do not overlap) and lookup by a ZIP's place (src/tax/places).
 *
 * A ZIP's place is its postal city and county, so every rate found here is an estimate: rate_source
 * `city_table` (a city row) or `county_table` (a county row, complete only where the state has no city taxes
 * or the city is not one of the row's except_cities).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { getAjv, SCHEMAS_DIR } from '../../spec/schemas.ts';
import { validateAgainstSchema } from '../../spec/validate.ts';
import { parseSource, positionOf } from '../../spec/yaml-source.ts';
import { TaxbridgeError } from '../../errors.ts';
import type { ZipPlace } from '../places/zip-places.ts';
import { addDecimals, compareDecimals, normalizeDecimal } from './decimal.ts';
import type { Jurisdiction, RateSource, Taxability } from './types.ts';

export type LocalTaxes = 'none' | 'county' | 'county_city';

interface Match {
  cities?: Set<string>;
  county?: string;
  except?: Set<string>;
}

interface PlaceRow {
  match: Match;
  from: string;
  to?: string;
  where: string;
  region: string;
  jurs: ReadonlyArray<Readonly<Jurisdiction>>;
}

interface TaxabilityRow {
  from: string;
  to?: string;
  value: Readonly<Taxability>;
}

interface ProductTaxRow {
  match: Match;
  codes: Set<string>;
  from: string;
  to?: string;
  jur: Readonly<Jurisdiction>;
  reason: string;
}

export interface PlaceHit {
  jurs: ReadonlyArray<Readonly<Jurisdiction>>;
  source: RateSource;
  region: string;
}

export interface PlaceRates {
  asOf: string;
  localTaxes(state: string): LocalTaxes | undefined;
  /** Local jurisdictions of a ZIP's place on date: a city row first, else a county row; undefined when neither applies. */
  lookup(place: ZipPlace, date: string): PlaceHit | undefined;
  /** A local jurisdiction's own taxability of a tax code, when it differs from the state's. */
  taxability(state: string, jurisdiction: string, taxCode: string, date: string): Readonly<Taxability> | undefined;
  /** Local taxes at one rate statewide (Puerto Rico's municipal IVU), in force on date. */
  uniformLocals(state: string, date: string): Jurisdiction[];
  /** Taxes on this tax code only (Chicago's lease tax on SaaS) at the place on date. */
  productTaxes(place: ZipPlace, taxCode: string, date: string): ReadonlyArray<Readonly<Jurisdiction>>;
}

let validator: ValidateFunction | undefined;
function placesValidator(): ValidateFunction {
  validator ??= getAjv().compile(JSON.parse(readFileSync(join(SCHEMAS_DIR, 'tax-data', 'us-places.schema.json'), 'utf8')) as object);
  return validator;
}

function dataError(message: string, hint?: string): TaxbridgeError {
  return new TaxbridgeError('tax_data_invalid', message, hint ? { hint } : {});
}

const fold = (s: string): string => s.trim().toLowerCase().replace(/[^a-z0-9]/g, '');

function inForce(r: { from: string; to?: string }, date: string): boolean {
  return r.from <= date && (r.to === undefined || date < r.to);
}

function pick<T extends { from: string; to?: string }>(rows: readonly T[] | undefined, date: string): T | undefined {
  let best: T | undefined;
  if (rows) for (const r of rows) if (inForce(r, date) && (!best || r.from > best.from)) best = r;
  return best;
}

function sourceText(v: unknown): string {
  return Array.isArray(v) ? v.join('; ') : String(v);
}

/**
 * Reads and checks us-places.yaml. `stateRate(state, date)` gives the state rate in force (us-states.yaml) so a
 * row's combined_rate can be checked; undefined when the state is unknown.
 */
export function loadPlaceRates(file: string, label: string, stateRate: (state: string, date: string) => string | undefined): PlaceRates {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw dataError(`${label}: cannot read tax data file (${(e as Error).message})`);
  }
  const src = parseSource(label, text);
  const first = src.diagnostics[0] ?? validateAgainstSchema(src, placesValidator())[0];
  if (first) throw dataError(`${first.file}:${first.line}:${first.column}: ${first.message}`, first.hint);
  const doc = src.value as PlacesDoc;
  const at = (pointer: string): string => {
    const p = positionOf(src, pointer);
    return `${label}:${p.line}:${p.column}`;
  };
  const fail = (pointer: string, message: string): never => {
    throw dataError(`${at(pointer)}: ${message}`);
  };

  const structure = new Map<string, LocalTaxes>();
  const uniform = new Map<string, Array<{ from: string; to?: string; jur: Readonly<Jurisdiction> }>>();
  doc.states.forEach((s, i) => {
    if (structure.has(s.state)) fail(`/states/${i}/state`, `state ${s.state} is listed twice`);
    (s.uniform_local ?? []).forEach((u) => {
      const jur: Jurisdiction = Object.freeze({ level: u.level, name: u.name, country: 'US', state: s.state, rate: normalizeDecimal(u.rate), tax_type: 'sales_tax', display_name: u.display_name ?? u.name, rate_source: 'state_table' });
      push(uniform, s.state, { from: u.effective_from, to: u.effective_to, jur });
    });
    if (stateRate(s.state, doc.as_of) === undefined && stateRate(s.state, s.as_of) === undefined) fail(`/states/${i}/state`, `state ${s.state} is not in us-states.yaml`);
    structure.set(s.state, s.local_taxes);
  });

  const cityRows = new Map<string, PlaceRow[]>(); // "ST|city"
  const countyRows = new Map<string, PlaceRow[]>(); // "ST|county"
  doc.places.forEach((p, i) => {
    const base = `/places/${i}`;
    const from = p.effective_from;
    if (p.effective_to !== undefined && p.effective_to <= from) fail(`${base}/effective_to`, `effective_to (${p.effective_to}) must be after effective_from (${from})`);
    const sr = stateRate(p.state, from);
    if (sr === undefined) fail(`${base}/effective_from`, `no ${p.state} state rate in us-states.yaml is in force on ${from}`);
    if (structure.get(p.state) === 'none') fail(`${base}/state`, `${p.state} is listed under states: with local_taxes none, so it cannot have local rows`);
    const match = readMatch(p.match);
    if (!match.cities && !match.county) fail(`${base}/match`, 'match needs city, cities or county');
    if (match.except && match.cities) fail(`${base}/match/except_cities`, 'except_cities belongs to county rows (match.county without a city)');
    const jurs: Jurisdiction[] = [];
    const rates: string[] = [];
    const rs: RateSource = match.cities ? 'city_table' : 'county_table';
    const add = (c: Component | undefined, level: Jurisdiction['level'], pointer: string): void => {
      if (!c) return;
      const rate = normalizeDecimal(c.rate);
      if (compareDecimals(rate, '100') > 0) fail(`${pointer}/rate`, `rate must be a percent between 0 and 100, got ${c.rate}`);
      rates.push(rate);
      if (rate === '0') return;
      const display = c.display_name ?? (level === 'city' ? `${c.name} City Sales Tax` : /tax$/i.test(c.name) ? c.name : `${c.name} Sales Tax`);
      jurs.push(Object.freeze({ level, name: c.name, country: 'US', state: p.state, rate, tax_type: 'sales_tax', display_name: display, rate_source: rs }));
    };
    add(p.county, 'county', `${base}/county`);
    add(p.city, 'city', `${base}/city`);
    (p.special ?? []).forEach((s, k) => add(s, 'special', `${base}/special/${k}`));
    const sum = addDecimals(sr!, ...rates);
    if (compareDecimals(sum, p.combined_rate) !== 0) fail(`${base}/combined_rate`, `state ${sr} + local ${rates.join(' + ') || '0'} = ${sum}, but combined_rate is ${p.combined_rate}`);
    const row: PlaceRow = { match, from, to: p.effective_to, where: at(base), region: p.region_name, jurs };
    if (match.cities) for (const c of match.cities) push(cityRows, `${p.state}|${c}`, row);
    else push(countyRows, `${p.state}|${match.county}`, row);
  });
  checkOverlaps(cityRows, (r) => [...(r.match.county ? [r.match.county] : [''])]);
  checkOverlaps(countyRows, () => ['']);

  const taxability = new Map<string, TaxabilityRow[]>(); // "ST|jurisdiction|code"
  (doc.local_taxability ?? []).forEach((t, i) => {
    const base = `/local_taxability/${i}`;
    const pct = normalizeDecimal(t.taxable_percent);
    if (t.treatment === 'taxable' && pct !== '100') fail(`${base}/taxable_percent`, `treatment taxable needs taxable_percent "100" (got ${pct}); use partial`);
    if (t.treatment === 'exempt' && pct !== '0') fail(`${base}/taxable_percent`, `treatment exempt needs taxable_percent "0" (got ${pct})`);
    if (t.treatment === 'partial' && (pct === '0' || pct === '100')) fail(`${base}/taxable_percent`, `treatment partial needs a taxable_percent strictly between 0 and 100 (got ${pct})`);
    const value: Taxability = Object.freeze({ treatment: t.treatment, taxable_percent: pct, reason: t.reason, source: sourceText(t.source), ...(t.verified === undefined ? {} : { verified: t.verified }) });
    push(taxability, `${t.state}|${fold(t.jurisdiction)}|${t.tax_code}`, { from: t.effective_from ?? '0001-01-01', to: t.effective_to, value });
  });

  const productTaxes = new Map<string, ProductTaxRow[]>(); // "ST|city" or "ST|county:<name>"
  (doc.product_taxes ?? []).forEach((t, i) => {
    const match = readMatch(t.match);
    const rate = normalizeDecimal(t.rate);
    const jur: Jurisdiction = Object.freeze({ level: t.level ?? 'city', name: t.name, country: 'US', state: t.state, rate, tax_type: t.tax_type, display_name: t.display_name, rate_source: match.cities ? 'city_table' : 'county_table' });
    const row: ProductTaxRow = { match, codes: new Set(t.tax_codes), from: t.effective_from, to: t.effective_to, jur, reason: t.reason };
    if (t.effective_to !== undefined && t.effective_to <= t.effective_from) fail(`/product_taxes/${i}/effective_to`, `effective_to must be after effective_from`);
    if (match.cities) for (const c of match.cities) push(productTaxes, `${t.state}|${c}`, row);
    else push(productTaxes, `${t.state}|county:${match.county}`, row);
  });

  function matches(m: Match, place: ZipPlace): boolean {
    if (m.county !== undefined && m.county !== fold(place.county)) return false;
    if (m.except?.has(fold(place.city))) return false;
    return true;
  }

  return {
    asOf: doc.as_of,
    localTaxes: (state) => structure.get(state),
    uniformLocals(state, date) {
      const out: Jurisdiction[] = [];
      for (const u of uniform.get(state) ?? []) if (inForce(u, date)) out.push(u.jur as Jurisdiction);
      return out;
    },
    lookup(place, date) {
      const city = fold(place.city);
      const cityHit = pick(cityRows.get(`${place.state}|${city}`)?.filter((r) => matches(r.match, place)), date);
      if (cityHit) return { jurs: cityHit.jurs, source: 'city_table', region: cityHit.region };
      const countyHit = pick(countyRows.get(`${place.state}|${fold(place.county)}`)?.filter((r) => matches(r.match, place)), date);
      if (countyHit) return { jurs: countyHit.jurs, source: 'county_table', region: countyHit.region };
      return undefined;
    },
    taxability(state, jurisdiction, taxCode, date) {
      return pick(taxability.get(`${state}|${fold(jurisdiction)}|${taxCode}`), date)?.value;
    },
    productTaxes(place, taxCode, date) {
      const out: Jurisdiction[] = [];
      for (const key of [`${place.state}|${fold(place.city)}`, `${place.state}|county:${fold(place.county)}`]) {
        for (const r of productTaxes.get(key) ?? []) if (r.codes.has(taxCode) && inForce(r, date) && matches(r.match, place)) out.push(r.jur as Jurisdiction);
      }
      return out;
    },
  };

  function readMatch(m: MatchDoc): Match {
    const cities = [...(m.city ? [m.city] : []), ...(m.cities ?? [])].map(fold);
    return {
      ...(cities.length ? { cities: new Set(cities) } : {}),
      ...(m.county ? { county: fold(m.county) } : {}),
      ...(m.except_cities ? { except: new Set(m.except_cities.map(fold)) } : {}),
    };
  }

  function checkOverlaps(groups: Map<string, PlaceRow[]>, sub: (r: PlaceRow) => string[]): void {
    for (const [key, rows] of groups) {
      const bySub = new Map<string, PlaceRow[]>();
      for (const r of rows) for (const s of sub(r)) push(bySub, s, r);
      for (const list of bySub.values()) {
        const sorted = [...list].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
        for (let i = 1; i < sorted.length; i++) {
          const prev = sorted[i - 1]!;
          const cur = sorted[i]!;
          if (prev.to === undefined || prev.to > cur.from) {
            throw dataError(`${cur.where}: place ${key}: this row (from ${cur.from}) overlaps the row at ${prev.where}; give the earlier row an effective_to <= ${cur.from}`);
          }
        }
      }
    }
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

interface Component { name: string; rate: string; display_name?: string }
interface MatchDoc { city?: string; cities?: string[]; county?: string; except_cities?: string[] }
interface PlacesDoc {
  source: string | string[];
  as_of: string;
  states: Array<{
    state: string; local_taxes: LocalTaxes; source: string | string[]; as_of: string; note?: string;
    uniform_local?: Array<{ name: string; display_name?: string; level: 'county' | 'city' | 'special'; rate: string; effective_from: string; effective_to?: string }>;
  }>;
  places: Array<{
    state: string; match: MatchDoc; region_name: string; county?: Component; city?: Component; special?: Component[];
    combined_rate: string; effective_from: string; effective_to?: string; source: string | string[]; as_of: string; note?: string;
  }>;
  local_taxability?: Array<{
    state: string; jurisdiction: string; tax_code: string; treatment: Taxability['treatment']; taxable_percent: string; reason: string;
    source: string | string[]; as_of: string; effective_from?: string; effective_to?: string; verified?: boolean;
  }>;
  product_taxes?: Array<{
    state: string; match: MatchDoc; tax_codes: string[]; name: string; display_name: string; level?: 'county' | 'city' | 'special';
    tax_type: 'sales_tax' | 'lease_tax'; rate: string; reason: string; effective_from: string; effective_to?: string; source: string | string[]; as_of: string;
  }>;
}

