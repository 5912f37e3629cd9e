/**
 * The tax engine: from a validated request, the organization's registrations and product tax codes, the
 * (optional) synced customer and the rate data, decide for each line where it is taxed, whether tax is
 * collected, which jurisdictions apply at which rates, and compute the amounts exactly (./compute.ts).
 *
 * Decision order for each line (the first that applies wins), each with its taxability_reason:
 *  1. customer exempt (`tax_exempt: true`, or the synced customer's tax_status "exempt")  -> customer_exempt
 *  2. reverse charge: outside the US, a business customer (request `tax_id`, synced tax_ids) buying across a
 *     border (customer country != seller's origin country, or no origin on file), or a synced customer
 *     whose tax_status is "reverse_charge"                                               -> reverse_charge
 *  3. no active registration covering the customer's place (registration with tax calculation on, in force
 *     on the tax date)                                                                   -> not_collecting
 *  4. no tax in that place (e.g. Oregon)                                                 -> not_subject_to_tax
 *  5. product taxability: the `exempt` tax code, or the US state does not tax the code   -> product_exempt
 *     (zero amounts, one per jurisdiction); a US state taxing part of the price (Texas SaaS 80 %)
 *                                                                                        -> taxable_basis_reduced
 *     a special rate replacing the state rate (Connecticut SaaS 1 %)                     -> reduced_rated
 *     otherwise                                                                          -> standard_rated
 * Registrations: US by state; Canada GST/HST by any CA registration (country-wide or the province), PST/QST/RST
 * only by a registration for that province (and for SaaS only where the province taxes digital services);
 * elsewhere by country, and an "EU" (One-Stop-Shop) registration covers every EU member state's VAT.
 * Sourcing is by destination (the customer's address, or the line's ship_to).
 */
import { type Rational, mul, mulRound, percentToFraction } from '../money/index.ts';
import type { Jurisdiction, TaxData, Taxability, UsLookup } from './rates/index.ts';
import type { CalculateTaxResponseTaxabilityReason as TaxabilityReason } from './api-types.generated.ts';
import { computeLine } from './compute.ts';
import { TaxApiError, locationError } from './errors.ts';
import { normalizeCountry, normalizeRegion, normalizeUsZip, usTerritoryOfCountry } from './geo.ts';
import { TERRITORIES_UNSUPPORTED, TERRITORIES_WITHOUT_SALES_TAX } from './places/territories.ts';
import { type TaxWarning, WarningSet, localRatesUnknown, localRatesEstimated, territoryNotTaxed } from './warnings.ts';
import type { OrgAddress, Organization, ProductTaxCode, Registration } from './model.ts';
import { normalizeTaxCode, type TaxCode } from './tax-codes.ts';
import type { NormalizedLine, NormalizedRequest, RawAddress } from './calculate-request.ts';

/** An organization with the lookups the hot path needs, built once per change (TaxService keeps them). */
export interface OrgTaxView {
  org: Organization;
  /** Registrations by "COUNTRY|STATE" ("US|TX", "DE|", "EU|"). */
  registrations: Map<string, Registration>;
  /** Product tax codes by product id (connection-less first). */
  productCodes: Map<string, ProductTaxCode[]>;
  defaultCode?: TaxCode;
}

export function buildOrgView(org: Organization): OrgTaxView {
  const registrations = new Map<string, Registration>();
  for (const r of org.registrations) registrations.set(`${r.country}|${r.state ?? ''}`, r);
  const productCodes = new Map<string, ProductTaxCode[]>();
  for (const p of org.product_tax_codes) {
    const list = productCodes.get(p.product_id) ?? [];
    list.push(p);
    list.sort((a, b) => (a.connection_id ? 1 : 0) - (b.connection_id ? 1 : 0));
    productCodes.set(p.product_id, list);
  }
  return { org, registrations, productCodes, defaultCode: normalizeTaxCode(org.default_product_tax_code) };
}

