/**
 * US local rates by place (src/tax/data/us-places.yaml): loading (src/spec's YAML positions), validation
 * (schemas/tax-data/us-places.schema.json through ajv, then the checks a schema cannot make: components add up
 * to combined_rate, periods of one place do not overlap) and lookup by a ZIP's place (src/tax/places).
 *
 * A ZIP's place is its postal city and county, so every rate found here is an estimate: rate_source
 * `city_table` (a city row) or `county_table` (a county row, complete only where the state has no city taxes
 * or the city is not one of the row's except_cities). A row may name the county's FIPS code too, where the ZIP
 * table names two counties alike (St. Louis City and St. Louis County), and a row may say the place levies no
 * general sales tax at all (Anchorage): one zero-rate jurisdiction, so the answer says its rates are known.
 */
import type { ZipPlace } from '../places/zip-places.ts';
import { readDataFile } from './data-file.ts';
import { inForce, pick, push } from './periods.ts';
import type { Jurisdiction, RateSource, Taxability } from './types.ts';
import { checkCombined, checkNoOverlap, checkPercent, checkPeriod, normalizeRate, readTaxability, type TaxabilityDoc } from './validate.ts';

export type LocalTaxes = 'none' | 'county' | 'county_city';

interface Match {
  cities?: Set<string>;
  county?: string;
  /** 3-digit county FIPS code within the state (ZipPlace.county_fips). */
  fips?: string;
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

const fold = (s: string): string => s.trim().toLowerCase().replace(/[^a-z0-9]/g, '');

/** A county, city or special district of a local row; informational rate-"0" entries give none. */
export function localJurisdiction(level: 'county' | 'city' | 'special', c: { name: string; display_name?: string }, state: string, rate: string, rateSource: RateSource): Readonly<Jurisdiction> {
  const display = c.display_name ?? (level === 'city' ? `${c.name} City Sales Tax` : /tax$/i.test(c.name) ? c.name : `${c.name} Sales Tax`);
  return Object.freeze({ level, name: c.name, country: 'US', state, rate, tax_type: 'sales_tax', display_name: display, rate_source: rateSource });
}

/**
 * Reads and checks us-places.yaml. `stateRate(state, date)` gives the state rate in force (us-states.yaml) so a
 * row's combined_rate can be checked; undefined when the state is unknown.
 */
export function loadPlaceRates(file: string, label: string, stateRate: (state: string, date: string) => string | undefined): PlaceRates {
  const file_ = readDataFile<PlacesDoc>(file, label, 'us-places');
  const doc = file_.doc;
  const at = file_.at;
  const fail = file_.fail;

  const structure = new Map<string, LocalTaxes>();
  const uniform = new Map<string, Array<{ from: string; to?: string; jur: Readonly<Jurisdiction> }>>();
  doc.states.forEach((s, i) => {
    if (structure.has(s.state)) fail(`/states/${i}/state`, `state ${s.state} is listed twice`);
    (s.uniform_local ?? []).forEach((u) => {
      const jur: Jurisdiction = Object.freeze({ level: u.level, name: u.name, country: 'US', state: s.state, rate: normalizeRate(u.rate), tax_type: 'sales_tax', display_name: u.display_name ?? u.name, rate_source: 'state_table' });
      push(uniform, s.state, { from: u.effective_from, to: u.effective_to, jur });
    });
    if (stateRate(s.state, doc.as_of) === undefined && stateRate(s.state, s.as_of) === undefined) fail(`/states/${i}/state`, `state ${s.state} is not in us-states.yaml`);
    structure.set(s.state, s.local_taxes);
  });

  const cityRows = new Map<string, PlaceRow[]>(); // "ST|city"
  const countyRows = new Map<string, PlaceRow[]>(); // "ST|county"
  doc.places.forEach((p, i) => {
    const base = `/places/${i}`;
    const { from } = checkPeriod(p.effective_from, p.effective_to, (m) => fail(`${base}/effective_to`, m));
    const sr = stateRate(p.state, from);
    if (sr === undefined) fail(`${base}/effective_from`, `no ${p.state} state rate in us-states.yaml is in force on ${from}`);
    if (structure.get(p.state) === 'none') fail(`${base}/state`, `${p.state} is listed under states: with local_taxes none, so it cannot have local rows`);
    const match = readMatch(p.match);
    if (!match.cities && !match.county) fail(`${base}/match`, 'match needs city, cities or county');
    if (match.except && match.cities) fail(`${base}/match/except_cities`, 'except_cities belongs to county rows (match.county without a city)');
    const jurs: Jurisdiction[] = [];
    const rates: string[] = [];
    const rs: RateSource = match.cities ? 'city_table' : 'county_table';
    if (p.no_general_sales_tax) {
      if (p.county || p.city || p.special) fail(`${base}/no_general_sales_tax`, 'a row with no_general_sales_tax has no county, city or special components');
      // The one jurisdiction of such a place: rate 0, so the answer names where the (absent) local rates come from.
      jurs.push(Object.freeze({ level: match.cities ? 'city' : 'county', name: p.region_name, country: 'US', state: p.state, rate: '0', tax_type: 'sales_tax', display_name: `${p.region_name} (no general sales tax)`, rate_source: rs }));
    }
    const add = (c: Component | undefined, level: 'county' | 'city' | 'special', pointer: string): void => {
      if (!c) return;
      const rate = checkPercent(c.rate, (m) => fail(`${pointer}/rate`, m));
      rates.push(rate);
      if (rate !== '0') jurs.push(localJurisdiction(level, c, p.state, rate, rs));
    };
    add(p.county, 'county', `${base}/county`);
    add(p.city, 'city', `${base}/city`);
    (p.special ?? []).forEach((s, k) => add(s, 'special', `${base}/special/${k}`));
    checkCombined(sr!, rates, p.combined_rate, (m) => fail(`${base}/combined_rate`, m));
    const row: PlaceRow = { match, from, to: p.effective_to, where: at(base), region: p.region_name, jurs };
    if (match.cities) for (const c of match.cities) push(cityRows, `${p.state}|${c}`, row);
    else push(countyRows, `${p.state}|${match.county}`, row);
  });
  const sub = (r: PlaceRow): string[] => [`${r.match.county ?? ''}#${r.match.fips ?? ''}`];
  checkOverlaps(cityRows, sub);
  checkOverlaps(countyRows, sub);

  const taxability = new Map<string, TaxabilityRow[]>(); // "ST|jurisdiction|code"
  (doc.local_taxability ?? []).forEach((t, i) => {
    const base = `/local_taxability/${i}`;
    const value = readTaxability(t, (field, m) => fail(`${base}/${field}`, m));
    push(taxability, `${t.state}|${fold(t.jurisdiction)}|${t.tax_code}`, { from: t.effective_from ?? '0001-01-01', to: t.effective_to, value });
  });

  const productTaxes = new Map<string, ProductTaxRow[]>(); // "ST|city" or "ST|county:<name>"
  (doc.product_taxes ?? []).forEach((t, i) => {
    const match = readMatch(t.match);
    const rate = checkPercent(t.rate, (m) => fail(`/product_taxes/${i}/rate`, m));
    const jur: Jurisdiction = Object.freeze({ level: t.level ?? 'city', name: t.name, country: 'US', state: t.state, rate, tax_type: t.tax_type, display_name: t.display_name, rate_source: match.cities ? 'city_table' : 'county_table' });
    const row: ProductTaxRow = { match, codes: new Set(t.tax_codes), from: t.effective_from, to: t.effective_to, jur, reason: t.reason };
    checkPeriod(t.effective_from, t.effective_to, (m) => fail(`/product_taxes/${i}/effective_to`, m));
    if (match.cities) for (const c of match.cities) push(productTaxes, `${t.state}|${c}`, row);
    else push(productTaxes, `${t.state}|county:${match.county}`, row);
  });

  function matches(m: Match, place: ZipPlace): boolean {
    if (m.county !== undefined && m.county !== fold(place.county)) return false;
    if (m.fips !== undefined && m.fips !== place.county_fips) return false;
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
      ...(m.county_fips ? { fips: m.county_fips } : {}),
      ...(m.except_cities ? { except: new Set(m.except_cities.map(fold)) } : {}),
    };
  }

