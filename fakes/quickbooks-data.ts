/**
 * Record shapes and seeded generators for the fake QuickBooks Online API: companies (realms) with
 * customers, items, invoices, credit memos, tax codes and tax rates, in Intuit's JSON shapes.
 * Ids and SyncTokens are strings; money is a JSON number in major units, always computed here
 * with BigInt cents and only rendered as a number; timestamps carry the company's UTC offset and
 * have second resolution, as Intuit's do. See /work/shared/research/quickbooks-api.md.
 */
import { GEN_END_MS, GEN_START_MS, PLACES, Rng, companyName, emailFor, isoDate, personName, productSeed, quantityFor, spreadTimes, streetLine, type Place } from './data.ts';
import { formatUnits, mulToUnits, parseDecimal, rescale, toUnitsExact } from './money.ts';

export interface QboRef {
  value: string;
  name?: string;
}

export interface QboAddr {
  Id?: string;
  Line1?: string;
  Line2?: string;
  City?: string;
  CountrySubDivisionCode?: string;
  PostalCode?: string;
  Country?: string;
}

export interface QboMeta {
  CreateTime: string;
  LastUpdatedTime: string;
}

interface QboBase {
  Id: string;
  SyncToken: string;
  domain: 'QBO';
  sparse: false;
  MetaData: QboMeta;
}

export interface QboCustomer extends QboBase {
  DisplayName: string;
  CompanyName: string;
  GivenName?: string;
  FamilyName?: string;
  PrimaryEmailAddr?: { Address: string };
  BillAddr?: QboAddr;
  ShipAddr?: QboAddr;
  Taxable: boolean;
  ResaleNum?: string;
  DefaultTaxCodeRef?: QboRef;
  Active: boolean;
  Balance: number;
  CurrencyRef: QboRef;
  PreferredDeliveryMethod: string;
}

export type QboItemType = 'Service' | 'NonInventory' | 'Inventory';

export interface QboItem extends QboBase {
  Name: string;
  Sku?: string;
  Description?: string;
  Type: QboItemType;
  Taxable: boolean;
  SalesTaxIncluded: boolean;
  UnitPrice: number;
  IncomeAccountRef: QboRef;
  Active: boolean;
}

export interface QboSalesLine {
  Id: string;
  LineNum: number;
  Description?: string;
  Amount: number;
  DetailType: 'SalesItemLineDetail';
  SalesItemLineDetail: { ItemRef: QboRef; Qty: number; UnitPrice: number; TaxCodeRef: { value: 'TAX' | 'NON' }; ServiceDate?: string };
}

export interface QboSubTotalLine {
  Amount: number;
  DetailType: 'SubTotalLineDetail';
  SubTotalLineDetail: Record<string, never>;
}

export type QboLine = QboSalesLine | QboSubTotalLine;

export interface QboTaxLine {
  Amount: number;
  DetailType: 'TaxLineDetail';
  TaxLineDetail: { TaxRateRef: QboRef; PercentBased: boolean; TaxPercent: number; NetAmountTaxable: number };
}

export interface QboTxnTaxDetail {
  TxnTaxCodeRef?: QboRef;
  TotalTax: number;
  TaxLine: QboTaxLine[];
}

export interface QboInvoice extends QboBase {
  DocNumber: string;
  TxnDate: string;
  DueDate?: string;
  CustomerRef: QboRef;
  CurrencyRef: QboRef;
  BillAddr?: QboAddr;
  ShipAddr?: QboAddr;
  BillEmail?: { Address: string };
  CustomerMemo?: { value: string };
  PrivateNote?: string;
  Line: QboLine[];
  TxnTaxDetail: QboTxnTaxDetail;
  TotalAmt: number;
  Balance: number;
  ApplyTaxAfterDiscount: boolean;
  PrintStatus: string;
  EmailStatus: string;
  LinkedTxn: { TxnId: string; TxnType: string }[];
}

export interface QboCreditMemo extends Omit<QboInvoice, 'DueDate'> {
  RemainingCredit: number;
}

export interface QboTaxRate extends QboBase {
  Name: string;
  Description: string;
  RateValue: number;
  AgencyRef: QboRef;
  Active: boolean;
}