/** What a synced customer contributes: its address, tax status and tax ids. */
export interface CustomerInfo {
  id: string;
  connection_id: string;
  address?: RawAddress;
  tax_status?: 'taxed' | 'exempt' | 'reverse_charge';
  tax_ids?: Array<{ type?: string; value: string }>;
}

export interface JurisdictionTax {
  jurisdiction: Jurisdiction;
  /** This jurisdiction's own taxability reason where it differs from the line's (Denver taxes SaaS, Colorado does not). */
  reason?: TaxabilityReason;
  /** The rate applied (percent string); differs from jurisdiction.rate under a rate override or exemption. */
  rate: string;
  taxable: bigint;
  amount: bigint;
}

export interface EngineLine {
  line: NormalizedLine;
  taxCode: TaxCode;
  reason: TaxabilityReason;
  country: string;
  state: string | undefined;
  net: bigint;
  gross: bigint;
  taxable: bigint;
  tax: bigint;
  jurisdictions: JurisdictionTax[];
}

export interface EngineResult {
  lines: EngineLine[];
  taxTotal: bigint;
  /** How precise the answer is, where it is not exact: local rates unknown or estimated, territories not taxed. */
  warnings: TaxWarning[];
}

interface Place {
  country: string;
  state?: string;
  zip?: string;
  plus4?: string;
  /** Where the address came from, for error messages ("customer_address", "line_items[2].ship_to"). */
  param: string;
  /** Per-request cache: the lines of one invoice usually share the place. null = looked up, none found. */
  lookup?: UsLookup | null;
  /** Per-request cache of the last tax code's taxability and plan (an invoice's lines usually share one code). */
  code?: string;
  codeTaxability?: Taxability;
  codePlan?: LocalPlan;
}

const rationalCache = new Map<string, Rational>();
function rateFraction(rate: string): Rational {
  let r = rationalCache.get(rate);
  if (!r) {
    r = percentToFraction(rate);
    if (rationalCache.size < 10_000) rationalCache.set(rate, r);
  }
  return r;
}

const ONE: Rational = { n: 1n, d: 1n };
const NONE: JurisdictionTax[] = [];

interface JurisdictionRates {
  rates: string[];
  fractions: Rational[];
}

/** Each jurisdiction's rate (the state's replaced by `stateOverride`, when given) as text and as a fraction. */
function jurisdictionRates(jurs: readonly Jurisdiction[], stateOverride: string | undefined): JurisdictionRates {
  const rates = new Array<string>(jurs.length);
  const fractions = new Array<Rational>(jurs.length);
  for (let i = 0; i < jurs.length; i++) {
    const j = jurs[i]!;
    const rate = stateOverride !== undefined && j.level === 'state' ? stateOverride : j.rate;
    rates[i] = rate;
    fractions[i] = rateFraction(rate);
  }
  return { rates, fractions };
}

// The jurisdiction lists come from the memoized lookups (the same array for every line taxed at a place), so
// their rates are worked out once per list, not per line. Nobody mutates these arrays.
const ratesByList = new WeakMap<readonly Jurisdiction[], JurisdictionRates>();
function ratesOf(jurs: readonly Jurisdiction[]): JurisdictionRates {
  let r = ratesByList.get(jurs);
  if (!r) ratesByList.set(jurs, (r = jurisdictionRates(jurs, undefined)));
  return r;
}

/**
 * Lookups in the (immutable, loaded-once) rate data memoized per TaxData: the lines of one invoice, and most
 * invoices, ask about the same few places. Bounded: cleared when it grows past 50,000 entries.
 */
