/**
 * Streamlined Sales Tax (SST) rate and boundary files, as each member state posts them each quarter
 * (streamlinedsalestax.org "Rate and Boundary Files"; names like `ARR2026Q1NOV01` (rate) and `ARB2026Q1NOV01`
 * (boundary)). An operator drops a state's pair into `src/tax/data/us-sst/` (or the folder TAXBRIDGE_TAX_DATA
 * points at); the loader reads every `*R*.csv` / `*B*.csv` pair by state.
 *
 * Rate file, one row per jurisdiction and period, no header:
 *   State, JurisdictionType, JurisdictionFIPSCode, GeneralTaxRateIntrastate, GeneralTaxRateInterstate,
 *   FoodDrugTaxRateIntrastate, FoodDrugTaxRateInterstate, EffectiveBeginDate, EffectiveEndDate
 * (rates as fractions such as 0.0125, dates YYYYMMDD; types 45 state, 00 county, 01 city/place, others special).
 * Boundary file, one row per ZIP5 range (record type Z), ZIP+4 range (4) or address range (A, skipped: the tax
 * API has no street matching yet), the layout of the SST boundary specification (field order as read from the
 * Ohio and Washington file descriptions; verify against your state's): 1 record type, 2 begin date,
 * 3 end date, 4-14 address range and street parts, 15 city, 16 ZIP, 17 plus4, 18 ZIP low, 19 ZIP+4 low,
 * 20 ZIP high, 21 ZIP+4 high, 22 composite SER code, 23 FIPS state, 24 FIPS county, 25 FIPS place, 26 FIPS place
 * class, 27 longitude, 28 latitude, then up to 20 x (special district code source, special district code,
 * type of taxing authority).
 * Lookup: the ZIP+4 row covering the sale date if the request has a ZIP+4, else the ZIP5 row; each FIPS code is
 * looked up in the rate file of that state, the row whose dates cover the sale; each jurisdiction taxed
 * separately [Ohio SSTP instructions]. The state rate itself always comes from us-states.yaml.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { TaxbridgeError } from '../../errors.ts';
import { parseCsv } from './csv.ts';
import { fractionToPercent } from './validate.ts';
import type { Jurisdiction } from './types.ts';

interface RateRow { type: string; fips: string; rate: string; from: string; to: string }
interface BoundaryRow { kind: 'Z' | '4'; from: string; to: string; zipLo: string; zipHi: string; p4Lo: string; p4Hi: string; county: string; place: string; specials: Array<{ code: string; type: string }> }

export interface SstTables {
  states(): string[];
  /** Local jurisdictions for a ZIP (and ZIP+4) in a state on date; undefined when no boundary row covers it. */
  lookup(state: string, zip5: string, plus4: string | undefined, date: string): Jurisdiction[] | undefined;
}

const STATE_FIPS: Record<string, string> = {
  '01': 'AL', '02': 'AK', '04': 'AZ', '05': 'AR', '06': 'CA', '08': 'CO', '09': 'CT', '10': 'DE', '11': 'DC', '12': 'FL', '13': 'GA',
  '15': 'HI', '16': 'ID', '17': 'IL', '18': 'IN', '19': 'IA', '20': 'KS', '21': 'KY', '22': 'LA', '23': 'ME', '24': 'MD', '25': 'MA',
  '26': 'MI', '27': 'MN', '28': 'MS', '29': 'MO', '30': 'MT', '31': 'NE', '32': 'NV', '33': 'NH', '34': 'NJ', '35': 'NM', '36': 'NY',
  '37': 'NC', '38': 'ND', '39': 'OH', '40': 'OK', '41': 'OR', '42': 'PA', '44': 'RI', '45': 'SC', '46': 'SD', '47': 'TN', '48': 'TX',
  '49': 'UT', '50': 'VT', '51': 'VA', '53': 'WA', '54': 'WV', '55': 'WI', '56': 'WY', '72': 'PR',
};

function fail(where: string, message: string): never {
  throw new TaxbridgeError('tax_data_invalid', `${where}: ${message}`, { hint: 'SST files are CSV; see src/tax/rates/sst.ts for the columns read' });
}

/** "20260101" -> "2026-01-01"; "" or "99991231" (open end) -> "9999-12-31". */
function sstDate(v: string, where: string): string {
  const t = v.trim();
  if (t === '') return '9999-12-31';
  if (!/^\d{8}$/.test(t)) fail(where, `date ${JSON.stringify(t.slice(0, 20))} must be YYYYMMDD`);
  return `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}`;
}

export function parseSstRates(text: string, where: string): { state: string; rows: RateRow[] } {
  let state = '';
  const rows: RateRow[] = [];
  parseCsv(text).forEach((c, i) => {
    const at = `${where}:${i + 1}`;
    if (i === 0 && /[a-z]/i.test(c[1] ?? '')) return; // an optional header row
    if (c.length < 9) fail(at, `a rate row has 9 columns (State, JurisdictionType, JurisdictionFIPSCode, GeneralTaxRateIntrastate, ...), got ${c.length}`);
    const st = STATE_FIPS[c[0]!.trim().padStart(2, '0')] ?? c[0]!.trim().toUpperCase();
    if (!/^[A-Z]{2}$/.test(st)) fail(at, `State ${JSON.stringify(c[0])} is neither a FIPS state code nor a 2-letter code`);
    if (state && st !== state) fail(at, `one rate file holds one state (${state}), this row is ${st}`);
    state = st;
    let rate: string;
    try {
      rate = fractionToPercent(c[3]!.trim() || '0');
    } catch {
      fail(at, `GeneralTaxRateIntrastate must be a fraction such as 0.0125, got ${JSON.stringify(c[3])}`);
    }
    rows.push({ type: c[1]!.trim().padStart(2, '0'), fips: c[2]!.trim(), rate, from: sstDate(c[7]!, at), to: sstDate(c[8]!, at) });
  });
  if (!state) fail(where, 'no rate rows');
  return { state, rows };
}

