import { flatString } from '../flat-string.ts';
import { badJsonText } from './json-text.ts';
import { join } from 'node:path';
import { TaxbridgeError } from '../errors.ts';
import { contentHash, stableStringify } from './hash.ts';
import { tablesOnDisk } from './check.ts';
import { JournaledFile, type Row, type StoreWarning, type TableOp, type WriteFileOps } from './journal-file.ts';
import { mkdirPrivate } from './modes.ts';
import { safeFileName } from './names.ts';
import { MemoryFile, Table, type TableProblem } from './table.ts';
import type { ClaimQuery, Collection, EntityWrite, FindPage, FindQuery, Store, StoredEntity, StoreHealth, UpsertResult, Where } from './types.ts';
import { IndexedRows } from './indexes.ts';
import { findIn, LocalCoordination } from './embedded-query.ts';

type Checkpoints = Record<string, Record<string, unknown>>;

/** Where claimTick keeps the last claimed tick of each schedule. */
export const TICKS = 'store_ticks';

function requireId(kind: string, id: string): void {
  if (typeof id !== 'string' || id === '') throw new TaxbridgeError('STORE_BAD_ID', `${kind} must be a non-empty string`);
}

/**
 * The embedded store: one journaled table per document collection (collections/<name>) and one per
 * (connection, stream) of entities (entities/<connection>/<stream>), each loaded on first use. A sync of
 * 20k invoices therefore never rewrites webhook events, and a webhook never rewrites invoices.
 * The stream's checkpoint lives in the stream's own table, so a page and its checkpoint commit together.
 */
