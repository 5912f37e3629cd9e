/** Rillet (API v4) record shapes and the seeded generator that fills a fake's state. */
import {
  AUSTIN_TX, DAY_MS, GEN_END_MS, GEN_START_MS, IdClock, PLACES, Rng, WallClock, companyName, emailFor, isoDate, isoTime,
  linesCount, personName, pickPlace, placeOf, productSeed, quantityFor, sortableId, spreadTimes, streetLine,
  type Place, type ProductSeed,
} from './data.ts';
import { currencyDigits, divRoundHalfUp, formatUnits, mulMinorByPercent, normalizeDecimal, parseDecimal, pow10, toUnitsExact } from './money.ts';
import { IndexedMap } from './store.ts';

export interface Money {
  amount: string;
  currency: string;
}

export interface RilletAddress {
  line1: string;
  line2?: string;
  city: string;
  state?: string;
  zip_code: string;
  country: string;
}

export interface RilletSubsidiary {
  id: string;
  currency: string;
  timezone: string;
  trade_name: string;
  type: 'LEGAL_ENTITY';
}

export interface RilletTaxRate {
  id: string;
  name: string;
  percentage: string;
  type: string;
  country: string;
  state?: string;
}

export interface RilletCustomer {
  id: string;
  name: string;
  name_on_invoice?: string;
  address?: RilletAddress;
  shipping_address?: RilletAddress;
  emails: { email: string; type: string }[];
  external_references: { source: string; id: string }[];
  payment_terms?: string;
  created_at: string;
  updated_at: string;
}

export interface RilletProduct {
  id: string;
  name: string;
  description?: string;
  price: { type: 'ONE_TIME' | 'FIXED_RECURRING' | 'USAGE'; amount?: Money };
  status: 'ACTIVE' | 'INACTIVE';
  account_code?: string;
  created_at: string;
  updated_at: string;
}

export interface RilletTaxLine {
  /** Percent as a decimal string: "8.25" = 8.25%. */
  percentage: string;
  type: string;
  country?: string;
  description?: string;
  tax_amount: Money;
}

export interface RilletItem {
  id: string;
  description: string;
  product_id?: string;
  quantity: string;
  gross_rate: Money;
  /** quantity × gross_rate − total_discount (before tax). */
  total_amount: Money;
  total_discount: Money;
  /** Sum of tax_rates[].tax_amount. */
  taxed_amount: Money;
  tax_rates: RilletTaxLine[];
}

export type RilletInvoiceStatus = 'UNPAID' | 'PAID' | 'PARTIALLY_PAID' | 'UNBILLED' | 'CREDITED' | 'PARTIALLY_CREDITED';
export const RILLET_INVOICE_STATUSES: readonly RilletInvoiceStatus[] = ['UNPAID', 'PAID', 'PARTIALLY_PAID', 'UNBILLED', 'CREDITED', 'PARTIALLY_CREDITED'];

export interface RilletInvoice {
  id: string;
  subsidiary_id: string;
  invoice_number: string;
  customer_id: string;
  currency: string;
  /** Generated invoices build their items on first access (an accessor; JSON and spreads see a plain array). */
  items: RilletItem[];
  invoice_date: string;
  due_date: string;
  status: RilletInvoiceStatus;
  /** subtotal − total_discount */
  net_amount: Money;
  /** Σ quantity × gross_rate */
  subtotal: Money;
  total_discount: Money;
  taxed_amount: Money;
  /** net_amount + taxed_amount */
  total: Money;
  /** total − payments and credits */
  amount_due: Money;
  overdue: boolean;
  customer_address?: RilletAddress;
  shipping_address?: RilletAddress;
  /** Sender (the subsidiary's) address. */
  address?: RilletAddress;
  taxes_calculated_at?: string;
  created_at: string;
  updated_at: string;
}

export type RilletCreditMemoStatus = 'UNAPPLIED' | 'PARTIALLY_APPLIED' | 'APPLIED' | 'REFUNDED';

export interface RilletApplication {
  invoice_id: string;
  amount: Money;
  applied_date: string;
}

