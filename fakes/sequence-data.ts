/** Sequence (API 2024-07-30) record shapes and the seeded generator that fills a fake's state. */
import {
  AUSTIN_TX, DAY_MS, GEN_END_MS, GEN_START_MS, IdClock, PLACES, Rng, WallClock, companyName, emailFor, isoDate, isoTime,
  linesCount, personName, pickPlace, placeOf, productSeed, quantityFor, slug, spreadTimes, streetLine, uuidv7, vatId,
  type Place, type ProductSeed,
} from './data.ts';
import { currencyDigits, divRoundHalfUp, formatUnits, mulMinorByRate, mulToUnits, parseDecimal, pow10, toUnitsExact } from './money.ts';
import { IndexedMap, LazyMap } from './store.ts';

export interface SeqAddress {
  line1: string;
  line2?: string;
  town: string;
  state?: string;
  postcode: string;
  country: string;
}

export type SeqTaxStatus = 'TAXED' | 'TAX_EXEMPT' | 'REVERSE_CHARGED';
export const SEQ_TAX_STATUSES: readonly SeqTaxStatus[] = ['TAXED', 'TAX_EXEMPT', 'REVERSE_CHARGED'];

export interface SeqContact {
  id: string;
  name: string;
  email: string;
  billingPreference: 'PRIMARY' | 'STANDARD' | 'NONE';
}

export interface SeqIntegrationId {
  service: string;
  id: string;
  lastSynced?: string;
  isPending: boolean;
}

export interface SeqCustomer {
  id: string;
  createdAt: string;
  updatedAt: string;
  legalName: string;
  address: SeqAddress;
  url?: string;
  domain?: string;
  label?: string;
  integrationIds: SeqIntegrationId[];
  archivedAt?: string;
  taxStatus: SeqTaxStatus;
  /** VAT / tax registration number (field name guessed; the schema excerpt only has it on invoices). */
  taxId?: string;
  contacts: SeqContact[];
  status: 'DRAFT' | 'ACTIVE';
  customProperties: Record<string, string>;
}

export interface SeqTaxCategory {
  id: string;
  name: string;
  description: string;
  createdAt: string;
}

export interface SeqProduct {
  id: string;
  name: string;
  label?: string;
  taxCategoryId?: string;
  createdAt: string;
  updatedAt: string;
}

export type SeqInvoiceStatus = 'IN_PROGRESS' | 'DRAFT' | 'FINAL' | 'SENT' | 'VOIDED';
export const SEQ_INVOICE_STATUSES: readonly SeqInvoiceStatus[] = ['IN_PROGRESS', 'DRAFT', 'FINAL', 'SENT', 'VOIDED'];
export type SeqPaymentStatus = 'UNPAID' | 'PARTIALLY_PAID' | 'PAID' | 'UNCOLLECTIBLE';

export interface SeqMerchantDetails {
  legalCompanyName: string;
  address: SeqAddress;
  email: string;
  taxId?: string;
}

export interface SeqInvoice {
  id: string;
  status: SeqInvoiceStatus;
  paymentStatus: SeqPaymentStatus;
  currency: string;
  invoiceNumber?: string;
  issueDate: string;
  dueDate: string;
  billingScheduleId?: string;
  customerId: string;
  customerLegalCompanyName: string;
  customerBillingAddress: SeqAddress;
  customerShippingAddress?: SeqAddress;
  customerTaxId?: string;
  customerTaxStatus: SeqTaxStatus;
  netTotal: string;
  totalTax: string;
  grossTotal: string;
  creditNoteIds: string[];
  merchantDetails: SeqMerchantDetails;
  createdAt: string;
  updatedAt: string;
  calculatedAt?: string;
}

export type SeqCreditNoteStatus = 'DRAFT' | 'FINAL' | 'IN_PROGRESS' | 'SENT' | 'VOIDED';

