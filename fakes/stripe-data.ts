/**
 * Stripe (API 2025-03-31.basil) record shapes, currency exponents and the seeded generator that fills
 * a fake's state. Basil shapes: lines carry `taxes[]`, `pricing.price_details` and `parent`; invoices
 * carry `total_taxes`. Amounts are integers in the currency's minor unit; currencies are lower case.
 * See /work/shared/research/stripe-api.md.
 */
import {
  AUSTIN_TX, DAY_MS, GEN_END_MS, GEN_START_MS, IdClock, PLACES, Rng, WallClock, companyName, emailFor, personName, pickPlace,
  placeOf, productSeed, sortableId, spreadTimes, streetLine, vatId, type Place, type ProductSeed,
} from './data.ts';
import { mulMinorByPercent, mulMinorByRate } from './money.ts';
import { IndexedMap } from './store.ts';

export const STRIPE_API_VERSION = '2025-03-31.basil';

/** Stripe's zero-decimal currencies (docs "Currencies"). */
export const STRIPE_ZERO_DECIMAL: ReadonlySet<string> = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
/** Three-decimal currencies; charge amounts must end in 0. */
export const STRIPE_THREE_DECIMAL: ReadonlySet<string> = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/**
 * Digits of the minor unit as Stripe's API counts them. Differs from ISO 4217 for ISK (ISO 0, Stripe 2:
 * `100` is 1 króna and amounts must be multiples of 100).
 */
export function stripeExponent(currency: string): number {
  const c = currency.toLowerCase();
  if (STRIPE_ZERO_DECIMAL.has(c)) return 0;
  if (STRIPE_THREE_DECIMAL.has(c)) return 3;
  return 2;
}

export type Nullable<T> = T | null;

export interface StripeAddress {
  city: Nullable<string>;
  country: Nullable<string>;
  line1: Nullable<string>;
  line2: Nullable<string>;
  postal_code: Nullable<string>;
  state: Nullable<string>;
}

export type TaxExempt = 'none' | 'exempt' | 'reverse';

export interface StripeTaxId {
  id: string;
  object: 'tax_id';
  country: Nullable<string>;
  created: number;
  customer: string;
  livemode: boolean;
  type: string;
  value: string;
  verification: { status: 'verified' | 'pending' | 'unverified' | 'unavailable'; verified_address: null; verified_name: null };
}

export interface StripeCustomer {
  id: string;
  object: 'customer';
  address: Nullable<StripeAddress>;
  balance: number;
  created: number;
  currency: Nullable<string>;
  default_source: null;
  delinquent: boolean;
  description: Nullable<string>;
  email: Nullable<string>;
  invoice_prefix: string;
  invoice_settings: { custom_fields: null; default_payment_method: null; footer: null; rendering_options: null };
  livemode: boolean;
  metadata: Record<string, string>;
  name: Nullable<string>;
  next_invoice_sequence: number;
  phone: Nullable<string>;
  preferred_locales: string[];
  shipping: Nullable<{ address: StripeAddress; name: string; phone: Nullable<string> }>;
  tax_exempt: TaxExempt;
  test_clock: null;
}

export interface StripeProduct {
  id: string;
  object: 'product';
  active: boolean;
  created: number;
  default_price: Nullable<string>;
  description: Nullable<string>;
  images: string[];
  livemode: boolean;
  marketing_features: unknown[];
  metadata: Record<string, string>;
  name: string;
  package_dimensions: null;
  shippable: Nullable<boolean>;
  statement_descriptor: null;
  tax_code: Nullable<string>;
  type: 'service' | 'good';
  unit_label: null;
  updated: number;
  url: null;
}

export interface StripePrice {
  id: string;
  object: 'price';
  active: boolean;
  billing_scheme: 'per_unit';
  created: number;
  currency: string;
  custom_unit_amount: null;
  livemode: boolean;
  lookup_key: null;
  metadata: Record<string, string>;
  nickname: null;
  product: string;
  recurring: Nullable<{ interval: 'month'; interval_count: number; meter: null; trial_period_days: null; usage_type: 'licensed' }>;
  tax_behavior: 'exclusive' | 'inclusive' | 'unspecified';
  tiers_mode: null;
  transform_quantity: null;
  type: 'one_time' | 'recurring';
  unit_amount: number;
  unit_amount_decimal: string;
}

