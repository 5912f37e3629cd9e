/**
 * Calculation documents: the engine's result in the compact stored form (src/tax/model.ts), and the Sphere
 * response rendered from it. The response a client receives is rendered from the very document that is
 * stored, so `GET /tax_api/calculations/:id` gives back exactly what was answered. A document keeps what a
 * later reader needs (the result, and the request's known fields: ./calculate-request.ts RecordedRequest), never the
 * body as received, so its size follows from the request schema's caps, whatever the client sent.
 */
import type {
  CalculateTaxResponse as SphereCalculateResponse,
  CalculateTaxResponseLine as SphereLineResult,
  CalculateTaxResponseTaxAmount as SphereTaxAmount,
  CalculateTaxResponseTaxabilityReason as TaxabilityReason,
} from './api-types.generated.ts';
import type { EngineResult } from './engine.ts';
import type { Jurisdiction } from './rates/index.ts';
import type { CalculationLineRecord, StoredJurisdiction, StoredLine, TaxCalculationDoc } from './model.ts';
import type { RecordedLine, RecordedRequest } from './calculate-request.ts';

export interface RecordMeta {
  id: string;
  organization_id: string;
  mode: TaxCalculationDoc['mode'];
  api_key_id: string;
  created_at: string;
  tax_date: string;
  currency: string;
  include_taxability_reason: boolean;
  /** The request's known fields as sent. */
  request: RecordedRequest;
}

/** Fields a calculation's document may carry beyond the result (a tax id decision, a credit note's link). */
export type RecordExtras = Pick<TaxCalculationDoc, 'tax_id_status' | 'tax_id_evidence' | 'kind' | 'reference_calculation_id' | 'issue_date'>;
const EXTRA_KEYS = ['tax_id_status', 'tax_id_evidence', 'kind', 'reference_calculation_id', 'issue_date'] as const;

/** A jurisdiction as the stored document names it once (lines refer to it by its index). */
function jurisdictionTuple(src: Jurisdiction): StoredJurisdiction {
  return [src.level, src.name, src.country, src.state ?? null, src.tax_type, src.display_name, src.rate_source ?? null];
}

/** A line's taxes as stored: `index:rate:taxable:amount[:reason]` per jurisdiction, `|` between them. */
function lineTaxes(l: EngineResult['lines'][number], slot: (src: Jurisdiction) => number): string {
  let taxes = '';
  for (let k = 0; k < l.jurisdictions.length; k++) {
    const jt = l.jurisdictions[k]!;
    taxes += `${k > 0 ? '|' : ''}${slot(jt.jurisdiction)}:${jt.rate}:${digits(jt.taxable)}:${digits(jt.amount)}${jt.reason !== undefined && jt.reason !== l.reason ? `:${jt.reason}` : ''}`;
  }
  return taxes;
}

export function buildCalculationDoc(meta: RecordMeta, result: EngineResult, extras?: RecordExtras): TaxCalculationDoc {
  const index = new Map<Jurisdiction, number>();
  const jurisdictions: StoredJurisdiction[] = [];
  const lines: StoredLine[] = [];
  const slot = (src: Jurisdiction): number => {
    let j = index.get(src);
    if (j === undefined) {
      j = jurisdictions.length;
      index.set(src, j);
      jurisdictions.push(jurisdictionTuple(src));
    }
    return j;
  };
  for (let i = 0; i < result.lines.length; i++) {
    const l = result.lines[i]!;
    const taxes = lineTaxes(l, slot);
    lines.push([l.line.id, l.line.product_id, l.taxCode, l.line.inclusive, Number(l.net), Number(l.tax), l.reason, taxes]);
  }
  const first = result.lines[0];
  const doc: TaxCalculationDoc = {
    id: meta.id,
    organization_id: meta.organization_id,
    mode: meta.mode,
    api_key_id: meta.api_key_id,
    created_at: meta.created_at,
    tax_date: meta.tax_date,
    currency: meta.currency,
    tax_total: Number(result.taxTotal),
    include_taxability_reason: meta.include_taxability_reason,
    jurisdictions,
    lines,
    request: meta.request,
  };
  if (result.warnings.length) doc.warnings = result.warnings;
  if (first) {
    doc.customer_country = first.country;
    if (first.state) doc.customer_state = first.state;
  }
  if (extras) for (const k of EXTRA_KEYS) if (extras[k] !== undefined) (doc as unknown as Record<string, unknown>)[k] = extras[k];
  return doc;
}