export interface SeqCreditNote {
  id: string;
  invoiceId: string;
  creditNoteNumber?: string;
  status: SeqCreditNoteStatus;
  currency: string;
  issueDate: string;
  customerId: string;
  customerLegalCompanyName: string;
  customerBillingAddress: SeqAddress;
  customerTaxId?: string;
  customerTaxStatus: SeqTaxStatus;
  netTotal: string;
  totalTax: string;
  grossTotal: string;
  merchantDetails: SeqMerchantDetails;
  createdAt: string;
  updatedAt: string;
  calculatedAt?: string;
}

export interface SeqLineItem {
  id: string;
  /** Set on invoice lines. */
  invoiceId?: string;
  /** Set on credit note lines (field name guessed by analogy with invoiceId). */
  creditNoteId?: string;
  index: number;
  title: string;
  description?: string;
  quantity: string;
  rate: string;
  /** Decimal fraction string: "0.2" = 20%. */
  taxRate: string;
  netTotal: string;
  totalTax: string;
  grossTotal: string;
  productId?: string;
  priceId?: string;
  groupId?: string;
  externalIds: { key: string; value: string }[];
}

export interface SeqPolicy {
  id: string;
  name: string;
  notificationTypes: string[];
  recipients: string[];
  channel: string;
  webhookSecret: string;
  createdAt: string;
}

export interface SequenceData {
  customers: IndexedMap<SeqCustomer>;
  taxCategories: IndexedMap<SeqTaxCategory>;
  products: IndexedMap<SeqProduct>;
  invoices: IndexedMap<SeqInvoice>;
  /** Line items per invoice id, in index order (generated ones are built on first access). */
  lineItems: LazyMap<SeqLineItem[], LineSpec>;
  creditNotes: IndexedMap<SeqCreditNote>;
  /** Line items per credit note id, in index order. */
  creditNoteLineItems: Map<string, SeqLineItem[]>;
  policies: IndexedMap<SeqPolicy>;
}

export interface Counts {
  customers: number;
  products: number;
  invoices: number;
  creditNotes: number;
}

const INVOICE_STATUS_MIX: readonly (readonly [SeqInvoiceStatus, number])[] = [['DRAFT', 55], ['SENT', 22], ['FINAL', 12], ['VOIDED', 6], ['IN_PROGRESS', 5]];

export const DEFAULT_COUNTS: Counts = { customers: 40, products: 12, invoices: 120, creditNotes: 12 };

const MERCHANT: SeqMerchantDetails = {
  legalCompanyName: 'Taxbridge Demo Inc.',
  address: { line1: '500 Congress Ave', town: 'Austin', state: 'TX', postcode: '78701', country: 'US' },
  email: 'billing@taxbridge-demo.example',
  taxId: '12-3456789',
};

export interface LineInput {
  title?: string;
  description?: string;
  quantity?: string;
  rate?: string;
  taxRate?: string;
  productId?: string;
}

/** Makes records; keeps the clocks, counters and product prices the generator needs. */
export class SequenceFactory {
  readonly rng: Rng;
  readonly wall = new WallClock();
  readonly data: SequenceData = {
    customers: new IndexedMap(),
    taxCategories: new IndexedMap(),
    products: new IndexedMap(),
    invoices: new IndexedMap(),
    lineItems: new LazyMap<SeqLineItem[], LineSpec>((id, spec) => this.buildLines(id, spec)),
    creditNotes: new IndexedMap(),
    creditNoteLineItems: new Map(),
    policies: new IndexedMap(),
  };
  private clocks = {
    customer: new IdClock(), taxCategory: new IdClock(), product: new IdClock(), invoice: new IdClock(),
    creditNote: new IdClock(), contact: new IdClock(), policy: new IdClock(), misc: new IdClock(),
  };
  private productSeeds = new Map<string, ProductSeed>();
  private productIds: string[] = [];
  /** Products random lines are drawn from (fixed after generation so deferred plans stay valid). */
  private planProducts: string[] = [];
  private customerIds: string[] = [];
  private invoiceNo = 0;
  private creditNoteNo = 0;
  readonly merchant = MERCHANT;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  id(kind: keyof SequenceFactory['clocks'], ms: number): { id: string; ms: number } {
    const t = this.clocks[kind].take(ms);
    this.wall.observe(t.ms);
    return { id: uuidv7(t.ms, t.seq, this.rng), ms: t.ms };
  }