export interface StripeTaxRate {
  id: string;
  object: 'tax_rate';
  active: boolean;
  country: Nullable<string>;
  created: number;
  description: Nullable<string>;
  display_name: string;
  effective_percentage: Nullable<number>;
  flat_amount: null;
  inclusive: boolean;
  jurisdiction: Nullable<string>;
  jurisdiction_level: Nullable<string>;
  livemode: boolean;
  metadata: Record<string, string>;
  /** JSON number, e.g. 8.25 (a percentage, not money). */
  percentage: number;
  rate_type: 'percentage';
  state: Nullable<string>;
  tax_type: Nullable<string>;
}

/** One entry of a basil line's `taxes[]` (and, summed per rate, of an invoice's `total_taxes[]`). */
export interface StripeLineTax {
  amount: number;
  tax_behavior: 'exclusive' | 'inclusive';
  tax_rate_details: { tax_rate: string };
  taxability_reason: Nullable<string>;
  taxable_amount: Nullable<number>;
  type: 'tax_rate_details';
}

export interface StripeLineItem {
  id: string;
  object: 'line_item';
  amount: number;
  currency: string;
  description: Nullable<string>;
  discount_amounts: unknown[];
  discountable: boolean;
  discounts: string[];
  invoice: string;
  livemode: boolean;
  metadata: Record<string, string>;
  parent: {
    type: 'invoice_item_details' | 'subscription_item_details';
    invoice_item_details: Nullable<{ invoice_item: string; proration: boolean; proration_details: { credited_items: null }; subscription: Nullable<string> }>;
    subscription_item_details: Nullable<{ invoice_item: null; proration: boolean; proration_details: { credited_items: null }; subscription: string; subscription_item: string }>;
  };
  period: { end: number; start: number };
  pretax_credit_amounts: unknown[];
  pricing: { price_details: { price: string; product: string }; type: 'price_details'; unit_amount_decimal: string };
  quantity: number;
  taxes: StripeLineTax[];
}

export type StripeInvoiceStatus = 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';

/** An invoice as stored (its lines live in `data.lines`; `renderInvoice` embeds the first page). */
export interface StripeInvoice {
  id: string;
  object: 'invoice';
  account_country: string;
  account_name: string;
  amount_due: number;
  amount_paid: number;
  amount_remaining: number;
  attempt_count: number;
  attempted: boolean;
  auto_advance: boolean;
  automatic_tax: { disabled_reason: null; enabled: boolean; liability: null; provider: null; status: null };
  automatically_finalizes_at: Nullable<number>;
  billing_reason: 'manual' | 'subscription_cycle' | 'subscription_create';
  collection_method: 'charge_automatically' | 'send_invoice';
  created: number;
  currency: string;
  customer: string;
  customer_address: Nullable<StripeAddress>;
  customer_email: Nullable<string>;
  customer_name: Nullable<string>;
  customer_phone: Nullable<string>;
  customer_shipping: null;
  customer_tax_exempt: TaxExempt;
  customer_tax_ids: { type: string; value: string }[];
  default_tax_rates: StripeTaxRate[];
  description: Nullable<string>;
  discounts: string[];
  due_date: Nullable<number>;
  effective_at: Nullable<number>;
  ending_balance: Nullable<number>;
  footer: null;
  hosted_invoice_url: Nullable<string>;
  issuer: { type: 'self' };
  livemode: boolean;
  metadata: Record<string, string>;
  number: Nullable<string>;
  parent: Nullable<{ type: 'subscription_details'; quote_details: null; subscription_details: { metadata: Record<string, string>; subscription: string } }>;
  period_end: number;
  period_start: number;
  status: StripeInvoiceStatus;
  status_transitions: { finalized_at: Nullable<number>; marked_uncollectible_at: Nullable<number>; paid_at: Nullable<number>; voided_at: Nullable<number> };
  subtotal: number;
  subtotal_excluding_tax: number;
  total: number;
  total_discount_amounts: unknown[];
  total_excluding_tax: number;
  total_pretax_credit_amounts: unknown[];
  total_taxes: StripeLineTax[];
  webhooks_delivered_at: Nullable<number>;
}

export interface StripeCreditNoteLine {
  id: string;
  object: 'credit_note_line_item';
  amount: number;
  description: Nullable<string>;
  discount_amount: number;
  discount_amounts: unknown[];
  invoice_line_item: string;
  livemode: boolean;
  metadata: Record<string, string>;
  pretax_credit_amounts: unknown[];
  quantity: number;
  tax_rates: StripeTaxRate[];
  taxes: StripeLineTax[];
  type: 'invoice_line_item' | 'custom_line_item';
  unit_amount: Nullable<number>;
  unit_amount_decimal: Nullable<string>;
}