export interface QboTaxCode extends QboBase {
  Name: string;
  Description: string;
  Taxable: boolean;
  TaxGroup: boolean;
  Active: boolean;
  SalesTaxRateList: { TaxRateDetail: { TaxRateRef: QboRef; TaxTypeApplicable: string; TaxOrder: number }[] };
  PurchaseTaxRateList: { TaxRateDetail: never[] };
}

export type QboEntityName = 'Customer' | 'Item' | 'Invoice' | 'CreditMemo' | 'TaxCode' | 'TaxRate';
export type QboRecord = QboCustomer | QboItem | QboInvoice | QboCreditMemo | QboTaxCode | QboTaxRate;

/** A Map in insertion (= id) order that counts changes, so cached query views know when to rebuild. */
export class Table<V> extends Map<string, V> {
  version = 0;
  override set(key: string, value: V): this {
    super.set(key, value);
    this.version++;
    return this;
  }
  override delete(key: string): boolean {
    const had = super.delete(key);
    if (had) this.version++;
    return had;
  }
  touch(): void {
    this.version++;
  }
}

export interface QboCompany {
  realmId: string;
  name: string;
  /** "-08:00": the offset every timestamp of this company is written with. */
  utcOffset: string;
  address: QboAddr;
  place: Place;
  /** Automated sales tax: compute tax from the ship-to place when no explicit TotalTax is sent (default false). */
  autoTax: boolean;
  customers: Table<QboCustomer>;
  items: Table<QboItem>;
  invoices: Table<QboInvoice>;
  creditMemos: Table<QboCreditMemo>;
  taxCodes: Table<QboTaxCode>;
  taxRates: Table<QboTaxRate>;
  /** Amount paid per invoice, in cents. */
  paid: Map<string, bigint>;
  /** Deleted transactions by "<Entity>:<Id>", for the change data capture feed. */
  deleted: Map<string, { entity: QboEntityName; id: string; at: number; time: string }>;
  /** Next ids: names (customers, items), transactions (invoices, credit memos), tax objects. */
  seq: { name: number; txn: number; tax: number; doc: number };
}

export interface QboCounts {
  customers: number;
  items: number;
  invoices: number;
  creditMemos: number;
}

export const QBO_DEFAULT_COUNTS: QboCounts = { customers: 12, items: 8, invoices: 40, creditMemos: 4 };

// ------------------------------------------------------------------------------------------------
// money: JSON numbers in, BigInt cents inside, JSON numbers out

/** A JSON number as a decimal string (the shortest round-trip form; exponent forms are refused). */
export function numberText(n: number): string {
  const s = String(n);
  if (!Number.isFinite(n) || /e/i.test(s)) throw new RangeError(`not a plain decimal number: ${s}`);
  return s;
}

/** Exact cents of a money number; throws on more than 2 decimals. */
export function cents(n: number): bigint {
  return toUnitsExact(numberText(n), 2);
}

/** Cents -> JSON number (150.5 for 15050n). */
export function money(c: bigint): number {
  return Number(formatUnits(c, 2));
}

/** round-half-up(qty × unitPrice) in cents. */
export function lineCents(qty: number, unitPrice: number): bigint {
  return mulToUnits(numberText(qty), numberText(unitPrice), 2);
}

// ------------------------------------------------------------------------------------------------
// time

/** "2026-01-05T02:11:12-08:00": ms rendered at a fixed UTC offset, whole seconds (as Intuit writes them). */
export function qboTime(ms: number, offset: string): string {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  const mins = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  const local = new Date(Math.floor(ms / 1000) * 1000 + mins * 60_000).toISOString().slice(0, 19);
  return `${local}${m ? offset : 'Z'}`;
}

// ------------------------------------------------------------------------------------------------
// US tax: state part + local part of each place's combined rate (percent decimal strings)

const STATE_RATE: Record<string, string> = {
  TX: '6.25', CA: '7.25', NY: '4', WA: '6.5', FL: '6', PA: '6', IL: '6.25', CO: '2.9', MA: '6.25', OR: '0', GA: '4',
};

export const US_PLACES: readonly Place[] = PLACES.filter((p) => p.country === 'US');