  /** Fill the state: tax categories, products, customers, invoices (with lines), credit notes. */
  generate(counts: Counts, lines: number | readonly [number, number]): void {
    const cats = [
      ['Standard', 'Taxable software as a service'],
      ['Digital goods', 'Electronically delivered products'],
      ['Professional services', 'Consulting, training and implementation'],
      ['Physical goods', 'Tangible personal property'],
    ] as const;
    cats.forEach(([name, description], i) => {
      const { id, ms } = this.id('taxCategory', GEN_START_MS - 60 * DAY_MS + i * 1000);
      this.data.taxCategories.set(id, { id, name, description, createdAt: isoTime(ms) });
    });

    const pt = spreadTimes(counts.products, GEN_START_MS - 30 * DAY_MS, GEN_START_MS, this.rng);
    for (let i = 0; i < counts.products; i++) this.makeProduct(pt(i), i);
    this.planProducts = [...this.productIds];

    const ct = spreadTimes(counts.customers, GEN_START_MS, GEN_START_MS + 60 * DAY_MS, this.rng);
    for (let i = 0; i < counts.customers; i++) this.makeCustomer(ct(i), i);

    const it = spreadTimes(counts.invoices, GEN_START_MS + 7 * DAY_MS, GEN_END_MS, this.rng);
    const issued: string[] = [];
    for (let i = 0; i < counts.invoices && this.customerIds.length > 0; i++) {
      const status = this.rng.weighted(INVOICE_STATUS_MIX);
      const inv = this.makeInvoice(it(i), { status }, undefined, linesCount(this.rng, lines), true);
      if (status === 'FINAL' || status === 'SENT') issued.push(inv.id);
    }

    const nt = spreadTimes(counts.creditNotes, GEN_END_MS + DAY_MS, GEN_END_MS + 30 * DAY_MS, this.rng);
    const pool = issued.length > 0 ? issued : [...this.data.invoices.sortedKeys];
    for (let i = 0; i < counts.creditNotes && pool.length > 0; i++) {
      const status = this.rng.weighted<SeqCreditNoteStatus>([['DRAFT', 50], ['SENT', 30], ['FINAL', 20]]);
      this.makeCreditNote(nt(i), this.rng.pick(pool), { status });
    }
  }

  makeProduct(ms: number, i = this.productIds.length, partial: Partial<SeqProduct> & { priceMinor?: bigint } = {}): SeqProduct {
    const { id, ms: t } = this.id('product', ms);
    const seed = productSeed(this.rng, i);
    if (partial.priceMinor !== undefined) seed.priceMinor = partial.priceMinor;
    const cats = this.data.taxCategories.sortedKeys;
    const catIndex = seed.kind === 'saas' ? 0 : seed.kind === 'digital' || seed.kind === 'usage' ? 1 : seed.kind === 'services' ? 2 : 3;
    const withCategory = cats.length > 0 && this.rng.chance(0.7);
    const p: SeqProduct = {
      id,
      name: seed.name,
      ...(this.rng.chance(0.3) ? { label: seed.description } : {}),
      ...(withCategory ? { taxCategoryId: cats[Math.min(catIndex, cats.length - 1)]! } : {}),
      createdAt: isoTime(t),
      updatedAt: isoTime(t),
    };
    const { priceMinor: _ignored, ...rest } = partial;
    Object.assign(p, rest, { id, createdAt: p.createdAt });
    if (partial.updatedAt === undefined) p.updatedAt = p.createdAt;
    seed.name = p.name;
    this.productSeeds.set(id, seed);
    this.productIds.push(id);
    this.data.products.set(id, p);
    return p;
  }