export interface RilletCreditMemo {
  id: string;
  subsidiary_id: string;
  credit_memo_number: string;
  customer_id: string;
  currency: string;
  items: RilletItem[];
  credit_memo_date: string;
  status: RilletCreditMemoStatus;
  net_amount: Money;
  subtotal: Money;
  total_discount: Money;
  taxed_amount: Money;
  total: Money;
  applications: RilletApplication[];
  taxes_calculated_at?: string;
  created_at: string;
  updated_at: string;
}

export interface RilletData {
  subsidiaries: IndexedMap<RilletSubsidiary>;
  taxRates: IndexedMap<RilletTaxRate>;
  customers: IndexedMap<RilletCustomer>;
  products: IndexedMap<RilletProduct>;
  invoices: IndexedMap<RilletInvoice>;
  creditMemos: IndexedMap<RilletCreditMemo>;
  /** Payments and credits applied per invoice, in minor units (amount_due = total − this). */
  amountPaid: Map<string, bigint>;
}

export interface RilletCounts {
  customers: number;
  products: number;
  invoices: number;
  creditNotes: number;
}

export const RILLET_DEFAULT_COUNTS: RilletCounts = { customers: 40, products: 12, invoices: 120, creditNotes: 12 };

export interface ItemInput {
  description?: string;
  product_id?: string;
  quantity?: string;
  /** Unit price as a decimal string in the document currency. */
  gross_rate?: string;
  /** Discount on the line as a decimal string. */
  discount?: string;
  tax_rates?: RilletTaxLine[];
}

interface ItemSpec {
  seed: number;
  ms: number;
  count: number;
  currency: string;
  place: Place | undefined;
  taxed: boolean;
}

interface ItemPlan {
  pid: string | undefined;
  seed: ProductSeed | undefined;
  quantity: string;
  rateMinor: bigint;
  discountMinor: bigint;
  subMinor: bigint;
  taxMinor: bigint;
}

const SUBSIDIARIES = [
  { key: 'US', currency: 'USD', timezone: 'America/Chicago', trade_name: 'Taxbridge Demo Inc.', address: { line1: '500 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' } },
  { key: 'UK', currency: 'GBP', timezone: 'Europe/London', trade_name: 'Taxbridge Demo Ltd', address: { line1: '1 Finsbury Avenue', city: 'London', zip_code: 'EC2M 2PF', country: 'GB' } },
  { key: 'EU', currency: 'EUR', timezone: 'Europe/Amsterdam', trade_name: 'Taxbridge Demo B.V.', address: { line1: 'Herengracht 500', city: 'Amsterdam', zip_code: '1017 CB', country: 'NL' } },
] as const;

const STATUS_MIX: readonly (readonly [RilletInvoiceStatus, number])[] = [
  ['UNPAID', 40], ['PAID', 30], ['PARTIALLY_PAID', 10], ['UNBILLED', 12], ['CREDITED', 4], ['PARTIALLY_CREDITED', 4],
];
const MEMO_MIX: readonly (readonly [RilletCreditMemoStatus, number])[] = [['UNAPPLIED', 30], ['PARTIALLY_APPLIED', 20], ['APPLIED', 40], ['REFUNDED', 10]];
const INT_RE = /^\d+$/;

const pctCache = new Map<string, string>();
/** "0.0825" -> "8.25" */
export function fractionToPercent(rate: string): string {
  let v = pctCache.get(rate);
  if (v === undefined) {
    const { units, scale } = parseDecimal(rate);
    v = normalizeDecimal(formatUnits(units * 100n, scale));
    pctCache.set(rate, v);
  }
  return v;
}

export const money = (minor: bigint, currency: string): Money => ({ amount: formatUnits(minor, currencyDigits(currency)), currency });

export function toRilletAddress(place: Place, line1: string, line2?: string): RilletAddress {
  return { line1, line2, city: place.city, state: place.state, zip_code: place.postcode, country: place.country };
}