/** [state percent, local percent] of a place, as decimal strings. */
export function ratePartsOf(place: Place): [string, string] {
  const total = parseDecimal(place.rate); // fraction, e.g. 0.0825
  const totalPct = rescale(total.units * 100n, total.scale, 5);
  const state = STATE_RATE[place.state ?? ''] ?? '0';
  const statePct = toUnitsExact(state, 5);
  const local = totalPct - statePct > 0n ? totalPct - statePct : 0n;
  const fmt = (u: bigint): string => {
    let s = formatUnits(u, 5);
    s = s.replace(/\.?0+$/, '');
    return s === '' ? '0' : s;
  };
  return [fmt(statePct > totalPct ? totalPct : statePct), fmt(local)];
}

/** The place of an address (city + state), if it is one the fakes know. */
export function placeOfAddr(a: QboAddr | undefined): Place | undefined {
  if (!a) return undefined;
  return US_PLACES.find((p) => p.city === a.City && p.state === a.CountrySubDivisionCode);
}

export function addrOf(rng: Rng, place: Place, id?: string): QboAddr {
  return {
    ...(id !== undefined ? { Id: id } : {}),
    Line1: streetLine(rng, place),
    City: place.city,
    CountrySubDivisionCode: place.state,
    PostalCode: place.postcode,
    Country: 'USA',
  };
}

// ------------------------------------------------------------------------------------------------
// totals

const isSales = (l: QboLine): l is QboSalesLine => l.DetailType === 'SalesItemLineDetail';

/** Sum of sales lines and of the taxable (TAX) ones, in cents. */
export function lineSums(lines: readonly QboLine[]): { subtotal: bigint; taxable: bigint } {
  let subtotal = 0n;
  let taxable = 0n;
  for (const l of lines) {
    if (!isSales(l)) continue;
    const c = cents(l.Amount);
    subtotal += c;
    if (l.SalesItemLineDetail.TaxCodeRef.value === 'TAX') taxable += c;
  }
  return { subtotal, taxable };
}

/** Sales lines renumbered, followed by the SubTotalLineDetail line QBO adds. */
export function withSubtotal(lines: readonly QboLine[]): QboLine[] {
  const sales = lines.filter(isSales).map((l, i) => ({ ...l, LineNum: i + 1 }));
  const { subtotal } = lineSums(sales);
  return [...sales, { Amount: money(subtotal), DetailType: 'SubTotalLineDetail', SubTotalLineDetail: {} }];
}

/**
 * Split `totalTax` cents over the tax code's rates in proportion to their percentages (largest
 * remainder, so the parts add up exactly): what automated sales tax does with an explicit TotalTax.
 */
export function prorateTax(company: QboCompany, code: QboTaxCode | undefined, totalTax: bigint, taxable: bigint): QboTaxLine[] {
  const rates = (code?.SalesTaxRateList.TaxRateDetail ?? []).map((d) => company.taxRates.get(d.TaxRateRef.value)).filter((r): r is QboTaxRate => r !== undefined);
  if (rates.length === 0 || totalTax === 0n) return [];
  const weights = rates.map((r) => toUnitsExact(numberText(r.RateValue), 5));
  let sum = weights.reduce((a, b) => a + b, 0n);
  if (sum === 0n) {
    weights.fill(1n);
    sum = BigInt(weights.length);
  }
  const parts = weights.map((w) => (totalTax * w) / sum);
  let left = totalTax - parts.reduce((a, b) => a + b, 0n);
  const order = weights.map((w, i) => ({ i, rem: (totalTax * w) % sum })).sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (let k = 0; left > 0n; k = (k + 1) % order.length, left--) parts[order[k]!.i]! += 1n;
  return rates.map((r, i) => ({
    Amount: money(parts[i]!),
    DetailType: 'TaxLineDetail',
    TaxLineDetail: { TaxRateRef: { value: r.Id, name: r.Name }, PercentBased: true, TaxPercent: r.RateValue, NetAmountTaxable: money(taxable) },
  }));
}

/** Tax as the company's rates give it (automated sales tax without an override), in cents. */
export function computedTax(company: QboCompany, code: QboTaxCode | undefined, taxable: bigint): bigint {
  let tax = 0n;
  for (const d of code?.SalesTaxRateList.TaxRateDetail ?? []) {
    const r = company.taxRates.get(d.TaxRateRef.value);
    if (!r) continue;
    const p = parseDecimal(numberText(r.RateValue));
    tax += rescale(taxable * p.units, p.scale + 2, 0);
  }
  return tax;
}