interface DataMemo {
  jur: Map<string, UsLookup | undefined>;
  tax: Map<string, Taxability>;
  /** Per place and tax code: the jurisdictions with product-only taxes added, and per-jurisdiction treatments (undefined = all follow the state). */
  local: Map<string, LocalPlan>;
  country: Map<string, Jurisdiction[] | undefined>;
}
const memos = new WeakMap<TaxData, DataMemo>();
const MEMO_MAX = 50_000;
function memoFor(data: TaxData): DataMemo {
  let m = memos.get(data);
  if (!m) memos.set(data, (m = { jur: new Map(), tax: new Map(), country: new Map(), local: new Map() }));
  return m;
}
function remember<V>(map: Map<string, V>, key: string, v: V): V {
  if (map.size >= MEMO_MAX) map.clear();
  map.set(key, v);
  return v;
}
function usLookup(data: TaxData, state: string, zip: string | undefined, plus4: string | undefined, date: string): UsLookup | undefined {
  const m = memoFor(data).jur;
  const key = `${state}|${zip ?? ''}|${plus4 ?? ''}|${date}`;
  const hit = m.get(key);
  if (hit !== undefined || m.has(key)) return hit;
  return remember(m, key, data.usLookup(state, zip, date, plus4));
}
function usTaxability(data: TaxData, state: string, code: string, date: string): Taxability {
  const m = memoFor(data).tax;
  const key = `${state}|${code}|${date}`;
  return m.get(key) ?? remember(m, key, data.usTaxability(state, code, date));
}
function countryJurisdictions(data: TaxData, country: string, region: string | undefined, date: string): Jurisdiction[] | undefined {
  const m = memoFor(data).country;
  const key = `${country}|${region ?? ''}|${date}`;
  const hit = m.get(key);
  if (hit !== undefined || m.has(key)) return hit;
  return remember(m, key, data.countryJurisdictions(country, region, date));
}

/** Checks an address enough to tax it: country; US state + ZIP; Canadian province. */
export function resolvePlace(a: RawAddress, param: string): Place {
  if (!a.country) throw locationError(`${param}.country`, `${param}.country is required (ISO 3166-1 alpha-2, e.g. "US")`);
  const iso = normalizeCountry(a.country);
  if (!iso) throw locationError(`${param}.country`, `${param}.country ${JSON.stringify(a.country.slice(0, 40))} is not an ISO 3166-1 alpha-2 country code`);
  // A US territory sent as its own country (PR) is the US state of that name: one place, one registration.
  const territory = usTerritoryOfCountry(iso);
  const country = territory ? 'US' : iso;
  if (country === 'US') {
    if (!a.state && !territory) throw locationError(`${param}.state`, `${param}.state is required for US addresses (e.g. "TX")`);
    const state = territory ?? normalizeRegion('US', a.state);
    if (!state) throw locationError(`${param}.state`, `${param}.state ${JSON.stringify(a.state!.slice(0, 40))} is not a US state`);
    if (territory && a.state && normalizeRegion('US', a.state) !== territory) {
      throw locationError(`${param}.state`, `${param}.state ${JSON.stringify(a.state.slice(0, 40))} contradicts country ${iso}: send country ${iso} (or US with state ${iso})`);
    }
    if (!a.postal_code) throw locationError(`${param}.postal_code`, `${param}.postal_code is required for US addresses (5-digit ZIP)`);
    const zip = normalizeUsZip(a.postal_code);
    if (!zip) throw locationError(`${param}.postal_code`, `${param}.postal_code ${JSON.stringify(a.postal_code.slice(0, 20))} is not a US ZIP code (12345 or 12345-6789)`);
    const p4 = typeof a.postal_code === 'string' ? /^\s*\d{5}[- ]?(\d{4})\s*$/.exec(a.postal_code)?.[1] : undefined;
    return { country, state, zip, ...(p4 ? { plus4: p4 } : {}), param };
  }
  if (country === 'CA') {
    if (!a.state) throw locationError(`${param}.state`, `${param}.state (the province, e.g. "ON") is required for Canadian addresses`);
    const state = normalizeRegion('CA', a.state);
    if (!state) throw locationError(`${param}.state`, `${param}.state ${JSON.stringify(a.state.slice(0, 40))} is not a Canadian province or territory`);
    return { country, state, param };
  }
  return { country, param };
}

