/**
 * Transaction export for filing: the recorded calculations of an organization in a date range (by filing
 * date: a credit note's or refund's own date, else the tax date),
 * filtered by customer country and status, as one row per line and jurisdiction, and a summary per period,
 * currency and jurisdiction (taxable, tax, exempt) that a return is filed from.
 *
 * Signs: an invoice counts positive; a credit note (kind credit_note, sent with positive amounts) and a
 * refund (stored negative) count negative. Voided calculations are left out unless `statuses` asks for them.
 * `exempt` is the part of a line's net amount a jurisdiction does not tax (exempt product or customer,
 * reverse charge, a reduced taxable share such as Texas SaaS's 20 %, not collecting).
 * Bounds: the request's schema (at most 50 countries, known fields only), a range of at most 366 days and
 * at most MAX_EXPORT_ROWS rows (else 400 asking for a narrower range).
 */
import { TAX_API_SCHEMAS, taxApiValidator } from '../api-schemas.ts';
import type { ExportRequest, ExportRow, ExportSummaryRow as SummaryRow } from '../api-types.generated.ts';
import { TaxApiError, validationError } from '../errors.ts';
import { normalizeCountry } from '../geo.ts';
import type { CalculationStatus, TaxCalculationDoc } from '../model.ts';
import { decodeCalculationLines } from '../record.ts';
import { statusOf } from '../lifecycle.ts';
import { checkSchema } from '../schema-errors.ts';

const REQUEST = (TAX_API_SCHEMAS.get('export')!.$defs as Record<string, { properties: Record<string, Record<string, unknown>> }>).request!.properties;

/** Not a shape, so not in the schema: a range longer than a year is refused (400 on `to`). */
export const MAX_EXPORT_DAYS = 366;
export const MAX_EXPORT_COUNTRIES = REQUEST.countries!.maxItems as number;
export const MAX_EXPORT_ROWS = 100_000;
export const EXPORT_STATUSES = (REQUEST.statuses!.items as { enum: CalculationStatus[] }).enum;
export const DEFAULT_EXPORT_STATUSES: readonly CalculationStatus[] = ['calculated', 'committed', 'refunded'];

export type ExportPeriod = NonNullable<ExportRequest['period']>;

/** An export request as applied: defaults filled in, countries normalized, only the schema's fields. */
export type ExportParams = Required<Pick<ExportRequest, 'from' | 'to' | 'period' | 'format'>> & { countries?: string[]; statuses: CalculationStatus[] };
export type { ExportRow, ExportSummaryRow as SummaryRow } from '../api-types.generated.ts';