/*
 * The stored text: exactly JSON.stringify(buildCalculationDoc(meta, result, extras)), built without the
 * document object (test/tax-record.test.ts checks they are byte-identical). Recording is the part of a
 * calculation that runs thousands of times a second: a jurisdiction's tuple is serialized once and reused,
 * and no tuple arrays or document object are allocated only to be serialized and dropped.
 */
const jurisdictionJsonCache = new WeakMap<Jurisdiction, string>();

function jurisdictionJson(src: Jurisdiction): string {
  let j = jurisdictionJsonCache.get(src);
  if (j === undefined) {
    j = JSON.stringify(jurisdictionTuple(src));
    jurisdictionJsonCache.set(src, j);
  }
  return j;
}

/** A minor-unit amount's decimal digits, as `${n}` gives them; through a Number when exact (cheaper than BigInt's). */
function digits(n: bigint): string {
  const x = Number(n);
  return Number.isSafeInteger(x) ? `${x}` : `${n}`;
}

/** An array element as JSON.stringify writes it (undefined is null there). */
function item(v: unknown): string {
  return v === undefined ? 'null' : JSON.stringify(v);
}

export function calculationDocJson(meta: RecordMeta, result: EngineResult, extras?: RecordExtras): string {
  const index = new Map<Jurisdiction, number>();
  let jurisdictions = '';
  let lines = '';
  const slot = (src: Jurisdiction): number => {
    let j = index.get(src);
    if (j === undefined) {
      j = index.size;
      index.set(src, j);
      jurisdictions += `${j > 0 ? ',' : ''}${jurisdictionJson(src)}`;
    }
    return j;
  };
  for (let i = 0; i < result.lines.length; i++) {
    const l = result.lines[i]!;
    const taxes = lineTaxes(l, slot);
    lines += `${i > 0 ? ',' : ''}[${item(l.line.id)},${item(l.line.product_id)},${item(l.taxCode)},${item(l.line.inclusive)},${Number(l.net)},${Number(l.tax)},${item(l.reason)},${JSON.stringify(taxes)}]`;
  }
  let out =
    `{"id":${JSON.stringify(meta.id)},"organization_id":${JSON.stringify(meta.organization_id)},"mode":${JSON.stringify(meta.mode)},` +
    `"api_key_id":${JSON.stringify(meta.api_key_id)},"created_at":${JSON.stringify(meta.created_at)},"tax_date":${JSON.stringify(meta.tax_date)},` +
    `"currency":${JSON.stringify(meta.currency)},"tax_total":${Number(result.taxTotal)},"include_taxability_reason":${meta.include_taxability_reason},` +
    `"jurisdictions":[${jurisdictions}],"lines":[${lines}],"request":${JSON.stringify(meta.request)}`;
  if (result.warnings.length) out += `,"warnings":${JSON.stringify(result.warnings)}`;
  const first = result.lines[0];
  if (first) {
    if (first.country !== undefined) out += `,"customer_country":${JSON.stringify(first.country)}`;
    if (first.state) out += `,"customer_state":${JSON.stringify(first.state)}`;
  }
  if (extras) for (const k of EXTRA_KEYS) if (extras[k] !== undefined) out += `,"${k}":${JSON.stringify(extras[k])}`;
  return `${out}}`;
}