function toRawAddress(a: OrgAddress | undefined): RawAddress | undefined {
  return a ? { ...a } : undefined;
}

function active(r: Registration | undefined, date: string): boolean {
  return !!r && r.tax_calculation && r.effective_from <= date;
}

export interface EngineInput {
  req: NormalizedRequest;
  view: OrgTaxView;
  data: TaxData;
  taxDate: string;
  customer?: CustomerInfo;
}

export function calculate(input: EngineInput): EngineResult {
  const { req, view, data, taxDate, customer } = input;
  const exempt = req.tax_exempt || customer?.tax_status === 'exempt';
  const business = !!req.tax_id || (customer?.tax_ids?.length ?? 0) > 0 || customer?.tax_status === 'reverse_charge';
  const forcedReverse = customer?.tax_status === 'reverse_charge';

  // The customer's address: the request's, else the synced customer's.
  let docAddress: RawAddress | undefined = req.customer_address;
  let docParam = 'customer_address';
  if (!docAddress && customer?.address) {
    docAddress = customer.address;
    docParam = `customer ${customer.id} address`;
  }
  let docPlace: Place | undefined;
  const originAll = req.ship_from ?? toRawAddress(view.org.origin_address);

  const lines: EngineLine[] = [];
  const warnings = new WarningSet();
  let taxTotal = 0n;
  for (const line of req.lines) {
    let place: Place;
    if (line.ship_to) place = resolvePlace(line.ship_to, `line_items[${line.index}].ship_to`);
    else {
      if (!docAddress) {
        throw locationError(
          'customer_address',
          req.customer_id
            ? `customer_address is required: customer_id ${JSON.stringify(req.customer_id)} is not a synced customer with an address`
            : 'customer_address is required (country, and for the US state and postal_code), or a customer_id of a synced customer with an address',
        );
      }
      docPlace ??= resolvePlace(docAddress, docParam);
      place = docPlace;
    }
    const origin = line.ship_from ?? originAll;
    const originCountry = origin?.country ? normalizeCountry(origin.country) : undefined;
    const taxCode = productTaxCode(view, line);

    const base: LineBase = { line, taxCode, country: place.country, state: place.state };

    let out: EngineLine;
    if (exempt) out = untaxedLine(base, 'customer_exempt', NONE);
    else if (place.country !== 'US' && (forcedReverse || (business && originCountry !== place.country))) out = untaxedLine(base, 'reverse_charge', NONE);
    else out = taxLine(data, view, taxDate, place, line, taxCode, base, warnings);
    taxTotal += out.tax;
    lines.push(out);
  }
  return { lines, taxTotal, warnings: warnings.list() };
}

function productTaxCode(view: OrgTaxView, line: NormalizedLine): TaxCode {
  const overrides = view.productCodes.get(line.product_id);
  const code = overrides?.length ? normalizeTaxCode(overrides[0]!.tax_code) : view.defaultCode;
  if (!code) {
    throw new TaxApiError(
      400,
      'invalid_product_tax_code',
      `product ${JSON.stringify(line.product_id)} has no product tax code: set one for the product or a default product tax code for the organization`,
      { param: `line_items[${line.index}].product_id` },
    );
  }
  return code;
}

