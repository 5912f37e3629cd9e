/**
 * The one storage interface every part uses. `openStore()` (src/store/index.ts) picks the implementation:
 * the embedded default keeps JSON files under a data folder (lowdb, one process); PostgresStore
 * (src/store/postgres/) keeps the same documents in PostgreSQL for several replicas.
 *
 * Reads are queries (`find`, `count`, `claimNext`, `pageEntities`), never "load the collection and filter in
 * JavaScript": each maps to an indexed query in PostgreSQL and to an in-memory index in the embedded store
 * (src/store/indexes.ts), so a request path costs the rows it returns, not the size of the collection.
 *
 * Durability contract: when a write's promise resolves, the data is on disk (atomically replaced), so a
 * webhook acknowledged after `put` resolves is never lost. A write whose promise rejects leaves nothing
 * behind (reads may see a write before it is durable, but a failed one is taken back). Writes issued close together are grouped into one
 * file write (group commit); nothing rewrites a whole file per record.
 */

/** A canonical entity synced from a connection, keyed by (connection, stream, external id). */
export interface StoredEntity<T = Record<string, unknown>> {
  connection_id: string;
  stream: string;
  entity: string;
  external_id: string;
  /** The mapped canonical record. */
  data: T;
  /** The upstream record as read (children attached), kept for write-back and re-mapping. */
  raw?: unknown;
  /** Stable hash of `data` (and `deleted`), to tell updated from unchanged. */
  hash: string;
  deleted: boolean;
  first_seen_at: string;
  updated_at: string;
}

export interface EntityWrite {
  external_id: string;
  data: Record<string, unknown>;
  raw?: unknown;
  deleted?: boolean;
}

export interface UpsertResult {
  created: number;
  updated: number;
  unchanged: number;
  /** Writes that turned an entity deleted (or created it deleted). */
  deleted?: number;
}

/** Documents other than synced entities live in named collections. */
export type Collection =
  | 'organizations'
  | 'api_keys'
  | 'connections'
  | 'tax_calculations'
  | 'webhook_events'
  | 'writeback_jobs'
  | 'sync_state'
  | 'sync_runs'
  | (string & {});

/** A value a query compares a document field with (JSON scalars; `null` matches absent or null). */
export type FieldValue = string | number | boolean | null;

/**
 * A condition on one field. The field is a top-level name or a dotted path of plain names (`settings.realm_id`).
 * - a scalar: equal to it (`null`: absent or null);
 * - `{ in: [...] }`: equal to one of them;
 * - `{ ne: v }`: not equal (absent counts as not equal, except to null);
 * - `{ gte?, gt?, lt?, lte? }`: string range, compared by UTF-16 code units (ISO times, ids) as in JavaScript;
 *   an absent field never matches a range.
 */
export type FieldCondition = FieldValue | { in: FieldValue[] } | { ne: FieldValue } | { gte?: string; gt?: string; lt?: string; lte?: string };

/** Every condition must hold (AND). */
export type Where = Record<string, FieldCondition>;

export interface FindQuery {
  where?: Where;
  /**
   * Order by one string field (ISO times, names), ties broken by id; default: by id ascending. Documents that
   * lack the field sort as the empty string.
   */
  orderBy?: { field: string; desc?: boolean };
  /** Page size (default: all). */
  limit?: number;
  /** The `next` cursor of the previous page: continue after it, in the same order and conditions. */
  after?: string;
}

export interface FindPage<T> {
  docs: T[];
  /** Present when more may follow: pass as `after` for the next page. Opaque. */
  next?: string;
}

/**
 * Claiming a job from a queue collection (webhook inbox, write-back queue) so that one worker among several
 * replicas runs it: the oldest document (by `orderBy`, default id) matching `where` that no live claim holds
 * is claimed by `owner` until `now + leaseMs`. A claim expires by itself, so a job held by a killed replica is
 * claimed again after its lease (visibility timeout). Saving the document does not end the claim; the worker
 * ends it with `releaseClaim` (or lets it expire).
 */
export interface ClaimQuery {
  where?: Where;
  orderBy?: { field: string; desc?: boolean };
  /** The claim's time base (ISO); defaults to the clock. */
  now?: string;
  leaseMs: number;
  /** Who claims (a replica id); a claim held by the same owner is not handed out again before it expires. */
  owner: string;
}

export interface Store {
  /** Which implementation this is (logs, readiness, `store check`). */
  readonly kind?: 'embedded' | 'postgres';
  /**
   * Upserts one page of entities and, in the same atomic write, saves `checkpoint` (a sync_state document),
   * so a crash leaves either both or neither.
   */
  commitPage(input: {
    connectionId: string;
    stream: string;
    entity: string;
    writes: EntityWrite[];
    checkpoint?: { id: string; value: Record<string, unknown> };
  }): Promise<UpsertResult>;
  getEntity(connectionId: string, stream: string, externalId: string): Promise<StoredEntity | undefined>;
  /** Every entity of a stream at once: only for small streams and tests; large ones use pageEntities. */
  listEntities(connectionId: string, stream: string, opts?: { includeDeleted?: boolean }): Promise<StoredEntity[]>;
  /**
   * A page of a stream's entities in external id order (code units), after `after` (an external id), so a pass
   * over a million records holds one page at a time (PostgreSQL never loads the stream whole).
   */
  pageEntities(connectionId: string, stream: string, opts: { after?: string; limit: number; includeDeleted?: boolean }): Promise<StoredEntity[]>;
  /** The stored content hash and deleted flag of these entities (absent ones missing), in one read: what a page changes. */
  entityStates(connectionId: string, stream: string, externalIds: string[]): Promise<Map<string, { hash: string; deleted: boolean }>>;
  /** Marks an entity deleted (keeps its data); false when it was not stored. */
  markDeleted(connectionId: string, stream: string, externalId: string): Promise<boolean>;
  countEntities(connectionId: string, stream: string): Promise<{ active: number; deleted: number }>;
  /**
   * The checkpoint last saved by commitPage for this stream, read from the stream's own file (authoritative;
   * the sync_state document is a copy that can lag one page behind after a crash until the stream is reopened).
   */
  getCheckpoint?(connectionId: string, stream: string, id: string): Promise<Record<string, unknown> | undefined>;

