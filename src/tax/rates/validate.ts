/**
 * Validation of the rate tables (src/tax/data/*.yaml): each file's shape is its JSON Schema under
 * schemas/tax-data/ (compiled by src/spec's ajv; the parts all files share are in common.schema.json), and
 * these are the checks a schema cannot make, shared by every table: a taxability's treatment agrees with its
 * taxable share, local rates add up to the stated combined rate, and the periods of one key do not overlap.
 * Rates are compared and summed exactly by src/money.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { TaxbridgeError } from '../../errors.ts';
import { compare, mul, parseRational, rational, sum, toExactDecimalString } from '../../money/index.ts';
import { getAjv, SCHEMAS_DIR } from '../../spec/schemas.ts';
import type { Dated } from './periods.ts';
import type { Taxability } from './types.ts';

export type TaxDataSchema = 'us-states' | 'us-local' | 'us-saas-taxability' | 'vat' | 'canada' | 'us-places';

const DIR = join(SCHEMAS_DIR, 'tax-data');
const COMMON_ID = 'https://taxbridge.dev/schemas/tax-data/common.schema.json';
const validators = new Map<TaxDataSchema, ValidateFunction>();

/** The compiled schema of a data file (schemas/tax-data/<name>.schema.json). */
export function taxDataValidator(name: TaxDataSchema): ValidateFunction {
  let v = validators.get(name);
  if (!v) {
    const ajv = getAjv();
    if (!ajv.getSchema(COMMON_ID)) ajv.addSchema(JSON.parse(readFileSync(join(DIR, 'common.schema.json'), 'utf8')) as object);
    v = ajv.getSchema(`https://taxbridge.dev/schemas/tax-data/${name}.schema.json`) ?? ajv.compile(JSON.parse(readFileSync(join(DIR, `${name}.schema.json`), 'utf8')) as object);
    validators.set(name, v);
  }
  return v;
}

export function dataError(message: string, hint?: string): TaxbridgeError {
  return new TaxbridgeError('tax_data_invalid', message, hint ? { hint } : {});
}

/** A rate string in its one spelling ("6.250" -> "6.25"). */
export function normalizeRate(rate: string): string {
  return toExactDecimalString(parseRational(rate));
}

export function sameRate(a: string, b: string): boolean {
  return compare(parseRational(a), parseRational(b)) === 0;
}

/** "0.0825" -> "8.25" (also ".0825"): a rate table's fraction (ZIP CSVs, SST files) as a percent string, exactly. */
export function fractionToPercent(s: string): string {
  const t = s.trim();
  const f = parseRational(t.startsWith('.') ? `0${t}` : t);
  if (f.n < 0n) throw new RangeError(`not a non-negative fraction: ${JSON.stringify(s)}`);
  return toExactDecimalString(mul(f, rational(100n)));
}

/** Exact sum of rate strings. */
export function addRates(...rates: string[]): string {
  return toExactDecimalString(sum(rates.map(parseRational)));
}

/** The percent is at most 100 (the schema's pattern allows up to 999). */
export function checkPercent(rate: string, fail: (message: string) => never): string {
  const r = normalizeRate(rate);
  if (compare(parseRational(r), parseRational('100')) > 0) fail(`rate must be a percent between 0 and 100, got ${rate}`);
  return r;
}

/** State rate + local rates must be the combined rate the source states. */
export function checkCombined(stateRate: string, locals: readonly string[], combined: string, fail: (message: string) => never): void {
  const total = addRates(stateRate, ...locals);
  if (!sameRate(total, combined)) fail(`state ${stateRate} + local ${locals.join(' + ') || '0'} = ${total}, but combined_rate is ${combined}`);
}

export interface TaxabilityDoc {
  treatment: Taxability['treatment'];
  taxable_percent: string;
  reason: string;
  source: string | string[];
  verified?: boolean;
  rate_override?: string;
}

/** A taxability row as the engine reads it; `fail(field, message)` reports at the row's field. */
export function readTaxability(t: TaxabilityDoc, fail: (field: string, message: string) => never): Readonly<Taxability> {
  const pct = checkPercent(t.taxable_percent, (m) => fail('taxable_percent', m));
  if (t.treatment === 'taxable' && pct !== '100') fail('taxable_percent', `treatment taxable needs taxable_percent "100" (got ${pct}); use partial`);
  if (t.treatment === 'exempt' && pct !== '0') fail('taxable_percent', `treatment exempt needs taxable_percent "0" (got ${pct})`);
  if (t.treatment === 'partial' && (pct === '0' || pct === '100')) fail('taxable_percent', `treatment partial needs a taxable_percent strictly between 0 and 100 (got ${pct})`);
  const out: Taxability = { treatment: t.treatment, taxable_percent: pct, reason: t.reason, source: sourceText(t.source) };
  if (t.rate_override !== undefined) out.rate_override = checkPercent(t.rate_override, (m) => fail('rate_override', m));
  if (t.verified !== undefined) out.verified = t.verified;
  return Object.freeze(out);
}

/** "source": a string, or a list of strings joined with "; ". */
export function sourceText(v: string | string[]): string {
  return Array.isArray(v) ? v.join('; ') : v;
}

/** effective_to, when given, is after effective_from. */
export function checkPeriod(from: string, to: string | undefined, fail: (message: string) => never): Dated {
  if (to !== undefined && to <= from) fail(`effective_to (${to}) must be after effective_from (${from})`);
  return { from, to };
}

/** Rows sharing a key must not overlap in time; `label(key)` names the key in the error ("zip 78701"). */
export function checkNoOverlap<T extends Dated & { where: string }>(groups: Map<string, T[]>, label: (key: string) => string): void {
  for (const [key, rows] of groups) {
    const sorted = [...rows].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (prev.to === undefined || prev.to > cur.from) {
        throw dataError(`${cur.where}: ${label(key)}: this row (from ${cur.from}) overlaps the row at ${prev.where} (from ${prev.from}${prev.to ? ` to ${prev.to}` : ', no end'}); give the earlier row an effective_to <= ${cur.from}`);
      }
    }
  }
}
