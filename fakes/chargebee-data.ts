/**
 * Chargebee (API v2, Product Catalog 2.0) record shapes and the seeded generator that fills a fake's
 * state. Money is integer minor units (cents; yen for JPY), `currency_code` upper case, times Unix
 * seconds, `resource_version` ms. Deleted records stay, flagged `deleted: true`.
 * See /work/shared/research/chargebee-api.md.
 */
import {
  AUSTIN_TX, DAY_MS, GEN_END_MS, GEN_START_MS, PLACES, Rng, WallClock, companyName, emailFor, personName, pickPlace, placeOf, productSeed,
  slug, spreadTimes, streetLine, vatId, type Place, type ProductSeed,
} from './data.ts';
import { mulMinorByRate } from './money.ts';
import { IndexedMap } from './store.ts';
import { percentOf } from './stripe-data.ts';

export interface CbAddress {
  first_name?: string;
  last_name?: string;
  company?: string;
  line1?: string;
  line2?: string;
  line3?: string;
  city?: string;
  state_code?: string;
  state?: string;
  zip?: string;
  country?: string;
  validation_status: 'not_validated' | 'valid' | 'partially_valid' | 'invalid';
  object: 'billing_address' | 'shipping_address';
}

export interface CbCustomer {
  id: string;
  first_name?: string;
  last_name?: string;
  email?: string;
  company?: string;
  phone?: string;
  vat_number?: string;
  vat_number_status?: 'valid' | 'invalid' | 'not_validated' | 'undetermined';
  auto_collection: 'on' | 'off';
  offline_payment_method: 'no_preference';
  net_term_days: number;
  allow_direct_debit: boolean;
  created_at: number;
  updated_at: number;
  resource_version: number;
  taxability: 'taxable' | 'exempt';
  entity_code?: string;
  exempt_number?: string;
  customer_type?: 'residential' | 'business' | 'senior_citizen' | 'industrial';
  pii_cleared: 'active';
  channel: 'web';
  card_status: 'no_card';
  promotional_credits: number;
  refundable_credits: number;
  excess_payments: number;
  unbilled_charges: number;
  preferred_currency_code: string;
  billing_address?: CbAddress;
  deleted: boolean;
  object: 'customer';
}

export interface CbItem {
  id: string;
  name: string;
  external_name: string;
  description?: string;
  status: 'active' | 'archived' | 'deleted';
  resource_version: number;
  updated_at: number;
  item_family_id: string;
  type: 'plan' | 'addon' | 'charge';
  is_shippable: boolean;
  is_giftable: boolean;
  enabled_for_checkout: boolean;
  enabled_in_portal: boolean;
  item_applicability: 'all';
  metered: boolean;
  channel: 'web';
  deleted: boolean;
  object: 'item';
}

export interface CbItemPrice {
  id: string;
  name: string;
  item_family_id: string;
  item_id: string;
  item_type: CbItem['type'];
  status: 'active' | 'archived' | 'deleted';
  external_name: string;
  pricing_model: 'flat_fee' | 'per_unit';
  price: number;
  period?: number;
  period_unit?: 'month' | 'year';
  currency_code: string;
  is_taxable: boolean;
  tax_detail?: { tax_profile_id?: string; avalara_tax_code?: string; taxjar_product_code?: string };
  free_quantity: number;
  created_at: number;
  updated_at: number;
  resource_version: number;
  channel: 'web';
  deleted: boolean;
  object: 'item_price';
}

export type CbInvoiceStatus = 'paid' | 'posted' | 'payment_due' | 'not_paid' | 'voided' | 'pending';
export const CB_INVOICE_STATUSES: readonly CbInvoiceStatus[] = ['paid', 'posted', 'payment_due', 'not_paid', 'voided', 'pending'];

export interface CbLineItem {
  id: string;
  date_from: number;
  date_to: number;
  unit_amount: number;
  quantity: number;
  amount: number;
  pricing_model: 'flat_fee' | 'per_unit';
  is_taxed: boolean;
  tax_amount: number;
  tax_rate?: number;
  tax_exempt_reason?: 'tax_not_configured' | 'customer_exempt' | 'product_exempt' | 'region_non_taxable' | 'reverse_charge' | 'zero_rated';
  object: 'line_item';
  subscription_id?: string;
  customer_id: string;
  description: string;
  entity_type: 'plan_item_price' | 'addon_item_price' | 'charge_item_price' | 'adhoc';
  entity_id?: string;
  discount_amount: number;
  item_level_discount_amount: number;
}