/** The tax code automated sales tax picks: the ship-to place, else the company's own place. */
export function taxCodeFor(company: QboCompany, doc: Pick<QboInvoice, 'ShipAddr' | 'BillAddr'>): QboTaxCode | undefined {
  const place = placeOfAddr(doc.ShipAddr) ?? placeOfAddr(doc.BillAddr) ?? company.place;
  const name = `${place.city}, ${place.state}`;
  for (const c of company.taxCodes.values()) if (c.Name === name) return c;
  return undefined;
}

/** Recompute TotalAmt / Balance (and RemainingCredit) from lines and TotalTax. */
export function recomputeTotals(company: QboCompany, doc: QboInvoice | QboCreditMemo, kind: 'Invoice' | 'CreditMemo'): void {
  const { subtotal } = lineSums(doc.Line);
  const tax = cents(doc.TxnTaxDetail.TotalTax);
  const total = subtotal + tax;
  doc.TotalAmt = money(total);
  if (kind === 'Invoice') {
    const paid = company.paid.get(doc.Id) ?? 0n;
    doc.Balance = money(total - paid);
  } else {
    doc.Balance = money(total);
    (doc as QboCreditMemo).RemainingCredit = money(total);
  }
}

// ------------------------------------------------------------------------------------------------
// generation

export interface CompanySeed {
  realmId: string;
  name?: string;
  utcOffset?: string;
  counts?: Partial<QboCounts>;
  autoTax?: boolean;
  /** Where the company is (default: a US place picked from the seed). */
  place?: Place;
}

export class QboFactory {
  readonly rng: Rng;
  readonly company: QboCompany;

  constructor(seed: number, s: CompanySeed) {
    this.rng = new Rng(seed);
    const place = s.place ?? this.rng.pick(US_PLACES);
    this.company = {
      realmId: s.realmId,
      name: s.name ?? companyName(this.rng, 'US'),
      utcOffset: s.utcOffset ?? '-08:00',
      address: addrOf(this.rng, place),
      place,
      autoTax: s.autoTax === true,
      customers: new Table(),
      items: new Table(),
      invoices: new Table(),
      creditMemos: new Table(),
      taxCodes: new Table(),
      taxRates: new Table(),
      paid: new Map(),
      deleted: new Map(),
      seq: { name: 1, txn: 1, tax: 1, doc: 1001 },
    };
    this.makeTaxCodes(GEN_START_MS);
  }

  time(ms: number): string {
    return qboTime(ms, this.company.utcOffset);
  }

  private meta(ms: number): QboMeta {
    const t = this.time(ms);
    return { CreateTime: t, LastUpdatedTime: t };
  }

  /** One TaxCode per known US place, each a group of a state rate and a local rate. */
  private makeTaxCodes(ms: number): void {
    const c = this.company;
    const stateRates = new Map<string, QboTaxRate>();
    for (const place of US_PLACES) {
      const [statePct, localPct] = ratePartsOf(place);
      let st = stateRates.get(place.state!);
      if (!st) {
        st = { Id: String(c.seq.tax++), SyncToken: '0', domain: 'QBO', sparse: false, MetaData: this.meta(ms), Name: `${place.state} State`, Description: `${place.state} state sales tax`, RateValue: Number(statePct), AgencyRef: { value: '1', name: `${place.state} Department of Revenue` }, Active: true };
        stateRates.set(place.state!, st);
        c.taxRates.set(st.Id, st);
      }
      const details = [{ TaxRateRef: { value: st.Id, name: st.Name }, TaxTypeApplicable: 'TaxOnAmount', TaxOrder: 0 }];
      if (localPct !== '0') {
        const lr: QboTaxRate = { Id: String(c.seq.tax++), SyncToken: '0', domain: 'QBO', sparse: false, MetaData: this.meta(ms), Name: `${place.city} Local`, Description: `${place.city} local sales tax`, RateValue: Number(localPct), AgencyRef: { value: '1', name: `${place.state} Department of Revenue` }, Active: true };
        c.taxRates.set(lr.Id, lr);
        details.push({ TaxRateRef: { value: lr.Id, name: lr.Name }, TaxTypeApplicable: 'TaxOnAmount', TaxOrder: 0 });
      }
      const code: QboTaxCode = {
        Id: String(c.seq.tax++), SyncToken: '0', domain: 'QBO', sparse: false, MetaData: this.meta(ms), Name: `${place.city}, ${place.state}`,
        Description: `Sales tax for ${place.city}, ${place.state}`, Taxable: true, TaxGroup: true, Active: true,
        SalesTaxRateList: { TaxRateDetail: details }, PurchaseTaxRateList: { TaxRateDetail: [] },
      };
      c.taxCodes.set(code.Id, code);
    }
  }