export function parseSstBoundaries(text: string, where: string): BoundaryRow[] {
  const out: BoundaryRow[] = [];
  parseCsv(text).forEach((c, i) => {
    const at = `${where}:${i + 1}`;
    const kind = (c[0] ?? '').trim().toUpperCase();
    if (kind === 'A' || (i === 0 && /[a-z]{3}/i.test(c[0] ?? ''))) return; // address rows (not matched yet) and a header
    if (kind !== 'Z' && kind !== '4') fail(at, `record type must be Z (ZIP5), 4 (ZIP+4) or A (address), got ${JSON.stringify(kind.slice(0, 10))}`);
    if (c.length < 28) fail(at, `a boundary row has at least 28 columns, got ${c.length}`);
    const zipLo = c[17]!.trim() || c[15]!.trim();
    const zipHi = c[19]!.trim() || zipLo;
    if (!/^\d{5}$/.test(zipLo) || !/^\d{5}$/.test(zipHi)) fail(at, `ZIP code low/high must be 5 digits, got ${JSON.stringify(zipLo)}..${JSON.stringify(zipHi)}`);
    const specials: BoundaryRow['specials'] = [];
    for (let k = 28; k + 2 < c.length + 1; k += 3) {
      const code = (c[k + 1] ?? '').trim();
      if (code) specials.push({ code, type: (c[k + 2] ?? '').trim().padStart(2, '0') });
    }
    out.push({
      kind, from: sstDate(c[1]!, at), to: sstDate(c[2]!, at), zipLo, zipHi,
      p4Lo: c[18]!.trim() || '0000', p4Hi: c[20]!.trim() || '9999',
      county: c[23]!.trim(), place: c[24]!.trim(), specials,
    });
  });
  return out;
}

/** Reads every state's rate + boundary files in dir (file names: <ST>R...csv and <ST>B...csv). */
export function loadSstTables(dir: string, label: (f: string) => string): SstTables | undefined {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => /\.csv$/i.test(f)).sort();
  if (files.length === 0) return undefined;
  const rates = new Map<string, Map<string, RateRow[]>>(); // state -> "type|fips" -> rows
  const bounds = new Map<string, BoundaryRow[]>(); // state -> rows
  for (const f of files) {
    const m = /^([A-Z]{2})([RB])/i.exec(f);
    if (!m) fail(label(join(dir, f)), 'an SST file name starts with the state and R (rates) or B (boundaries), e.g. OHR2026Q1DEC01.csv');
    const st = m[1]!.toUpperCase();
    const text = readFileSync(join(dir, f), 'utf8');
    if (m[2]!.toUpperCase() === 'R') {
      const parsed = parseSstRates(text, label(join(dir, f)));
      if (parsed.state !== st) fail(label(join(dir, f)), `the file name says ${st} but its rows are ${parsed.state}`);
      const byKey = rates.get(st) ?? new Map<string, RateRow[]>();
      for (const r of parsed.rows) {
        const k = `${r.type}|${r.fips}`;
        byKey.set(k, [...(byKey.get(k) ?? []), r]);
      }
      rates.set(st, byKey);
    } else {
      bounds.set(st, [...(bounds.get(st) ?? []), ...parseSstBoundaries(text, label(join(dir, f)))]);
    }
  }
  for (const st of bounds.keys()) if (!rates.has(st)) fail(label(dir), `boundary file(s) for ${st} without a rate file`);
  const jurCache = new Map<string, Jurisdiction>();
  const jur = (st: string, level: Jurisdiction['level'], code: string, rate: string): Jurisdiction => {
    const key = `${st}|${level}|${code}|${rate}`;
    let j = jurCache.get(key);
    if (!j) {
      const name = `${st} ${level === 'county' ? 'county' : level === 'city' ? 'place' : 'district'} ${code} (SST)`;
      j = Object.freeze({ level, name, country: 'US', state: st, rate, tax_type: 'sales_tax', display_name: `${name} Sales Tax`, rate_source: 'sst_boundary' }) as Jurisdiction;
      jurCache.set(key, j);
    }
    return j;
  };
  const inForce = (r: { from: string; to: string }, d: string) => r.from <= d && d <= r.to;
  return {
    states: () => [...bounds.keys()],
    lookup(state, zip5, plus4, date) {
      const rows = bounds.get(state);
      if (!rows) return undefined;
      let hit: BoundaryRow | undefined;
      if (plus4) hit = rows.find((r) => r.kind === '4' && inForce(r, date) && r.zipLo <= zip5 && zip5 <= r.zipHi && r.p4Lo <= plus4 && plus4 <= r.p4Hi);
      hit ??= rows.find((r) => r.kind === 'Z' && inForce(r, date) && r.zipLo <= zip5 && zip5 <= r.zipHi);
      if (!hit) return undefined;
      const table = rates.get(state)!;
      const rateOf = (type: string, fips: string): string | undefined => table.get(`${type}|${fips}`)?.find((r) => inForce(r, date))?.rate;
      const out: Jurisdiction[] = [];
      const county = hit.county && rateOf('00', hit.county);
      if (county && county !== '0') out.push(jur(state, 'county', hit.county, county));
      const place = hit.place && rateOf('01', hit.place);
      if (place && place !== '0') out.push(jur(state, 'city', hit.place, place));
      for (const s of hit.specials) {
        const r = rateOf(s.type, s.code);
        if (r && r !== '0') out.push(jur(state, 'special', s.code, r));
      }
      return out;
    },
  };
}