export interface CbTax {
  object: 'tax';
  name: string;
  amount: number;
  description?: string;
}

export interface CbLineItemTax {
  object: 'line_item_tax';
  line_item_id: string;
  tax_name: string;
  tax_rate: number;
  taxable_amount: number;
  tax_amount: number;
  is_partial_tax_applied: boolean;
  is_non_compliance_tax: boolean;
  tax_juris_type: 'country' | 'federal' | 'state' | 'county' | 'city' | 'special' | 'unincorporated' | 'other';
  tax_juris_name: string;
  tax_juris_code: string;
}

export interface CbInvoice {
  id: string;
  customer_id: string;
  subscription_id?: string;
  recurring: boolean;
  status: CbInvoiceStatus;
  price_type: 'tax_exclusive' | 'tax_inclusive';
  date: number;
  due_date?: number;
  net_term_days: number;
  exchange_rate: number;
  currency_code: string;
  total: number;
  amount_paid: number;
  amount_adjusted: number;
  write_off_amount: number;
  credits_applied: number;
  amount_due: number;
  paid_at?: number;
  voided_at?: number;
  updated_at: number;
  resource_version: number;
  deleted: boolean;
  object: 'invoice';
  first_invoice: boolean;
  amount_to_collect: number;
  round_off_amount: number;
  new_sales_amount: number;
  has_advance_charges: boolean;
  term_finalized: boolean;
  is_gifted: boolean;
  generated_at: number;
  channel: 'web';
  tax: number;
  sub_total: number;
  line_items: CbLineItem[];
  taxes: CbTax[];
  line_item_taxes: CbLineItemTax[];
  linked_payments: unknown[];
  applied_credits: unknown[];
  adjustment_credit_notes: unknown[];
  issued_credit_notes: { cn_id: string; cn_reason_code: string; cn_date: number; cn_total: number; cn_status: string }[];
  linked_orders: unknown[];
  dunning_attempts: unknown[];
  billing_address?: CbAddress;
  vat_number?: string;
  po_number?: string;
  comment?: string;
}

export interface CbCreditNote {
  id: string;
  customer_id: string;
  subscription_id?: string;
  reference_invoice_id: string;
  type: 'adjustment' | 'refundable' | 'store';
  reason_code: 'product_unsatisfactory' | 'service_unsatisfactory' | 'order_change' | 'other';
  create_reason_code: string;
  status: 'adjusted' | 'refunded' | 'refund_due' | 'voided';
  date: number;
  price_type: 'tax_exclusive' | 'tax_inclusive';
  exchange_rate: number;
  total: number;
  amount_allocated: number;
  amount_refunded: number;
  amount_available: number;
  refunded_at?: number;
  voided_at?: number;
  generated_at: number;
  resource_version: number;
  updated_at: number;
  channel: 'web';
  sub_total: number;
  round_off_amount: number;
  fractional_correction: number;
  deleted: boolean;
  currency_code: string;
  object: 'credit_note';
  line_items: CbLineItem[];
  taxes: CbTax[];
  line_item_taxes: CbLineItemTax[];
  linked_refunds: unknown[];
  allocations: unknown[];
}

export interface CbEvent {
  id: string;
  occurred_at: number;
  source: 'api' | 'admin_console' | 'scheduled_job' | 'system';
  user?: string;
  object: 'event';
  api_version: 'v2';
  event_type: string;
  webhook_status: 'not_configured' | 'scheduled' | 'succeeded' | 're_scheduled' | 'failed' | 'skipped';
  content: Record<string, unknown>;
}

export interface CbWebhookEndpoint {
  id: string;
  name: string;
  url: string;
  api_version: 'v1' | 'v2';
  disabled: boolean;
  primary_url: boolean;
  enabled_events?: string[];
  send_card_resource: boolean;
  chargebee_response_schema_type: 'compat';
  object: 'webhook_endpoint';
}

export interface ChargebeeData {
  customers: IndexedMap<CbCustomer>;
  items: IndexedMap<CbItem>;
  itemPrices: IndexedMap<CbItemPrice>;
  invoices: IndexedMap<CbInvoice>;
  creditNotes: IndexedMap<CbCreditNote>;
  events: IndexedMap<CbEvent>;
  webhookEndpoints: IndexedMap<CbWebhookEndpoint>;
  /** Basic-auth credentials per webhook endpoint id (write-only in the API). */
  endpointCredentials: Map<string, { username: string; password: string }>;
  /** Creation order key per record id (lists sort by it when no sort_by is given). */
  order: Map<string, number>;
}