  /** Rows of one place (and, for city rows, one county of it) must not overlap in time. */
  function checkOverlaps(groups: Map<string, PlaceRow[]>, sub: (r: PlaceRow) => string[]): void {
    const bySub = new Map<string, PlaceRow[]>();
    for (const [key, rows] of groups) for (const r of rows) for (const s of sub(r)) push(bySub, `${key}\u0000${s}`, r);
    checkNoOverlap(bySub, (k) => `place ${k.split('\u0000')[0]}`);
  }
}

interface Component { name: string; rate: string; display_name?: string }
interface MatchDoc { city?: string; cities?: string[]; county?: string; county_fips?: string; except_cities?: string[] }
interface PlacesDoc {
  source: string | string[];
  as_of: string;
  states: Array<{
    state: string; local_taxes: LocalTaxes; source: string | string[]; as_of: string; note?: string;
    uniform_local?: Array<{ name: string; display_name?: string; level: 'county' | 'city' | 'special'; rate: string; effective_from: string; effective_to?: string }>;
  }>;
  places: Array<{
    state: string; match: MatchDoc; region_name: string; county?: Component; city?: Component; special?: Component[];
    combined_rate: string; no_general_sales_tax?: true; effective_from: string; effective_to?: string; source: string | string[]; as_of: string; note?: string;
  }>;
  local_taxability?: Array<TaxabilityDoc & { state: string; jurisdiction: string; as_of: string; tax_code: string; effective_from?: string; effective_to?: string }>;
  product_taxes?: Array<{
    state: string; match: MatchDoc; tax_codes: string[]; name: string; display_name: string; level?: 'county' | 'city' | 'special';
    tax_type: 'sales_tax' | 'lease_tax'; rate: string; reason: string; effective_from: string; effective_to?: string; source: string | string[]; as_of: string;
  }>;
}

