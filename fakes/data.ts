/**
 * Deterministic building blocks for the fakes' generated data: a seeded PRNG, time-ordered ids
 * (so sorting by id is sorting by creation), a pool of real-looking places and company names,
 * and approximate tax rates for pre-taxed historical documents.
 */

/** mulberry32: tiny, fast, good enough for test data; same seed -> same sequence. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
    // warm up so nearby seeds diverge at once
    for (let i = 0; i < 4; i++) this.u32();
  }

  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). Used only for choices, never for amounts. */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Pick by weights: [[value, weight], ...]. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of choices) total += w;
    let r = this.next() * total;
    for (const [v, w] of choices) {
      r -= w;
      if (r < 0) return v;
    }
    return choices[choices.length - 1]![0];
  }

  /** n lowercase hex characters. */
  hex(n: number): string {
    let s = '';
    while (s.length < n) s += this.u32().toString(16).padStart(8, '0');
    return s.slice(0, n);
  }

  /** n digits. */
  digits(n: number): string {
    let s = '';
    while (s.length < n) s += String(this.u32() % 1000000000).padStart(9, '0');
    return s.slice(0, n);
  }
}

/**
 * Monotonic (ms, seq) pairs: asking for a time at or before the last one hands out the last time with
 * the next sequence number, so ids made from the pairs sort in the order they were made.
 */
export class IdClock {
  private lastMs = 0;
  private seq = 0;

  take(ms: number): { ms: number; seq: number } {
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.seq = 0;
    } else {
      this.seq++;
      if (this.seq > 0xfff) {
        this.lastMs++;
        this.seq = 0;
      }
    }
    return { ms: this.lastMs, seq: this.seq };
  }

  get last(): number {
    return this.lastMs;
  }
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** A UUIDv7-shaped id: 48-bit ms timestamp, version 7, 12-bit sequence, RFC 4122 variant, random rest. */
export function uuidv7(ms: number, seq: number, rng: Rng): string {
  const hi = Math.floor(ms / 65536);
  const lo = ms - hi * 65536;
  const a = rng.u32();
  const b = rng.u32();
  return `${hex8(hi)}-${hex4(lo)}-7${(seq & 0xfff).toString(16).padStart(3, '0')}-${hex4(0x8000 | (a & 0x3fff))}-${hex4(a >>> 16)}${hex8(b)}`;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function base32(n: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) {
    s = CROCKFORD[n % 32]! + s;
    n = Math.floor(n / 32);
  }
  return s;
}

/** A prefixed, lexicographically time-ordered id: `inv_` + 10 chars time + 3 chars seq + 10 random. */
export function sortableId(prefix: string, ms: number, seq: number, rng: Rng): string {
  return `${prefix}_${base32(ms, 10)}${base32(seq, 3)}${base32(rng.u32() % 1073741824, 6)}${base32(rng.u32() % 1048576, 4)}`;
}

/** Random v4-shaped uuid from the seeded PRNG (for ids that need not sort). */
export function uuidv4(rng: Rng): string {
  const r = rng.hex(32);
  const variant = (8 + (parseInt(r[16]!, 16) & 3)).toString(16);
  return `${r.slice(0, 8)}-${r.slice(8, 12)}-4${r.slice(13, 16)}-${variant}${r.slice(17, 20)}-${r.slice(20, 32)}`;
}

/** A monotonic wall clock for "now" timestamps: never goes backwards, never repeats (per instance). */
export class WallClock {
  private last = 0;
  now(): number {
    const t = Math.max(Date.now(), this.last + 1);
    this.last = t;
    return t;
  }
  /** Make sure later `now()` values are strictly after `ms`. */
  observe(ms: number): void {
    if (ms > this.last) this.last = ms;
  }
}

export const DAY_MS = 86_400_000;

/** Generated data lives in the first half of 2026 (fixed, so data is identical on every run). */
export const GEN_START_MS = Date.UTC(2026, 0, 1);
export const GEN_END_MS = Date.UTC(2026, 5, 30);

const dayCache = new Map<number, string>();
const p2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** YYYY-MM-DD (UTC) of a ms timestamp; cached per day (generation formats a lot of these). */
export function isoDate(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  let s = dayCache.get(day);
  if (s === undefined) {
    s = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dayCache.size > 20_000) dayCache.clear();
    dayCache.set(day, s);
  }
  return s;
}

