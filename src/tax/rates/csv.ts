/**
 * The common ZIP-level rate-table layout (one row per ZIP, rates as fractions):
 *   State,ZipCode,TaxRegionName,EstimatedCombinedRate,StateRate,EstimatedCountyRate,EstimatedCityRate,EstimatedSpecialRate,RiskLevel
 * Rates are converted to percent strings by shifting the decimal point ("0.0825" -> "8.25"), never by float arithmetic.
 */
import { stringify } from 'yaml';
import { TaxbridgeError } from '../../errors.ts';
import { addRates, fractionToPercent, sameRate } from './validate.ts';

export const ZIP_CSV_HEADER = [
  'State', 'ZipCode', 'TaxRegionName', 'EstimatedCombinedRate', 'StateRate',
  'EstimatedCountyRate', 'EstimatedCityRate', 'EstimatedSpecialRate', 'RiskLevel',
] as const;

/** One us-local.yaml row (the same shape the YAML file uses). */
export interface LocalRowData {
  zip: string;
  state: string;
  region_name: string;
  county?: { name: string; rate: string };
  city?: { name: string; rate: string };
  special?: Array<{ name: string; rate: string }>;
  /** State rate stated by the source table; informational (the state rate always comes from us-states.yaml). */
  state_rate?: string;
  /** Combined rate stated by the source; when present the loader checks state + locals add up to it. */
  combined_rate?: string;
  effective_from: string;
  effective_to?: string;
  source: string;
  note?: string;
}

/** Minimal RFC 4180 parser: quoted fields, doubled quotes, CRLF or LF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  while (i < src.length) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' || c === '\n') {
      row.push(field); field = '';
      rows.push(row); row = [];
      i += c === '\r' && src[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    field += c; i++;
  }
  if (field !== '' || row.length > 0) { row.push(field); rows.push(row); }
  return rows.filter((r) => !(r.length === 1 && r[0].trim() === ''));
}

function csvError(where: string, line: number, message: string): TaxbridgeError {
  return new TaxbridgeError('tax_data_invalid', `${where}:${line}: ${message}`, {
    hint: `Expected the header ${ZIP_CSV_HEADER.join(',')} and rates as fractions such as 0.0825.`,
  });
}

/**
 * Parse ZIP-rate CSV text into us-local rows. `where` names the input in error messages (a file path).
 * Every row must have a 5-digit ZIP, a 2-letter state, fraction rates, and components that add up to the combined rate.
 */
export function parseZipRateCsv(
  csvText: string,
  opts: { source: string; effectiveFrom: string; where?: string },
): LocalRowData[] {
  const where = opts.where ?? 'zip-rate CSV';
  const table = parseCsv(csvText);
  if (table.length === 0) throw csvError(where, 1, 'empty file: no header row');
  const header = table[0].map((h) => h.trim());
  const col = new Map(header.map((h, i) => [h, i]));
  const missing = ZIP_CSV_HEADER.filter((h) => h !== 'RiskLevel' && !col.has(h));
  if (missing.length) throw csvError(where, 1, `header is missing column(s) ${missing.join(', ')}`);
  const out: LocalRowData[] = [];
  for (let r = 1; r < table.length; r++) {
    const line = r + 1;
    const cells = table[r];
    const get = (name: string): string => (cells[col.get(name)!] ?? '').trim();
    const state = get('State').toUpperCase();
    let zip = get('ZipCode');
    if (/^\d{3,4}$/.test(zip)) zip = zip.padStart(5, '0'); // spreadsheets drop leading zeros (e.g. 2108 for 02108)
    if (!/^[A-Z]{2}$/.test(state)) throw csvError(where, line, `State must be a 2-letter code, got ${JSON.stringify(get('State'))}`);
    if (!/^\d{5}$/.test(zip)) throw csvError(where, line, `ZipCode must be 5 digits, got ${JSON.stringify(get('ZipCode'))}`);
    const pct = (name: string): string => {
      const raw = get(name);
      try {
        return fractionToPercent(raw === '' ? '0' : raw);
      } catch {
        throw csvError(where, line, `${name} must be a fraction such as 0.0825, got ${JSON.stringify(raw)}`);
      }
    };
    const combined = pct('EstimatedCombinedRate');
    const stateRate = pct('StateRate');
    const county = pct('EstimatedCountyRate');
    const city = pct('EstimatedCityRate');
    const special = pct('EstimatedSpecialRate');
    const sum = addRates(stateRate, county, city, special);
    if (!sameRate(sum, combined)) {
      throw csvError(where, line, `ZIP ${zip}: state + county + city + special = ${sum}% but EstimatedCombinedRate is ${combined}%`);
    }
    const region = get('TaxRegionName') || zip;
    const row: LocalRowData = { zip, state, region_name: region, effective_from: opts.effectiveFrom, source: opts.source };
    if (county !== '0') row.county = { name: `${region} county tax`, rate: county };
    if (city !== '0') row.city = { name: `${region} city tax`, rate: city };
    if (special !== '0') row.special = [{ name: `${region} special district tax`, rate: special }];
    out.push({
      zip, state, region_name: region,
      ...(row.county ? { county: row.county } : {}),
      ...(row.city ? { city: row.city } : {}),
      ...(row.special ? { special: row.special } : {}),
      state_rate: stateRate,
      combined_rate: combined,
      effective_from: opts.effectiveFrom,
      source: opts.source,
    });
  }
  return out;
}

/** CSV text -> YAML text in the us-local.yaml format (top-level source, as_of, rows). */
export function importZipRateCsv(csvText: string, opts: { source: string; asOf: string; effectiveFrom: string }): string {
  const rows = parseZipRateCsv(csvText, { source: opts.source, effectiveFrom: opts.effectiveFrom });
  const doc = { source: [opts.source], as_of: opts.asOf, rows };
  // yaml quotes any scalar that would otherwise read back as a number ("8.25", "02108"), so rates and ZIPs stay strings.
  return stringify(doc, { lineWidth: 0 });
}