export class RilletFactory {
  readonly rng: Rng;
  readonly wall = new WallClock();
  readonly data: RilletData = {
    subsidiaries: new IndexedMap(),
    taxRates: new IndexedMap(),
    customers: new IndexedMap(),
    products: new IndexedMap(),
    invoices: new IndexedMap(),
    creditMemos: new IndexedMap(),
    amountPaid: new Map(),
  };
  private clocks = { sub: new IdClock(), rate: new IdClock(), customer: new IdClock(), product: new IdClock(), invoice: new IdClock(), memo: new IdClock() };
  private productSeeds = new Map<string, ProductSeed>();
  private productIds: string[] = [];
  private planProducts: string[] = [];
  private customerIds: string[] = [];
  /** Subsidiary id per region key (US, UK, EU). */
  readonly subsidiaryByKey = new Map<string, string>();
  readonly senderAddress = new Map<string, RilletAddress>();
  /** Built items of invoices whose items were generated lazily. */
  private builtItems = new Map<string, RilletItem[]>();
  private itemSpecs = new Map<string, ItemSpec>();
  private invoiceNo = 0;
  private memoNo = 0;

  /** Shared `items` accessor of invoices: JSON.stringify, spreads and Object.keys see it as a plain property. */
  private readonly itemsDescriptor: PropertyDescriptor;

  constructor(seed: number) {
    this.rng = new Rng(seed);
    const factory = this;
    this.itemsDescriptor = {
      get(this: { id: string }): RilletItem[] {
        return factory.itemsOf(this.id);
      },
      set(this: { id: string }, v: RilletItem[]) {
        factory.setItems(this.id, v);
      },
      enumerable: true,
      configurable: true,
    };
  }

  id(kind: keyof RilletFactory['clocks'], prefix: string, ms: number): { id: string; ms: number } {
    const t = this.clocks[kind].take(ms);
    this.wall.observe(t.ms);
    return { id: sortableId(prefix, t.ms, t.seq, this.rng), ms: t.ms };
  }

  generate(counts: RilletCounts, lines: number | readonly [number, number]): void {
    SUBSIDIARIES.forEach((s, i) => {
      const { id } = this.id('sub', 'sub', GEN_START_MS - 365 * DAY_MS + i * 1000);
      this.data.subsidiaries.set(id, { id, currency: s.currency, timezone: s.timezone, trade_name: s.trade_name, type: 'LEGAL_ENTITY' });
      this.subsidiaryByKey.set(s.key, id);
      this.senderAddress.set(id, { ...s.address });
    });
    const seen = new Set<string>();
    PLACES.forEach((p, i) => {
      const key = `${p.country}|${p.state ?? ''}`;
      if (seen.has(key)) return;
      seen.add(key);
      const { id } = this.id('rate', 'txr', GEN_START_MS - 300 * DAY_MS + i * 1000);
      const r: RilletTaxRate = { id, name: p.taxLabel, percentage: fractionToPercent(p.rate), type: p.taxType, country: p.country };
      if (p.state) r.state = p.state;
      this.data.taxRates.set(id, r);
    });

    const pt = spreadTimes(counts.products, GEN_START_MS - 30 * DAY_MS, GEN_START_MS, this.rng);
    for (let i = 0; i < counts.products; i++) this.makeProduct(pt(i), i);
    this.planProducts = [...this.productIds];

    const ct = spreadTimes(counts.customers, GEN_START_MS, GEN_START_MS + 60 * DAY_MS, this.rng);
    for (let i = 0; i < counts.customers; i++) this.makeCustomer(ct(i), i);

    const it = spreadTimes(counts.invoices, GEN_START_MS + 7 * DAY_MS, GEN_END_MS, this.rng);
    const settled: string[] = [];
    for (let i = 0; i < counts.invoices && this.customerIds.length > 0; i++) {
      const status = this.rng.weighted(STATUS_MIX);
      const inv = this.makeInvoice(it(i), { status }, undefined, linesCount(this.rng, lines), true);
      if (status === 'PAID' || status === 'CREDITED' || status === 'PARTIALLY_CREDITED') settled.push(inv.id);
    }

    const mt = spreadTimes(counts.creditNotes, GEN_END_MS + DAY_MS, GEN_END_MS + 30 * DAY_MS, this.rng);
    const pool = settled.length > 0 ? settled : [...this.data.invoices.sortedKeys];
    for (let i = 0; i < counts.creditNotes && pool.length > 0; i++) {
      this.makeCreditMemo(mt(i), this.rng.pick(pool), { status: this.rng.weighted(MEMO_MIX) });
    }
  }