export interface StripeCreditNote {
  id: string;
  object: 'credit_note';
  amount: number;
  amount_shipping: number;
  created: number;
  currency: string;
  customer: string;
  customer_balance_transaction: null;
  discount_amount: number;
  discount_amounts: unknown[];
  effective_at: Nullable<number>;
  invoice: string;
  livemode: boolean;
  memo: Nullable<string>;
  metadata: Record<string, string>;
  number: string;
  out_of_band_amount: Nullable<number>;
  pdf: string;
  post_payment_amount: number;
  pre_payment_amount: number;
  pretax_credit_amounts: unknown[];
  reason: Nullable<'duplicate' | 'fraudulent' | 'order_change' | 'product_unsatisfactory'>;
  refunds: unknown[];
  shipping_cost: null;
  status: 'issued' | 'void';
  subtotal: number;
  subtotal_excluding_tax: number;
  total: number;
  total_excluding_tax: number;
  total_taxes: StripeLineTax[];
  type: 'pre_payment' | 'post_payment' | 'mixed';
  voided_at: Nullable<number>;
}

export interface StripeEvent {
  id: string;
  object: 'event';
  account?: string;
  api_version: string;
  created: number;
  data: { object: unknown; previous_attributes?: Record<string, unknown> };
  livemode: boolean;
  pending_webhooks: number;
  request: { id: Nullable<string>; idempotency_key: Nullable<string> };
  type: string;
}

export interface StripeWebhookEndpoint {
  id: string;
  object: 'webhook_endpoint';
  api_version: Nullable<string>;
  application: null;
  created: number;
  description: Nullable<string>;
  enabled_events: string[];
  livemode: boolean;
  metadata: Record<string, string>;
  /** Only returned by the create call. */
  secret?: string;
  status: 'enabled' | 'disabled';
  url: string;
}

export interface StripeData {
  customers: IndexedMap<StripeCustomer>;
  /** Ids of deleted customers (GET answers `{id, object, deleted: true}`). */
  deletedCustomers: Set<string>;
  taxIds: Map<string, StripeTaxId[]>;
  products: IndexedMap<StripeProduct>;
  prices: IndexedMap<StripePrice>;
  invoices: IndexedMap<StripeInvoice>;
  /** Lines per invoice id, in invoice order. */
  lines: Map<string, StripeLineItem[]>;
  creditNotes: IndexedMap<StripeCreditNote>;
  creditNoteLines: Map<string, StripeCreditNoteLine[]>;
  taxRates: IndexedMap<StripeTaxRate>;
  events: IndexedMap<StripeEvent>;
  webhookEndpoints: IndexedMap<StripeWebhookEndpoint>;
  /** Signing secrets per endpoint id (never rendered after create). */
  endpointSecrets: Map<string, string>;
  /** Lines whose taxes come from TaxRate objects (`tax_rates`): Stripe refuses manual tax_amounts on them. */
  rateLines: Set<string>;
}

export interface StripeCounts {
  customers: number;
  products: number;
  invoices: number;
  creditNotes: number;
}

export const STRIPE_DEFAULT_COUNTS: StripeCounts = { customers: 40, products: 12, invoices: 120, creditNotes: 12 };

/** Input for a generated or explicit line. `amount` wins over unit_amount × quantity. */
export interface StripeLineInput {
  description?: string;
  quantity?: number;
  unit_amount?: number;
  amount?: number;
  price?: string;
  /** Tax rates on the line (makes Stripe refuse manual tax_amounts on it). */
  tax_rates?: StripeTaxRate[];
}

const STATUS_MIX: readonly (readonly [StripeInvoiceStatus, number])[] = [['draft', 30], ['open', 25], ['paid', 35], ['void', 5], ['uncollectible', 5]];

export const toUnix = (ms: number): number => Math.floor(ms / 1000);

export function currencyForCountry(country: string): string {
  switch (country) {
    case 'US': return 'usd';
    case 'CA': return 'cad';
    case 'GB': return 'gbp';
    case 'JP': return 'jpy';
    case 'IS': return 'isk';
    default: return 'eur';
  }
}

const TOKYO: Place = {
  region: 'UK', country: 'JP', city: 'Tokyo', postcode: '100-0005', streets: ['Marunouchi', 'Otemachi'], rate: '0.1', taxLabel: 'JCT', taxType: 'VAT', currency: 'USD',
};
const REYKJAVIK: Place = {
  region: 'EU', country: 'IS', city: 'Reykjavík', postcode: '101', streets: ['Laugavegur', 'Skólavörðustígur'], rate: '0.24', taxLabel: 'VSK', taxType: 'VAT', currency: 'EUR',
};