function taxLine(
  data: TaxData,
  view: OrgTaxView,
  date: string,
  place: Place,
  line: NormalizedLine,
  taxCode: TaxCode,
  base: LineBase,
  warnings: WarningSet,
): EngineLine {
  const regs = view.registrations;
  let jurs: Jurisdiction[];
  let share: Rational = ONE;
  let reason: TaxabilityReason = 'standard_rated';
  let productExempt = taxCode === 'exempt';
  let rateOverride: string | undefined;
  /** `jurs` was made for this line (not a memoized list): its rates are not worth remembering. */
  let freshList = false;

  if (place.country === 'US') {
    const st = place.state!;
    const noTax = TERRITORIES_WITHOUT_SALES_TAX.get(st);
    if (noTax) {
      warnings.add(territoryNotTaxed(place.param, st, noTax));
      return untaxedLine(base, 'not_subject_to_tax', NONE);
    }
    const unsupported = TERRITORIES_UNSUPPORTED.get(st);
    if (unsupported) throw new TaxApiError(400, 'unsupported_feature', `taxbridge has no tax data for ${unsupported} (${st}); nothing was calculated`, { param: `${place.param}.state` });
    if (!active(regs.get(`US|${st}`), date)) return untaxedLine(base, 'not_collecting', NONE);
    let found = place.lookup;
    if (found === undefined) found = place.lookup = usLookup(data, st, place.zip, place.plus4, date) ?? null;
    if (!found) {
      throw locationError(`${place.param}.postal_code`, `${place.param}.postal_code ${place.zip} is not a ZIP code in ${st}`);
    }
    if (found.local !== 'complete') noteLocalPrecision(view, place, found, warnings);
    let t: Taxability;
    let plan: LocalPlan | undefined;
    if (place.code === taxCode) {
      t = place.codeTaxability!;
      plan = place.codePlan;
    } else {
      t = usTaxability(data, st, taxCode, date);
      plan = productExempt ? undefined : localPlan(data, st, place, found, taxCode, date, t);
      place.code = taxCode;
      place.codeTaxability = t;
      place.codePlan = plan;
    }
    jurs = plan ? plan.jurs : found.jurs;
    if (!productExempt && jurs.length > 0) {
      if (plan!.local) return mixedLine(base, jurs, plan!.local, line, t);
      if (t.treatment === 'exempt' || t.taxable_percent === '0') productExempt = true;
      else if (t.rate_override) {
        rateOverride = t.rate_override;
        reason = 'reduced_rated';
      } else if (t.treatment === 'partial' || t.taxable_percent !== '100') {
        share = rateFraction(t.taxable_percent);
        reason = 'taxable_basis_reduced';
      }
    }
  } else if (place.country === 'CA') {
    const fedOk = active(regs.get('CA|'), date) || active(regs.get(`CA|${place.state}`), date);
    const provOk = active(regs.get(`CA|${place.state}`), date);
    const all = countryJurisdictions(data, 'CA', place.state, date);
    if (!all) throw new TaxApiError(400, 'unsupported_feature', `no Canadian tax data for province ${place.state} on ${date}`);
    const digitalProvincial = taxCode === 'general' || data.caDigitalTaxable(place.state!);
    jurs = all.filter((j) => (j.tax_type === 'gst' || j.tax_type === 'hst' ? fedOk : provOk && digitalProvincial));
    freshList = true;
    if (jurs.length === 0) return untaxedLine(base, fedOk || provOk ? 'not_subject_to_tax' : 'not_collecting', NONE);
  } else {
    const reg = active(regs.get(`${place.country}|`), date) || (data.isEu(place.country) && active(regs.get('EU|'), date));
    if (!reg) return untaxedLine(base, 'not_collecting', NONE);
    const found = countryJurisdictions(data, place.country, undefined, date);
    if (!found) throw new TaxApiError(400, 'unsupported_feature', `taxbridge has no tax rates for country ${place.country}`);
    jurs = found;
  }
  if (jurs.length === 0) return untaxedLine(base, 'not_subject_to_tax', NONE);
  // A place known to levy no sales tax (us-places.yaml no_general_sales_tax, in a state without one): its
  // zero-rate jurisdiction stays in the answer to say where that knowledge comes from.
  if (jurs[0]!.rate === '0' && jurs.every((j) => j.rate === '0')) return untaxedLine(base, 'not_subject_to_tax', zeroTaxes(jurs));

  if (productExempt) return untaxedLine(base, 'product_exempt', zeroTaxes(jurs));

  const { rates, fractions } = rateOverride === undefined && !freshList ? ratesOf(jurs) : jurisdictionRates(jurs, rateOverride);
  const m = computeLine({ amount: line.amount, discount: line.discount, inclusive: line.inclusive, taxableShare: share, rates: fractions });
  const jt = new Array<JurisdictionTax>(jurs.length);
  for (let i = 0; i < jurs.length; i++) jt[i] = { jurisdiction: jurs[i]!, rate: rates[i]!, taxable: m.taxable, amount: m.taxes[i]! };
  return {
    line: base.line,
    taxCode: base.taxCode,
    reason,
    country: base.country,
    state: base.state,
    net: m.net,
    gross: m.gross,
    taxable: m.taxable,
    tax: m.tax,
    jurisdictions: jt,
  };
}