  makeCustomer(ms: number, i = this.customerIds.length, partial: Partial<SeqCustomer> = {}): SeqCustomer {
    const rng = this.rng;
    const { id, ms: t } = this.id('customer', ms);
    // the first few are fixed showcases so tests and demos can rely on them
    const showcase: [Place, SeqTaxStatus, boolean][] = [
      [AUSTIN_TX, 'TAXED', false],
      [placeOf('DE', undefined)!, 'REVERSE_CHARGED', true],
      [placeOf('US', 'NY')!, 'TAX_EXEMPT', false],
      [placeOf('CA', 'ON')!, 'TAXED', false],
      [PLACES.find((p) => p.country === 'GB')!, 'TAXED', true],
    ];
    let place: Place;
    let taxStatus: SeqTaxStatus;
    let hasVat: boolean;
    if (i < showcase.length) {
      [place, taxStatus, hasVat] = showcase[i]!;
    } else {
      place = pickPlace(rng);
      hasVat = false;
      taxStatus = 'TAXED';
      if (place.region === 'EU' && rng.chance(0.6)) {
        hasVat = true;
        taxStatus = 'REVERSE_CHARGED';
      } else if (place.region === 'UK' && rng.chance(0.5)) {
        hasVat = true;
      } else if ((place.region === 'US' && rng.chance(0.1)) || (place.region === 'CA' && rng.chance(0.05))) {
        taxStatus = 'TAX_EXEMPT';
      }
    }
    const legalName = companyName(rng, place.country, taxStatus === 'TAX_EXEMPT');
    const domain = `${slug(legalName)}.example`;
    const contacts: SeqContact[] = [];
    const nContacts = rng.int(1, 2);
    for (let c = 0; c < nContacts; c++) {
      const name = personName(rng);
      contacts.push({ id: this.id('contact', t).id, name, email: emailFor(name, legalName), billingPreference: c === 0 ? 'PRIMARY' : 'STANDARD' });
    }
    const address: SeqAddress = {
      line1: streetLine(rng, place),
      ...(rng.chance(0.25) ? { line2: `Suite ${rng.int(100, 999)}` } : {}),
      town: place.city,
      ...(place.state ? { state: place.state } : {}),
      postcode: place.postcode,
      country: place.country,
    };
    const c: SeqCustomer = {
      id,
      createdAt: isoTime(t),
      updatedAt: isoTime(t + rng.int(0, 5 * DAY_MS)),
      legalName,
      address,
      url: `https://${domain}`,
      domain,
      ...(rng.chance(0.2) ? { label: legalName.split(' ')[0] } : {}),
      integrationIds: [],
      taxStatus,
      ...(hasVat ? { taxId: vatId(rng, place.country) } : {}),
      contacts,
      status: 'ACTIVE',
      customProperties: {},
    };
    if (i >= showcase.length && rng.chance(0.03)) c.archivedAt = c.updatedAt;
    Object.assign(c, partial, { id, createdAt: c.createdAt });
    this.customerIds.push(id);
    this.data.customers.set(id, c);
    return c;
  }

  /** One line with its totals; adds its net and tax (minor units) to `acc`. */
  private line(
    id: string, owner: 'invoiceId' | 'creditNoteId', ownerId: string, index: number, digits: number,
    inp: { title: string; description?: string; quantity: string; rate: string; rateMinor?: bigint; taxRate: string; productId?: string },
    acc: { net: bigint; tax: bigint },
  ): SeqLineItem {
    const net = lineNet(inp.quantity, inp.rate, inp.rateMinor, digits);
    const tax = inp.taxRate === '0' ? 0n : mulMinorByRate(net, inp.taxRate);
    acc.net += net;
    acc.tax += tax;
    return {
      id,
      invoiceId: owner === 'invoiceId' ? ownerId : undefined,
      creditNoteId: owner === 'creditNoteId' ? ownerId : undefined,
      index,
      title: inp.title,
      description: inp.description,
      quantity: inp.quantity,
      rate: inp.rate,
      taxRate: inp.taxRate,
      netTotal: formatUnits(net, digits),
      totalTax: formatUnits(tax, digits),
      grossTotal: formatUnits(net + tax, digits),
      productId: inp.productId,
      priceId: undefined,
      groupId: undefined,
      externalIds: [],
    };
  }