/** A request line as the client sent it (known fields). */
export type ReaderLine = Omit<RecordedLine, 'no_id' | 'product_id'> & { id?: string | number; product_id: string | number };

/** The recorded request in Sphere's shape, line ids and product ids taken back from the line tuples. */
export function requestForReader(request: RecordedRequest, lines: readonly StoredLine[]): Omit<RecordedRequest, 'line_items'> & { line_items: ReaderLine[] } {
  const { line_items, ...rest } = request;
  return {
    ...rest,
    line_items: line_items.map((l, i) => {
      const { no_id, product_id, ...fields } = l;
      const tuple = lines[i];
      const out: ReaderLine = { ...(no_id || !tuple ? {} : { id: tuple[0] }), product_id: product_id ?? tuple?.[1] ?? '', ...fields };
      return out;
    }),
  };
}

/**
 * About the size in bytes of a document's JSON (what the embedded store holds in memory for it), without
 * serializing it: used to bound the records waiting for the disk and the records kept (retention).
 */
export function recordBytes(doc: TaxCalculationDoc): number {
  let n = 400 + doc.id.length + doc.organization_id.length + doc.api_key_id.length;
  for (const j of doc.jurisdictions) n += j[1].length + j[5].length + 48;
  for (const l of doc.lines) n += (typeof l[0] === 'string' ? l[0].length : 16) + l[1].length + l[7].length + 72;
  return n + jsonBytes(doc.request);
}

/** Approximate JSON size of a small value (a recorded request: a few levels deep by construction). */
function jsonBytes(v: unknown): number {
  if (typeof v === 'string') return v.length + 2;
  if (v === null || typeof v !== 'object') return 8;
  let n = 2;
  if (Array.isArray(v)) for (const x of v) n += jsonBytes(x) + 1;
  else for (const k in v) n += k.length + 4 + jsonBytes((v as Record<string, unknown>)[k]);
  return n;
}

/** The stored line tuples as objects. */
export function decodeCalculationLines(doc: TaxCalculationDoc): CalculationLineRecord[] {
  return doc.lines.map(([id, product_id, tax_code, tax_inclusive, net_amount, tax_amount, taxability_reason, taxes]) => ({
    id,
    product_id,
    tax_code,
    tax_inclusive,
    net_amount,
    tax_amount,
    taxability_reason,
    taxes: taxes === ''
      ? []
      : taxes.split('|').map((t) => {
          const [j, rate, taxable, amount, reason] = t.split(':');
          return { jurisdiction: Number(j), rate: rate!, taxable_amount: Number(taxable), amount: Number(amount), ...(reason ? { taxability_reason: reason } : {}) };
        }),
  }));
}

const percentCache = new Map<string, number>();
function percentNumber(rate: string): number {
  let n = percentCache.get(rate);
  if (n === undefined) {
    n = Number(rate);
    if (percentCache.size < 10_000) percentCache.set(rate, n);
  }
  return n;
}

/** Sphere's response body for a recorded calculation. */
export function renderCalculationResponse(doc: TaxCalculationDoc): SphereCalculateResponse {
  const withReason = doc.include_taxability_reason;
  const lines: SphereLineResult[] = [];
  for (const l of decodeCalculationLines(doc)) {
    const reason = l.taxability_reason as TaxabilityReason;
    const tax_amounts: SphereTaxAmount[] = [];
    for (const t of l.taxes) {
      const [, name, country, state, tax_type, display_name, rate_source] = doc.jurisdictions[t.jurisdiction]!;
      const pct = percentNumber(t.rate);
      const tax_rate: SphereTaxAmount['tax_rate'] =
        state === null
          ? { percentage: pct, inclusive: l.tax_inclusive, display_name, jurisdiction: name, country, tax_type }
          : { percentage: pct, inclusive: l.tax_inclusive, display_name, jurisdiction: name, country, state, tax_type };
      if (withReason) tax_rate.taxability_reason = (t.taxability_reason as TaxabilityReason | undefined) ?? reason;
      if (rate_source) tax_rate.rate_source = rate_source;
      tax_amounts.push({ amount: t.amount, taxable_amount: t.taxable_amount, tax_rate });
    }
    lines.push(withReason ? { id: l.id, tax_amounts, taxability_reason: reason } : { id: l.id, tax_amounts });
  }
  return { message: 'Tax calculated successfully', data: { lines, sphere_tax_calculation_id: doc.id, warnings: doc.warnings ?? [], ...(doc.tax_id_status ? { tax_id_status: doc.tax_id_status } : {}) } };
}

