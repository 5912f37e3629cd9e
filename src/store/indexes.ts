import type { Row } from './journal-file.ts';
import { fieldPath, valueAt } from './query.ts';

/** Index key of a field value: scalars by their JSON text; absent and object values by markers never asked for. */
const ABSENT = '\u0000absent';
const OBJECT = '\u0000object';
/** Stands for an object or array value in an index (queries compare scalars only). */
const OBJECT_VALUE: Readonly<Record<string, never>> = Object.freeze({});

function keyOf(v: unknown): string {
  if (v === undefined) return ABSENT;
  if (v === OBJECT_VALUE) return OBJECT;
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  return OBJECT;
}

/** The index key an equality condition looks up (`null` also matches absent: two keys). */
export function lookupKeys(want: string | number | boolean | null): string[] {
  return want === null ? ['null', ABSENT] : [JSON.stringify(want)];
}

interface FieldIndex {
  path: string[];
  /** id → the field's value (scalars; objects and arrays as OBJECT_VALUE). */
  values: Map<string, unknown>;
  /** value key → ids holding it. */
  ids: Map<string, Set<string>>;
}

/**
 * The rows of an embedded collection table with secondary indexes kept in step: a Map (the table sets and
 * deletes rows in it exactly as before: commits, roll-backs of failed writes, replay) that also maintains,
 * for every field a query has asked about, value → ids and id → value. An index is built on the first query
 * naming its field (one parse of each row) and maintained by every later write, so queries read the ids they
 * return instead of parsing the collection. Keeping it inside the Map keeps it equal to the rows through
 * roll-backs without the table knowing.
 */
export class IndexedRows extends Map<string, Row> {
  private fields?: Map<string, FieldIndex>;
  /** The document of the row being set next (put() hands it over so the write need not parse its own JSON). */
  private hintRow?: Row;
  private hintDoc?: unknown;

  static wrap(rows: Map<string, Row>): IndexedRows {
    if (rows instanceof IndexedRows) return rows;
    const out = new IndexedRows();
    for (const [k, r] of rows) out.set(k, r);
    return out;
  }

  /** Tells the index the parsed document of `row`, which is about to be set (saves a parse). */
  hint(row: Row, doc: unknown): void {
    this.hintRow = row;
    this.hintDoc = doc;
  }

  override set(key: string, row: Row): this {
    if (this.fields?.size) {
      const doc = row === this.hintRow ? this.hintDoc : JSON.parse(row.json);
      for (const ix of this.fields.values()) this.place(ix, key, valueAt(doc, ix.path));
    }
    this.hintRow = undefined;
    this.hintDoc = undefined;
    return super.set(key, row);
  }

  override delete(key: string): boolean {
    if (this.fields?.size && super.has(key)) for (const ix of this.fields.values()) this.remove(ix, key);
    return super.delete(key);
  }

  override clear(): void {
    this.fields?.clear();
    super.clear();
  }

  /** Builds the indexes of `fields` not built yet (one pass, each row parsed once). */
  ensure(fields: readonly string[]): void {
    const missing = [...new Set(fields)].filter((f) => !this.fields?.has(f));
    if (!missing.length) return;
    this.fields ??= new Map();
    const built = missing.map((f) => ({ path: fieldPath(f), values: new Map(), ids: new Map() }) as FieldIndex);
    for (const [id, row] of super.entries()) {
      const doc = JSON.parse(row.json);
      for (const ix of built) this.place(ix, id, valueAt(doc, ix.path));
    }
    missing.forEach((f, i) => this.fields!.set(f, built[i]!));
  }

  /** The value of an indexed field for a row (ensure() it first). */
  fieldValue(field: string, id: string): unknown {
    return this.fields!.get(field)!.values.get(id);
  }

  /** The ids whose indexed field has one of these keys (see lookupKeys). */
  idsWith(field: string, keys: readonly string[]): Set<string> {
    const ix = this.fields!.get(field)!;
    if (keys.length === 1) return ix.ids.get(keys[0]!) ?? new Set();
    const out = new Set<string>();
    for (const k of keys) for (const id of ix.ids.get(k) ?? []) out.add(id);
    return out;
  }

  private place(ix: FieldIndex, id: string, v: unknown): void {
    if (ix.values.has(id)) this.remove(ix, id);
    const k = keyOf(v);
    ix.values.set(id, k === OBJECT ? OBJECT_VALUE : v);
    let set = ix.ids.get(k);
    if (!set) ix.ids.set(k, (set = new Set()));
    set.add(id);
  }

  private remove(ix: FieldIndex, id: string): void {
    if (!ix.values.has(id)) return;
    const k = keyOf(ix.values.get(id));
    ix.values.delete(id);
    const set = ix.ids.get(k);
    set?.delete(id);
    if (set?.size === 0) ix.ids.delete(k);
  }
}