  makeCustomer(ms: number, partial: Partial<QboCustomer> = {}): QboCustomer {
    const c = this.company;
    const place = this.rng.chance(0.6) ? c.place : this.rng.pick(US_PLACES);
    const exempt = this.rng.chance(0.1);
    const company = companyName(this.rng, 'US', exempt);
    const person = personName(this.rng);
    const [given, family] = person.split(' ');
    const bill = addrOf(this.rng, place, String(c.seq.name * 10 + 1));
    const cust: QboCustomer = {
      Id: String(c.seq.name++), SyncToken: '0', domain: 'QBO', sparse: false, MetaData: this.meta(ms),
      DisplayName: company, CompanyName: company, GivenName: given, FamilyName: family,
      PrimaryEmailAddr: { Address: emailFor(person, company) },
      BillAddr: bill, ShipAddr: { ...bill, Id: String(Number(bill.Id) + 1) },
      Taxable: !exempt, ...(exempt ? { ResaleNum: `EX-${this.rng.digits(8)}` } : {}),
      Active: true, Balance: 0, CurrencyRef: { value: 'USD', name: 'United States Dollar' }, PreferredDeliveryMethod: 'Email',
      ...partial,
    };
    c.customers.set(cust.Id, cust);
    return cust;
  }

  makeItem(ms: number, i: number, partial: Partial<QboItem> = {}): QboItem {
    const c = this.company;
    const seed = productSeed(this.rng, i);
    const type: QboItemType = seed.kind === 'goods' ? 'NonInventory' : 'Service';
    const item: QboItem = {
      Id: String(c.seq.name++), SyncToken: '0', domain: 'QBO', sparse: false, MetaData: this.meta(ms),
      Name: seed.name, Sku: `SKU-${1000 + i}`, Description: seed.description, Type: type,
      Taxable: seed.kind !== 'services', SalesTaxIncluded: false, UnitPrice: money(seed.priceMinor),
      IncomeAccountRef: { value: '79', name: 'Sales of Product Income' }, Active: true,
      ...partial,
    };
    c.items.set(item.Id, item);
    return item;
  }

  /** Sales lines for (item, qty, unit price) triples; TAX when both item and customer are taxable. */
  salesLines(customer: QboCustomer | undefined, specs: readonly { item: QboItem; qty: number; unitPrice?: number; description?: string }[]): QboSalesLine[] {
    return specs.map((s, i) => {
      const unit = s.unitPrice ?? s.item.UnitPrice;
      return {
        Id: String(i + 1), LineNum: i + 1, Description: s.description ?? s.item.Description, Amount: money(lineCents(s.qty, unit)),
        DetailType: 'SalesItemLineDetail',
        SalesItemLineDetail: { ItemRef: { value: s.item.Id, name: s.item.Name }, Qty: s.qty, UnitPrice: unit, TaxCodeRef: { value: s.item.Taxable && customer?.Taxable !== false ? 'TAX' : 'NON' } },
      };
    });
  }

  private randomLines(customer: QboCustomer): QboSalesLine[] {
    const items = [...this.company.items.values()].filter((i) => i.Active);
    const n = this.rng.int(1, 4);
    const specs = Array.from({ length: n }, () => {
      const item = this.rng.pick(items);
      const kind = item.Type === 'NonInventory' ? 'goods' : item.Taxable ? 'saas' : 'services';
      return { item, qty: Number(quantityFor(this.rng, kind)) };
    });
    return this.salesLines(customer, specs);
  }

