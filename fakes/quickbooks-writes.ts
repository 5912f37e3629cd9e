/**
 * Writes to the fake QuickBooks Online companies, shared by the HTTP API and the test helpers:
 * create, sparse and full update with SyncToken (5010 when stale), delete and void, with the field
 * validation Intuit does (2010 unknown property, 2020 missing, 2500 bad reference, 6070 amount,
 * 6240 duplicate name) and tax written as TxnTaxDetail (TotalTax prorated over the tax code's rates).
 */
import { isPlainObject } from './http.ts';
import {
  applyAutoTax, cents, lineCents, lineSums, money, numberText, prorateTax, qboTime, recomputeTotals, taxCodeFor, withSubtotal,
  type QboAddr, type QboCompany, type QboFactory, type QboCreditMemo, type QboCustomer, type QboEntityName, type QboInvoice, type QboRecord, type QboSalesLine, type QboTaxLine, type Table,
} from './quickbooks-data.ts';
import { badRef, business, invalid, missing, notFound, validation } from './quickbooks-faults.ts';
import type { FieldKind } from './quickbooks-query.ts';

export type QboOperation = 'Create' | 'Update' | 'Delete' | 'Merge' | 'Void' | 'Emailed';

export interface Kind {
  name: QboEntityName;
  /** URL segment: /invoice, /creditmemo, ... */
  path: string;
  table: (c: QboCompany) => Table<QboRecord>;
  fields: Record<string, FieldKind>;
  /** Names (Customer, Item) are hidden from queries when inactive, and never deleted. */
  isName: boolean;
  writable: boolean;
}

const COMMON_FIELDS: Record<string, FieldKind> = { Id: 'id', 'MetaData.CreateTime': 'datetime', 'MetaData.LastUpdatedTime': 'datetime' };
const TXN_FIELDS: Record<string, FieldKind> = { ...COMMON_FIELDS, DocNumber: 'string', TxnDate: 'date', CustomerRef: 'ref', TotalAmt: 'number', Balance: 'number' };

export const KINDS: Kind[] = [
  { name: 'Customer', path: 'customer', table: (c) => c.customers as Table<QboRecord>, isName: true, writable: true,
    fields: { ...COMMON_FIELDS, DisplayName: 'string', CompanyName: 'string', GivenName: 'string', FamilyName: 'string', Active: 'boolean', Balance: 'number', Taxable: 'boolean' } },
  { name: 'Item', path: 'item', table: (c) => c.items as Table<QboRecord>, isName: true, writable: true,
    fields: { ...COMMON_FIELDS, Name: 'string', Sku: 'string', Type: 'string', Active: 'boolean', Taxable: 'boolean' } },
  { name: 'Invoice', path: 'invoice', table: (c) => c.invoices as Table<QboRecord>, isName: false, writable: true, fields: { ...TXN_FIELDS, DueDate: 'date' } },
  { name: 'CreditMemo', path: 'creditmemo', table: (c) => c.creditMemos as Table<QboRecord>, isName: false, writable: true, fields: { ...TXN_FIELDS, RemainingCredit: 'number' } },
  { name: 'TaxCode', path: 'taxcode', table: (c) => c.taxCodes as Table<QboRecord>, isName: true, writable: false, fields: { ...COMMON_FIELDS, Name: 'string', Active: 'boolean' } },
  { name: 'TaxRate', path: 'taxrate', table: (c) => c.taxRates as Table<QboRecord>, isName: true, writable: false, fields: { ...COMMON_FIELDS, Name: 'string', Active: 'boolean' } },
];
export const kindByName = (name: string): Kind | undefined => KINDS.find((k) => k.name.toLowerCase() === name.toLowerCase());
export const kindByPath = (path: string): Kind | undefined => KINDS.find((k) => k.path === path.toLowerCase());