/*
 * The wire path: the same JSON text JSON.stringify(renderCalculationResponse(doc)) would give, built from
 * cached fragments. The `"tax_rate":{...}` object of a jurisdiction is the same for every line taxed at the
 * same rate, inclusiveness and reason, so it is serialized once and reused; only amounts and ids vary.
 * test/tax-record.test.ts checks the two renderings are byte-identical.
 */
const fragmentCache = new WeakMap<Jurisdiction, Map<string, string[]>>();
const REASON_SLOTS: Record<TaxabilityReason, number> = {
  standard_rated: 1, reduced_rated: 2, taxable_basis_reduced: 3, product_exempt: 4,
  customer_exempt: 5, reverse_charge: 6, not_collecting: 7, not_subject_to_tax: 8,
};

function taxRateFragment(j: Jurisdiction, rate: string, inclusive: boolean, reason: TaxabilityReason | undefined): string {
  let byRate = fragmentCache.get(j);
  if (!byRate) fragmentCache.set(j, (byRate = new Map()));
  let slots = byRate.get(rate);
  if (!slots) {
    slots = new Array(18);
    if (byRate.size < 100) byRate.set(rate, slots);
  }
  const slot = (inclusive ? 9 : 0) + (reason === undefined ? 0 : REASON_SLOTS[reason]);
  let frag = slots[slot];
  if (frag === undefined) {
    const pct = percentNumber(rate);
    const tax_rate: SphereTaxAmount['tax_rate'] =
      j.state === undefined
        ? { percentage: pct, inclusive, display_name: j.display_name, jurisdiction: j.name, country: j.country, tax_type: j.tax_type }
        : { percentage: pct, inclusive, display_name: j.display_name, jurisdiction: j.name, country: j.country, state: j.state, tax_type: j.tax_type };
    if (reason !== undefined) tax_rate.taxability_reason = reason;
    if (j.rate_source) tax_rate.rate_source = j.rate_source;
    frag = `,"tax_rate":${JSON.stringify(tax_rate)}}`;
    slots[slot] = frag;
  }
  return frag;
}

/** The response body text for a calculation, from the engine's result (identical to rendering its document). */
export function renderResponseJson(result: EngineResult, id: string, includeReason: boolean): string {
  let out = '{"message":"Tax calculated successfully","data":{"lines":[';
  for (let i = 0; i < result.lines.length; i++) {
    const l = result.lines[i]!;
    if (i > 0) out += ',';
    out += `{"id":${JSON.stringify(l.line.id)},"tax_amounts":[`;
    const reason = includeReason ? l.reason : undefined;
    for (let k = 0; k < l.jurisdictions.length; k++) {
      const jt = l.jurisdictions[k]!;
      if (k > 0) out += ',';
      out += `{"amount":${Number(jt.amount)},"taxable_amount":${Number(jt.taxable)}${taxRateFragment(jt.jurisdiction, jt.rate, l.line.inclusive, reason === undefined ? undefined : (jt.reason ?? reason))}`;
    }
    out += includeReason ? `],"taxability_reason":"${l.reason}"}` : ']}';
  }
  return `${out}],"sphere_tax_calculation_id":${JSON.stringify(id)},"warnings":${result.warnings.length ? JSON.stringify(result.warnings) : '[]'}}}`;
}