/** Local rates unknown (state only) or estimated: a warning, or under `local_rates_unknown: refuse` a 422. */
function noteLocalPrecision(view: OrgTaxView, place: Place, found: UsLookup, warnings: WarningSet): void {
  const where = { country: 'US', state: place.state!, postal_code: place.zip!, ...(found.place ? { city: found.place.city, county: found.place.county } : {}) };
  if (found.local === 'estimated') {
    warnings.add(localRatesEstimated(place.param, where, found));
    return;
  }
  const w = localRatesUnknown(place.param, where);
  if (view.org.local_rates_unknown === 'refuse') {
    throw new TaxApiError(422, 'local_rates_unknown', `${w.message}; this organization refuses such answers (local_rates_unknown: refuse)`, {
      param: `${place.param}.postal_code`,
      extra: { place: where },
      hint: 'load a rate table covering this ZIP (SST files or a ZIP5 table under src/tax/data/), or set the organization\'s local_rates_unknown to warn',
    });
  }
  warnings.add(w);
}

interface LocalPlan {
  jurs: Jurisdiction[];
  local: LocalTreatment[] | undefined;
}

/** The jurisdictions and per-jurisdiction treatments of a place for a tax code, memoized (the data never changes). */
function localPlan(data: TaxData, st: string, place: Place, found: UsLookup, code: string, date: string, t: Taxability): LocalPlan {
  const m = memoFor(data).local;
  const key = `${st}|${place.zip ?? ''}|${place.plus4 ?? ''}|${code}|${date}`;
  const hit = m.get(key);
  if (hit) return hit;
  const extra = data.productTaxes(found.place, code, date);
  const jurs = extra.length ? [...found.jurs, ...extra] : found.jurs;
  return remember(m, key, { jurs, local: jurs.length ? localTreatments(data, st, jurs, code, date, t, extra) : undefined });
}

/** One jurisdiction's treatment: the share of the price it taxes (0 = exempt), the rate, and why. */
interface LocalTreatment {
  share: string;
  rate: string;
  reason: TaxabilityReason;
}

/**
 * Per-jurisdiction taxability, when any local jurisdiction departs from its state (its own row in
 * us-places.yaml local_taxability, or a tax on this code only such as Chicago's lease tax); undefined when
 * every jurisdiction follows the state (the common, fast case).
 */
function localTreatments(
  data: TaxData,
  state: string,
  jurs: readonly Jurisdiction[],
  code: string,
  date: string,
  st: Taxability,
  extra: readonly Jurisdiction[],
): LocalTreatment[] | undefined {
  let own: Array<Taxability | undefined> | undefined;
  for (let i = 0; i < jurs.length; i++) {
    const j = jurs[i]!;
    if (j.level === 'state') continue;
    const t = extra.includes(j) ? TAXED : data.localTaxability(state, j.name, code, date);
    if (t) (own ??= [])[i] = t;
  }
  if (!own) return undefined;
  return jurs.map((j, i) => treatmentOf(own![i] ?? st, j, own![i] !== undefined));
}

const TAXED: Taxability = Object.freeze({ treatment: 'taxable', taxable_percent: '100', reason: 'a tax on this product only', source: 'us-places.yaml product_taxes' });