/** Keys a client may send back unchanged; the server owns them. */
const READ_ONLY = new Set(['Id', 'SyncToken', 'sparse', 'domain', 'MetaData', 'TotalAmt', 'Balance', 'RemainingCredit', 'LinkedTxn', 'FullyQualifiedName', 'status', 'CurrencyRef', 'HomeBalance', 'HomeTotalAmt']);
const WRITABLE: Record<'Customer' | 'Item' | 'Invoice' | 'CreditMemo', readonly string[]> = {
  Customer: ['DisplayName', 'CompanyName', 'GivenName', 'FamilyName', 'PrimaryEmailAddr', 'BillAddr', 'ShipAddr', 'Taxable', 'ResaleNum', 'DefaultTaxCodeRef', 'Active', 'PreferredDeliveryMethod', 'Notes'],
  Item: ['Name', 'Sku', 'Description', 'Type', 'Taxable', 'SalesTaxIncluded', 'UnitPrice', 'IncomeAccountRef', 'Active'],
  Invoice: ['Line', 'TxnTaxDetail', 'CustomerRef', 'TxnDate', 'DueDate', 'DocNumber', 'BillAddr', 'ShipAddr', 'BillEmail', 'CustomerMemo', 'PrivateNote', 'ApplyTaxAfterDiscount', 'PrintStatus', 'EmailStatus'],
  CreditMemo: ['Line', 'TxnTaxDetail', 'CustomerRef', 'TxnDate', 'DocNumber', 'BillAddr', 'ShipAddr', 'BillEmail', 'CustomerMemo', 'PrivateNote', 'ApplyTaxAfterDiscount', 'PrintStatus', 'EmailStatus'],
};
/** Optional fields a full (non-sparse) update clears when it omits them. */
const CLEARABLE = new Set(['BillAddr', 'ShipAddr', 'BillEmail', 'CustomerMemo', 'PrivateNote', 'DueDate', 'PrimaryEmailAddr', 'GivenName', 'FamilyName', 'CompanyName', 'ResaleNum', 'DefaultTaxCodeRef', 'Notes', 'Sku', 'Description']);
const REQUIRED: Record<string, readonly string[]> = { Customer: ['DisplayName'], Item: ['Name'], Invoice: ['CustomerRef', 'Line'], CreditMemo: ['CustomerRef', 'Line'] };

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const LINE_MAX = 500;

// ------------------------------------------------------------------------------------------------
// validation of written fields

function str(v: unknown, el: string, max = 4000): string {
  if (typeof v !== 'string') throw invalid(el, 'must be a string');
  if (v.length > max) throw validation('6000', 'A business validation error has occurred while processing your request', `String length is longer than supported by specification: ${el} (max ${max})`, el);
  return v;
}
function bool(v: unknown, el: string): boolean {
  if (typeof v !== 'boolean') throw invalid(el, 'must be true or false');
  return v;
}
function moneyNumber(v: unknown, el: string, allowNegative = false): bigint {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(el, 'must be a number');
  let c: bigint;
  try {
    c = cents(v);
  } catch {
    throw invalid(el, `has more than 2 decimal places or is not a plain number: ${String(v)}`);
  }
  if (!allowNegative && c < 0n) throw invalid(el, 'must not be negative');
  return c;
}
function plainNumber(v: unknown, el: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(el, 'must be a number');
  try {
    numberText(v);
  } catch {
    throw invalid(el, `is not a plain decimal number: ${String(v)}`);
  }
  return v;
}
function ref(v: unknown, el: string): string {
  if (!isPlainObject(v) || typeof v.value !== 'string' || v.value === '') throw invalid(el, 'must be a reference {"value": "<id>"}');
  return v.value;
}
function addr(v: unknown, el: string): QboAddr {
  if (!isPlainObject(v)) throw invalid(el, 'must be an address object');
  const out: QboAddr = {};
  for (const [k, x] of Object.entries(v)) {
    if (!['Id', 'Line1', 'Line2', 'Line3', 'Line4', 'Line5', 'City', 'CountrySubDivisionCode', 'PostalCode', 'Country', 'Lat', 'Long'].includes(k)) throw invalid(`${el}.${k}`, 'is not an address field');
    (out as Record<string, string>)[k] = str(x, `${el}.${k}`, 500);
  }
  return out;
}
function date(v: unknown, el: string): string {
  const s = str(v, el, 10);
  if (!DATE_RE.test(s) || Number.isNaN(Date.parse(s))) throw invalid(el, `must be a date YYYY-MM-DD, got ${JSON.stringify(s)}`);
  return s;
}

// ------------------------------------------------------------------------------------------------

export interface Writer {
  create(c: QboCompany, kind: Kind, body: Record<string, unknown>, emitIt: boolean): QboRecord;
  update(c: QboCompany, kind: Kind, body: Record<string, unknown>, emitIt: boolean): QboRecord;
  remove(c: QboCompany, kind: Kind, body: Record<string, unknown>, op: 'delete' | 'void', emitIt: boolean): QboRecord | Record<string, unknown>;
  /** Bump SyncToken and LastUpdatedTime after a change made in place. */
  touch(c: QboCompany, kind: Kind, rec: QboRecord): void;
}