function days(from: string, to: string): number {
  return (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
}

/**
 * Checks an export request body (`POST /tax_api/exports`, `taxbridge tax export`) with its schema
 * (schemas/tax-api/export.schema.json#/$defs/request), then what a schema cannot say: the order and length of
 * the range and that each country is one.
 */
export function parseExportParams(body: unknown): ExportParams {
  try {
    checkSchema(taxApiValidator('export', 'request'), body, 'the export request');
  } catch (e) {
    // The body itself is at fault (not an object): name it, as every other export error names its field.
    if (e instanceof TaxApiError && !e.param) throw validationError('body', `${e.message}, with from and to (YYYY-MM-DD)`);
    throw e;
  }
  const b = body as ExportRequest;
  const { from, to } = b;
  if (to < from) throw validationError('to', `to (${to}) is before from (${from})`);
  if (days(from, to) > MAX_EXPORT_DAYS) throw validationError('to', `the range ${from}..${to} is longer than ${MAX_EXPORT_DAYS} days; export a year at a time`);
  const countries = b.countries?.map((c, i) => {
    const n = normalizeCountry(c);
    if (!n) throw validationError(`countries[${i}]`, `countries[${i}] ${JSON.stringify(c.slice(0, 60))} is not an ISO 3166-1 alpha-2 country code`);
    return n;
  });
  const statuses = b.statuses ? [...b.statuses] : [...DEFAULT_EXPORT_STATUSES];
  return { from, to, ...(countries ? { countries } : {}), statuses, period: b.period ?? 'month', format: b.format ?? 'json' };
}

/** Which calculations an export takes. */
export function exportFilter(p: ExportParams): (d: TaxCalculationDoc) => boolean {
  const countries = p.countries ? new Set(p.countries) : undefined;
  const statuses = new Set(p.statuses);
  return (d) => filingDate(d) >= p.from && filingDate(d) <= p.to && statuses.has(statusOf(d)) && (!countries || countries.has(d.customer_country ?? ''));
}

/** The date a calculation is filed under: a credit note's or refund's own date, else its tax date. */
export function filingDate(d: TaxCalculationDoc): string {
  return d.issue_date ?? d.tax_date;
}

export function periodOf(date: string, period: ExportPeriod): string {
  if (period === 'day') return date;
  if (period === 'year') return date.slice(0, 4);
  if (period === 'month') return date.slice(0, 7);
  return `${date.slice(0, 4)}-Q${Math.floor((Number(date.slice(5, 7)) - 1) / 3) + 1}`;
}

export interface ExportResult {
  rows: ExportRow[];
  summary: SummaryRow[];
  calculations: number;
}

export function buildExport(docs: readonly TaxCalculationDoc[], p: ExportParams): ExportResult {
  const sorted = [...docs].sort((a, b) => cmp(filingDate(a), filingDate(b)) || cmp(a.id, b.id));
  const rows: ExportRow[] = [];
  const sums = new Map<string, SummaryRow>();
  const counted = new Map<string, string>();
  for (const d of sorted) {
    const kind = d.kind ?? 'invoice';
    const sign = kind === 'credit_note' ? -1 : 1;
    const status = statusOf(d);
    const period = periodOf(filingDate(d), p.period);
    for (const l of decodeCalculationLines(d)) {
      const base = {
        calculation_id: d.id, kind, status, created_at: d.created_at, filing_date: filingDate(d), tax_date: d.tax_date, currency: d.currency,
        customer_country: d.customer_country ?? '', customer_state: d.customer_state ?? '',
        line_id: String(l.id), product_id: l.product_id, tax_code: l.tax_code,
      };
      const net = sign * l.net_amount;
      const entries = l.taxes.length
        ? l.taxes.map((t) => {
            const [level, name, country, state, taxType] = d.jurisdictions[t.jurisdiction]!;
            return { reason: t.taxability_reason ?? l.taxability_reason, level, name, country, state: state ?? '', taxType, rate: t.rate, taxable: sign * t.taxable_amount, tax: sign * t.amount };
          })
        : [{ reason: l.taxability_reason, level: '', name: '', country: d.customer_country ?? '', state: d.customer_state ?? '', taxType: '', rate: '0', taxable: 0, tax: 0 }];
      for (const e of entries) {
        if (rows.length >= MAX_EXPORT_ROWS) throw validationError('to', `the export has more than ${MAX_EXPORT_ROWS} rows; narrow the date range or the countries`);
        const exempt = net - e.taxable;
        rows.push({ ...base, taxability_reason: e.reason, jurisdiction: e.name, jurisdiction_level: e.level, jurisdiction_country: e.country, jurisdiction_state: e.state, tax_type: e.taxType, rate: e.rate, net_amount: net, taxable_amount: e.taxable, exempt_amount: exempt, tax_amount: e.tax });
        const key = `${period}\u0000${d.currency}\u0000${e.country}\u0000${e.state}\u0000${e.level}\u0000${e.name}\u0000${e.taxType}`;
        let s = sums.get(key);
        if (!s) sums.set(key, (s = { period, currency: d.currency, country: e.country, state: e.state, jurisdiction: e.name, jurisdiction_level: e.level, tax_type: e.taxType, taxable_amount: 0, exempt_amount: 0, tax_amount: 0, transactions: 0 }));
        s.taxable_amount += e.taxable;
        s.exempt_amount += exempt;
        s.tax_amount += e.tax;
        if (counted.get(key) !== d.id) {
          counted.set(key, d.id);
          s.transactions++;
        }
      }
    }
  }
  const summary = [...sums.values()].sort((a, b) => cmp(a.period, b.period) || cmp(a.currency, b.currency) || cmp(a.country, b.country) || cmp(a.state, b.state) || cmp(a.jurisdiction_level, b.jurisdiction_level) || cmp(a.jurisdiction, b.jurisdiction));
  return { rows, summary, calculations: sorted.length };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** CSV (RFC 4180) with a header; cells that a spreadsheet would run as formulas are prefixed with '. */
export function toCsv<T extends object>(rows: readonly T[], columns: readonly (keyof T & string)[]): string {
  const cell = (v: unknown): string => {
    let s = v === undefined || v === null ? '' : String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  let out = `${columns.join(',')}\r\n`;
  for (const r of rows) out += `${columns.map((c) => cell((r as Record<string, unknown>)[c])).join(',')}\r\n`;
  return out;
}

export const ROW_COLUMNS: readonly (keyof ExportRow)[] = [
  'calculation_id', 'kind', 'status', 'created_at', 'filing_date', 'tax_date', 'currency', 'customer_country', 'customer_state', 'line_id', 'product_id', 'tax_code',
  'taxability_reason', 'jurisdiction', 'jurisdiction_level', 'jurisdiction_country', 'jurisdiction_state', 'tax_type', 'rate', 'net_amount', 'taxable_amount', 'exempt_amount', 'tax_amount',
];
export const SUMMARY_COLUMNS: readonly (keyof SummaryRow)[] = ['period', 'currency', 'country', 'state', 'jurisdiction_level', 'jurisdiction', 'tax_type', 'taxable_amount', 'exempt_amount', 'tax_amount', 'transactions'];
