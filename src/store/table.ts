import { Low } from 'lowdb';
import { TaxbridgeError } from '../errors.ts';
import { emptyTable, encodeCommit, type JournaledFile, type JournalPiece, type Row, type TableData, type TableOp } from './journal-file.ts';

/**
 * Where a table persists; the in-memory store uses a sink that keeps nothing. `append` either makes all of
 * its text durable or fails leaving the file as it was (the journal file cuts a partly written tail back).
 */
export interface TableFile {
  read(): Promise<TableData | null>;
  write(data: TableData): Promise<void>;
  append(texts: readonly JournalPiece[]): Promise<void>;
  /** Writes a snapshot of `data` in place of the old one, leaving the journal as it is (appends may go on). */
  snapshot(data: TableData): Promise<void>;
  /** Drops the journal's first `offset` bytes (in the snapshot now); never while an append is running. */
  cutJournal(offset: number): Promise<void>;
  close(): Promise<void>;
  snapshotBytes: number;
  journalBytes: number;
}

export class MemoryFile implements TableFile {
  snapshotBytes = 0;
  journalBytes = 0;
  async read() {
    return null;
  }
  async write() {}
  async append() {}
  async snapshot() {}
  async cutJournal() {}
  async close() {}
}

/** Journals smaller than this are never compacted (rewriting a snapshot costs more than replaying them). */
export const DEFAULT_COMPACT_BYTES = 8 * 1024 * 1024;
/** While a table cannot write, an empty commit probes the disk this often, so health recovers without traffic. */
export const DEFAULT_PROBE_MS = 1_000;
/** A failed compaction (the journal is still whole) is retried no sooner than this. */
const COMPACT_RETRY_MS = 10_000;

/** Why a table cannot write at the moment (what `health()` reports). */
export interface TableProblem {
  table: string;
  /** The system error code (ENOSPC, EIO, EACCES...) or the error's own code. */
  code: string;
  message: string;
  /** When writing started failing (ISO time). */
  since: string;
}

export interface TableOptions {
  compactBytes?: number;
  probeMs?: number;
  /** Called when the table starts failing to write (with the problem) and when it writes again (undefined). */
  onHealth?(problem: TableProblem | undefined): void;
}

/** A commit applied to memory and not yet on disk, with what it replaced (to undo it if its write fails). */
interface Pending {
  seq: number;
  /** The first op's key and the row it replaced (undefined: absent): most commits have one op. */
  k0: string | undefined;
  prev0: Row | undefined;
  /** [key, row before this op (undefined: absent)] of the ops after the first, in op order. */
  undo?: Array<[string, Row | undefined]>;
  /** [meta key, had it, value before]. */
  metaUndo?: Array<[string, boolean, unknown]>;
  promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

/** One shared handler (not a closure per commit) for the rejections nobody may be waiting for. */
const ignore = (): undefined => undefined;

/** Calls `fn(key, row before)` for each op of `p`, newest first. */
function undoNewestFirst(p: Pending, fn: (k: string, prev: Row | undefined) => boolean | void): boolean {
  if (p.undo) {
    for (let j = p.undo.length - 1; j >= 0; j--) {
      const u = p.undo[j]!;
      if (fn(u[0], u[1]) === true) return true;
    }
  }
  return p.k0 !== undefined && fn(p.k0, p.prev0) === true;
}

/** Puts back in `rows` what one op replaced. */
function restoreRow(rows: Map<string, Row>, k: string, prev: Row | undefined): void {
  if (prev === undefined) rows.delete(k);
  else rows.set(k, prev);
}

function restoreMeta(meta: Record<string, unknown>, undo: Array<[string, boolean, unknown]>): void {
  for (const [k, had, v] of undo) {
    if (had) meta[k] = v;
    else delete meta[k];
  }
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code !== '' ? code : 'UNKNOWN';
}

/**
 * A keyed table held in memory (lowdb `Low`) and made durable by group commit: commits are applied to
 * memory at once, in call order (so racing writers see each other: insert-if-absent is exact, and reads see
 * writes at once), and their journal text is batched: every commit issued while a write is in progress
 * shares the next single write + fsync. A commit's promise resolves only once its batch is on disk.
 *
 * Memory never stays ahead of the disk: when a write fails (disk full, I/O error), that batch and every
 * commit queued after it are undone in memory (newest first) and rejected with STORE_IO, so memory equals
 * what is on disk again. The next commit simply tries again; while failing, an empty commit probes the disk
 * every `probeMs` so the table reports healthy again by itself once the disk works.
 * `creating(key)` tells a row whose creating commit is still in flight, for callers that must not treat
 * such a row as existing (de-duplication acknowledges only what is durable).
 */
export class Table {
  private readonly db: Low<TableData>;
  private queued: Pending[] = [];
  /** The journal text of `queued`, one piece per commit in order, encoded and written once per batch. */
  private queuedTexts: JournalPiece[] = [];
  private inFlight: Pending[] = [];
  private running?: Promise<void>;
  private durableSeq: number;
  private problem?: TableProblem;
  private probe?: NodeJS.Timeout;
  private compactRetryAt = 0;
  private compactRequested = false;
  private compactRequestError: unknown;
  /**
   * A snapshot being written while commits go on (maybeCompact): what it settles to, and the journal length it
   * covers, cut off between two batches once the snapshot is in place.
   */
  private compacting?: Promise<void>;
  private cutAt?: number;
  private closed = false;
  private readonly compactBytes: number;
  private readonly probeMs: number;
  /** Number of disk writes made (batches), for tests of group commit. */
  writes = 0;
  /** The last compaction failure (writes still durable in the journal), for diagnostics. */
  compactionError?: TableProblem;