export interface ChargebeeCounts {
  customers: number;
  items: number;
  invoices: number;
  creditNotes: number;
}

export const CHARGEBEE_DEFAULT_COUNTS: ChargebeeCounts = { customers: 40, items: 10, invoices: 120, creditNotes: 12 };

export interface CbLineInput {
  item_price_id?: string;
  description?: string;
  quantity?: number;
  unit_amount?: number;
}

const STATUS_MIX: readonly (readonly [CbInvoiceStatus, number])[] = [['paid', 45], ['payment_due', 15], ['posted', 15], ['not_paid', 10], ['voided', 5], ['pending', 10]];

export const unixS = (ms: number): number => Math.floor(ms / 1000);

export function cbCurrencyFor(country: string): string {
  if (country === 'US') return 'USD';
  if (country === 'CA') return 'CAD';
  if (country === 'GB') return 'GBP';
  return 'EUR';
}

/** Makes records with a per-kind counter; ids are Chargebee-looking (random base62, item slugs, invoice numbers). */
export class ChargebeeFactory {
  readonly rng: Rng;
  readonly wall = new WallClock();
  readonly data: ChargebeeData = {
    customers: new IndexedMap(), items: new IndexedMap(), itemPrices: new IndexedMap(), invoices: new IndexedMap(), creditNotes: new IndexedMap(),
    events: new IndexedMap(), webhookEndpoints: new IndexedMap(), endpointCredentials: new Map(), order: new Map(),
  };
  private seq = 0;
  private invoiceNo = 1000;
  private creditNoteNo = 100;
  private seeds = new Map<string, ProductSeed>();
  private customerIds: string[] = [];

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** Record the creation order of an id (the default list order). */
  born(id: string): number {
    const n = ++this.seq;
    this.data.order.set(id, n);
    return n;
  }

  randomId(): string {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (let i = 0; i < 16; i++) s += abc[this.rng.u32() % abc.length];
    return s;
  }

  generate(counts: ChargebeeCounts, lines: number | readonly [number, number]): void {
    const it = spreadTimes(counts.items, GEN_START_MS - 30 * DAY_MS, GEN_START_MS, this.rng);
    for (let i = 0; i < counts.items; i++) this.makeItem(it(i), i);
    const ct = spreadTimes(counts.customers, GEN_START_MS, GEN_START_MS + 60 * DAY_MS, this.rng);
    for (let i = 0; i < counts.customers; i++) this.makeCustomer(ct(i), i);
    const vt = spreadTimes(counts.invoices, GEN_START_MS + 7 * DAY_MS, GEN_END_MS, this.rng);
    const paid: string[] = [];
    for (let i = 0; i < counts.invoices && this.customerIds.length > 0; i++) {
      const n = typeof lines === 'number' ? lines : this.rng.int(lines[0], lines[1]);
      const inv = this.makeInvoice(vt(i), { status: this.rng.weighted(STATUS_MIX) }, undefined, n);
      if (inv.status === 'paid') paid.push(inv.id);
    }
    const nt = spreadTimes(counts.creditNotes, GEN_END_MS + DAY_MS, GEN_END_MS + 30 * DAY_MS, this.rng);
    for (let i = 0; i < counts.creditNotes && paid.length > 0; i++) this.makeCreditNote(nt(i), this.rng.pick(paid));
  }

  makeItem(ms: number, i = this.seeds.size, partial: Partial<CbItem> = {}): CbItem {
    const seed = productSeed(this.rng, i);
    const type: CbItem['type'] = seed.recurring ? (i % 3 === 1 ? 'addon' : 'plan') : 'charge';
    let id = partial.id ?? slug(seed.name).replace(/(.{1,40}).*/, '$1');
    while (this.data.items.has(id)) id = `${id}-${i}`;
    const t = unixS(ms);
    const item: CbItem = {
      id, name: seed.name, external_name: seed.name, description: seed.description, status: 'active', resource_version: ms, updated_at: t,
      item_family_id: 'cloud-platform', type, is_shippable: seed.kind === 'goods', is_giftable: false, enabled_for_checkout: true, enabled_in_portal: true,
      item_applicability: 'all', metered: seed.kind === 'usage', channel: 'web', deleted: false, object: 'item',
    };
    Object.assign(item, partial, { id, object: 'item' });
    this.born(id);
    this.seeds.set(id, seed);
    this.data.items.set(id, item);
    for (const cur of ['USD', 'EUR', 'GBP', 'CAD']) this.makeItemPrice(ms, item, seed, cur);
    return item;
  }