/** The unit amount of a catalogue product in a currency, in Stripe's minor units. */
export function unitAmountFor(seed: ProductSeed, currency: string): number {
  const cents = Number(seed.priceMinor);
  if (STRIPE_ZERO_DECIMAL.has(currency)) return Math.max(1, Math.round(cents)); // "2500" cents-like number read as yen
  if (currency === 'isk') return Math.max(1, Math.round(cents)) * 100; // multiples of 100
  if (STRIPE_THREE_DECIMAL.has(currency)) return cents * 10;
  return cents;
}

/** Makes records; keeps clocks, counters and catalogue seeds. */
export class StripeFactory {
  readonly rng: Rng;
  readonly wall = new WallClock();
  readonly data: StripeData = {
    customers: new IndexedMap(), deletedCustomers: new Set(), taxIds: new Map(), products: new IndexedMap(), prices: new IndexedMap(),
    invoices: new IndexedMap(), lines: new Map(), creditNotes: new IndexedMap(), creditNoteLines: new Map(), taxRates: new IndexedMap(),
    events: new IndexedMap(), webhookEndpoints: new IndexedMap(), endpointSecrets: new Map(), rateLines: new Set(),
  };
  private clock = new IdClock();
  private productSeeds = new Map<string, ProductSeed>();
  private productIds: string[] = [];
  private customerIds: string[] = [];
  /** price id per product and currency */
  private priceOf = new Map<string, string>();
  /** historical tax rate per place label */
  private placeRates = new Map<string, StripeTaxRate>();
  private invoiceNo = 0;
  private creditNoteNo = 0;

  constructor(seed: number, readonly livemode: boolean, readonly accountCountry = 'US') {
    this.rng = new Rng(seed);
  }

  /** A time-ordered id `<prefix>_...` and the ms it was made at. */
  id(prefix: string, ms: number): { id: string; ms: number } {
    const t = this.clock.take(ms);
    this.wall.observe(t.ms);
    return { id: sortableId(prefix, t.ms, t.seq, this.rng), ms: t.ms };
  }

  generate(counts: StripeCounts, lines: number | readonly [number, number]): void {
    const pt = spreadTimes(counts.products, GEN_START_MS - 30 * DAY_MS, GEN_START_MS, this.rng);
    for (let i = 0; i < counts.products; i++) this.makeProduct(pt(i), i);
    const ct = spreadTimes(counts.customers, GEN_START_MS, GEN_START_MS + 60 * DAY_MS, this.rng);
    for (let i = 0; i < counts.customers; i++) this.makeCustomer(ct(i), i);
    const it = spreadTimes(counts.invoices, GEN_START_MS + 7 * DAY_MS, GEN_END_MS, this.rng);
    const credited: string[] = [];
    for (let i = 0; i < counts.invoices && this.customerIds.length > 0; i++) {
      const status = this.rng.weighted(STATUS_MIX);
      const n = typeof lines === 'number' ? lines : this.rng.int(lines[0], lines[1]);
      const inv = this.makeInvoice(it(i), { status, auto_advance: status !== 'draft', billing_reason: this.rng.chance(0.6) ? 'subscription_cycle' : 'manual' }, undefined, n);
      if (status === 'paid' || status === 'open') credited.push(inv.id);
    }
    const nt = spreadTimes(counts.creditNotes, GEN_END_MS + DAY_MS, GEN_END_MS + 30 * DAY_MS, this.rng);
    for (let i = 0; i < counts.creditNotes && credited.length > 0; i++) this.makeCreditNote(nt(i), this.rng.pick(credited));
  }

  makeProduct(ms: number, i = this.productIds.length, partial: Partial<StripeProduct> & { unitAmount?: number } = {}): StripeProduct {
    const { id, ms: t } = this.id('prod', ms);
    const seed = productSeed(this.rng, i);
    if (partial.unitAmount !== undefined) seed.priceMinor = BigInt(partial.unitAmount);
    const created = toUnix(t);
    const taxCode = seed.kind === 'saas' ? 'txcd_10103001' : seed.kind === 'digital' ? 'txcd_10302000' : seed.kind === 'services' ? 'txcd_20030000' : seed.kind === 'goods' ? 'txcd_99999999' : null;
    const p: StripeProduct = {
      id, object: 'product', active: true, created, default_price: null, description: seed.description, images: [], livemode: this.livemode,
      marketing_features: [], metadata: {}, name: seed.name, package_dimensions: null, shippable: seed.kind === 'goods' ? true : null,
      statement_descriptor: null, tax_code: this.rng.chance(0.8) ? taxCode : null, type: 'service', unit_label: null, updated: created, url: null,
    };
    const { unitAmount: _u, ...rest } = partial;
    Object.assign(p, rest, { id, object: 'product' });
    seed.name = p.name;
    this.productSeeds.set(id, seed);
    this.productIds.push(id);
    this.data.products.set(id, p);
    for (const cur of ['usd', 'eur', 'gbp', 'cad', 'jpy', 'isk']) {
      const price = this.makePrice(t, p, seed, cur);
      if (cur === 'usd') p.default_price = price.id;
    }
    return p;
  }