export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  /** Claims, leases and topics: one process owns the folder, so memory is the whole truth (ticks are stored). */
  private readonly local = new LocalCoordination();
  /** Entity keys in order, per table, while its seq is unchanged (pageEntities). */
  private readonly sortedKeys = new WeakMap<Table, { seq: number; size: number; keys: string[] }>();
  private readonly tables = new Map<string, Promise<Table>>();
  /** Collection tables once open, by collection name: a put to one needs no turn of the event loop. */
  private readonly openCollections = new Map<string, Table>();
  /** Tables that cannot write at the moment, by key (kept by the tables themselves through onHealth). */
  private readonly failing = new Map<string, TableProblem>();
  private closed = false;
  /** Commits apply to the table in memory before their write (src/store/table.ts), in call order. */
  readonly readsWritesAtOnce = true;
  /** Entity tables verify() has read whole (keys as in `tables`). */
  private readonly verified = new Set<string>();

  constructor(
    private readonly dir: string | undefined,
    private readonly unlock: () => Promise<void> = async () => undefined,
    /** Journal size that triggers rewriting a table's snapshot (when also larger than the snapshot). */
    private readonly compactBytes?: number,
    /** The write path's file operations (tests inject failing ones). */
    private readonly fileOps?: WriteFileOps,
    /** Told what the store repaired by itself on open (torn journal tails). */
    private readonly onWarning?: (w: StoreWarning) => void,
  ) {}

  /** The table under `key`, opened on first use; `place` (folder, file name) is only computed then. */
  private open(key: string, place: () => [string[], string]): Promise<Table> {
    if (this.closed) return Promise.reject(new TaxbridgeError('STORE_CLOSED', 'the store is closed'));
    let t = this.tables.get(key);
    if (!t) {
      t = (async () => {
        const label = key.startsWith('c\u0000') ? key.slice(2) : `entities/${key.slice(2).replace('\u0000', '/')}`;
        const opts = { compactBytes: this.compactBytes, onHealth: (p: TableProblem | undefined) => (p ? this.failing.set(key, p) : this.failing.delete(key)) };
        if (!this.dir) return Table.open(new MemoryFile(), label, opts);
        const [folder, name] = place();
        const dir = join(this.dir, ...folder);
        await mkdirPrivate(dir);
        const checkValues = !this.verified.has(key);
        return Table.open(new JournaledFile(join(dir, name), this.fileOps, { onWarning: this.onWarning, checkValues }), label, opts);
      })();
      // A failed open (damaged file) is retried by the next call rather than cached.
      t.catch(() => this.tables.delete(key));
      // The first reaction to the open: calls already waiting for it still commit before any later put.
      if (key.startsWith('c\u0000')) t.then((table) => this.openCollections.set(key.slice(2), table), () => undefined);
      this.tables.set(key, t);
    }
    return t;
  }

  /**
   * Reads every table of the folder and throws the first damage found (StoreCorruptError naming the file and
   * offset): collection tables are opened (and stay open), entity tables are scanned without keeping their
   * rows (they are opened when a sync or a webhook needs them). Torn tails are cut, with a warning.
   */
  async verify(): Promise<{ tables: number; rows: number }> {
    if (!this.dir) return { tables: 0, rows: 0 };
    let rows = 0;
    const found = await tablesOnDisk(this.dir);
    for (const t of found) {
      if (t.kind === 'collection' && t.collection !== undefined) rows += (await this.collection(t.collection)).data.rows.size;
      else {
        rows += (await new JournaledFile(t.base, this.fileOps, { onWarning: this.onWarning }).scan()).rows;
        // Verified now, and only this process writes it from here on: its first open need not parse values again.
        if (t.connection !== undefined && t.stream !== undefined) this.verified.add(`e\u0000${t.connection}\u0000${t.stream}`);
      }
    }
    return { tables: found.length, rows };
  }

  private collection(name: Collection): Promise<Table> {
    const key = `c\u0000${name}`;
    if (!this.tables.has(key)) requireId('collection', name);
    return this.open(key, () => [['collections'], safeFileName(name)]);
  }

  private async stream(connectionId: string, stream: string): Promise<Table> {
    requireId('connection id', connectionId);
    requireId('stream', stream);
    const key = `e\u0000${connectionId}\u0000${stream}`;
    const known = this.tables.has(key);
    const t = await this.open(key, () => [['entities', safeFileName(connectionId)], safeFileName(stream)]);
    if (!known) await this.repairCheckpointCopies(t);
    return t;
  }

  /** After a crash the sync_state copies may lag the stream file by a page: make them equal again. */
  private async repairCheckpointCopies(t: Table): Promise<void> {
    const checkpoints = (t.data.meta.checkpoints ?? {}) as Checkpoints;
    for (const [id, value] of Object.entries(checkpoints)) {
      const copy = await this.get('sync_state', id);
      if (stableStringify(copy) !== stableStringify(value)) await this.put('sync_state', id, value);
    }
  }

  async commitPage(input: { connectionId: string; stream: string; entity: string; writes: EntityWrite[]; checkpoint?: { id: string; value: Record<string, unknown> } }): Promise<UpsertResult> {
    const t = await this.stream(input.connectionId, input.stream);
    const now = new Date().toISOString();
    const result = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
    const ops: TableOp[] = [];
    // A record repeated within one page: compare against its earlier version in this page.
    const inPage = new Map<string, Row>();
    for (const w of input.writes) {
      requireId('external_id', w.external_id);
      const deleted = w.deleted === true;
      const dataText = stableStringify(w.data);
      const h = contentHash(deleted ? `${dataText}\u0000deleted` : dataText);
      const rawText = w.raw === undefined ? undefined : JSON.stringify(w.raw);
      const r = rawText === undefined ? undefined : contentHash(rawText);
      const prev = inPage.get(w.external_id) ?? t.data.rows.get(w.external_id);
      if (prev && prev.h === h && prev.r === r) {
        result.unchanged++;
        continue;
      }
      if (!prev) result.created++;
      else if (prev.h === h) result.unchanged++; // only the raw record changed
      else result.updated++;
      if (deleted && !prev?.d) result.deleted++;
      const f = prev?.f ?? now;
      const json =
        `{"connection_id":${JSON.stringify(input.connectionId)},"stream":${JSON.stringify(input.stream)},"entity":${JSON.stringify(input.entity)},` +
        `"external_id":${JSON.stringify(w.external_id)},"data":${dataText}${rawText === undefined ? '' : `,"raw":${rawText}`},` +
        `"hash":${JSON.stringify(h)},"deleted":${deleted},"first_seen_at":${JSON.stringify(f)},"updated_at":${JSON.stringify(now)}}`;
      const row: Row = { json, h, f, ...(r === undefined ? {} : { r }), ...(deleted ? { d: true } : {}) };
      inPage.set(w.external_id, row);
      ops.push({ t: 'p', k: w.external_id, row });
    }
    let meta: Record<string, unknown> | undefined;
    if (input.checkpoint) {
      const checkpoints = { ...((t.data.meta.checkpoints ?? {}) as Checkpoints), [input.checkpoint.id]: input.checkpoint.value };
      meta = { checkpoints };
    }
    if (ops.length || meta) await t.commit(ops, meta);
    if (input.checkpoint) await this.put('sync_state', input.checkpoint.id, input.checkpoint.value);
    return result;
  }

  /** Every checkpoint saved in a stream's table (store migrate copies them). */
  async streamCheckpoints(connectionId: string, stream: string): Promise<Checkpoints> {
    const t = await this.stream(connectionId, stream);
    return structuredClone((t.data.meta.checkpoints ?? {}) as Checkpoints);
  }

  async getCheckpoint(connectionId: string, stream: string, id: string): Promise<Record<string, unknown> | undefined> {
    const t = await this.stream(connectionId, stream);
    const value = ((t.data.meta.checkpoints ?? {}) as Checkpoints)[id];
    return value === undefined ? undefined : structuredClone(value);
  }

  async getEntity(connectionId: string, stream: string, externalId: string): Promise<StoredEntity | undefined> {
    const row = (await this.stream(connectionId, stream)).data.rows.get(externalId);
    return row ? (JSON.parse(row.json) as StoredEntity) : undefined;
  }

  async listEntities(connectionId: string, stream: string, opts: { includeDeleted?: boolean } = {}): Promise<StoredEntity[]> {
    const out: StoredEntity[] = [];
    for (const row of (await this.stream(connectionId, stream)).data.rows.values()) {
      if (row.d && !opts.includeDeleted) continue;
      out.push(JSON.parse(row.json) as StoredEntity);
    }
    return out;
  }

  async markDeleted(connectionId: string, stream: string, externalId: string): Promise<boolean> {
    const t = await this.stream(connectionId, stream);
    const row = t.data.rows.get(externalId);
    if (!row) return false;
    if (row.d) return true;
    const entity = JSON.parse(row.json) as StoredEntity;
    entity.deleted = true;
    entity.updated_at = new Date().toISOString();
    entity.hash = contentHash(`${stableStringify(entity.data)}\u0000deleted`);
    await t.commit([{ t: 'p', k: externalId, row: { ...row, json: JSON.stringify(entity), h: entity.hash, d: true } }]);
    return true;
  }

  async countEntities(connectionId: string, stream: string): Promise<{ active: number; deleted: number }> {
    let active = 0;
    let deleted = 0;
    for (const row of (await this.stream(connectionId, stream)).data.rows.values()) {
      if (row.d) deleted++;
      else active++;
    }
    return { active, deleted };
  }

  async get<T = Record<string, unknown>>(collection: Collection, id: string): Promise<T | undefined> {
    const row = (await this.collection(collection)).data.rows.get(id);
    return row ? (JSON.parse(row.json) as T) : undefined;
  }

  put<T extends object>(collection: Collection, id: string, doc: T): Promise<void> {
    let json: string;
    try {
      json = JSON.stringify(doc);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.putText(collection, id, json, doc);
  }

  putJson(collection: Collection, id: string, json: string): Promise<void> {
    const bad = badJsonText(collection, json);
    if (bad) return Promise.reject(bad);
    return this.putText(collection, id, json, undefined);
  }

  /** `doc`, when the caller has it, spares the indexes (if any) a parse of `json`. */
  private putText(collection: Collection, id: string, json: string, doc: object | undefined): Promise<void> {
    const t = this.closed ? undefined : this.openCollections.get(collection);
    if (t === undefined) return this.putOpening(collection, id, json, doc);
    try {
      requireId('id', id);
      return this.putRow(t, id, json, doc);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async putOpening(collection: Collection, id: string, json: string, doc: object | undefined): Promise<void> {
    requireId('id', id);
    await this.putRow(await this.collection(collection), id, json, doc);
  }

  private putRow(t: Table, id: string, json: string, doc: object | undefined): Promise<void> {
    const row = { json: flatString(json) };
    if (doc !== undefined && t.data.rows instanceof IndexedRows) t.data.rows.hint(row, doc);
    return t.commit([{ t: 'p', k: id, row }]);
  }

  insertIfAbsent<T extends object>(collection: Collection, id: string, doc: T): Promise<boolean> {
    // An open collection needs no turn of the event loop (as for put).
    const t = this.closed ? undefined : this.openCollections.get(collection);
    if (t === undefined) return this.insertOpening(collection, id, doc);
    try {
      requireId('id', id);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.insertInto(t, id, doc);
  }

  private async insertOpening(collection: Collection, id: string, doc: object): Promise<boolean> {
    requireId('id', id);
    return this.insertInto(await this.collection(collection), id, doc);
  }

  private async insertInto(t: Table, id: string, doc: object): Promise<boolean> {
    // Serialized before any wait, as the call found it, but only when it may be inserted: a duplicate of a
    // durable event is not.
    let row: Row | undefined;
    for (;;) {
      // Checked and applied in one synchronous step after the await: a racing insert sees this one.
      if (!t.data.rows.has(id)) {
        row ??= { json: flatString(JSON.stringify(doc)) };
        if (t.data.rows instanceof IndexedRows) t.data.rows.hint(row, doc);
        await t.commit([{ t: 'p', k: id, row }]);
        return true;
      }
      // Present, but "already there" is only true once the write that created it is on disk. If that write
      // fails it is undone, and this insert tries again as the first one (each failure ends one caller's loop).
      const creating = t.creating(id);
      if (!creating) return false;
      row ??= { json: flatString(JSON.stringify(doc)) };
      await creating.catch(() => undefined);
    }
  }

  async delete(collection: Collection, id: string): Promise<boolean> {
    const t = await this.collection(collection);
    if (!t.data.rows.has(id)) return false;
    await t.commit([{ t: 'x', k: id }]);
    return true;
  }

  /** Rewrites a collection's snapshot now, so rows deleted in bulk (retention) leave the file at once. */
  async compact(collection: Collection): Promise<void> {
    await (await this.collection(collection)).compact();
  }

  async list<T = Record<string, unknown>>(collection: Collection, filter?: (doc: T) => boolean): Promise<T[]> {
    const out: T[] = [];
    for (const row of (await this.collection(collection)).data.rows.values()) {
      const doc = JSON.parse(row.json) as T;
      if (!filter || filter(doc)) out.push(doc);
    }
    return out;
  }

  /** The collection's rows with query indexes (wrapped on the first query; later writes keep them). */
  private async indexed(collection: Collection): Promise<IndexedRows> {
    const t = await this.collection(collection);
    if (!(t.data.rows instanceof IndexedRows)) t.data.rows = IndexedRows.wrap(t.data.rows);
    return t.data.rows as IndexedRows;
  }

  async find<T = Record<string, unknown>>(collection: Collection, query: FindQuery = {}): Promise<FindPage<T>> {
    const rows = await this.indexed(collection);
    const { ids, next } = findIn(rows, query);
    return { docs: ids.map((id) => JSON.parse(rows.get(id)!.json) as T), ...(next ? { next } : {}) };
  }

  async count(collection: Collection, where?: Where): Promise<number> {
    if (!where || Object.keys(where).length === 0) return (await this.collection(collection)).data.rows.size;
    return findIn(await this.indexed(collection), { where }, { countOnly: true }).count;
  }

  async scan<T = Record<string, unknown>>(collection: Collection, fn: (doc: T) => void | Promise<void>, opts: { where?: Where } = {}): Promise<number> {
    const rows = opts.where ? await this.indexed(collection) : (await this.collection(collection)).data.rows;
    // Ids first (a snapshot of the keys), each document parsed only when its turn comes.
    const ids = opts.where ? findIn(rows as IndexedRows, { where: opts.where }).ids : [...rows.keys()];
    let n = 0;
    for (const id of ids) {
      const row = rows.get(id);
      if (!row) continue; // deleted meanwhile
      await fn(JSON.parse(row.json) as T);
      n++;
    }
    return n;
  }

  /** Each (id, document) of a collection, parsed one at a time (store migrate). */
  async scanEntries(collection: Collection, fn: (id: string, doc: unknown) => void | Promise<void>): Promise<void> {
    const rows = (await this.collection(collection)).data.rows;
    for (const id of [...rows.keys()]) {
      const row = rows.get(id);
      if (row) await fn(id, JSON.parse(row.json));
    }
  }

  async claimNext<T = Record<string, unknown>>(collection: Collection, query: ClaimQuery): Promise<T | undefined> {
    const rows = await this.indexed(collection);
    const { ids } = findIn(rows, { where: query.where, orderBy: query.orderBy });
    const id = this.local.claimFirst(collection, ids, query);
    return id === undefined ? undefined : (JSON.parse(rows.get(id)!.json) as T);
  }

  async renewClaim(collection: Collection, id: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.local.renewClaim(collection, id, owner, leaseMs);
  }

  async releaseClaim(collection: Collection, id: string, owner: string): Promise<boolean> {
    return this.local.releaseClaim(collection, id, owner);
  }

  async tryAcquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.local.tryAcquireLease(name, owner, ttlMs);
  }

  async releaseLease(name: string, owner: string): Promise<boolean> {
    return this.local.releaseLease(name, owner);
  }

  async claimTick(schedule: string, tick: string): Promise<boolean> {
    requireId('schedule', schedule);
    requireId('tick', tick);
    const t = await this.collection(TICKS);
    // Read and written in one synchronous step after the await: two callers cannot both win.
    const last = t.data.rows.get(schedule);
    if (last && (JSON.parse(last.json) as { tick: string }).tick >= tick) return false;
    await t.commit([{ t: 'p', k: schedule, row: { json: JSON.stringify({ id: schedule, tick, claimed_at: new Date().toISOString() }) } }]);
    return true;
  }

  async publish(topic: string, message: string): Promise<void> {
    this.local.publish(topic, message);
  }

  async subscribe(topic: string, fn: (message: string) => void): Promise<() => Promise<void>> {
    return this.local.subscribe(topic, fn);
  }

  async pageEntities(connectionId: string, stream: string, opts: { after?: string; limit: number; includeDeleted?: boolean }): Promise<StoredEntity[]> {
    const t = await this.stream(connectionId, stream);
    const rows = t.data.rows;
    // The sorted keys are kept while the table does not change, so paging a stream sorts it once.
    let sorted = this.sortedKeys.get(t);
    if (!sorted || sorted.seq !== t.data.seq || sorted.size !== rows.size) {
      sorted = { seq: t.data.seq, size: rows.size, keys: [...rows.keys()].sort() };
      this.sortedKeys.set(t, sorted);
    }
    const keys = sorted.keys;
    let i = 0;
    if (opts.after !== undefined) {
      let hi = keys.length;
      while (i < hi) {
        const mid = (i + hi) >>> 1;
        if (keys[mid]! <= opts.after) i = mid + 1;
        else hi = mid;
      }
    }
    const out: StoredEntity[] = [];
    const limit = Math.max(1, opts.limit);
    for (; i < keys.length && out.length < limit; i++) {
      const row = rows.get(keys[i]!);
      if (row && (opts.includeDeleted || !row.d)) out.push(JSON.parse(row.json) as StoredEntity);
    }
    return out;
  }

  async entityStates(connectionId: string, stream: string, externalIds: string[]): Promise<Map<string, { hash: string; deleted: boolean }>> {
    const rows = (await this.stream(connectionId, stream)).data.rows;
    const out = new Map<string, { hash: string; deleted: boolean }>();
    for (const id of externalIds) {
      const row = rows.get(id);
      if (row?.h !== undefined) out.set(id, { hash: row.h, deleted: row.d === true });
    }
    return out;
  }

  health(): StoreHealth {
    if (this.failing.size === 0) return { ok: true, problems: [] };
    const problems = [...this.failing.values()].map((p) => ({ ...p }));
    return { ok: false, detail: `cannot write ${problems.map((p) => `${p.table} (${p.code})`).join(', ')}`, problems };
  }

  async flush(): Promise<void> {
    const tables = await Promise.allSettled([...this.tables.values()]);
    for (const t of tables) if (t.status === 'fulfilled') await t.value.settle();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const tables = await Promise.allSettled([...this.tables.values()]);
    this.closed = true;
    for (const t of tables) if (t.status === 'fulfilled') await t.value.close();
    await this.unlock();
  }

  /** Number of disk writes each open table has made (group-commit diagnostics). */
  async diskWrites(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [key, t] of this.tables) out[key.replaceAll('\u0000', '/')] = (await t).writes;
    return out;
  }
}