function treatmentOf(t: Taxability, j: Jurisdiction, local: boolean): LocalTreatment {
  if (t.treatment === 'exempt' || t.taxable_percent === '0') return { share: '0', rate: '0', reason: 'product_exempt' };
  if (t.rate_override && !local && j.level === 'state') return { share: '100', rate: t.rate_override, reason: 'reduced_rated' };
  if (t.taxable_percent !== '100') return { share: t.taxable_percent, rate: j.rate, reason: 'taxable_basis_reduced' };
  return { share: '100', rate: j.rate, reason: 'standard_rated' };
}

/**
 * A line whose jurisdictions tax different shares (Denver taxes SaaS in full, Colorado not at all): each group
 * of jurisdictions with the same share is computed as its own line (exclusive), or the whole line's tax is
 * found from the effective rates share x rate (inclusive) so that net + tax = gross still holds.
 */
function mixedLine(base: LineBase, jurs: readonly Jurisdiction[], tr: LocalTreatment[], line: NormalizedLine, _state: Taxability): EngineLine {
  const out: JurisdictionTax[] = new Array(jurs.length);
  let tax = 0n;
  let net = line.amount - line.discount;
  let gross = net;
  let taxable = 0n;
  if (!line.inclusive) {
    const groups = new Map<string, number[]>();
    tr.forEach((t, i) => {
      const g = groups.get(t.share);
      if (g) g.push(i);
      else groups.set(t.share, [i]);
    });
    for (const [shareText, idx] of groups) {
      const rates = idx.map((i) => rateFraction(tr[i]!.rate));
      const m = computeLine({ amount: line.amount, discount: line.discount, inclusive: false, taxableShare: rateFraction(shareText), rates });
      idx.forEach((i, k) => {
        out[i] = { jurisdiction: jurs[i]!, rate: tr[i]!.rate, taxable: shareText === '0' ? 0n : m.taxable, amount: m.taxes[k]!, reason: tr[i]!.reason };
      });
      tax += m.tax;
      if (m.taxable > taxable) taxable = m.taxable;
    }
    gross = net + tax;
  } else {
    const effective = tr.map((t) => mul(rateFraction(t.share), rateFraction(t.rate)));
    const m = computeLine({ amount: line.amount, discount: line.discount, inclusive: true, taxableShare: ONE, rates: effective });
    net = m.net;
    tax = m.tax;
    tr.forEach((t, i) => {
      const tx = t.share === '0' ? 0n : mulRound(m.net, rateFraction(t.share));
      if (tx > taxable) taxable = tx;
      out[i] = { jurisdiction: jurs[i]!, rate: t.rate, taxable: tx, amount: m.taxes[i]!, reason: t.reason };
    });
  }
  const taxed = tr.find((t) => t.share !== '0');
  const reason: TaxabilityReason = taxed ? taxed.reason : 'product_exempt';
  return { line: base.line, taxCode: base.taxCode, reason, country: base.country, state: base.state, net, gross, taxable, tax, jurisdictions: out };
}

interface LineBase {
  line: NormalizedLine;
  taxCode: TaxCode;
  country: string;
  state: string | undefined;
}

/** Zero amounts, one per jurisdiction. */
function zeroTaxes(jurs: readonly Jurisdiction[]): JurisdictionTax[] {
  const zero: JurisdictionTax[] = [];
  for (let i = 0; i < jurs.length; i++) zero.push({ jurisdiction: jurs[i]!, rate: '0', taxable: 0n, amount: 0n });
  return zero;
}

function untaxedLine(base: LineBase, reason: TaxabilityReason, jurisdictions: JurisdictionTax[]): EngineLine {
  const amount = base.line.amount - base.line.discount;
  return { line: base.line, taxCode: base.taxCode, reason, country: base.country, state: base.state, net: amount, gross: amount, taxable: 0n, tax: 0n, jurisdictions };
}