  private makePrice(ms: number, p: StripeProduct, seed: ProductSeed, currency: string): StripePrice {
    const { id } = this.id('price', ms);
    const amount = unitAmountFor(seed, currency);
    const price: StripePrice = {
      id, object: 'price', active: true, billing_scheme: 'per_unit', created: p.created, currency, custom_unit_amount: null, livemode: this.livemode,
      lookup_key: null, metadata: {}, nickname: null, product: p.id,
      recurring: seed.recurring ? { interval: 'month', interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' } : null,
      tax_behavior: 'exclusive', tiers_mode: null, transform_quantity: null, type: seed.recurring ? 'recurring' : 'one_time',
      unit_amount: amount, unit_amount_decimal: String(amount),
    };
    this.data.prices.set(id, price);
    this.priceOf.set(`${p.id}|${currency}`, id);
    return price;
  }

  makeCustomer(ms: number, i = this.customerIds.length, partial: Partial<StripeCustomer> = {}): StripeCustomer {
    const rng = this.rng;
    const { id, ms: t } = this.id('cus', ms);
    // fixed showcases first: tests and demos rely on them
    const showcase: [Place, TaxExempt, boolean][] = [
      [AUSTIN_TX, 'none', false], [placeOf('DE')!, 'reverse', true], [placeOf('US', 'NY')!, 'exempt', false], [placeOf('CA', 'ON')!, 'none', false],
      [PLACES.find((p) => p.country === 'GB')!, 'none', true], [TOKYO, 'none', false], [REYKJAVIK, 'none', false],
    ];
    let place: Place;
    let exempt: TaxExempt = 'none';
    let vat = false;
    if (i < showcase.length) [place, exempt, vat] = showcase[i]!;
    else {
      place = pickPlace(rng);
      if (place.region === 'EU' && rng.chance(0.6)) [exempt, vat] = ['reverse', true];
      else if (place.region === 'UK' && rng.chance(0.5)) vat = true;
      else if (place.region === 'US' && rng.chance(0.1)) exempt = 'exempt';
    }
    const name = companyName(rng, place.country, exempt === 'exempt');
    const person = personName(rng);
    const address: StripeAddress = {
      city: place.city, country: place.country, line1: streetLine(rng, place), line2: rng.chance(0.25) ? `Suite ${rng.int(100, 999)}` : null,
      postal_code: place.postcode, state: place.state ?? null,
    };
    const c: StripeCustomer = {
      id, object: 'customer', address, balance: 0, created: toUnix(t), currency: currencyForCountry(place.country), default_source: null, delinquent: false,
      description: null, email: emailFor(person, name), invoice_prefix: rng.hex(8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null }, livemode: this.livemode,
      metadata: {}, name, next_invoice_sequence: 1, phone: null, preferred_locales: [], shipping: null, tax_exempt: exempt, test_clock: null,
    };
    Object.assign(c, partial, { id, object: 'customer' });
    if (vat && c.address?.country) {
      const country = c.address.country;
      const { id: txi } = this.id('txi', t);
      this.data.taxIds.set(id, [{
        id: txi, object: 'tax_id', country, created: c.created, customer: id, livemode: this.livemode, type: country === 'GB' ? 'gb_vat' : 'eu_vat',
        value: vatId(rng, country), verification: { status: 'verified', verified_address: null, verified_name: null },
      }]);
    }
    this.customerIds.push(id);
    this.data.customers.set(id, c);
    return c;
  }

  forgetCustomer(id: string): void {
    const i = this.customerIds.indexOf(id);
    if (i >= 0) this.customerIds.splice(i, 1);
  }

  pickCustomerId(): string | undefined {
    return this.customerIds.length === 0 ? undefined : this.rng.pick(this.customerIds);
  }

  /** The archived rate a generated, already-finalized invoice carries for its customer's place. */
  historicalRate(c: StripeCustomer, ms: number): { rate: StripeTaxRate; fraction: string } | undefined {
    if (c.tax_exempt !== 'none' || !c.address?.country) return undefined;
    const place = placeOf(c.address.country, c.address.state ?? undefined) ?? placeOf(c.address.country)
      ?? (c.address.country === 'JP' ? TOKYO : c.address.country === 'IS' ? REYKJAVIK : undefined);
    if (!place || place.rate === '0') return undefined;
    let rate = this.placeRates.get(place.taxLabel + place.city);
    if (!rate) {
      rate = this.makeTaxRate(ms, {
        display_name: place.taxType === 'SALES_TAX' ? 'Sales tax' : place.taxType === 'GST' ? 'GST' : 'VAT', inclusive: false,
        percentage: percentOf(place.rate), country: place.country, state: place.state ?? null, jurisdiction: place.state ? `${place.state} - ${place.city}` : place.country,
        jurisdiction_level: place.state ? 'multiple' : 'country', tax_type: place.taxType === 'SALES_TAX' ? 'sales_tax' : place.taxType === 'GST' ? 'gst' : 'vat', description: place.taxLabel,
      });
      this.placeRates.set(place.taxLabel + place.city, rate);
    }
    return { rate, fraction: place.rate };
  }

  makeTaxRate(ms: number, d: Omit<StripeTaxRate, 'id' | 'object' | 'active' | 'created' | 'effective_percentage' | 'flat_amount' | 'livemode' | 'metadata' | 'rate_type' | 'description' | 'country' | 'state' | 'jurisdiction' | 'jurisdiction_level' | 'tax_type'> & Partial<StripeTaxRate>): StripeTaxRate {
    const { id, ms: t } = this.id('txr', ms);
    const r: StripeTaxRate = {
      id, object: 'tax_rate', active: false, country: null, created: toUnix(t), description: null, effective_percentage: null, flat_amount: null,
      jurisdiction: null, jurisdiction_level: null, livemode: this.livemode, metadata: {}, rate_type: 'percentage', state: null, tax_type: null, ...d,
    };
    this.data.taxRates.set(id, r);
    return r;
  }

  makeInvoice(ms: number, partial: Partial<StripeInvoice> = {}, inputs?: StripeLineInput[], lineCount = 3): StripeInvoice {
    const rng = this.rng;
    const customerId = partial.customer ?? this.pickCustomerId();
    if (customerId === undefined) throw new Error('no customer to invoice');
    const cust = this.data.customers.get(customerId);
    if (!cust) throw new Error(`unknown customer ${customerId}`);
    const { id, ms: t } = this.id('in', ms);
    const created = toUnix(t);
    const status = partial.status ?? 'draft';
    const currency = (partial.currency ?? cust.currency ?? 'usd').toLowerCase();
    const finalized = status !== 'draft';
    const subscription = (partial.billing_reason ?? 'manual') !== 'manual' ? `sub_${rng.hex(14)}` : undefined;
    const inv: StripeInvoice = {
      id, object: 'invoice', account_country: this.accountCountry, account_name: 'Taxbridge Demo Inc.', amount_due: 0, amount_paid: 0, amount_remaining: 0,
      attempt_count: 0, attempted: false, auto_advance: partial.auto_advance ?? false,
      automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null }, automatically_finalizes_at: null,
      billing_reason: partial.billing_reason ?? 'manual', collection_method: 'charge_automatically', created, currency, customer: customerId,
      customer_address: cust.address ? { ...cust.address } : null, customer_email: cust.email, customer_name: cust.name, customer_phone: cust.phone,
      customer_shipping: null, customer_tax_exempt: cust.tax_exempt,
      customer_tax_ids: (this.data.taxIds.get(customerId) ?? []).map((x) => ({ type: x.type, value: x.value })), default_tax_rates: [], description: null,
      discounts: [], due_date: null, effective_at: finalized ? created + 3600 : null, ending_balance: finalized ? 0 : null, footer: null,
      hosted_invoice_url: finalized ? `https://invoice.stripe.com/i/acct_fake/${id}` : null, issuer: { type: 'self' }, livemode: this.livemode, metadata: {},
      number: finalized ? `${cust.invoice_prefix}-${String(++this.invoiceNo).padStart(4, '0')}` : null,
      parent: subscription ? { type: 'subscription_details', quote_details: null, subscription_details: { metadata: {}, subscription } } : null,
      period_end: created, period_start: created - 30 * 86400, status,
      status_transitions: {
        finalized_at: finalized ? created + 3600 : null, marked_uncollectible_at: status === 'uncollectible' ? created + 40 * 86400 : null,
        paid_at: status === 'paid' ? created + 3600 + rng.int(60, 20 * 86400) : null, voided_at: status === 'void' ? created + 7200 : null,
      },
      subtotal: 0, subtotal_excluding_tax: 0, total: 0, total_discount_amounts: [], total_excluding_tax: 0, total_pretax_credit_amounts: [], total_taxes: [],
      webhooks_delivered_at: created,
    };
    Object.assign(inv, partial, { id, object: 'invoice', created });
    const hist = finalized && !inputs ? this.historicalRate(cust, t) : undefined;
    const lines = inputs ? inputs.map((inp, k) => this.line(inv, t, k, inp, subscription))
      : Array.from({ length: lineCount }, (_, k) => this.line(inv, t, k, this.catalogueLine(currency), subscription));
    if (hist) {
      for (const l of lines) {
        const tax = Number(mulMinorByRate(BigInt(l.amount), hist.fraction));
        l.taxes = [{ amount: tax, tax_behavior: 'exclusive', tax_rate_details: { tax_rate: hist.rate.id }, taxability_reason: 'standard_rated', taxable_amount: l.amount, type: 'tax_rate_details' }];
      }
    }
    this.data.lines.set(id, lines);
    recomputeInvoice(inv, lines);
    if (inv.status === 'paid') {
      inv.amount_paid = inv.amount_due;
      inv.amount_remaining = 0;
    }
    this.data.invoices.set(id, inv);
    return inv;
  }