  makeProduct(ms: number, i = this.productIds.length, partial: Partial<RilletProduct> & { priceMinor?: bigint } = {}): RilletProduct {
    const { id, ms: t } = this.id('product', 'prod', ms);
    const seed = productSeed(this.rng, i);
    if (partial.priceMinor !== undefined) seed.priceMinor = partial.priceMinor;
    const type = seed.kind === 'usage' ? 'USAGE' : seed.recurring ? 'FIXED_RECURRING' : 'ONE_TIME';
    const p: RilletProduct = {
      id,
      name: seed.name,
      description: seed.description,
      price: { type, amount: money(seed.priceMinor, 'USD') },
      status: this.rng.chance(0.1) ? 'INACTIVE' : 'ACTIVE',
      account_code: seed.kind === 'goods' ? '4100' : seed.kind === 'services' ? '4200' : '4000',
      created_at: isoTime(t),
      updated_at: isoTime(t),
    };
    const { priceMinor: _p, ...rest } = partial;
    Object.assign(p, rest, { id, created_at: p.created_at });
    seed.name = p.name;
    this.productSeeds.set(id, seed);
    this.productIds.push(id);
    this.data.products.set(id, p);
    return p;
  }

  makeCustomer(ms: number, i = this.customerIds.length, partial: Partial<RilletCustomer> = {}): RilletCustomer {
    const rng = this.rng;
    const { id, ms: t } = this.id('customer', 'cus', ms);
    const showcase: Place[] = [AUSTIN_TX, placeOf('DE')!, placeOf('US', 'NY')!, placeOf('CA', 'ON')!, PLACES.find((p) => p.country === 'GB')!];
    const place = i < showcase.length ? showcase[i]! : pickPlace(rng);
    const name = companyName(rng, place.country, i === 2 || (place.region === 'US' && rng.chance(0.05)));
    const person = personName(rng);
    const address = toRilletAddress(place, streetLine(rng, place), rng.chance(0.25) ? `Suite ${rng.int(100, 999)}` : undefined);
    const c: RilletCustomer = {
      id,
      name,
      name_on_invoice: rng.chance(0.5) ? name : undefined,
      address,
      shipping_address: rng.chance(0.2) ? { ...address } : undefined,
      emails: [{ email: emailFor(person, name), type: 'BILLING' }],
      external_references: [],
      payment_terms: rng.pick(['NET_30', 'NET_30', 'NET_15', 'NET_60']),
      created_at: isoTime(t),
      updated_at: isoTime(t + rng.int(0, 5 * DAY_MS)),
    };
    Object.assign(c, partial, { id, created_at: c.created_at });
    this.customerIds.push(id);
    this.data.customers.set(id, c);
    return c;
  }

  subsidiaryFor(country: string | undefined): string {
    const key = country === 'GB' ? 'UK' : country === 'US' || country === 'CA' || country === undefined ? 'US'
      : PLACES.some((p) => p.region === 'EU' && p.country === country) ? 'EU' : 'US';
    return this.subsidiaryByKey.get(key)!;
  }

  private planItems(spec: ItemSpec): ItemPlan[] {
    const out: ItemPlan[] = [];
    this.walkItems(spec, (pid, seed, quantity, rateMinor, discountMinor, subMinor, taxMinor) => {
      out.push({ pid, seed, quantity, rateMinor, discountMinor, subMinor, taxMinor });
    });
    return out;
  }

