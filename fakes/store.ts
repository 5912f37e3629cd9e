/**
 * In-memory collections with a maintained sorted id index, cached filtered views and keyset
 * pagination by binary search, so a page costs O(log n + limit) however deep the cursor is.
 */

/**
 * A Map that keeps its keys sorted (ids are time-ordered, so this is creation order) and counts
 * changes. `set`/`delete` keep the index; mutating a stored object in place is invisible to filtered
 * views until `touch()` or a `set` of the same key.
 */
export class IndexedMap<V> extends Map<string, V> {
  private order: string[] = [];
  /** Bumped on every set/delete/touch; filtered views are rebuilt when it changes. */
  version = 0;

  override set(key: string, value: V): this {
    if (!super.has(key)) {
      const o = this.order;
      if (o.length === 0 || o[o.length - 1]! < key) o.push(key);
      else o.splice(lowerBound(o, key), 0, key);
    }
    super.set(key, value);
    this.version++;
    return this;
  }

  override delete(key: string): boolean {
    if (!super.delete(key)) return false;
    const i = lowerBound(this.order, key);
    if (this.order[i] === key) this.order.splice(i, 1);
    this.version++;
    return true;
  }

  override clear(): void {
    super.clear();
    this.order.length = 0;
    this.version++;
  }

  /** Keys in ascending order (live array: do not modify). */
  get sortedKeys(): readonly string[] {
    return this.order;
  }

  touch(): void {
    this.version++;
  }
}

/** First index whose value is >= key. */
export function lowerBound(arr: readonly string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > key. */
export function upperBound(arr: readonly string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A list to paginate: `keys` sorted ascending (unique), `ids[i]` the record id for `keys[i]`. */
export interface View {
  keys: readonly string[];
  ids: readonly string[];
}

export function idView(map: IndexedMap<unknown>): View {
  return { keys: map.sortedKeys, ids: map.sortedKeys };
}

/**
 * Small cache of filtered/sorted views per collection, keyed by a filter signature and invalidated
 * by the collection's version.
 */
export class ViewCache {
  private entries = new Map<string, { version: number; view: View }>();

  constructor(private readonly max = 64) {}

  get(signature: string, version: number, build: () => View): View {
    const hit = this.entries.get(signature);
    if (hit && hit.version === version) return hit.view;
    const view = build();
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(signature, { version, view });
    return view;
  }
}

/** Build a view of the records that pass `keep`, ordered by `sortKey` (default: the id). */
export function buildView<V>(map: IndexedMap<V>, keep: (v: V) => boolean, sortKey?: (v: V, id: string) => string): View {
  const ids: string[] = [];
  for (const id of map.sortedKeys) {
    const v = map.get(id);
    if (v !== undefined && keep(v)) ids.push(id);
  }
  if (!sortKey) return { keys: ids, ids };
  const pairs = ids.map((id) => [sortKey(map.get(id)!, id), id] as const);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { keys: pairs.map((p) => p[0]), ids: pairs.map((p) => p[1]) };
}

export interface PageRequest {
  /** Return the items after this key in the chosen order. */
  after?: string;
  /** Return the items before this key in the chosen order (the page just before it). */
  before?: string;
  limit: number;
  desc?: boolean;
}

export interface Page {
  ids: string[];
  /** Keys of the first and last item returned (for cursors). */
  firstKey?: string;
  lastKey?: string;
  /** More items follow the last one in this order. */
  hasAfter: boolean;
  /** Items precede the first one in this order. */
  hasBefore: boolean;
  total: number;
}

/** Keyset pagination over a view: positions are found by binary search on the keys. */
export function paginate(view: View, req: PageRequest): Page {
  const n = view.keys.length;
  const limit = Math.max(0, req.limit);
  // [start, end) is the slice of the ascending arrays that forms the page
  let start: number;
  let end: number;
  if (!req.desc) {
    if (req.after !== undefined) {
      start = upperBound(view.keys, req.after);
      end = Math.min(n, start + limit);
    } else if (req.before !== undefined) {
      end = lowerBound(view.keys, req.before);
      start = Math.max(0, end - limit);
    } else {
      start = 0;
      end = Math.min(n, limit);
    }
  } else {
    if (req.after !== undefined) {
      end = lowerBound(view.keys, req.after);
      start = Math.max(0, end - limit);
    } else if (req.before !== undefined) {
      start = upperBound(view.keys, req.before);
      end = Math.min(n, start + limit);
    } else {
      end = n;
      start = Math.max(0, n - limit);
    }
  }
  const ids = view.ids.slice(start, end);
  const keys = view.keys;
  if (req.desc) ids.reverse();
  const page: Page = {
    ids,
    hasAfter: req.desc ? start > 0 : end < n,
    hasBefore: req.desc ? end < n : start > 0,
    total: n,
  };
  if (end > start) {
    page.firstKey = req.desc ? keys[end - 1] : keys[start];
    page.lastKey = req.desc ? keys[start] : keys[end - 1];
  }
  return page;
}

/**
 * A Map whose values can be registered as deferred: a small spec is stored and the value is built
 * (once) on first `get`. Iteration, `size` and `has` see deferred entries too (iteration builds them).
 * Used for generated line items so that generating 100k lines costs almost nothing up front.
 */
export class LazyMap<V, S> extends Map<string, V> {
  private deferred = new Map<string, S>();

  constructor(private readonly build: (key: string, spec: S) => V) {
    super();
  }

  defer(key: string, spec: S): void {
    super.delete(key);
    this.deferred.set(key, spec);
  }

  override get(key: string): V | undefined {
    const v = super.get(key);
    if (v !== undefined) return v;
    const spec = this.deferred.get(key);
    if (spec === undefined) return undefined;
    const built = this.build(key, spec);
    this.deferred.delete(key);
    super.set(key, built);
    return built;
  }

  override has(key: string): boolean {
    return super.has(key) || this.deferred.has(key);
  }

  override set(key: string, value: V): this {
    this.deferred?.delete(key);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    const a = this.deferred.delete(key);
    const b = super.delete(key);
    return a || b;
  }

  override clear(): void {
    this.deferred.clear();
    super.clear();
  }

  override get size(): number {
    return super.size + this.deferred.size;
  }

  /** Number of entries not built yet. */
  get deferredCount(): number {
    return this.deferred.size;
  }

  private buildAll(): void {
    for (const key of [...this.deferred.keys()]) this.get(key);
  }

  override entries(): MapIterator<[string, V]> {
    this.buildAll();
    return super.entries();
  }

  override keys(): MapIterator<string> {
    this.buildAll();
    return super.keys();
  }

  override values(): MapIterator<V> {
    this.buildAll();
    return super.values();
  }

  override [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  override forEach(cb: (value: V, key: string, map: Map<string, V>) => void, thisArg?: unknown): void {
    this.buildAll();
    super.forEach(cb, thisArg);
  }
}