  /** Lines from explicit inputs (built at once). */
  private linesFromInputs(owner: 'invoiceId' | 'creditNoteId', ownerId: string, ms: number, currency: string, taxRate: string, inputs: LineInput[], acc: { net: bigint; tax: bigint }): SeqLineItem[] {
    const digits = currencyDigits(currency);
    const idRng = new Rng(this.rng.u32());
    return inputs.map((inp, index) => this.line(uuidv7(ms, index, idRng), owner, ownerId, index, digits, {
      title: inp.title ?? 'Item',
      description: inp.description,
      quantity: inp.quantity ?? '1',
      rate: inp.rate ?? formatUnits(0n, digits),
      taxRate: inp.taxRate ?? taxRate,
      productId: inp.productId,
    }, acc));
  }

  /**
   * The random choices for `count` catalogue lines, from a per-document seed: the same seed always
   * gives the same plan, so lines can be built later (lazily) exactly as they were summed now.
   */
  private planLines(spec: LineSpec): LinePlan[] {
    const rng = new Rng(spec.seed);
    const digits = currencyDigits(spec.currency);
    const scale = digits >= 2 ? 10n ** BigInt(digits - 2) : 1n;
    const products = this.planProducts;
    const out: LinePlan[] = [];
    for (let k = 0; k < spec.count; k++) {
      if (products.length === 0) {
        const rateMinor = BigInt(rng.int(1000, 99999));
        out.push({ pid: undefined, seed: undefined, quantity: '1', rateMinor, desc: false });
        continue;
      }
      const pid = products[Math.floor(rng.next() * products.length)]!;
      const seed = this.productSeeds.get(pid)!;
      out.push({ pid, seed, quantity: quantityFor(rng, seed.kind), rateMinor: seed.priceMinor * scale, desc: rng.chance(0.3) });
    }
    return out;
  }

  /** Sum a plan's lines without building them. */
  private planTotals(spec: LineSpec, acc: { net: bigint; tax: bigint }): void {
    const digits = currencyDigits(spec.currency);
    for (const p of this.planLines(spec)) {
      const net = lineNet(p.quantity, '', p.rateMinor, digits);
      acc.net += net;
      if (spec.taxRate !== '0') acc.tax += mulMinorByRate(net, spec.taxRate);
    }
  }

  /** Build the lines a spec describes (what LazyMap calls on first access). */
  buildLines(ownerId: string, spec: LineSpec): SeqLineItem[] {
    const digits = currencyDigits(spec.currency);
    const idRng = new Rng(spec.seed ^ 0x2545f491);
    const acc = { net: 0n, tax: 0n };
    return this.planLines(spec).map((p, k) => this.line(uuidv7(spec.ms, k, idRng), spec.owner, ownerId, k, digits, {
      title: p.seed?.name ?? 'Services',
      description: p.desc ? p.seed?.description : undefined,
      quantity: p.quantity,
      rate: formatUnits(p.rateMinor, digits),
      rateMinor: p.rateMinor,
      taxRate: spec.taxRate,
      productId: p.pid,
    }, acc));
  }

  /** The tax rate a generated, already-issued document would carry for this customer. */
  historicalRate(c: SeqCustomer): string {
    if (c.taxStatus !== 'TAXED') return '0';
    return placeOf(c.address.country, c.address.state)?.rate ?? placeOf(c.address.country)?.rate ?? '0';
  }