  private makeItemPrice(ms: number, item: CbItem, seed: ProductSeed, currency: string): CbItemPrice {
    const id = `${item.id}-${currency}${item.type === 'charge' ? '' : '-Monthly'}`;
    const t = unixS(ms);
    const p: CbItemPrice = {
      id, name: `${item.name} ${currency}${item.type === 'charge' ? '' : ' Monthly'}`, item_family_id: item.item_family_id, item_id: item.id,
      item_type: item.type, status: 'active', external_name: item.name, pricing_model: item.type === 'charge' ? 'flat_fee' : 'per_unit',
      price: Number(seed.priceMinor), ...(item.type === 'charge' ? {} : { period: 1, period_unit: 'month' as const }), currency_code: currency,
      is_taxable: seed.kind !== 'digital' || this.rng.chance(0.7),
      tax_detail: { avalara_tax_code: seed.kind === 'saas' ? 'SW054000' : seed.kind === 'services' ? 'SC080100' : 'P0000000', taxjar_product_code: seed.kind === 'saas' ? '30070' : undefined },
      free_quantity: 0, created_at: t, updated_at: t, resource_version: ms, channel: 'web', deleted: false, object: 'item_price',
    };
    this.born(id);
    this.data.itemPrices.set(id, p);
    return p;
  }

  makeCustomer(ms: number, i = this.customerIds.length, partial: Partial<CbCustomer> = {}): CbCustomer {
    const rng = this.rng;
    const showcase: [Place, 'taxable' | 'exempt', boolean][] = [
      [AUSTIN_TX, 'taxable', false], [placeOf('DE')!, 'taxable', true], [placeOf('US', 'NY')!, 'exempt', false], [placeOf('CA', 'ON')!, 'taxable', false],
      [PLACES.find((p) => p.country === 'GB')!, 'taxable', true],
    ];
    let place: Place;
    let taxability: 'taxable' | 'exempt' = 'taxable';
    let vat = false;
    if (i < showcase.length) [place, taxability, vat] = showcase[i]!;
    else {
      place = pickPlace(rng);
      vat = (place.region === 'EU' && rng.chance(0.6)) || (place.region === 'UK' && rng.chance(0.5));
      if (place.region === 'US' && rng.chance(0.1)) taxability = 'exempt';
    }
    const company = companyName(rng, place.country, taxability === 'exempt');
    const [first, last] = personName(rng).split(' ') as [string, string];
    const id = partial.id ?? this.randomId();
    const t = unixS(ms);
    const c: CbCustomer = {
      id, first_name: first, last_name: last, email: emailFor(`${first} ${last}`, company), company,
      ...(vat ? { vat_number: vatId(rng, place.country).slice(2), vat_number_status: 'valid' as const } : {}),
      auto_collection: 'on', offline_payment_method: 'no_preference', net_term_days: 0, allow_direct_debit: false, created_at: t,
      updated_at: t + rng.int(0, 5 * 86400), resource_version: ms, taxability,
      ...(taxability === 'exempt' ? { entity_code: 'e', exempt_number: `EX-${rng.digits(6)}` } : {}),
      customer_type: 'business', pii_cleared: 'active', channel: 'web', card_status: 'no_card', promotional_credits: 0, refundable_credits: 0,
      excess_payments: 0, unbilled_charges: 0, preferred_currency_code: cbCurrencyFor(place.country),
      billing_address: {
        first_name: first, last_name: last, company, line1: streetLine(rng, place), city: place.city, ...(place.state ? { state_code: place.state } : {}),
        zip: place.postcode, country: place.country, validation_status: 'not_validated', object: 'billing_address',
      },
      deleted: false, object: 'customer',
    };
    c.resource_version = c.updated_at * 1000;
    Object.assign(c, partial, { id, object: 'customer' });
    this.born(id);
    this.customerIds.push(id);
    this.data.customers.set(id, c);
    return c;
  }

