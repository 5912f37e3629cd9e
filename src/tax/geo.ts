/**
 * Codes for places: ISO 3166-1 alpha-2 countries, US states (USPS codes) and Canadian provinces, accepting the
 * names people type ("Texas", "Québec") as well as the codes.
 */

export const US_STATES: Readonly<Record<string, string>> = {
  AL: 'Alabama', AK: 'Alaska', AZ: 'Arizona', AR: 'Arkansas', CA: 'California', CO: 'Colorado', CT: 'Connecticut',
  DE: 'Delaware', DC: 'District of Columbia', FL: 'Florida', GA: 'Georgia', HI: 'Hawaii', ID: 'Idaho', IL: 'Illinois',
  IN: 'Indiana', IA: 'Iowa', KS: 'Kansas', KY: 'Kentucky', LA: 'Louisiana', ME: 'Maine', MD: 'Maryland',
  MA: 'Massachusetts', MI: 'Michigan', MN: 'Minnesota', MS: 'Mississippi', MO: 'Missouri', MT: 'Montana',
  NE: 'Nebraska', NV: 'Nevada', NH: 'New Hampshire', NJ: 'New Jersey', NM: 'New Mexico', NY: 'New York',
  NC: 'North Carolina', ND: 'North Dakota', OH: 'Ohio', OK: 'Oklahoma', OR: 'Oregon', PA: 'Pennsylvania',
  RI: 'Rhode Island', SC: 'South Carolina', SD: 'South Dakota', TN: 'Tennessee', TX: 'Texas', UT: 'Utah',
  VT: 'Vermont', VA: 'Virginia', WA: 'Washington', WV: 'West Virginia', WI: 'Wisconsin', WY: 'Wyoming',
  PR: 'Puerto Rico', VI: 'U.S. Virgin Islands', GU: 'Guam', AS: 'American Samoa', MP: 'Northern Mariana Islands',
};

/**
 * US territories have their own ISO 3166-1 codes (PR, VI, GU, AS, MP) and are also US "states" in USPS and
 * most tax engines (Avalara: country US, state PR). Both spellings mean the same place: country PR is read as
 * country US, state PR, everywhere (addresses, origin, registrations).
 */
export const US_TERRITORIES: ReadonlySet<string> = new Set(['PR', 'VI', 'GU', 'AS', 'MP']);

/** The territory code when `country` (already normalized) is a US territory's ISO code; undefined otherwise. */
export function usTerritoryOfCountry(country: string | undefined): string | undefined {
  return country !== undefined && US_TERRITORIES.has(country) ? country : undefined;
}

export const CA_PROVINCES: Readonly<Record<string, string>> = {
  AB: 'Alberta', BC: 'British Columbia', MB: 'Manitoba', NB: 'New Brunswick', NL: 'Newfoundland and Labrador',
  NS: 'Nova Scotia', NT: 'Northwest Territories', NU: 'Nunavut', ON: 'Ontario', PE: 'Prince Edward Island',
  QC: 'Quebec', SK: 'Saskatchewan', YT: 'Yukon',
};

function fold(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]/g, '');
}

function byName(table: Readonly<Record<string, string>>, extra: Record<string, string> = {}): Map<string, string> {
  const m = new Map<string, string>();
  for (const [code, name] of Object.entries(table)) {
    m.set(fold(code), code);
    m.set(fold(name), code);
  }
  for (const [alias, code] of Object.entries(extra)) m.set(fold(alias), code);
  return m;
}

const US_BY_NAME = byName(US_STATES, { 'Washington DC': 'DC', 'Washington D.C.': 'DC', 'Virgin Islands': 'VI', 'US Virgin Islands': 'VI', 'Commonwealth of Puerto Rico': 'PR' });
const CA_BY_NAME = byName(CA_PROVINCES, { 'PQ': 'QC', 'Newfoundland': 'NL', 'Labrador': 'NL' });

// A Map: input such as "constructor" must not find Object.prototype's members.
const COUNTRY_ALIASES = new Map<string, string>(Object.entries({
  usa: 'US', unitedstates: 'US', unitedstatesofamerica: 'US', uk: 'GB', unitedkingdom: 'GB', greatbritain: 'GB',
  deu: 'DE', germany: 'DE', deutschland: 'DE', fra: 'FR', france: 'FR', can: 'CA', canada: 'CA', gbr: 'GB',
  aus: 'AU', australia: 'AU', nzl: 'NZ', newzealand: 'NZ', jpn: 'JP', japan: 'JP', ind: 'IN', india: 'IN',
  sgp: 'SG', singapore: 'SG', che: 'CH', switzerland: 'CH', nor: 'NO', norway: 'NO', esp: 'ES', spain: 'ES',
  ita: 'IT', italy: 'IT', nld: 'NL', netherlands: 'NL', irl: 'IE', ireland: 'IE',
  pri: 'PR', puertorico: 'PR', vir: 'VI', usvirginislands: 'VI', gum: 'GU', guam: 'GU',
}));

/** ISO alpha-2 country (any case), or a common alias ("USA", "United Kingdom"); undefined otherwise. */
export function normalizeCountry(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  const t = input.trim();
  if (/^[A-Za-z]{2}$/.test(t)) {
    const up = t.toUpperCase();
    return up === 'UK' ? 'GB' : up;
  }
  return COUNTRY_ALIASES.get(fold(t));
}

/**
 * A region by the exact spelling sent, remembered: folding (NFD + two regexes) runs once per distinct
 * spelling instead of on every request. Bounded: short spellings only, at most 1,000 of them per table.
 */
const REGION_SPELLINGS_MAX = 1_000;
function regionBySpelling(byName: Map<string, string>, spellings: Map<string, string | undefined>, input: string): string | undefined {
  if (input.length > 64) return byName.get(fold(input));
  let code = spellings.get(input);
  if (code === undefined && !spellings.has(input)) {
    code = byName.get(fold(input));
    if (spellings.size >= REGION_SPELLINGS_MAX) spellings.clear();
    spellings.set(input, code);
  }
  return code;
}
const US_SPELLINGS = new Map<string, string | undefined>();
const CA_SPELLINGS = new Map<string, string | undefined>();

export function normalizeUsState(input: unknown): string | undefined {
  return typeof input === 'string' ? regionBySpelling(US_BY_NAME, US_SPELLINGS, input) : undefined;
}

export function normalizeCaProvince(input: unknown): string | undefined {
  return typeof input === 'string' ? regionBySpelling(CA_BY_NAME, CA_SPELLINGS, input) : undefined;
}

/** The region code for a country that has them (US state, Canadian province), undefined when unknown. */
export function normalizeRegion(country: string, input: unknown): string | undefined {
  if (country === 'US') return normalizeUsState(input);
  if (country === 'CA') return normalizeCaProvince(input);
  return undefined;
}

export function countryHasRegions(country: string): boolean {
  return country === 'US' || country === 'CA';
}

/** ZIP or ZIP+4 -> the 5-digit ZIP; undefined when malformed. */
export function normalizeUsZip(input: unknown): string | undefined {
  if (typeof input === 'number' && Number.isInteger(input) && input >= 0 && input < 100000) return String(input).padStart(5, '0');
  if (typeof input !== 'string') return undefined;
  const m = /^\s*(\d{5})(?:[- ]?\d{4})?\s*$/.exec(input);
  return m ? m[1] : undefined;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date YYYY-MM-DD. */
export function isIsoDate(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}