  /** The random choices for a document's items, from its seed (same seed, same items). */
  private walkItems(
    spec: ItemSpec,
    visit: (pid: string | undefined, seed: ProductSeed | undefined, quantity: string, rateMinor: bigint, discountMinor: bigint, subMinor: bigint, taxMinor: bigint) => void,
  ): void {
    const rng = new Rng(spec.seed);
    const digits = currencyDigits(spec.currency);
    const scale = digits >= 2 ? 10n ** BigInt(digits - 2) : 1n;
    const pct = spec.taxed && spec.place && spec.place.rate !== '0' ? fractionToPercent(spec.place.rate) : undefined;
    for (let k = 0; k < spec.count; k++) {
      const products = this.planProducts;
      const pid = products.length > 0 ? products[Math.floor(rng.next() * products.length)]! : undefined;
      const seed = pid ? this.productSeeds.get(pid)! : undefined;
      const quantity = seed ? quantityFor(rng, seed.kind) : '1';
      const rateMinor = (seed ? seed.priceMinor : BigInt(rng.int(1000, 99999))) * scale;
      const subMinor = itemSubtotal(quantity, rateMinor);
      const discountMinor = rng.chance(0.15) ? divRoundHalfUp(subMinor, 10n) : 0n;
      const taxMinor = pct ? mulMinorByPercent(subMinor - discountMinor, pct) : 0n;
      visit(pid, seed, quantity, rateMinor, discountMinor, subMinor, taxMinor);
    }
  }

  private buildItems(spec: ItemSpec): RilletItem[] {
    const idRng = new Rng(spec.seed ^ 0x2545f491);
    const cur = spec.currency;
    const place = spec.place;
    const pct = place ? fractionToPercent(place.rate) : '0';
    return this.planItems(spec).map((p, k): RilletItem => ({
      id: sortableId('item', spec.ms, k, idRng),
      description: p.seed?.name ?? 'Services',
      product_id: p.pid,
      quantity: p.quantity,
      gross_rate: money(p.rateMinor, cur),
      total_amount: money(p.subMinor - p.discountMinor, cur),
      total_discount: money(p.discountMinor, cur),
      taxed_amount: money(p.taxMinor, cur),
      tax_rates: p.taxMinor > 0n || (spec.taxed && place && place.rate !== '0')
        ? [{ percentage: pct, type: place!.taxType, country: place!.country, description: `${place!.taxLabel} ${pct}%`, tax_amount: money(p.taxMinor, cur) }]
        : [],
    }));
  }

  /** Items of a document, building deferred ones on first use. */
  itemsOf(id: string): RilletItem[] {
    let items = this.builtItems.get(id);
    if (items === undefined) {
      const spec = this.itemSpecs.get(id);
      items = spec ? this.buildItems(spec) : [];
      this.itemSpecs.delete(id);
      this.builtItems.set(id, items);
    }
    return items;
  }

  private setItems(id: string, items: RilletItem[]): void {
    this.itemSpecs.delete(id);
    this.builtItems.set(id, items);
  }

  forgetItems(id: string): void {
    this.itemSpecs.delete(id);
    this.builtItems.delete(id);
  }

  itemsFromInputs(inputs: ItemInput[], currency: string, ms: number): RilletItem[] {
    const idRng = new Rng(this.rng.u32());
    const digits = currencyDigits(currency);
    return inputs.map((inp, k) => {
      const rateMinor = toUnitsExact(inp.gross_rate ?? '0', digits);
      const quantity = inp.quantity ?? '1';
      const sub = itemSubtotal(quantity, rateMinor);
      const disc = inp.discount !== undefined ? toUnitsExact(inp.discount, digits) : 0n;
      const taxes = (inp.tax_rates ?? []).map((t) => ({ ...t, tax_amount: { amount: formatUnits(toUnitsExact(t.tax_amount.amount, digits), digits), currency } }));
      let tax = 0n;
      for (const t of taxes) tax += toUnitsExact(t.tax_amount.amount, digits);
      return {
        id: sortableId('item', ms, k, idRng),
        description: inp.description ?? (inp.product_id ? this.data.products.get(inp.product_id)?.name ?? 'Item' : 'Item'),
        product_id: inp.product_id,
        quantity,
        gross_rate: money(rateMinor, currency),
        total_amount: money(sub - disc, currency),
        total_discount: money(disc, currency),
        taxed_amount: money(tax, currency),
        tax_rates: taxes,
      };
    });
  }

