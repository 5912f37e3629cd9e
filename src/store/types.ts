/**
 * The one storage interface every part uses. `openStore()` (src/store/index.ts) picks the implementation;
 * the embedded default keeps JSON files under a data folder (lowdb). A server database can implement the same
 * interface later for several replicas.
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

export interface Store {
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
  listEntities(connectionId: string, stream: string, opts?: { includeDeleted?: boolean }): Promise<StoredEntity[]>;
  /** Marks an entity deleted (keeps its data); false when it was not stored. */
  markDeleted(connectionId: string, stream: string, externalId: string): Promise<boolean>;
  countEntities(connectionId: string, stream: string): Promise<{ active: number; deleted: number }>;
  /**
   * The checkpoint last saved by commitPage for this stream, read from the stream's own file (authoritative;
   * the sync_state document is a copy that can lag one page behind after a crash until the stream is reopened).
   */
  getCheckpoint?(connectionId: string, stream: string, id: string): Promise<Record<string, unknown> | undefined>;

  get<T = Record<string, unknown>>(collection: Collection, id: string): Promise<T | undefined>;
  put<T extends object>(collection: Collection, id: string, doc: T): Promise<void>;
  /**
   * Inserts only when absent; returns false (and writes nothing) only when the id exists durably: when the
   * write that created it is still in flight, it waits for that write, and when that write failed it inserts
   * (or rejects, if the disk still fails). So `false` is as safe to acknowledge as `true`. For de-duplication.
   */
  insertIfAbsent<T extends object>(collection: Collection, id: string, doc: T): Promise<boolean>;
  delete(collection: Collection, id: string): Promise<boolean>;
  list<T = Record<string, unknown>>(collection: Collection, filter?: (doc: T) => boolean): Promise<T[]>;

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