  forgetCustomer(id: string): void {
    const i = this.customerIds.indexOf(id);
    if (i >= 0) this.customerIds.splice(i, 1);
  }

  /** Chargebee's own tax for a generated invoice (it computes tax itself): the place's rate unless exempt or reverse-charged. */
  private rateFor(c: CbCustomer): { place: Place; rate: string } | undefined {
    if (c.taxability === 'exempt' || !c.billing_address?.country) return undefined;
    if (c.vat_number && c.billing_address.country !== 'GB' && c.billing_address.country !== 'US') return undefined; // EU B2B reverse charge
    const place = placeOf(c.billing_address.country, c.billing_address.state_code) ?? placeOf(c.billing_address.country);
    if (!place || place.rate === '0') return undefined;
    return { place, rate: place.rate };
  }

  makeInvoice(ms: number, partial: Partial<CbInvoice> = {}, inputs?: CbLineInput[], lineCount = 3): CbInvoice {
    const rng = this.rng;
    const customerId = partial.customer_id ?? (this.customerIds.length ? rng.pick(this.customerIds) : undefined);
    if (customerId === undefined) throw new Error('no customer to invoice');
    const cust = this.data.customers.get(customerId);
    if (!cust) throw new Error(`unknown customer ${customerId}`);
    const currency = partial.currency_code ?? cust.preferred_currency_code;
    const id = partial.id ?? String(++this.invoiceNo);
    const date = unixS(ms);
    const status = partial.status ?? 'payment_due';
    const tax = this.rateFor(cust);
    const sub = partial.subscription_id ?? (!inputs && rng.chance(0.7) ? this.randomId() : undefined);
    const prices = [...this.data.itemPrices.values()].filter((p) => p.currency_code === currency && !p.deleted);
    const plan = inputs ?? Array.from({ length: lineCount }, (): CbLineInput => {
      if (prices.length === 0) return { description: 'Services', quantity: 1, unit_amount: rng.int(1000, 99999) };
      const p = rng.pick(prices);
      return { item_price_id: p.id, quantity: p.pricing_model === 'flat_fee' ? 1 : rng.pick([1, 1, 2, 3, 5, 10]) };
    });
    const lines: CbLineItem[] = [];
    const lineTaxes: CbLineItemTax[] = [];
    plan.forEach((inp, k) => {
      const price = inp.item_price_id ? this.data.itemPrices.get(inp.item_price_id) : undefined;
      const unit = inp.unit_amount ?? price?.price ?? 0;
      const quantity = inp.quantity ?? 1;
      const amount = unit * quantity;
      const taxed = tax !== undefined && (price?.is_taxable ?? true);
      const taxAmount = taxed ? Number(mulMinorByRate(BigInt(amount), tax!.rate)) : 0;
      const lid = `li_${this.randomId()}`;
      lines.push({
        id: lid, date_from: date, date_to: date + 30 * 86400, unit_amount: unit, quantity, amount, pricing_model: price?.pricing_model ?? 'per_unit',
        is_taxed: taxed, tax_amount: taxAmount, ...(taxed ? { tax_rate: percentOf(tax!.rate) } : { tax_exempt_reason: cust.taxability === 'exempt' ? 'customer_exempt' as const : cust.vat_number ? 'reverse_charge' as const : 'tax_not_configured' as const }),
        object: 'line_item', ...(sub ? { subscription_id: sub } : {}), customer_id: customerId,
        description: inp.description ?? price?.name ?? `Line ${k + 1}`,
        entity_type: price ? (`${price.item_type}_item_price` as CbLineItem['entity_type']) : 'adhoc', ...(price ? { entity_id: price.id } : {}),
        discount_amount: 0, item_level_discount_amount: 0,
      });
      if (taxed) {
        lineTaxes.push({
          object: 'line_item_tax', line_item_id: lid, tax_name: tax!.place.taxLabel, tax_rate: percentOf(tax!.rate), taxable_amount: amount, tax_amount: taxAmount,
          is_partial_tax_applied: false, is_non_compliance_tax: false, tax_juris_type: tax!.place.state ? 'state' : 'country',
          tax_juris_name: tax!.place.state ?? tax!.place.country, tax_juris_code: tax!.place.state ?? tax!.place.country,
        });
      }
    });
    const subTotal = lines.reduce((s, l) => s + l.amount, 0);
    const taxTotal = lines.reduce((s, l) => s + l.tax_amount, 0);
    const total = subTotal + taxTotal;
    const paid = status === 'paid' ? total : 0;
    const inv: CbInvoice = {
      id, customer_id: customerId, ...(sub ? { subscription_id: sub } : {}), recurring: sub !== undefined, status, price_type: 'tax_exclusive', date,
      due_date: date + 30 * 86400, net_term_days: 30, exchange_rate: 1.0, currency_code: currency, total,
      amount_paid: status === 'voided' ? 0 : paid, amount_adjusted: 0, write_off_amount: 0, credits_applied: 0,
      amount_due: status === 'paid' || status === 'voided' ? 0 : total, ...(status === 'paid' ? { paid_at: date + rng.int(3600, 20 * 86400) } : {}),
      ...(status === 'voided' ? { voided_at: date + 7200 } : {}), updated_at: date + rng.int(0, 3 * 86400), resource_version: ms, deleted: false,
      object: 'invoice', first_invoice: false, amount_to_collect: status === 'paid' || status === 'voided' ? 0 : total, round_off_amount: 0,
      new_sales_amount: 0, has_advance_charges: false, term_finalized: status !== 'pending', is_gifted: false, generated_at: date, channel: 'web',
      tax: taxTotal, sub_total: subTotal, line_items: lines, taxes: taxTotal > 0 ? [{ object: 'tax', name: tax!.place.taxLabel, amount: taxTotal, description: `${tax!.place.taxLabel} @ ${percentOf(tax!.rate)}%` }] : [],
      line_item_taxes: lineTaxes, linked_payments: [], applied_credits: [], adjustment_credit_notes: [], issued_credit_notes: [], linked_orders: [],
      dunning_attempts: [], ...(cust.billing_address ? { billing_address: { ...cust.billing_address } } : {}), ...(cust.vat_number ? { vat_number: cust.vat_number } : {}),
    };
    Object.assign(inv, partial, { id, object: 'invoice' });
    inv.resource_version = inv.updated_at * 1000;
    this.born(id);
    this.data.invoices.set(id, inv);
    return inv;
  }

