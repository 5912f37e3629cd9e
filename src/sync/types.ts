import type { HttpClient, PageState } from '../http/index.ts';
import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';
import type { Store } from '../store/types.ts';

export type SyncMode = 'full' | 'incremental';

/** A record that could not be imported, and why (mapping error, schema violation, missing id). */
export interface RecordFailure {
  external_id?: string;
  page: number;
  reason: string;
}

/** One stream's run, as returned, printed and stored in `sync_runs`. */
export interface SyncSummary {
  id: string;
  connection_id: string;
  connector: string;
  stream: string;
  entity: string;
  mode: SyncMode;
  status: 'ok' | 'failed' | 'skipped';
  pages: number;
  /** Records processed (read and, for incremental runs, changed since the cursor). */
  records: number;
  /** Records read but unchanged since the cursor (incremental runs that filter after reading). */
  skipped: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  deleted: number;
  /** The first failures (at most 1000); `failures_truncated` counts the rest. */
  failures: RecordFailure[];
  failures_truncated?: number;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  /** Set when this run continued an interrupted one from its checkpoint. */
  resumed_from_page?: number;
  /** The incremental cursor saved at the end (ISO 8601). */
  cursor?: string;
  /** Incremental run that read the stream's change feed. */
  feed?: boolean;
  /** Change-feed events already applied before (de-duplicated by event id). */
  duplicates?: number;
  /** Records marked deleted because a complete full read did not see them (deletion.absent_in_full_sync). */
  absent_deleted?: number;
  /** Why deletion by absence was not applied after this full run, when the stream declares it. */
  absent_skipped?: string;
  error?: { code: string; message: string; hint?: string };
}

export interface SyncProgress {
  stream: string;
  mode: SyncMode;
  page: number;
  pages: number;
  records: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  deleted: number;
  elapsed_ms: number;
}

export interface SyncLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface RunSyncOptions {
  spec: ConnectorSpec;
  conn: ConnectionContext;
  store: Store;
  /** Reuse a client (its rate budget and connections); otherwise one is made and closed. */
  http?: HttpClient;
  /** Streams to run, in order (default: every stream of the spec). */
  streams?: string[];
  /** Read everything instead of changes since the saved cursor. */
  full?: boolean;
  onProgress?: (p: SyncProgress) => void;
  signal?: AbortSignal;
  logger?: SyncLogger;
  /** Told, after each committed page, which records of these streams were stored new or changed (not deleted). */
  changes?: { streams: readonly string[]; onChanged(stream: string, changed: ChangedRecord[]): Promise<void> };
  /**
   * Several replicas: a stream runs only under its lease (src/coordination/sync-leases.ts). Undefined from
   * `claimStream` means another replica syncs it now: the stream is skipped (SYNC_RUNNING_ELSEWHERE). A lost
   * lease stops the stream (it resumes from its checkpoint wherever the lease is taken next).
   */
  leases?: { claimStream(stream: string): Promise<{ signal: AbortSignal; release(): Promise<void> } | undefined> };
}

/** A record whose stored entity a sync created or changed. */
export interface ChangedRecord {
  external_id: string;
  status: 'created' | 'updated';
}

/** The checkpoint document of a stream (sync_state `<connection>:<stream>`). */
export interface StreamState {
  connection_id: string;
  stream: string;
  /** Incremental high-water mark saved when a run completes. */
  cursor?: { ms: number; value: string };
  /** The run in progress: where it resumes after a crash. Null once it completed. */
  run: {
    id: string;
    mode: SyncMode;
    started_at: string;
    since_ms?: number;
    /** Last page committed, and where the next one starts. */
    page: number;
    next?: PageState;
    high_water_ms?: number;
  } | null;
  /** Change-feed event ids inside the lookback window, with their times (de-duplication). */
  feed_seen?: Record<string, number>;
  last_run?: { id: string; mode: SyncMode; finished_at: string };
}