  private constructor(
    private readonly file: TableFile,
    readonly name: string,
    private readonly opts: TableOptions,
  ) {
    this.db = new Low<TableData>(file as unknown as JournaledFile, emptyTable());
    this.compactBytes = opts.compactBytes ?? DEFAULT_COMPACT_BYTES;
    this.probeMs = opts.probeMs ?? DEFAULT_PROBE_MS;
    this.durableSeq = 0;
  }

  static async open(file: TableFile, name: string, opts: TableOptions = {}): Promise<Table> {
    const t = new Table(file, name, opts);
    await t.db.read();
    t.durableSeq = t.db.data.seq;
    return t;
  }

  get data(): TableData {
    return this.db.data;
  }

  /** Why the table cannot write right now; undefined while writes succeed. */
  get health(): TableProblem | undefined {
    return this.problem;
  }

  /**
   * The pending commit that created the row `key` (it is in memory, not yet on disk), or undefined when the
   * row's existence is durable (or it does not exist). The promise rejects when that commit failed, in which
   * case the row is gone again.
   */
  creating(key: string): Promise<void> | undefined {
    if (!this.data.rows.has(key)) return undefined;
    // Newest first: the first op on `key` that found it absent is the put that created the present row; one
    // that found it present means the row existed before it (look further back, else it is durable).
    for (const list of [this.queued, this.inFlight]) {
      for (let i = list.length - 1; i >= 0; i--) {
        const p = list[i]!;
        if (undoNewestFirst(p, (k, prev) => k === key && prev === undefined)) return p.promise;
      }
    }
    return undefined;
  }