  makeCreditNote(ms: number, invoiceId: string, partial: Partial<CbCreditNote> = {}): CbCreditNote {
    const inv = this.data.invoices.get(invoiceId);
    if (!inv) throw new Error(`unknown invoice ${invoiceId}`);
    const id = partial.id ?? `CN-${++this.creditNoteNo}`;
    const k = inv.line_items.length === 0 ? 0 : this.rng.int(1, inv.line_items.length);
    const lines = inv.line_items.slice(0, k).map((l) => ({ ...l, id: `li_${this.randomId()}` }));
    const ids = new Map(inv.line_items.slice(0, k).map((l, i) => [l.id, lines[i]!.id]));
    const lineTaxes = inv.line_item_taxes.filter((t) => ids.has(t.line_item_id)).map((t) => ({ ...t, line_item_id: ids.get(t.line_item_id)! }));
    const sub = lines.reduce((s, l) => s + l.amount, 0);
    const tax = lines.reduce((s, l) => s + l.tax_amount, 0);
    const date = unixS(ms);
    const cn: CbCreditNote = {
      id, customer_id: inv.customer_id, ...(inv.subscription_id ? { subscription_id: inv.subscription_id } : {}), reference_invoice_id: inv.id,
      type: 'refundable', reason_code: 'product_unsatisfactory', create_reason_code: 'Product Unsatisfactory', status: 'refund_due', date,
      price_type: inv.price_type, exchange_rate: 1.0, total: sub + tax, amount_allocated: 0, amount_refunded: 0, amount_available: sub + tax,
      generated_at: date, resource_version: ms, updated_at: date, channel: 'web', sub_total: sub, round_off_amount: 0, fractional_correction: 0,
      deleted: false, currency_code: inv.currency_code, object: 'credit_note', line_items: lines,
      taxes: tax > 0 ? [{ object: 'tax', name: inv.taxes[0]?.name ?? 'Tax', amount: tax }] : [], line_item_taxes: lineTaxes, linked_refunds: [], allocations: [],
    };
    Object.assign(cn, partial, { id, object: 'credit_note' });
    this.born(id);
    this.data.creditNotes.set(id, cn);
    inv.issued_credit_notes.push({ cn_id: id, cn_reason_code: cn.reason_code, cn_date: cn.date, cn_total: cn.total, cn_status: cn.status });
    return cn;
  }
}