  private catalogueLine(currency: string): StripeLineInput {
    const rng = this.rng;
    if (this.productIds.length === 0) return { description: 'Services', quantity: 1, unit_amount: unitAmountFor({ priceMinor: BigInt(rng.int(1000, 99999)) } as ProductSeed, currency) };
    const pid = rng.pick(this.productIds);
    const seed = this.productSeeds.get(pid)!;
    const quantity = seed.kind === 'usage' ? rng.int(1, 5000) : rng.pick([1, 1, 1, 2, 3, 5, 10, 12, 25]);
    return { description: seed.name, quantity, unit_amount: unitAmountFor(seed, currency), price: this.priceOf.get(`${pid}|${currency}`) };
  }

  /** One line; amount = quantity × unit_amount unless `amount` is given. */
  line(inv: StripeInvoice, ms: number, k: number, inp: StripeLineInput, subscription?: string): StripeLineItem {
    const { id } = this.id('il', ms);
    const quantity = inp.quantity ?? 1;
    const price = inp.price !== undefined ? this.data.prices.get(inp.price) : undefined;
    const unit = inp.unit_amount ?? price?.unit_amount ?? 0;
    const amount = inp.amount ?? unit * quantity;
    const product = price?.product ?? this.productIds[0] ?? 'prod_adhoc';
    const { id: ii } = this.id('ii', ms);
    return {
      id, object: 'line_item', amount, currency: inv.currency, description: inp.description ?? (price ? this.data.products.get(price.product)?.name ?? null : null),
      discount_amounts: [], discountable: true, discounts: [], invoice: inv.id, livemode: this.livemode, metadata: {},
      parent: subscription
        ? { type: 'subscription_item_details', invoice_item_details: null, subscription_item_details: { invoice_item: null, proration: false, proration_details: { credited_items: null }, subscription, subscription_item: `si_${this.rng.hex(14)}` } }
        : { type: 'invoice_item_details', invoice_item_details: { invoice_item: ii, proration: false, proration_details: { credited_items: null }, subscription: null }, subscription_item_details: null },
      period: { end: inv.period_end, start: inv.period_start }, pretax_credit_amounts: [],
      pricing: { price_details: { price: price?.id ?? `price_adhoc_${k}`, product }, type: 'price_details', unit_amount_decimal: String(unit) },
      quantity,
      taxes: (inp.tax_rates ?? []).map((r) => {
        this.data.rateLines.add(id);
        const tax = Number(mulMinorByPercent(BigInt(amount), String(r.percentage)));
        return { amount: tax, tax_behavior: r.inclusive ? 'inclusive' : 'exclusive', tax_rate_details: { tax_rate: r.id }, taxability_reason: null, taxable_amount: amount, type: 'tax_rate_details' };
      }),
    };
  }