  /** A new invoice or credit memo (not stored). */
  makeDocument(kind: 'Invoice' | 'CreditMemo', ms: number, customer: QboCustomer, lines?: QboSalesLine[]): QboInvoice | QboCreditMemo {
    const c = this.company;
    const sales = lines ?? this.randomLines(customer);
    const txnDate = this.time(ms).slice(0, 10);
    const base = {
      Id: String(c.seq.txn++), SyncToken: '0', domain: 'QBO' as const, sparse: false as const, MetaData: this.meta(ms),
      DocNumber: String(c.seq.doc++), TxnDate: txnDate, CustomerRef: { value: customer.Id, name: customer.DisplayName },
      CurrencyRef: { value: 'USD', name: 'United States Dollar' }, BillAddr: customer.BillAddr && { ...customer.BillAddr }, ShipAddr: customer.ShipAddr && { ...customer.ShipAddr },
      BillEmail: customer.PrimaryEmailAddr && { ...customer.PrimaryEmailAddr },
      Line: withSubtotal(sales), TxnTaxDetail: { TotalTax: 0, TaxLine: [] }, TotalAmt: 0, Balance: 0,
      ApplyTaxAfterDiscount: false, PrintStatus: 'NeedToPrint', EmailStatus: 'NotSet', LinkedTxn: [],
    };
    const doc: QboInvoice | QboCreditMemo = kind === 'Invoice'
      ? { ...base, DueDate: isoDate(Date.parse(txnDate) + 30 * 86_400_000) }
      : { ...base, RemainingCredit: 0 };
    if (c.autoTax) applyAutoTax(c, doc);
    recomputeTotals(c, doc, kind);
    return doc;
  }

  generate(counts: QboCounts): void {
    const c = this.company;
    const span = GEN_END_MS - GEN_START_MS;
    const tItem = spreadTimes(counts.items, GEN_START_MS, GEN_START_MS + span / 10, this.rng);
    for (let i = 0; i < counts.items; i++) this.makeItem(tItem(i), i);
    const tCust = spreadTimes(counts.customers, GEN_START_MS, GEN_START_MS + span / 2, this.rng);
    for (let i = 0; i < counts.customers; i++) this.makeCustomer(tCust(i));
    const customers = [...c.customers.values()];
    const tInv = spreadTimes(counts.invoices, GEN_START_MS + span / 10, GEN_END_MS, this.rng);
    for (let i = 0; i < counts.invoices && customers.length > 0 && c.items.size > 0; i++) {
      const inv = this.makeDocument('Invoice', tInv(i), this.rng.pick(customers)) as QboInvoice;
      c.invoices.set(inv.Id, inv);
    }
    const invoices = [...c.invoices.values()];
    const tCm = spreadTimes(counts.creditMemos, GEN_START_MS + span / 2, GEN_END_MS, this.rng);
    for (let i = 0; i < counts.creditMemos && invoices.length > 0; i++) {
      const src = this.rng.pick(invoices);
      const cust = c.customers.get(src.CustomerRef.value)!;
      const first = src.Line.find(isSales)!;
      const line = this.salesLines(cust, [{ item: c.items.get(first.SalesItemLineDetail.ItemRef.value)!, qty: 1, unitPrice: first.SalesItemLineDetail.UnitPrice }]);
      const cm = this.makeDocument('CreditMemo', tCm(i), cust, line) as QboCreditMemo;
      c.creditMemos.set(cm.Id, cm);
    }
  }
}

/** Automated sales tax with no override: the ship-to code's rates over the taxable lines. */
export function applyAutoTax(company: QboCompany, doc: QboInvoice | QboCreditMemo): void {
  const code = doc.TxnTaxDetail.TxnTaxCodeRef ? company.taxCodes.get(doc.TxnTaxDetail.TxnTaxCodeRef.value) : taxCodeFor(company, doc);
  const { taxable } = lineSums(doc.Line);
  const tax = computedTax(company, code, taxable);
  doc.TxnTaxDetail = {
    ...(code ? { TxnTaxCodeRef: { value: code.Id } } : {}),
    TotalTax: money(tax),
    TaxLine: prorateTax(company, code, tax, taxable),
  };
}
