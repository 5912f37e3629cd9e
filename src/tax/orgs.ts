/**
 * Administration of organizations, registrations and product tax codes, straight over the Store. Used by the
 * CLI (`taxbridge org|region ...`) and, through TaxService (which also refreshes its in-memory indexes), by
 * the admin HTTP API. Errors are TaxbridgeErrors with codes `not_found`, `invalid_input` or `conflict`.
 */
import { TaxbridgeError } from '../errors.ts';
import type { Store } from '../store/types.ts';
import { isIsoDate, normalizeCountry, normalizeRegion, todayUtc, usTerritoryOfCountry } from './geo.ts';
import { newId } from './ids.ts';
import type { OrgAddress, OrgMode, Organization, ProductTaxCode, Registration } from './model.ts';
import { TAX_CODES, normalizeTaxCode } from './tax-codes.ts';

export const ORGS = 'organizations';

export function invalid(message: string, field?: string, hint?: string): TaxbridgeError {
  return new TaxbridgeError('invalid_input', message, { hint, details: field ? { field } : undefined });
}

export function notFound(what: string, id: string): TaxbridgeError {
  return new TaxbridgeError('not_found', `${what} ${JSON.stringify(id)} does not exist`);
}

// Read-modify-write of one organization document is serialized per organization within the process.
const locks = new Map<string, Promise<unknown>>();
async function withOrgLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(id) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  locks.set(id, tail);
  try {
    return await run;
  } finally {
    if (locks.get(id) === tail) locks.delete(id);
  }
}

function nowIso(): string {
  return new Date().toISOString();
}

export function parseMode(v: unknown): OrgMode {
  if (v === 'test' || v === 'live') return v;
  throw invalid(`mode must be "test" or "live", got ${JSON.stringify(v)}`, 'mode');
}