  /** Applies ops (and a meta patch) now; resolves when they are durable. */
  commit(ops: TableOp[], metaPatch?: Record<string, unknown>): Promise<void> {
    if (this.closed) return Promise.reject(new TaxbridgeError('STORE_CLOSED', 'the store is closed'));
    const data = this.db.data;
    const seq = data.seq + 1;
    // Encoded before anything is applied: a value that cannot be encoded throws with memory untouched.
    const mark = this.queuedTexts.length;
    try {
      encodeCommit(this.queuedTexts, ops, seq, metaPatch);
    } catch (e) {
      this.queuedTexts.length = mark;
      throw e;
    }
    let p!: Pending;
    const promise = new Promise<void>((resolve, reject) => {
      p = { seq, k0: undefined, prev0: undefined, promise: undefined!, resolve, reject };
    });
    p.promise = promise;
    // Nobody may be waiting (a probe, a caller that only reads): rejections are delivered, not unhandled.
    promise.catch(ignore);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const prev = data.rows.get(op.k);
      if (i === 0) {
        p.k0 = op.k;
        p.prev0 = prev;
      } else (p.undo ??= []).push([op.k, prev]);
      if (op.t === 'p') data.rows.set(op.k, op.row);
      else data.rows.delete(op.k);
    }
    if (metaPatch) {
      p.metaUndo = Object.keys(metaPatch).map((k) => [k, Object.hasOwn(data.meta, k), data.meta[k]]);
      Object.assign(data.meta, metaPatch);
    }
    data.seq = p.seq;
    this.queued.push(p);
    this.running ??= this.drain();
    return promise;
  }

  /** Resolves when nothing is pending any more: every commit so far is on disk or was undone. */
  async settle(): Promise<void> {
    // A snapshot being written counts: its journal cut is a write of its own (see maybeCompact).
    while (this.running || this.compacting) {
      await this.running;
      await this.compacting;
    }
  }

  async close(): Promise<void> {
    await this.settle();
    this.closed = true;
    clearTimeout(this.probe);
    await this.file.close();
  }

  private async drain(): Promise<void> {
    // Let the rest of this tick's commits join the first batch.
    await new Promise<void>((r) => setImmediate(r));
    try {
      await this.cutCompactedJournal();
      while (this.queued.length) {
        const batch = this.queued;
        const texts = this.queuedTexts;
        this.queued = [];
        this.queuedTexts = [];
        this.inFlight = batch;
        try {
          await this.file.append(texts);
        } catch (e) {
          this.rollBack(e);
          continue;
        }
        this.inFlight = [];
        this.writes++;
        this.durableSeq = batch[batch.length - 1]!.seq;
        for (const p of batch) p.resolve();
        if (this.problem) this.setProblem(undefined);
        await this.cutCompactedJournal();
        this.maybeCompact();
      }
    } finally {
      this.running = undefined;
    }
  }

  /** Between two batches: drops the journal prefix a finished snapshot covers. A failure keeps the journal whole. */
  private async cutCompactedJournal(): Promise<void> {
    const at = this.cutAt;
    if (at === undefined) return;
    this.cutAt = undefined;
    try {
      await this.file.cutJournal(at);
      // What was appended during that snapshot may have outgrown it already.
      this.maybeCompact();
    } catch (e) {
      // The journal still holds every commit (replay skips those in the snapshot by seq): only replay is longer.
      this.compactRetryAt = Date.now() + COMPACT_RETRY_MS;
      this.compactionError = { table: this.name, code: errorCode(e), message: (e as Error)?.message ?? String(e), since: new Date().toISOString() };
    }
  }

  /** The failed batch and everything queued after it leave memory, newest first; their callers get STORE_IO. */
  private rollBack(e: unknown): void {
    const undone = [...this.inFlight, ...this.queued];
    this.inFlight = [];
    this.queued = [];
    this.queuedTexts = [];
    const data = this.db.data;
    const rows = data.rows;
    for (let i = undone.length - 1; i >= 0; i--) {
      const p = undone[i]!;
      undoNewestFirst(p, (k, prev) => restoreRow(rows, k, prev));
      if (p.metaUndo) restoreMeta(data.meta, p.metaUndo);
    }
    data.seq = this.durableSeq;
    const failure = this.failure(e);
    this.setProblem({ table: this.name, code: errorCode(e), message: failure.message, since: this.problem?.since ?? new Date().toISOString() });
    for (const p of undone) p.reject(failure);
  }