/** ISO-8601 UTC timestamp with milliseconds, same as Date#toISOString for years 1970-9999. */
export function isoTime(ms: number): string {
  if (ms < 0 || ms >= 253402300800000) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  let r = ms - day * DAY_MS;
  const h = Math.floor(r / 3_600_000);
  r -= h * 3_600_000;
  const m = Math.floor(r / 60_000);
  r -= m * 60_000;
  const sec = Math.floor(r / 1000);
  const milli = r - sec * 1000;
  return `${isoDate(ms)}T${p2(h)}:${p2(m)}:${p2(sec)}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

// ---------------------------------------------------------------------------------------------
// Places

export type Region = 'US' | 'CA' | 'EU' | 'UK';

export interface Place {
  region: Region;
  country: string; // ISO alpha-2 (GB for the UK)
  state?: string; // US state / Canadian province code
  city: string;
  postcode: string;
  streets: readonly string[];
  /** Approximate combined rate as a decimal fraction string, for documents generated as already taxed. */
  rate: string;
  /** A label for a generated tax line ("TX State Tax", "VAT DE 19%"). */
  taxLabel: string;
  taxType: 'SALES_TAX' | 'VAT' | 'GST';
  currency: 'USD' | 'CAD' | 'EUR' | 'GBP';
}

const us = (state: string, city: string, postcode: string, streets: string[], rate: string): Place => ({
  region: 'US', country: 'US', state, city, postcode, streets, rate, taxLabel: `${state} Sales Tax`, taxType: 'SALES_TAX', currency: 'USD',
});
const ca = (state: string, city: string, postcode: string, streets: string[], rate: string): Place => ({
  region: 'CA', country: 'CA', state, city, postcode, streets, rate, taxLabel: `${state} GST/HST/PST`, taxType: 'GST', currency: 'CAD',
});
const eu = (country: string, city: string, postcode: string, streets: string[], rate: string): Place => ({
  region: 'EU', country, city, postcode, streets, rate, taxLabel: `VAT ${country}`, taxType: 'VAT', currency: 'EUR',
});

export const AUSTIN_TX: Place = us('TX', 'Austin', '78701', ['Congress Ave', 'W 6th St', 'Colorado St', 'Lavaca St'], '0.0825');

export const PLACES: readonly Place[] = [
  AUSTIN_TX,
  us('TX', 'Houston', '77002', ['Main St', 'Travis St', 'Louisiana St'], '0.0825'),
  us('TX', 'Dallas', '75201', ['Elm St', 'Commerce St', 'Ross Ave'], '0.0825'),
  us('CA', 'San Francisco', '94105', ['Market St', 'Mission St', 'Howard St', 'Folsom St'], '0.08625'),
  us('CA', 'Los Angeles', '90012', ['Spring St', 'Broadway', 'Temple St'], '0.095'),
  us('NY', 'New York', '10001', ['W 34th St', '7th Ave', 'Broadway'], '0.08875'),
  us('NY', 'Buffalo', '14202', ['Main St', 'Pearl St'], '0.0875'),
  us('WA', 'Seattle', '98101', ['Pike St', 'Pine St', '4th Ave'], '0.1035'),
  us('FL', 'Miami', '33131', ['Brickell Ave', 'SE 1st St'], '0.07'),
  us('PA', 'Philadelphia', '19103', ['Market St', 'Chestnut St', 'Walnut St'], '0.08'),
  us('IL', 'Chicago', '60601', ['N Michigan Ave', 'E Randolph St', 'N State St'], '0.1025'),
  us('CO', 'Denver', '80202', ['Larimer St', '17th St'], '0.0881'),
  us('MA', 'Boston', '02108', ['Tremont St', 'Beacon St'], '0.0625'),
  us('OR', 'Portland', '97204', ['SW Broadway', 'SW Morrison St'], '0'),
  us('GA', 'Atlanta', '30303', ['Peachtree St NE', 'Marietta St NW'], '0.089'),
  eu('DE', 'Berlin', '10115', ['Invalidenstraße', 'Torstraße', 'Chausseestraße'], '0.19'),
  eu('DE', 'München', '80331', ['Marienplatz', 'Sendlinger Straße'], '0.19'),
  eu('FR', 'Paris', '75001', ['Rue de Rivoli', 'Rue Saint-Honoré'], '0.2'),
  eu('NL', 'Amsterdam', '1012 AB', ['Damrak', 'Rokin', 'Kalverstraat'], '0.21'),
  eu('IE', 'Dublin', 'D02 X285', ['Grafton Street', 'Dawson Street'], '0.23'),
  eu('ES', 'Madrid', '28013', ['Gran Vía', 'Calle de Alcalá'], '0.21'),
  ca('ON', 'Toronto', 'M5H 2N2', ['King St W', 'Bay St', 'Queen St W'], '0.13'),
  ca('QC', 'Montréal', 'H2Y 1C6', ['Rue Saint-Jacques', 'Rue Notre-Dame O'], '0.14975'),
  ca('BC', 'Vancouver', 'V6B 1A1', ['Granville St', 'W Georgia St'], '0.12'),
  {
    region: 'UK', country: 'GB', city: 'London', postcode: 'EC1A 1BB', streets: ['Aldersgate St', 'Old Street', 'Clerkenwell Rd'],
    rate: '0.2', taxLabel: 'VAT GB', taxType: 'VAT', currency: 'GBP',
  },
  {
    region: 'UK', country: 'GB', city: 'Manchester', postcode: 'M1 1AE', streets: ['Piccadilly', 'Market St'],
    rate: '0.2', taxLabel: 'VAT GB', taxType: 'VAT', currency: 'GBP',
  },
];

const BY_REGION: Record<Region, Place[]> = { US: [], CA: [], EU: [], UK: [] };
for (const p of PLACES) BY_REGION[p.region].push(p);

/** A place, weighted towards the US (half), then EU, Canada and the UK. */
export function pickPlace(rng: Rng): Place {
  const region = rng.weighted<Region>([['US', 50], ['EU', 22], ['CA', 14], ['UK', 14]]);
  return rng.pick(BY_REGION[region]);
}

export function placeOf(country: string, state?: string): Place | undefined {
  return PLACES.find((p) => p.country === country && (state === undefined || p.state === state));
}

export function streetLine(rng: Rng, place: Place): string {
  const street = rng.pick(place.streets);
  const no = rng.int(1, 980);
  return place.region === 'EU' && place.country !== 'IE' && place.country !== 'FR' ? `${street} ${no}` : `${no} ${street}`;
}

export function vatId(rng: Rng, country: string): string {
  switch (country) {
    case 'DE': return `DE${rng.digits(9)}`;
    case 'FR': return `FR${rng.digits(11)}`;
    case 'NL': return `NL${rng.digits(9)}B01`;
    case 'IE': return `IE${rng.digits(7)}A`;
    case 'ES': return `ESB${rng.digits(8)}`;
    case 'GB': return `GB${rng.digits(9)}`;
    default: return `${country}${rng.digits(9)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Names

const NAME_A = ['Acme', 'Blue', 'Bright', 'Cedar', 'Copper', 'Delta', 'Ember', 'Falcon', 'Granite', 'Harbor', 'Iron', 'Juniper',
  'Keystone', 'Lumen', 'Maple', 'Nimbus', 'Orbit', 'Pioneer', 'Quartz', 'River', 'Summit', 'Tidal', 'Union', 'Vertex', 'Willow', 'Zenith'];
const NAME_B = ['Analytics', 'Labs', 'Systems', 'Logistics', 'Health', 'Foods', 'Robotics', 'Media', 'Capital', 'Energy', 'Works',
  'Software', 'Networks', 'Studios', 'Partners', 'Outfitters', 'Dynamics', 'Bio', 'Cloud', 'Freight'];
const SUFFIX: Record<string, readonly string[]> = {
  US: ['Inc.', 'LLC', 'Corp.', 'Co.'], CA: ['Inc.', 'Ltd.', 'Corp.'], GB: ['Ltd', 'PLC', 'LLP'], DE: ['GmbH', 'AG', 'UG'],
  FR: ['SAS', 'SARL', 'SA'], NL: ['B.V.', 'N.V.'], IE: ['Ltd', 'DAC'], ES: ['S.L.', 'S.A.'],
};
const EXEMPT_NAMES = ['Foundation', 'School District', 'University', 'Public Library', 'Community Hospital', 'Museum'];
const FIRST = ['Ana', 'Ben', 'Chloe', 'Dev', 'Elena', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas', 'Kara', 'Liam', 'Maya', 'Noah', 'Olga',
  'Priya', 'Quinn', 'Rosa', 'Sam', 'Tariq', 'Uma', 'Victor', 'Wen', 'Yara', 'Zoe'];
const LAST = ['Adams', 'Berg', 'Costa', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Hughes', 'Ito', 'Jansen', 'Kowalski', 'Lopez', 'Murphy',
  'Novak', "O'Brien", 'Patel', 'Rossi', 'Schmidt', 'Tanaka', 'Walsh'];

export function companyName(rng: Rng, country: string, exempt = false): string {
  const a = rng.pick(NAME_A);
  if (exempt) return `${a} ${rng.pick(EXEMPT_NAMES)}`;
  return `${a} ${rng.pick(NAME_B)} ${rng.pick(SUFFIX[country] ?? SUFFIX.US!)}`;
}

export function personName(rng: Rng): string {
  return `${rng.pick(FIRST)} ${rng.pick(LAST)}`;
}

export function slug(s: string): string {
  return s.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '').slice(0, 24) || 'company';
}

export function emailFor(person: string, company: string): string {
  const [first] = person.toLowerCase().split(' ');
  return `${(first ?? 'billing').replace(/[^a-z]/g, '')}@${slug(company)}.example`;
}

// ---------------------------------------------------------------------------------------------
// Products

export interface ProductSeed {
  name: string;
  description: string;
  /** Unit price in minor units (the same number is used whatever the currency). */
  priceMinor: bigint;
  kind: 'saas' | 'services' | 'goods' | 'usage' | 'digital';
  recurring: boolean;
}

const PRODUCT_BASES: readonly Omit<ProductSeed, 'priceMinor'>[] = [
  { name: 'Platform subscription', description: 'Monthly platform access', kind: 'saas', recurring: true },
  { name: 'User seats', description: 'Per-seat licence', kind: 'saas', recurring: true },
  { name: 'API calls', description: 'Metered API usage, per 1,000 calls', kind: 'usage', recurring: false },
  { name: 'Premium support', description: '24/7 support plan', kind: 'services', recurring: true },
  { name: 'Implementation services', description: 'One-off onboarding and setup', kind: 'services', recurring: false },
  { name: 'Training workshop', description: 'Half-day remote training', kind: 'services', recurring: false },
  { name: 'Hardware gateway', description: 'Edge gateway device', kind: 'goods', recurring: false },
  { name: 'Sensor kit', description: 'Pack of 10 sensors', kind: 'goods', recurring: false },
  { name: 'Data storage', description: 'Storage, per GB-month', kind: 'usage', recurring: false },
  { name: 'E-book bundle', description: 'Downloadable guides', kind: 'digital', recurring: false },
  { name: 'Analytics add-on', description: 'Advanced dashboards', kind: 'saas', recurring: true },
  { name: 'Consulting hours', description: 'Senior consultant, per hour', kind: 'services', recurring: false },
];
const TIERS = ['', ' (Starter)', ' (Growth)', ' (Enterprise)', ' (EU)', ' v2'];

export function productSeed(rng: Rng, i: number): ProductSeed {
  const base = PRODUCT_BASES[i % PRODUCT_BASES.length]!;
  const tier = i < PRODUCT_BASES.length ? '' : TIERS[1 + ((Math.floor(i / PRODUCT_BASES.length) - 1) % (TIERS.length - 1))]! +
    (i >= PRODUCT_BASES.length * TIERS.length ? ` #${i}` : '');
  // prices: cents from 0.05 (usage) up to a few thousand
  const priceMinor = base.kind === 'usage'
    ? BigInt(rng.int(5, 250))
    : base.kind === 'goods'
      ? BigInt(rng.int(20, 900) * 100 + rng.pick([0, 50, 99]))
      : BigInt(rng.int(10, 2500) * 100 + rng.pick([0, 0, 50, 99]));
  return { ...base, name: base.name + tier, priceMinor };
}

/** A quantity string: mostly whole numbers, sometimes fractional hours / units. */
export function quantityFor(rng: Rng, kind: ProductSeed['kind']): string {
  if (kind === 'usage') return String(rng.int(1, 5000));
  if (kind === 'services' && rng.chance(0.3)) return `${rng.int(1, 40)}.${rng.pick(['25', '5', '75'])}`;
  return String(rng.pick([1, 1, 1, 2, 3, 5, 10, 12, 25]));
}

export function linesCount(rng: Rng, spec: number | readonly [number, number]): number {
  if (typeof spec === 'number') return Math.max(0, Math.floor(spec));
  return rng.int(Math.max(0, spec[0]), Math.max(spec[0], spec[1]));
}

/** Evenly spread `count` creation times over [start, end] with a little jitter; ascending. */
export function spreadTimes(count: number, start: number, end: number, rng: Rng): (i: number) => number {
  const step = count > 0 ? Math.max(1, Math.floor((end - start) / count)) : 1;
  return (i: number) => start + i * step + (step > 4 ? rng.int(0, Math.floor(step / 4)) : 0);
}
