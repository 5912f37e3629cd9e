import { TaxbridgeError } from '../errors.ts';
import type { FieldCondition, FieldValue, FindQuery, Where } from './types.ts';

/**
 * The meaning of a store query (FindQuery / Where) in one place: field paths, how a condition holds for a
 * value, the sort key and the page cursor. The embedded store evaluates these over its indexes; the
 * PostgreSQL store translates the same rules to SQL (src/store/postgres/sql.ts) and the contract tests
 * run the same queries on both.
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Bounds a query (queries come from code, but a cursor comes from a client). */
const MAX_CONDITIONS = 16;
const MAX_IN = 1000;
export const MAX_LIMIT = 10_000;

/** The path segments of a field (`settings.realm_id` → ['settings', 'realm_id']), validated. */
export function fieldPath(field: string): string[] {
  const parts = typeof field === 'string' ? field.split('.') : [];
  if (parts.length === 0 || parts.length > 4 || !parts.every((p) => NAME.test(p))) {
    throw new TaxbridgeError('STORE_BAD_QUERY', `field ${JSON.stringify(field)} is not a field name or a dotted path of names (letters, digits, _)`);
  }
  return parts;
}

/** A document's value at a path; undefined when absent (own properties only). */
export function valueAt(doc: unknown, path: readonly string[]): unknown {
  let v: unknown = doc;
  for (const p of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function isScalar(v: unknown): v is FieldValue {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

export type Op = { kind: 'eq'; value: FieldValue } | { kind: 'in'; values: FieldValue[] } | { kind: 'ne'; value: FieldValue } | { kind: 'range'; gte?: string; gt?: string; lt?: string; lte?: string };

export interface Condition {
  field: string;
  path: string[];
  op: Op;
}

/** Validates a Where and turns it into conditions (throws STORE_BAD_QUERY naming what is wrong). */
export function conditions(where: Where | undefined): Condition[] {
  if (where === undefined) return [];
  const fields = Object.keys(where);
  if (fields.length > MAX_CONDITIONS) throw new TaxbridgeError('STORE_BAD_QUERY', `a query has at most ${MAX_CONDITIONS} conditions, this one ${fields.length}`);
  return fields.map((field) => ({ field, path: fieldPath(field), op: toOp(field, where[field]!) }));
}

function toOp(field: string, c: FieldCondition): Op {
  if (isScalar(c)) return { kind: 'eq', value: c };
  if (typeof c === 'object' && c !== null && !Array.isArray(c)) {
    if (Object.hasOwn(c, 'in')) {
      const values = (c as { in: unknown }).in;
      if (!Array.isArray(values) || values.length > MAX_IN || !values.every(isScalar)) throw new TaxbridgeError('STORE_BAD_QUERY', `${field}: "in" takes up to ${MAX_IN} scalar values`);
      return { kind: 'in', values };
    }
    if (Object.hasOwn(c, 'ne')) {
      const value = (c as { ne: unknown }).ne;
      if (!isScalar(value)) throw new TaxbridgeError('STORE_BAD_QUERY', `${field}: "ne" takes a scalar value`);
      return { kind: 'ne', value };
    }
    const r = c as Record<string, unknown>;
    const keys = Object.keys(r);
    if (keys.length > 0 && keys.every((k) => (k === 'gte' || k === 'gt' || k === 'lt' || k === 'lte') && typeof r[k] === 'string')) {
      return { kind: 'range', ...(r as { gte?: string; gt?: string; lt?: string; lte?: string }) };
    }
  }
  throw new TaxbridgeError('STORE_BAD_QUERY', `${field}: a condition is a scalar, {in: [...]}, {ne: v} or a string range {gte, gt, lt, lte}`);
}

/** Equality as the store means it: same scalar; null also matches an absent field; objects never match. */
export function equals(v: unknown, want: FieldValue): boolean {
  if (want === null) return v === null || v === undefined;
  return v === want;
}

export function holds(op: Op, v: unknown): boolean {
  switch (op.kind) {
    case 'eq':
      return equals(v, op.value);
    case 'in':
      return op.values.some((w) => equals(v, w));
    case 'ne':
      return !equals(v, op.value);
    case 'range':
      if (typeof v !== 'string') return false;
      return (op.gte === undefined || v >= op.gte) && (op.gt === undefined || v > op.gt) && (op.lt === undefined || v < op.lt) && (op.lte === undefined || v <= op.lte);
  }
}

export function matches(doc: unknown, conds: readonly Condition[]): boolean {
  return conds.every((c) => holds(c.op, valueAt(doc, c.path)));
}

/** The sort key of a document for `orderBy` (absent → ''; non-strings by their JSON text). */
export function sortValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A cursor: the sort value and id of the last document of a page. */
export interface Cursor {
  v: string;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.v, c.id]), 'utf8').toString('base64url');
}