  makeCreditNote(ms: number, invoiceId: string, partial: Partial<StripeCreditNote> = {}, lineCount?: number): StripeCreditNote {
    const inv = this.data.invoices.get(invoiceId);
    if (!inv) throw new Error(`unknown invoice ${invoiceId}`);
    const src = this.data.lines.get(invoiceId) ?? [];
    const { id, ms: t } = this.id('cn', ms);
    const k = lineCount ?? (src.length === 0 ? 0 : this.rng.int(1, src.length));
    const lines: StripeCreditNoteLine[] = src.slice(0, k).map((l) => ({
      id: this.id('cnli', t).id, object: 'credit_note_line_item', amount: l.amount, description: l.description, discount_amount: 0, discount_amounts: [],
      invoice_line_item: l.id, livemode: this.livemode, metadata: {}, pretax_credit_amounts: [], quantity: l.quantity, tax_rates: [],
      taxes: l.taxes.map((x) => ({ ...x, tax_rate_details: { ...x.tax_rate_details } })), type: 'invoice_line_item',
      unit_amount: Number(l.pricing.unit_amount_decimal), unit_amount_decimal: l.pricing.unit_amount_decimal,
    }));
    const sub = lines.reduce((s, l) => s + l.amount, 0);
    const taxes = sumTaxes(lines.map((l) => l.taxes));
    const excl = taxes.filter((x) => x.tax_behavior === 'exclusive').reduce((s, x) => s + x.amount, 0);
    const incl = taxes.filter((x) => x.tax_behavior === 'inclusive').reduce((s, x) => s + x.amount, 0);
    const total = sub + excl;
    const cust = this.data.customers.get(inv.customer);
    const cn: StripeCreditNote = {
      id, object: 'credit_note', amount: total, amount_shipping: 0, created: toUnix(t), currency: inv.currency, customer: inv.customer,
      customer_balance_transaction: null, discount_amount: 0, discount_amounts: [], effective_at: toUnix(t), invoice: invoiceId, livemode: this.livemode,
      memo: null, metadata: {}, number: `${cust?.invoice_prefix ?? 'CN'}-CN-${String(++this.creditNoteNo).padStart(2, '0')}`,
      out_of_band_amount: null, pdf: `https://pay.stripe.com/credit_notes/acct_fake/${id}/pdf`,
      post_payment_amount: inv.status === 'paid' ? total : 0, pre_payment_amount: inv.status === 'paid' ? 0 : total, pretax_credit_amounts: [],
      reason: this.rng.pick(['order_change', 'product_unsatisfactory', 'duplicate'] as const), refunds: [], shipping_cost: null, status: 'issued',
      subtotal: sub, subtotal_excluding_tax: sub - incl, total, total_excluding_tax: total - excl - incl, total_taxes: taxes,
      type: inv.status === 'paid' ? 'post_payment' : 'pre_payment', voided_at: null,
    };
    Object.assign(cn, partial, { id, object: 'credit_note' });
    this.data.creditNoteLines.set(id, lines);
    this.data.creditNotes.set(id, cn);
    return cn;
  }