/** Validates an origin address; country required; US/CA state normalized to its code. */
export function parseAddress(v: unknown, field = 'origin_address'): OrgAddress {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${field} must be an object with country, state, postal_code, city, line1`, field);
  const a = v as Record<string, unknown>;
  for (const k of Object.keys(a)) {
    if (!['line1', 'line2', 'city', 'state', 'postal_code', 'country'].includes(k)) throw invalid(`${field}.${k} is not an address field (line1, line2, city, state, postal_code, country)`, `${field}.${k}`);
    if (a[k] !== undefined && a[k] !== null && typeof a[k] !== 'string') throw invalid(`${field}.${k} must be a string`, `${field}.${k}`);
  }
  const country = normalizeCountry(a.country);
  if (!country) throw invalid(`${field}.country must be an ISO 3166-1 alpha-2 code such as US or DE`, `${field}.country`);
  const out: OrgAddress = { country };
  for (const k of ['line1', 'line2', 'city', 'postal_code'] as const) {
    const s = typeof a[k] === 'string' ? (a[k] as string).trim() : '';
    if (s) out[k] = s;
  }
  if (typeof a.state === 'string' && a.state.trim()) {
    if (country === 'US' || country === 'CA') {
      const st = normalizeRegion(country, a.state);
      if (!st) throw invalid(`${field}.state ${JSON.stringify(a.state)} is not a ${country === 'US' ? 'US state' : 'Canadian province'}`, `${field}.state`);
      out.state = st;
    } else out.state = a.state.trim();
  }
  return out;
}

function parseTaxCode(v: unknown, field: string): string {
  const c = normalizeTaxCode(v);
  if (!c) throw invalid(`${field} ${JSON.stringify(v)} is not a product tax code; use one of ${TAX_CODES.join(', ')}`, field);
  return c;
}

export interface CreateOrganizationInput {
  name: string;
  mode: OrgMode;
  origin_address?: unknown;
  default_product_tax_code?: string;
  local_rates_unknown?: unknown;
}

/** The organization setting local_rates_unknown: warn (default) or refuse. */
function parseLocalRatesUnknown(v: unknown): 'warn' | 'refuse' {
  if (v === 'warn' || v === 'refuse') return v;
  throw invalid(`local_rates_unknown must be "warn" (state rate + warning) or "refuse" (422), got ${JSON.stringify(v)?.slice(0, 40)}`, 'local_rates_unknown');
}

export async function createOrganization(store: Store, input: CreateOrganizationInput): Promise<Organization> {
  if (typeof input.name !== 'string' || !input.name.trim()) throw invalid('name is required', 'name');
  const mode = parseMode(input.mode);
  const ts = nowIso();
  const org: Organization = {
    id: newId(mode === 'test' ? 'org_test' : 'org_live'),
    name: input.name.trim(),
    mode,
    ...(input.origin_address !== undefined && input.origin_address !== null ? { origin_address: parseAddress(input.origin_address) } : {}),
    registrations: [],
    ...(input.default_product_tax_code ? { default_product_tax_code: parseTaxCode(input.default_product_tax_code, 'default_product_tax_code') } : {}),
    product_tax_codes: [],
    ...(input.local_rates_unknown !== undefined && input.local_rates_unknown !== null ? { local_rates_unknown: parseLocalRatesUnknown(input.local_rates_unknown) } : {}),
    created_at: ts,
    updated_at: ts,
  };
  await store.put(ORGS, org.id, org);
  return org;
}

export async function getOrganization(store: Store, id: string): Promise<Organization> {
  const org = await store.get<Organization>(ORGS, id);
  if (!org) throw notFound('organization', id);
  return org;
}

export async function listOrganizations(store: Store): Promise<Organization[]> {
  return (await store.find<Organization>(ORGS, { orderBy: { field: 'created_at' } })).docs;
}

async function mutate(store: Store, id: string, fn: (org: Organization) => void): Promise<Organization> {
  return withOrgLock(id, async () => {
    const org = structuredClone(await getOrganization(store, id));
    fn(org);
    org.updated_at = nowIso();
    await store.put(ORGS, org.id, org);
    return org;
  });
}

function parseChoice<T extends string>(v: unknown, field: string, choices: readonly T[]): T {
  if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
  throw invalid(`${field} must be one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${JSON.stringify(v)?.slice(0, 40)}`, field);
}

export interface UpdateOrganizationInput {
  /** null clears it (default reverse_charge). */
  unverified_tax_ids?: unknown;
  /** null clears it (default line). */
  rounding?: unknown;
  name?: string;
  origin_address?: unknown;
  /** null clears it. */
  default_product_tax_code?: string | null;
  /** warn | refuse; null resets to the default (warn). */
  local_rates_unknown?: unknown;
}

export async function updateOrganization(store: Store, id: string, patch: UpdateOrganizationInput): Promise<Organization> {
  // validate before locking
  const name = patch.name !== undefined ? String(patch.name).trim() : undefined;
  if (name !== undefined && !name) throw invalid('name must not be empty', 'name');
  const origin = patch.origin_address === undefined ? undefined : patch.origin_address === null ? null : parseAddress(patch.origin_address);
  const code =
    patch.default_product_tax_code === undefined ? undefined : patch.default_product_tax_code === null ? null : parseTaxCode(patch.default_product_tax_code, 'default_product_tax_code');
  const lru = patch.local_rates_unknown === undefined ? undefined : patch.local_rates_unknown === null ? null : parseLocalRatesUnknown(patch.local_rates_unknown);
  const utid = patch.unverified_tax_ids === undefined || patch.unverified_tax_ids === null ? patch.unverified_tax_ids : parseChoice(patch.unverified_tax_ids, 'unverified_tax_ids', ['reverse_charge', 'tax'] as const);
  const rounding = patch.rounding === undefined || patch.rounding === null ? patch.rounding : parseChoice(patch.rounding, 'rounding', ['line', 'document'] as const);
  return mutate(store, id, (org) => {
    if (utid === null) delete org.unverified_tax_ids;
    else if (utid) org.unverified_tax_ids = utid;
    if (rounding === null) delete org.rounding;
    else if (rounding) org.rounding = rounding;
    if (lru === null) delete org.local_rates_unknown;
    else if (lru) org.local_rates_unknown = lru;
    if (name !== undefined) org.name = name;
    if (origin === null) delete org.origin_address;
    else if (origin) org.origin_address = origin;
    if (code === null) delete org.default_product_tax_code;
    else if (code) org.default_product_tax_code = code;
  });
}

export interface RegistrationInput {
  country: string;
  state?: string;
  tax_calculation?: boolean;
  effective_from?: string;
}

export function parseRegistrationInput(input: RegistrationInput): { country: string; state?: string; tax_calculation: boolean; effective_from: string } {
  const rawCountry = typeof input.country === 'string' ? input.country.trim() : '';
  const iso = rawCountry.toUpperCase() === 'EU' ? 'EU' : normalizeCountry(rawCountry);
  if (!iso) throw invalid(`country must be an ISO 3166-1 alpha-2 code (or EU for a One-Stop-Shop registration), got ${JSON.stringify(input.country)}`, 'country');
  // A US territory's own code (PR) is registered as US + state PR: one registration for both spellings.
  const territory = usTerritoryOfCountry(iso);
  const country = territory ? 'US' : iso;
  if (territory && (input.state === undefined || input.state === null || input.state === '')) input = { ...input, state: territory };
  let state: string | undefined;
  const rawState = typeof input.state === 'string' ? input.state.trim() : input.state;
  if (rawState !== undefined && rawState !== null && rawState !== '') {
    if (country !== 'US' && country !== 'CA') throw invalid(`state applies only to US and CA registrations, not ${country}`, 'state');
    state = normalizeRegion(country, rawState);
    if (!state) throw invalid(`state ${JSON.stringify(rawState)} is not a ${country === 'US' ? 'US state' : 'Canadian province'}`, 'state');
  } else if (country === 'US') {
    throw invalid('a US registration needs a state (e.g. TX): sales tax is registered state by state', 'state');
  }
  if (input.tax_calculation !== undefined && typeof input.tax_calculation !== 'boolean') throw invalid('tax_calculation must be true or false', 'tax_calculation');
  const effective_from = input.effective_from ?? todayUtc();
  if (!isIsoDate(effective_from)) throw invalid(`effective_from must be a date YYYY-MM-DD, got ${JSON.stringify(input.effective_from)}`, 'effective_from');
  return { country, ...(state ? { state } : {}), tax_calculation: input.tax_calculation ?? true, effective_from };
}

export async function addRegistration(store: Store, orgId: string, input: RegistrationInput): Promise<{ org: Organization; registration: Registration }> {
  const parsed = parseRegistrationInput(input);
  let reg!: Registration;
  const org = await mutate(store, orgId, (o) => {
    const dup = o.registrations.find((r) => r.country === parsed.country && (r.state ?? '') === (parsed.state ?? ''));
    if (dup) {
      throw new TaxbridgeError('conflict', `organization ${orgId} already has a registration for ${parsed.country}${parsed.state ? `-${parsed.state}` : ''} (${dup.id})`, {
        hint: 'enable, disable or change its effective date instead',
        details: { registration_id: dup.id },
      });
    }
    const ts = nowIso();
    reg = { id: newId('reg', 12), ...parsed, created_at: ts, updated_at: ts };
    o.registrations.push(reg);
  });
  return { org, registration: reg };
}

function findRegistration(org: Organization, ref: string): Registration {
  // By id, or by "COUNTRY" / "COUNTRY-STATE" (e.g. US-TX, DE).
  const r =
    org.registrations.find((x) => x.id === ref) ??
    org.registrations.find((x) => `${x.country}${x.state ? `-${x.state}` : ''}` === ref.toUpperCase());
  if (!r) throw notFound(`registration in organization ${org.id}`, ref);
  return r;
}

export async function updateRegistration(
  store: Store,
  orgId: string,
  ref: string,
  patch: { tax_calculation?: boolean; effective_from?: string },
): Promise<{ org: Organization; registration: Registration }> {
  if (patch.tax_calculation !== undefined && typeof patch.tax_calculation !== 'boolean') throw invalid('tax_calculation must be true or false', 'tax_calculation');
  if (patch.effective_from !== undefined && !isIsoDate(patch.effective_from)) throw invalid('effective_from must be a date YYYY-MM-DD', 'effective_from');
  let reg!: Registration;
  const org = await mutate(store, orgId, (o) => {
    reg = findRegistration(o, ref);
    if (patch.tax_calculation !== undefined) reg.tax_calculation = patch.tax_calculation;
    if (patch.effective_from !== undefined) reg.effective_from = patch.effective_from;
    reg.updated_at = nowIso();
  });
  return { org, registration: reg };
}

export async function removeRegistration(store: Store, orgId: string, ref: string): Promise<Organization> {
  return mutate(store, orgId, (o) => {
    const r = findRegistration(o, ref);
    o.registrations = o.registrations.filter((x) => x !== r);
  });
}

export interface ProductTaxCodeInput {
  product_id: string;
  connection_id?: string | null;
  tax_code: string;
}

export async function setProductTaxCode(store: Store, orgId: string, input: ProductTaxCodeInput): Promise<{ org: Organization; product_tax_code: ProductTaxCode }> {
  const productId = typeof input.product_id === 'string' || typeof input.product_id === 'number' ? String(input.product_id).trim() : '';
  if (!productId) throw invalid('product_id is required', 'product_id');
  const connectionId = typeof input.connection_id === 'string' && input.connection_id.trim() ? input.connection_id.trim() : undefined;
  if (input.connection_id !== undefined && input.connection_id !== null && typeof input.connection_id !== 'string') throw invalid('connection_id must be a string', 'connection_id');
  const tax_code = parseTaxCode(input.tax_code, 'tax_code');
  let entry!: ProductTaxCode;
  const org = await mutate(store, orgId, (o) => {
    o.product_tax_codes = o.product_tax_codes.filter((p) => !(p.product_id === productId && (p.connection_id ?? '') === (connectionId ?? '')));
    entry = { product_id: productId, ...(connectionId ? { connection_id: connectionId } : {}), tax_code, updated_at: nowIso() };
    o.product_tax_codes.push(entry);
  });
  return { org, product_tax_code: entry };
}

export async function removeProductTaxCode(store: Store, orgId: string, productId: string, connectionId?: string): Promise<Organization> {
  return mutate(store, orgId, (o) => {
    const before = o.product_tax_codes.length;
    o.product_tax_codes = o.product_tax_codes.filter((p) => !(p.product_id === productId && (p.connection_id ?? '') === (connectionId ?? '')));
    if (o.product_tax_codes.length === before) throw notFound(`product tax code in organization ${orgId} for product`, productId);
  });
}