  makeInvoice(ms: number, partial: Partial<SeqInvoice> = {}, lines?: LineInput[], lineCount = 3, lazy = false): SeqInvoice {
    const rng = this.rng;
    const customerId = partial.customerId ?? this.customerIds[Math.floor(rng.next() * this.customerIds.length)]!;
    const cust = this.data.customers.get(customerId);
    if (!cust) throw new Error(`unknown customer ${customerId}`);
    const { id, ms: t } = this.id('invoice', ms);
    const status = partial.status ?? 'DRAFT';
    const currency = partial.currency ?? currencyFor(cust.address.country);
    const issued = status === 'FINAL' || status === 'SENT' || status === 'VOIDED';
    const taxRate = issued ? this.historicalRate(cust) : '0';
    const paymentStatus: SeqPaymentStatus = status === 'SENT' ? rng.weighted(PAY_SENT) : status === 'FINAL' ? rng.weighted(PAY_FINAL) : 'UNPAID';
    const createdAt = isoTime(t);
    const inv: SeqInvoice = {
      id,
      status,
      paymentStatus,
      currency,
      invoiceNumber: issued ? `INV-${String(++this.invoiceNo).padStart(6, '0')}` : undefined,
      issueDate: isoDate(t),
      dueDate: isoDate(t + 30 * DAY_MS),
      billingScheduleId: undefined,
      customerId,
      customerLegalCompanyName: cust.legalName,
      customerBillingAddress: { ...cust.address },
      customerShippingAddress: undefined,
      customerTaxId: cust.taxId,
      customerTaxStatus: cust.taxStatus,
      netTotal: '',
      totalTax: '',
      grossTotal: '',
      creditNoteIds: [],
      merchantDetails: this.merchant,
      createdAt,
      updatedAt: isoTime(t + (issued ? rng.int(1, 3 * DAY_MS) : rng.int(0, 3600_000))),
      calculatedAt: issued ? createdAt : undefined,
    };
    if (!lazy && hasKeys(partial)) {
      const { netTotal: _n, totalTax: _t, grossTotal: _g, ...rest } = partial;
      Object.assign(inv, rest, { id, createdAt });
    }
    const acc = { net: 0n, tax: 0n };
    if (lines) {
      this.data.lineItems.set(id, this.linesFromInputs('invoiceId', id, t, inv.currency, taxRate, lines, acc));
    } else {
      const spec: LineSpec = { owner: 'invoiceId', seed: rng.u32(), ms: t, count: lineCount, currency: inv.currency, taxRate };
      this.planTotals(spec, acc);
      if (lazy) this.data.lineItems.defer(id, spec);
      else this.data.lineItems.set(id, this.buildLines(id, spec));
    }
    setTotals(inv, acc);
    this.data.invoices.set(id, inv);
    return inv;
  }

  makeCreditNote(ms: number, invoiceId: string, partial: Partial<SeqCreditNote> = {}, lines?: LineInput[]): SeqCreditNote {
    const inv = this.data.invoices.get(invoiceId);
    if (!inv) throw new Error(`unknown invoice ${invoiceId}`);
    const { id, ms: t } = this.id('creditNote', ms);
    const status = partial.status ?? 'DRAFT';
    const issued = status === 'FINAL' || status === 'SENT';
    const createdAt = isoTime(t);
    const cn: SeqCreditNote = {
      id,
      invoiceId,
      creditNoteNumber: issued ? `CN-${String(++this.creditNoteNo).padStart(6, '0')}` : undefined,
      status,
      currency: inv.currency,
      issueDate: isoDate(t),
      customerId: inv.customerId,
      customerLegalCompanyName: inv.customerLegalCompanyName,
      customerBillingAddress: { ...inv.customerBillingAddress },
      customerTaxId: inv.customerTaxId,
      customerTaxStatus: inv.customerTaxStatus,
      netTotal: '',
      totalTax: '',
      grossTotal: '',
      merchantDetails: this.merchant,
      createdAt,
      updatedAt: createdAt,
      calculatedAt: issued ? createdAt : undefined,
    };
    if (hasKeys(partial)) {
      const { netTotal: _n, totalTax: _t, grossTotal: _g, ...rest } = partial;
      Object.assign(cn, rest, { id, invoiceId, createdAt });
    }
    let inputs = lines;
    if (!inputs) {
      const src = this.data.lineItems.get(invoiceId) ?? [];
      const k = src.length === 0 ? 0 : this.rng.int(1, src.length);
      inputs = src.slice(0, k).map((l) => ({ title: l.title, quantity: l.quantity, rate: l.rate, taxRate: l.taxRate, productId: l.productId }));
    }
    const acc = { net: 0n, tax: 0n };
    const lineItems = this.linesFromInputs('creditNoteId', id, t, cn.currency, '0', inputs, acc);
    setTotals(cn, acc);
    this.data.creditNoteLineItems.set(id, lineItems);
    this.data.creditNotes.set(id, cn);
    inv.creditNoteIds.push(id);
    this.data.invoices.touch();
    return cn;
  }