  nextInvoiceNumber(prefix: string): string {
    return `${prefix}-${String(++this.invoiceNo).padStart(4, '0')}`;
  }
}

/** A decimal fraction as a percentage number: "0.0825" -> 8.25 (TaxRate.percentage, Chargebee tax_rate). */
export function percentOf(fraction: string): number {
  const [i, f = ''] = fraction.split('.');
  const digits = (i! + f).replace(/^0+(?=\d)/, '');
  const scale = f.length - 2;
  if (scale <= 0) return Number(digits + '0'.repeat(-scale));
  const s = digits.padStart(scale + 1, '0');
  return Number(`${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`);
}

/** Sum tax entries per (rate, behaviour, reason), in first-seen order: an invoice's `total_taxes`. */
export function sumTaxes(perLine: readonly (readonly StripeLineTax[])[]): StripeLineTax[] {
  const out = new Map<string, StripeLineTax>();
  for (const taxes of perLine) {
    for (const t of taxes) {
      const k = `${t.tax_rate_details.tax_rate}|${t.tax_behavior}|${t.taxability_reason ?? ''}`;
      const hit = out.get(k);
      if (hit) {
        hit.amount += t.amount;
        hit.taxable_amount = (hit.taxable_amount ?? 0) + (t.taxable_amount ?? 0);
      } else out.set(k, { ...t, tax_rate_details: { ...t.tax_rate_details } });
    }
  }
  return [...out.values()];
}

/** Totals from the lines: total = subtotal + exclusive taxes; amount_due = total; remaining = due - paid. */
export function recomputeInvoice(inv: StripeInvoice, lines: readonly StripeLineItem[]): void {
  const sub = lines.reduce((s, l) => s + l.amount, 0);
  inv.total_taxes = sumTaxes(lines.map((l) => l.taxes));
  const excl = inv.total_taxes.filter((x) => x.tax_behavior === 'exclusive').reduce((s, x) => s + x.amount, 0);
  const incl = inv.total_taxes.filter((x) => x.tax_behavior === 'inclusive').reduce((s, x) => s + x.amount, 0);
  inv.subtotal = sub;
  inv.subtotal_excluding_tax = sub - incl;
  inv.total = sub + excl;
  inv.total_excluding_tax = sub - incl;
  inv.amount_due = inv.total;
  inv.amount_remaining = Math.max(0, inv.amount_due - inv.amount_paid);
}