  makeInvoice(ms: number, partial: Partial<RilletInvoice> = {}, items?: ItemInput[], itemCount = 3, lazy = false): RilletInvoice {
    const rng = this.rng;
    const customerId = partial.customer_id ?? this.customerIds[Math.floor(rng.next() * this.customerIds.length)]!;
    const cust = this.data.customers.get(customerId);
    if (!cust) throw new Error(`unknown customer ${customerId}`);
    const { id, ms: t } = this.id('invoice', 'inv', ms);
    const subsidiaryId = partial.subsidiary_id ?? this.subsidiaryFor(cust.address?.country);
    const currency = partial.currency ?? this.data.subsidiaries.get(subsidiaryId)?.currency ?? 'USD';
    const status: RilletInvoiceStatus = partial.status ?? 'UNPAID';
    const place = cust.address ? placeOf(cust.address.country, cust.address.state) ?? placeOf(cust.address.country) : undefined;
    const taxed = lazy && status !== 'UNBILLED' && (status !== 'UNPAID' || rng.chance(0.3));
    const zero = money(0n, currency);
    const inv = {
      id,
      subsidiary_id: subsidiaryId,
      invoice_number: `INV${String(++this.invoiceNo).padStart(5, '0')}`,
      customer_id: customerId,
      currency,
      invoice_date: isoDate(t),
      due_date: isoDate(t + 30 * DAY_MS),
      status,
      net_amount: zero,
      subtotal: zero,
      total_discount: zero,
      taxed_amount: zero,
      total: zero,
      amount_due: zero,
      overdue: false,
      customer_address: cust.address ? { ...cust.address } : undefined,
      shipping_address: cust.shipping_address ? { ...cust.shipping_address } : undefined,
      address: this.senderAddress.get(subsidiaryId),
      taxes_calculated_at: taxed ? isoTime(t) : undefined,
      created_at: isoTime(t),
      updated_at: isoTime(t + (status === 'UNBILLED' || status === 'UNPAID' ? rng.int(0, 3600_000) : rng.int(1, 20 * DAY_MS))),
    } as Omit<RilletInvoice, 'items'> as RilletInvoice;
    // items: one shared accessor (cheap per object) that builds generated items on first access
    Object.defineProperty(inv, 'items', this.itemsDescriptor);
    const digits = currencyDigits(currency);
    let sub = 0n;
    let disc = 0n;
    let tax = 0n;
    if (items === undefined) {
      const spec: ItemSpec = { seed: rng.u32(), ms: t, count: itemCount, currency, place, taxed };
      this.walkItems(spec, (_p, _s, _q, _r, d, sb, tx) => {
        sub += sb;
        disc += d;
        tax += tx;
      });
      this.itemSpecs.set(id, spec);
    } else {
      this.setItems(id, this.itemsFromInputs(items, currency, t));
    }
    if (!lazy && hasKeys(partial)) Object.assign(inv, partial, { id, created_at: inv.created_at });
    if (items !== undefined || partial.items !== undefined) {
      ({ sub, disc, tax } = sumItems(inv.items, digits));
    }
    const total = sub - disc + tax;
    const paid = status === 'PAID' || status === 'CREDITED' ? total : status === 'PARTIALLY_PAID' || status === 'PARTIALLY_CREDITED' ? total / 2n : 0n;
    if (paid !== 0n) this.data.amountPaid.set(id, paid);
    inv.subtotal = money(sub, currency);
    inv.total_discount = money(disc, currency);
    inv.net_amount = money(sub - disc, currency);
    inv.taxed_amount = money(tax, currency);
    inv.total = money(total, currency);
    inv.amount_due = money(total - paid, currency);
    inv.overdue = total - paid > 0n && inv.due_date < isoDate(lazy ? GEN_END_MS : this.wall.now());
    this.data.invoices.set(id, inv);
    return inv;
  }