  makePolicy(p: Omit<SeqPolicy, 'id' | 'createdAt'>): SeqPolicy {
    const { id, ms } = this.id('policy', this.wall.now());
    const policy: SeqPolicy = { id, name: p.name, notificationTypes: [...p.notificationTypes], recipients: [...p.recipients], channel: p.channel, webhookSecret: p.webhookSecret, createdAt: isoTime(ms) };
    this.data.policies.set(id, policy);
    return policy;
  }

  forgetCustomer(id: string): void {
    const i = this.customerIds.indexOf(id);
    if (i >= 0) this.customerIds.splice(i, 1);
  }

  nextInvoiceNumber(): string {
    return `INV-${String(++this.invoiceNo).padStart(6, '0')}`;
  }

  nextCreditNoteNumber(): string {
    return `CN-${String(++this.creditNoteNo).padStart(6, '0')}`;
  }
}

const INT_RE = /^\d+$/;

/** What a deferred list of generated lines is rebuilt from. */
export interface LineSpec {
  owner: 'invoiceId' | 'creditNoteId';
  seed: number;
  ms: number;
  count: number;
  currency: string;
  taxRate: string;
}

interface LinePlan {
  pid: string | undefined;
  seed: ProductSeed | undefined;
  quantity: string;
  rateMinor: bigint;
  desc: boolean;
}

function lineNet(quantity: string, rate: string, rateMinor: bigint | undefined, digits: number): bigint {
  if (rateMinor !== undefined) {
    if (INT_RE.test(quantity)) return BigInt(quantity) * rateMinor;
    const q = parseDecimal(quantity);
    return divRoundHalfUp(q.units * rateMinor, pow10(q.scale));
  }
  return mulToUnits(quantity, rate, digits);
}
const PAY_SENT: readonly (readonly [SeqPaymentStatus, number])[] = [['PAID', 50], ['UNPAID', 35], ['PARTIALLY_PAID', 10], ['UNCOLLECTIBLE', 5]];
const PAY_FINAL: readonly (readonly [SeqPaymentStatus, number])[] = [['UNPAID', 80], ['PAID', 20]];

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

function setTotals(doc: { currency: string; netTotal: string; totalTax: string; grossTotal: string }, acc: { net: bigint; tax: bigint }): void {
  const digits = currencyDigits(doc.currency);
  doc.netTotal = formatUnits(acc.net, digits);
  doc.totalTax = formatUnits(acc.tax, digits);
  doc.grossTotal = formatUnits(acc.net + acc.tax, digits);
}

export function currencyFor(country: string): string {
  if (country === 'US') return 'USD';
  if (country === 'CA') return 'CAD';
  if (country === 'GB') return 'GBP';
  return 'EUR';
}

/** netTotal = quantity × rate; totalTax = netTotal × taxRate; grossTotal = net + tax (each rounded half-up to minor units). */
export function computeLine(l: SeqLineItem, currency: string): void {
  const digits = currencyDigits(currency);
  const net = mulToUnits(l.quantity, l.rate, digits);
  const tax = mulMinorByRate(net, l.taxRate);
  l.netTotal = formatUnits(net, digits);
  l.totalTax = formatUnits(tax, digits);
  l.grossTotal = formatUnits(net + tax, digits);
}

/** Recompute only the tax part of a line from its current netTotal. */
export function computeLineTax(l: SeqLineItem, currency: string): void {
  const digits = currencyDigits(currency);
  const net = toUnitsExact(l.netTotal, digits);
  const tax = mulMinorByRate(net, l.taxRate);
  l.totalTax = formatUnits(tax, digits);
  l.grossTotal = formatUnits(net + tax, digits);
}

/** A document's totals are the sums of its lines. */
export function sumDocument(doc: { currency: string; netTotal: string; totalTax: string; grossTotal: string }, lines: readonly SeqLineItem[]): void {
  const digits = currencyDigits(doc.currency);
  let net = 0n;
  let tax = 0n;
  for (const l of lines) {
    net += toUnitsExact(l.netTotal, digits);
    tax += toUnitsExact(l.totalTax, digits);
  }
  doc.netTotal = formatUnits(net, digits);
  doc.totalTax = formatUnits(tax, digits);
  doc.grossTotal = formatUnits(net + tax, digits);
}