/** Reads a cursor from `after`; a malformed one (it may come from a client) is STORE_BAD_CURSOR. */
export function decodeCursor(after: string): Cursor {
  const bad = () => new TaxbridgeError('STORE_BAD_CURSOR', 'the page cursor is not one this store made (pass the "next" value of the previous page unchanged)');
  if (typeof after !== 'string' || after.length > 4096 || !/^[A-Za-z0-9_-]*$/.test(after)) throw bad();
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string') throw bad();
  return { v: v[0], id: v[1] };
}

/** The page size of a query: all when absent, else 1..MAX_LIMIT. */
export function pageLimit(q: FindQuery | undefined): number | undefined {
  const n = q?.limit;
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw new TaxbridgeError('STORE_BAD_QUERY', `limit must be an integer from 1 to ${MAX_LIMIT}, not ${String(n)}`);
  return n;
}

/** Compares (value, id) pairs in code-unit order. */
export function compareKey(av: string, aid: string, bv: string, bid: string): number {
  if (av !== bv) return av < bv ? -1 : 1;
  return aid < bid ? -1 : aid > bid ? 1 : 0;
}

/**
 * A FindQuery over documents held as plain objects (id → doc), by a full pass: the reference meaning of a
 * query, for stores that keep a handful of documents (test helpers) and for checking the indexed paths.
 */
export function findInDocs<T>(docs: Iterable<[string, T]>, q: FindQuery = {}): { docs: T[]; next?: string; count: number } {
  const conds = conditions(q.where);
  const limit = pageLimit(q);
  const order = q.orderBy;
  const orderPath = order ? fieldPath(order.field) : undefined;
  const desc = order?.desc === true;
  const keyed: Array<{ v: string; id: string; doc: T }> = [];
  for (const [id, doc] of docs) if (matches(doc, conds)) keyed.push({ v: orderPath ? sortValue(valueAt(doc, orderPath)) : '', id, doc });
  const page = pageOfKeyed(keyed, q.after, desc, limit);
  return { docs: page.rows.map((k) => k.doc), count: page.rows.length, ...(page.next ? { next: page.next } : {}) };
}

/**
 * One page of rows keyed by (sort value, id): those after the cursor, in order, at most `limit`, and the cursor
 * of the next page when more remain. Shared by the in-memory scan and the embedded store's indexes.
 */
export function pageOfKeyed<K extends { v: string; id: string }>(keyed: K[], after: string | undefined, desc: boolean, limit: number | undefined): { rows: K[]; next?: string } {
  if (after !== undefined) {
    const c = decodeCursor(after);
    keyed = keyed.filter((k) => (desc ? compareKey(k.v, k.id, c.v, c.id) < 0 : compareKey(k.v, k.id, c.v, c.id) > 0));
  }
  keyed.sort((a, b) => (desc ? -1 : 1) * compareKey(a.v, a.id, b.v, b.id));
  const more = limit !== undefined && keyed.length > limit;
  if (more) keyed.length = limit;
  const last = keyed[keyed.length - 1];
  return { rows: keyed, ...(more && last ? { next: encodeCursor(last) } : {}) };
}