  makeCreditMemo(ms: number, invoiceId: string, partial: Partial<RilletCreditMemo> = {}, items?: ItemInput[]): RilletCreditMemo {
    const inv = this.data.invoices.get(invoiceId);
    if (!inv) throw new Error(`unknown invoice ${invoiceId}`);
    const { id, ms: t } = this.id('memo', 'cm', ms);
    const status: RilletCreditMemoStatus = partial.status ?? 'UNAPPLIED';
    const currency = inv.currency;
    let built: RilletItem[];
    if (items) {
      built = this.itemsFromInputs(items, currency, t);
    } else {
      const src = inv.items;
      const k = src.length === 0 ? 0 : this.rng.int(1, src.length);
      built = this.itemsFromInputs(src.slice(0, k).map((it) => ({
        description: it.description, product_id: it.product_id, quantity: it.quantity, gross_rate: it.gross_rate.amount,
        discount: it.total_discount.amount, tax_rates: it.tax_rates.map((r) => ({ ...r, tax_amount: { ...r.tax_amount } })),
      })), currency, t);
    }
    const digits = currencyDigits(currency);
    const { sub, disc, tax } = sumItems(built, digits);
    const total = sub - disc + tax;
    const applied = status === 'APPLIED' ? total : status === 'PARTIALLY_APPLIED' ? total / 2n : 0n;
    const cm: RilletCreditMemo = {
      id,
      subsidiary_id: inv.subsidiary_id,
      credit_memo_number: `CM${String(++this.memoNo).padStart(5, '0')}`,
      customer_id: inv.customer_id,
      currency,
      items: built,
      credit_memo_date: isoDate(t),
      status,
      net_amount: money(sub - disc, currency),
      subtotal: money(sub, currency),
      total_discount: money(disc, currency),
      taxed_amount: money(tax, currency),
      total: money(total, currency),
      applications: applied > 0n ? [{ invoice_id: invoiceId, amount: money(applied, currency), applied_date: isoDate(t) }] : [],
      taxes_calculated_at: tax > 0n ? isoTime(t) : undefined,
      created_at: isoTime(t),
      updated_at: isoTime(t),
    };
    if (hasKeys(partial)) Object.assign(cm, partial, { id, created_at: cm.created_at });
    this.data.creditMemos.set(id, cm);
    return cm;
  }

  pickInvoiceId(): string | undefined {
    const keys = this.data.invoices.sortedKeys;
    return keys.length === 0 ? undefined : keys[Math.floor(this.rng.next() * keys.length)];
  }

  forgetCustomer(id: string): void {
    const i = this.customerIds.indexOf(id);
    if (i >= 0) this.customerIds.splice(i, 1);
  }
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** round(quantity × rate) in minor units, half-up. */
export function itemSubtotal(quantity: string, rateMinor: bigint): bigint {
  if (INT_RE.test(quantity)) return BigInt(quantity) * rateMinor;
  const q = parseDecimal(quantity);
  return divRoundHalfUp(q.units * rateMinor, pow10(q.scale));
}

/** Σ over items of subtotal, discount and tax, in minor units. */
export function sumItems(items: readonly RilletItem[], digits: number): { sub: bigint; disc: bigint; tax: bigint } {
  let sub = 0n;
  let disc = 0n;
  let tax = 0n;
  for (const it of items) {
    const d = toUnitsExact(it.total_discount.amount, digits);
    sub += toUnitsExact(it.total_amount.amount, digits) + d;
    disc += d;
    tax += toUnitsExact(it.taxed_amount.amount, digits);
  }
  return { sub, disc, tax };
}

/** Recompute a document's totals from its items (and, for invoices, the amount paid). */
export function recomputeTotals(doc: RilletInvoice | RilletCreditMemo, paidMinor = 0n): void {
  const cur = doc.currency;
  const { sub, disc, tax } = sumItems(doc.items, currencyDigits(cur));
  doc.subtotal = money(sub, cur);
  doc.total_discount = money(disc, cur);
  doc.net_amount = money(sub - disc, cur);
  doc.taxed_amount = money(tax, cur);
  doc.total = money(sub - disc + tax, cur);
  if ('amount_due' in doc) {
    const due = sub - disc + tax - paidMinor;
    doc.amount_due = money(due < 0n ? 0n : due, cur);
  }
}