  /**
   * True when a write is visible to every get/list called after it (before it is durable), as the embedded
   * store's in-memory tables are; callers then need no copy of their own of writes in flight.
   */
  readonly readsWritesAtOnce?: boolean;

  get<T = Record<string, unknown>>(collection: Collection, id: string): Promise<T | undefined>;
  put<T extends object>(collection: Collection, id: string, doc: T): Promise<void>;
  /**
   * put() of a document given as its JSON text, exactly what JSON.stringify(doc) gives, for a writer that
   * serializes its documents faster itself (tax calculations). Optional: callers fall back to put().
   * PostgreSQL groups these writes per collection (one statement per batch, in call order); a put(),
   * insertIfAbsent() or delete() of the same id issued after one waits for it, so writes to an id apply in
   * call order whichever of them a writer uses.
   */
  putJson?(collection: Collection, id: string, json: string): Promise<void>;
  /**
   * Inserts only when absent; returns false (and writes nothing) only when the id exists durably: when the
   * write that created it is still in flight, it waits for that write, and when that write failed it inserts
   * (or rejects, if the disk still fails). So `false` is as safe to acknowledge as `true`. For de-duplication.
   */
  insertIfAbsent<T extends object>(collection: Collection, id: string, doc: T): Promise<boolean>;
  delete(collection: Collection, id: string): Promise<boolean>;
  /**
   * Every document of a collection, optionally filtered in JavaScript. Loads the whole collection: only for
   * small ones, tools (`store check`, `store migrate`) and tests; request paths use `find`/`count`.
   */
  list<T = Record<string, unknown>>(collection: Collection, filter?: (doc: T) => boolean): Promise<T[]>;
  /** Documents matching `where`, ordered and paged; an indexed query (see FindQuery). */
  find<T = Record<string, unknown>>(collection: Collection, query?: FindQuery): Promise<FindPage<T>>;
  /** How many documents match `where`. */
  count(collection: Collection, where?: Where): Promise<number>;
  /**
   * Calls `fn` with each matching document in id order, reading in pages, so a pass over a large collection
   * (retention, migration) never holds it whole.
   */
  scan<T = Record<string, unknown>>(collection: Collection, fn: (doc: T) => void | Promise<void>, opts?: { where?: Where; pageSize?: number }): Promise<number>;

  /** Claims the next job of a queue collection (see ClaimQuery); undefined when none is free. */
  claimNext<T = Record<string, unknown>>(collection: Collection, query: ClaimQuery): Promise<T | undefined>;
  /** Extends `owner`'s claim on a job (heartbeat of a long job); false when the claim was lost (expired and taken). */
  renewClaim(collection: Collection, id: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Ends `owner`'s claim on a job (after it saved the outcome); false when it held none. */
  releaseClaim(collection: Collection, id: string, owner: string): Promise<boolean>;

  /**
   * A named lease (e.g. `sync:<connection>/<stream>`): true when `owner` now holds it for `ttlMs` (free, expired,
   * or already its own: then renewed, which is the heartbeat). One holder at a time across replicas.
   */
  tryAcquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives a lease up (only its holder can); false when `owner` did not hold it. */
  releaseLease(name: string, owner: string): Promise<boolean>;
  /**
   * True exactly once per (schedule, tick) across all replicas and restarts: the replica that gets true runs
   * the tick. `tick` is the tick's scheduled time (ISO), not the clock, so replicas agree on it.
   */
  claimTick(schedule: string, tick: string): Promise<boolean>;

  /**
   * Tells every process sharing the store (including this one) that something changed (cache invalidation:
   * a revoked key, a changed connection). Delivery is best effort and fast (LISTEN/NOTIFY on PostgreSQL);
   * listeners must still treat caches as short-lived.
   */
  publish(topic: string, message: string): Promise<void>;
  /** Calls `fn` with each message published on `topic`; returns the unsubscribe function. */
  subscribe(topic: string, fn: (message: string) => void): Promise<() => Promise<void>>;

  /** Waits until no write is pending: each has reached the disk or failed (and was rejected to its caller). */
  flush(): Promise<void>;
  /**
   * Whether the store can write at the moment (synchronous, cheap: for readiness checks). Not ok from the
   * first failed write until a write succeeds again; the store retries on its own.
   */
  health(): StoreHealth;
  close(): Promise<void>;
}

/** A part of the store that cannot write, as readiness reports it (no paths or secrets). */
export interface StoreProblem {
  /** What cannot be written: a collection name, or `entities/<connection>/<stream>`. */
  table: string;
  /** The system error code (ENOSPC, EIO, EACCES, ...) or the store's own (e.g. ECONNREFUSED for a database). */
  code: string;
  message: string;
  /** When it started failing (ISO time). */
  since: string;
}

export interface StoreHealth {
  ok: boolean;
  /** One line naming what fails and why, when not ok. */
  detail?: string;
  problems: StoreProblem[];
}