  private setProblem(problem: TableProblem | undefined): void {
    const was = this.problem;
    this.problem = problem;
    if (problem && !this.probe && !this.closed) this.scheduleProbe();
    if (!problem) {
      clearTimeout(this.probe);
      this.probe = undefined;
    }
    if ((was === undefined) !== (problem === undefined) || was?.code !== problem?.code) this.opts.onHealth?.(problem);
  }

  private scheduleProbe(): void {
    this.probe = setTimeout(() => {
      this.probe = undefined;
      if (!this.problem || this.closed) return;
      // An empty commit (a commit line only): harmless on replay, and proves the disk takes writes again.
      if (!this.running) void this.commit([]);
      if (!this.probe) this.scheduleProbe();
    }, this.probeMs);
    this.probe.unref();
  }

  /**
   * Rewrites the snapshot now, from the durable state, between two batches (after many deletes, so the file
   * shrinks without waiting for the journal to outgrow the snapshot). Rejects when the rewrite failed; the
   * journal then still holds every commit.
   */
  async compact(): Promise<void> {
    this.compactRequested = true;
    this.compactRequestError = undefined;
    await this.commit([]); // an empty commit line: runs a batch, after which the compaction starts
    // One already running (started before the request) is waited for, then the requested one runs.
    await this.settle();
    while (this.compactRequested) {
      await this.commit([]);
      await this.settle();
    }
    const e = this.compactRequestError;
    this.compactRequestError = undefined;
    if (e !== undefined) throw this.failure(e);
  }

  /**
   * Starts a snapshot when the journal outgrew it (or one was asked for), from the durable state only, and lets
   * commits go on meanwhile: they are appended after the journal length the snapshot covers, which is cut off
   * between two batches once the snapshot is in place (a rewrite of a large table no longer holds the commits
   * behind it). Replay skips journal commits the snapshot holds by their seq, so a crash at any point is safe.
   */
  private maybeCompact(): void {
    // One at a time, and never before the last one's journal cut: offsets are of the journal as it is now.
    if (this.compacting || this.cutAt !== undefined) return;
    const requested = this.compactRequested;
    if (!requested && (this.file.journalBytes <= Math.max(this.compactBytes, this.file.snapshotBytes) || Date.now() < this.compactRetryAt)) return;
    this.compactRequested = false;
    const offset = this.file.journalBytes;
    this.compacting = this.file.snapshot(this.durableData()).then(
      () => {
        this.compactionError = undefined;
        this.cutAt = offset;
        // Cut between batches: now, if nothing is running, else by the running drain.
        this.running ??= this.drain();
      },
      (e: unknown) => {
        if (requested) this.compactRequestError = e;
        // The journal still holds every commit: nothing is lost, only replay stays longer. Retry later.
        this.compactRetryAt = Date.now() + COMPACT_RETRY_MS;
        this.compactionError = { table: this.name, code: errorCode(e), message: (e as Error)?.message ?? String(e), since: new Date().toISOString() };
      },
    ).finally(() => {
      this.compacting = undefined;
    });
  }

  /** Memory without the commits still queued (taken synchronously; the file copies what it needs at once). */
  private durableData(): TableData {
    const data = this.db.data;
    if (this.queued.length === 0) return data;
    const rows = new Map(data.rows);
    const meta = { ...data.meta };
    for (let i = this.queued.length - 1; i >= 0; i--) {
      const p = this.queued[i]!;
      undoNewestFirst(p, (k, prev) => restoreRow(rows, k, prev));
      if (p.metaUndo) restoreMeta(meta, p.metaUndo);
    }
    return { rows, meta, seq: this.durableSeq };
  }

  private failure(cause: unknown): TaxbridgeError {
    const code = errorCode(cause);
    return new TaxbridgeError('STORE_IO', `writing ${this.name} failed (${code}): ${(cause as Error)?.message ?? String(cause)}; the write was not kept`, {
      hint: code === 'ENOSPC' ? 'free disk space in the data folder; writing resumes by itself' : 'check the disk and the permissions of the data folder; writing resumes by itself once it works',
      details: { table: this.name, code },
      cause,
    });
  }
}