/** `factories` make new documents per realm; `emit` is told of every change (the webhook queue). */
export function createWriter(factories: ReadonlyMap<string, QboFactory>, emit: (c: QboCompany, name: string, id: string, operation: QboOperation) => void): Writer {
  const nowTime = (c: QboCompany): string => qboTime(Date.now(), c.utcOffset);

  function customerOf(c: QboCompany, id: string, el = 'CustomerRef'): QboCustomer {
    const cust = c.customers.get(id);
    if (!cust) throw badRef(el, id);
    return cust;
  }

  function buildLines(c: QboCompany, raw: unknown, customer: QboCustomer | undefined): QboSalesLine[] {
    if (!Array.isArray(raw)) throw invalid('Line', 'must be an array of lines');
    if (raw.length > LINE_MAX) throw business(`a transaction can have at most ${LINE_MAX} lines`, 'Line');
    const out: QboSalesLine[] = [];
    raw.forEach((l, i) => {
      const el = `Line[${i}]`;
      if (!isPlainObject(l)) throw invalid(el, 'must be an object');
      if (l.DetailType === 'SubTotalLineDetail') return; // QBO recomputes it
      if (l.DetailType !== 'SalesItemLineDetail') throw invalid(`${el}.DetailType`, `${JSON.stringify(l.DetailType)} is not supported by this fake (SalesItemLineDetail only)`);
      const d = l.SalesItemLineDetail;
      if (!isPlainObject(d)) throw missing(`${el}.SalesItemLineDetail`);
      const itemId = ref(d.ItemRef, `${el}.SalesItemLineDetail.ItemRef`);
      const item = c.items.get(itemId);
      if (!item) throw badRef(`${el}.SalesItemLineDetail.ItemRef`, itemId);
      const qty = d.Qty === undefined ? 1 : plainNumber(d.Qty, `${el}.SalesItemLineDetail.Qty`);
      if (qty < 0) throw invalid(`${el}.SalesItemLineDetail.Qty`, 'must not be negative');
      let unit = d.UnitPrice === undefined ? undefined : plainNumber(d.UnitPrice, `${el}.SalesItemLineDetail.UnitPrice`);
      let amount: bigint;
      if (l.Amount === undefined) {
        unit ??= item.UnitPrice;
        amount = lineCents(qty, unit);
      } else {
        amount = moneyNumber(l.Amount, `${el}.Amount`);
        if (unit === undefined) unit = qty === 1 ? money(amount) : item.UnitPrice;
        const expect = lineCents(qty, unit);
        if (expect !== amount) {
          throw validation('6070', 'Amount is not equal to UnitPrice * Qty', `Amount is not equal to UnitPrice * Qty. Supplied value:${String(l.Amount)}; UnitPrice * Qty = ${money(expect)}`, `${el}.Amount`);
        }
      }
      let taxCode: 'TAX' | 'NON' = item.Taxable && customer?.Taxable !== false ? 'TAX' : 'NON';
      if (d.TaxCodeRef !== undefined) {
        const v = ref(d.TaxCodeRef, `${el}.SalesItemLineDetail.TaxCodeRef`);
        if (v !== 'TAX' && v !== 'NON') throw badRef(`${el}.SalesItemLineDetail.TaxCodeRef`, v);
        taxCode = v;
      }
      const line: QboSalesLine = {
        Id: typeof l.Id === 'string' && /^\d+$/.test(l.Id) ? l.Id : String(i + 1), LineNum: i + 1,
        Description: l.Description === undefined ? item.Description : str(l.Description, `${el}.Description`),
        Amount: money(amount), DetailType: 'SalesItemLineDetail',
        SalesItemLineDetail: { ItemRef: { value: item.Id, name: item.Name }, Qty: qty, UnitPrice: unit, TaxCodeRef: { value: taxCode } },
      };
      if (d.ServiceDate !== undefined) line.SalesItemLineDetail.ServiceDate = date(d.ServiceDate, `${el}.SalesItemLineDetail.ServiceDate`);
      out.push(line);
    });
    return out;
  }

  /**
   * TxnTaxDetail as an outside engine writes it: TotalTax (prorated over the tax code's rates, as
   * automated sales tax does with an explicit amount), or explicit TaxLine amounts that must add up.
   */
  function applyTaxDetail(c: QboCompany, doc: QboInvoice | QboCreditMemo, raw: unknown): void {
    if (!isPlainObject(raw)) throw invalid('TxnTaxDetail', 'must be an object');
    for (const k of Object.keys(raw)) if (!['TxnTaxCodeRef', 'TotalTax', 'TaxLine', 'DefaultTaxCodeRef'].includes(k)) throw invalid(`TxnTaxDetail.${k}`, 'is not a TxnTaxDetail field');
    let codeId = doc.TxnTaxDetail.TxnTaxCodeRef?.value;
    if (raw.TxnTaxCodeRef !== undefined) {
      codeId = ref(raw.TxnTaxCodeRef, 'TxnTaxDetail.TxnTaxCodeRef');
      if (!c.taxCodes.has(codeId)) throw badRef('TxnTaxDetail.TxnTaxCodeRef', codeId);
    }
    const code = codeId !== undefined ? c.taxCodes.get(codeId) : taxCodeFor(c, doc);
    const { taxable } = lineSums(doc.Line);
    const total = raw.TotalTax === undefined ? undefined : moneyNumber(raw.TotalTax, 'TxnTaxDetail.TotalTax');
    let lines: QboTaxLine[];
    let tax: bigint;
    if (raw.TaxLine !== undefined && !(Array.isArray(raw.TaxLine) && raw.TaxLine.length === 0 && total !== undefined)) {
      if (!Array.isArray(raw.TaxLine)) throw invalid('TxnTaxDetail.TaxLine', 'must be an array');
      tax = 0n;
      lines = raw.TaxLine.map((t, i): QboTaxLine => {
        const el = `TxnTaxDetail.TaxLine[${i}]`;
        if (!isPlainObject(t)) throw invalid(el, 'must be an object');
        const amount = moneyNumber(t.Amount, `${el}.Amount`);
        const d = t.TaxLineDetail;
        if (!isPlainObject(d)) throw missing(`${el}.TaxLineDetail`);
        const rateId = ref(d.TaxRateRef, `${el}.TaxLineDetail.TaxRateRef`);
        const rate = c.taxRates.get(rateId);
        if (!rate) throw badRef(`${el}.TaxLineDetail.TaxRateRef`, rateId);
        tax += amount;
        return {
          Amount: money(amount), DetailType: 'TaxLineDetail',
          TaxLineDetail: {
            TaxRateRef: { value: rate.Id, name: rate.Name }, PercentBased: d.PercentBased === undefined ? true : bool(d.PercentBased, `${el}.TaxLineDetail.PercentBased`),
            TaxPercent: d.TaxPercent === undefined ? rate.RateValue : plainNumber(d.TaxPercent, `${el}.TaxLineDetail.TaxPercent`),
            NetAmountTaxable: d.NetAmountTaxable === undefined ? money(taxable) : money(moneyNumber(d.NetAmountTaxable, `${el}.TaxLineDetail.NetAmountTaxable`)),
          },
        };
      });
      if (total !== undefined && total !== tax) throw business(`TxnTaxDetail.TotalTax ${money(total)} is not the sum of its TaxLine amounts (${money(tax)})`, 'TxnTaxDetail.TotalTax');
    } else if (total !== undefined) {
      tax = total;
      lines = prorateTax(c, code, tax, taxable);
    } else {
      doc.TxnTaxDetail = { ...(code ? { TxnTaxCodeRef: { value: code.Id } } : {}), TotalTax: 0, TaxLine: [] };
      if (c.autoTax) applyAutoTax(c, doc);
      return;
    }
    doc.TxnTaxDetail = { ...(code ? { TxnTaxCodeRef: { value: code.Id } } : {}), TotalTax: money(tax), TaxLine: lines };
  }

  /** Apply written fields to a record (create, sparse or full update). */
  function applyFields(c: QboCompany, kind: Kind, rec: Record<string, unknown>, body: Record<string, unknown>, full: boolean): void {
    const name = kind.name as keyof typeof WRITABLE;
    const writable = WRITABLE[name];
    for (const k of Object.keys(body)) {
      if (READ_ONLY.has(k)) continue;
      if (!writable.includes(k)) throw invalid(k, `is not a writable ${kind.name} field in this fake (writable: ${writable.join(', ')})`);
    }
    if (full) {
      for (const k of REQUIRED[name] ?? []) if (body[k] === undefined) throw missing(k);
      for (const k of writable) if (body[k] === undefined && CLEARABLE.has(k)) delete rec[k];
    }
    const txn = name === 'Invoice' || name === 'CreditMemo';
    let customer: QboCustomer | undefined = txn ? c.customers.get((rec.CustomerRef as { value?: string } | undefined)?.value ?? '') : undefined;
    for (const k of writable) {
      const v = body[k];
      if (v === undefined || k === 'Line' || k === 'TxnTaxDetail') continue;
      switch (k) {
        case 'CustomerRef':
          customer = customerOf(c, ref(v, k));
          rec.CustomerRef = { value: customer.Id, name: customer.DisplayName };
          break;
        case 'BillAddr': case 'ShipAddr': rec[k] = addr(v, k); break;
        case 'PrimaryEmailAddr': case 'BillEmail':
          if (!isPlainObject(v)) throw invalid(k, 'must be {"Address": "..."}');
          rec[k] = { Address: str(v.Address, `${k}.Address`, 100) };
          break;
        case 'CustomerMemo':
          if (!isPlainObject(v)) throw invalid(k, 'must be {"value": "..."}');
          rec[k] = { value: str(v.value, `${k}.value`, 1000) };
          break;
        case 'DefaultTaxCodeRef': case 'IncomeAccountRef': rec[k] = { value: ref(v, k) }; break;
        case 'TxnDate': case 'DueDate': rec[k] = date(v, k); break;
        case 'Taxable': case 'Active': case 'ApplyTaxAfterDiscount': case 'SalesTaxIncluded': rec[k] = bool(v, k); break;
        case 'UnitPrice': rec[k] = plainNumber(v, k); break;
        case 'Type':
          if (!['Service', 'NonInventory', 'Inventory'].includes(v as string)) throw invalid(k, 'must be Service, NonInventory or Inventory');
          rec[k] = v;
          break;
        case 'DocNumber': rec[k] = str(v, k, 21); break;
        case 'DisplayName': case 'Name': {
          const s = str(v, k, 100).trim();
          if (s === '') throw missing(k);
          const table = kind.table(c) as Table<QboRecord & Record<string, unknown>>;
          for (const other of table.values()) {
            if (other.Id !== rec.Id && String(other[k]).toLowerCase() === s.toLowerCase()) {
              throw validation('6240', 'Duplicate Name Exists Error', `The name supplied already exists. : ${s} (Id ${other.Id})`, k);
            }
          }
          rec[k] = s;
          break;
        }
        default: rec[k] = str(v, k);
      }
    }
    if (txn) {
      const doc = rec as unknown as QboInvoice | QboCreditMemo;
      const linesChanged = body.Line !== undefined;
      if (linesChanged) doc.Line = withSubtotal(buildLines(c, body.Line, customer));
      if (body.TxnTaxDetail !== undefined) applyTaxDetail(c, doc, body.TxnTaxDetail);
      else if (full) applyTaxDetail(c, doc, {});
      else if (linesChanged) {
        if (c.autoTax) applyAutoTax(c, doc);
        else if (doc.TxnTaxDetail.TotalTax !== 0) applyTaxDetail(c, doc, { TotalTax: doc.TxnTaxDetail.TotalTax });
      }
      recomputeTotals(c, doc, name as 'Invoice' | 'CreditMemo');
    }
  }

  function touch(c: QboCompany, kind: Kind, rec: QboRecord): void {
    rec.SyncToken = String(Number(rec.SyncToken) + 1);
    rec.MetaData = { ...rec.MetaData, LastUpdatedTime: nowTime(c) };
    kind.table(c).set(rec.Id, rec);
  }

  function create(c: QboCompany, kind: Kind, body: Record<string, unknown>, emitIt: boolean): QboRecord {
    const f = factories.get(c.realmId)!;
    for (const k of REQUIRED[kind.name] ?? []) if (body[k] === undefined) throw missing(k);
    const at = Date.now();
    let rec: QboRecord;
    if (kind.name === 'Customer' || kind.name === 'Item') {
      // only what was sent, plus Intuit's defaults; the id is taken once the fields are valid
      const t = nowTime(c);
      const base = { Id: '', SyncToken: '0', domain: 'QBO', sparse: false, MetaData: { CreateTime: t, LastUpdatedTime: t }, Active: true };
      const draft: Record<string, unknown> = kind.name === 'Customer'
        ? { ...base, Taxable: true, Balance: 0, CurrencyRef: { value: 'USD', name: 'United States Dollar' }, PreferredDeliveryMethod: 'Print' }
        : { ...base, Type: 'Service', Taxable: true, SalesTaxIncluded: false, UnitPrice: 0, IncomeAccountRef: { value: '79', name: 'Sales of Product Income' } };
      applyFields(c, kind, draft, body, false);
      if (kind.name === 'Customer' && draft.CompanyName === undefined) draft.CompanyName = draft.DisplayName;
      draft.Id = String(c.seq.name++);
      rec = draft as unknown as QboRecord;
    } else {
      const customer = customerOf(c, ref(body.CustomerRef, 'CustomerRef'));
      const lines = buildLines(c, body.Line, customer);
      if (lines.length === 0) throw missing('Line', 'Line (at least one SalesItemLineDetail line)');
      const doc = f.makeDocument(kind.name as 'Invoice' | 'CreditMemo', at, customer, lines);
      try {
        applyFields(c, kind, doc as unknown as Record<string, unknown>, { ...body, Line: undefined, TxnTaxDetail: undefined }, false);
        if (body.TxnTaxDetail !== undefined) applyTaxDetail(c, doc, body.TxnTaxDetail);
        recomputeTotals(c, doc, kind.name as 'Invoice' | 'CreditMemo');
      } catch (e) {
        c.seq.txn--;
        c.seq.doc--;
        throw e;
      }
      rec = doc;
    }
    kind.table(c).set(rec.Id, rec);
    if (emitIt) emit(c, kind.name, rec.Id, 'Create');
    return rec;
  }

  function current(c: QboCompany, kind: Kind, body: Record<string, unknown>): QboRecord {
    if (typeof body.Id !== 'string' || body.Id === '') throw missing('Id');
    const rec = kind.table(c).get(body.Id);
    if (!rec) throw notFound(kind.name, body.Id);
    if (body.SyncToken === undefined) throw missing('SyncToken');
    if (typeof body.SyncToken !== 'string' || body.SyncToken !== rec.SyncToken) {
      throw validation('5010', 'Stale Object Error', `Stale Object Error : You and another user were working on this at the same time. The other user finished before you did, so your work was not saved. (${kind.name} ${rec.Id}: SyncToken ${JSON.stringify(body.SyncToken)} is not the current ${rec.SyncToken})`);
    }
    return rec;
  }

  function update(c: QboCompany, kind: Kind, body: Record<string, unknown>, emitIt: boolean): QboRecord {
    const rec = current(c, kind, body);
    const full = body.sparse !== true;
    // work on a copy: a refused write leaves the record as it was
    const draft = structuredClone(rec) as unknown as Record<string, unknown>;
    applyFields(c, kind, draft, body, full);
    Object.assign(rec, draft);
    for (const k of Object.keys(rec)) if (!Object.hasOwn(draft, k)) delete (rec as unknown as Record<string, unknown>)[k];
    touch(c, kind, rec);
    if (emitIt) emit(c, kind.name, rec.Id, 'Update');
    return rec;
  }

  function remove(c: QboCompany, kind: Kind, body: Record<string, unknown>, op: 'delete' | 'void', emitIt: boolean): QboRecord | Record<string, unknown> {
    if (kind.isName) throw business(`${kind.name} records cannot be deleted or voided; set Active to false with a sparse update`);
    if (op === 'void' && kind.name !== 'Invoice') throw business(`operation=void is supported for Invoice only in this fake`);
    const rec = current(c, kind, body) as QboInvoice | QboCreditMemo;
    if (op === 'delete') {
      kind.table(c).delete(rec.Id);
      c.deleted.set(`${kind.name}:${rec.Id}`, { entity: kind.name, id: rec.Id, at: Date.now(), time: nowTime(c) });
      c.paid.delete(rec.Id);
      if (emitIt) emit(c, kind.name, rec.Id, 'Delete');
      return { domain: 'QBO', status: 'Deleted', Id: rec.Id };
    }
    for (const l of rec.Line) if (l.DetailType === 'SalesItemLineDetail') l.Amount = 0;
    rec.Line = withSubtotal(rec.Line);
    rec.TxnTaxDetail = { ...(rec.TxnTaxDetail.TxnTaxCodeRef ? { TxnTaxCodeRef: rec.TxnTaxDetail.TxnTaxCodeRef } : {}), TotalTax: 0, TaxLine: [] };
    rec.PrivateNote = 'Voided';
    c.paid.delete(rec.Id);
    recomputeTotals(c, rec, 'Invoice');
    touch(c, kind, rec);
    if (emitIt) emit(c, kind.name, rec.Id, 'Void');
    return rec;
  }

  return { create, update, remove, touch };
}
