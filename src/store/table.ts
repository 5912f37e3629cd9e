import { Low } from 'lowdb';
import { TaxbridgeError } from '../errors.ts';
import { applyOps, emptyTable, encodeCommit, type JournaledFile, type TableData, type TableOp } from './journal-file.ts';

/** Where a table persists; the in-memory store uses a sink that keeps nothing. */
export interface TableFile {
  read(): Promise<TableData | null>;
  write(data: TableData): Promise<void>;
  append(text: string): Promise<void>;
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
  async close() {}
}

/** Journals smaller than this are never compacted (rewriting a snapshot costs more than replaying them). */
export const DEFAULT_COMPACT_BYTES = 8 * 1024 * 1024;

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

/**
 * A keyed table held in memory (lowdb `Low`) and made durable by group commit: commits are applied to
 * memory at once, in call order (so racing writers see each other: insert-if-absent is exact), and their
 * journal text is batched: every commit issued while a write is in progress shares the next single
 * write + fsync. A commit's promise resolves only once its batch is on disk.
 */
export class Table {
  private readonly db: Low<TableData>;
  private batch = '';
  private waiters: Waiter[] = [];
  private running?: Promise<void>;
  private broken?: unknown;
  /** Number of disk writes made (batches), for tests of group commit. */
  writes = 0;

  private constructor(
    private readonly file: TableFile,
    readonly name: string,
    private readonly compactBytes: number,
  ) {
    this.db = new Low<TableData>(file as unknown as JournaledFile, emptyTable());
  }

  static async open(file: TableFile, name: string, compactBytes = DEFAULT_COMPACT_BYTES): Promise<Table> {
    const t = new Table(file, name, compactBytes);
    await t.db.read();
    return t;
  }

  get data(): TableData {
    return this.db.data;
  }

  /** Applies ops (and a meta patch) now; resolves when they are durable. */
  commit(ops: TableOp[], metaPatch?: Record<string, unknown>): Promise<void> {
    if (this.broken) return Promise.reject(this.failure());
    const data = this.db.data;
    data.seq++;
    applyOps(data, ops, metaPatch);
    this.batch += encodeCommit(ops, data.seq, metaPatch);
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.running ??= this.drain();
    });
  }

  /** Resolves when everything committed so far is on disk. */
  async settle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    if (this.broken) throw this.failure();
  }

  async close(): Promise<void> {
    await this.settle().catch(() => undefined);
    await this.file.close();
  }

  private async drain(): Promise<void> {
    // Let the rest of this tick's commits join the first batch.
    await new Promise<void>((r) => setImmediate(r));
    try {
      while (this.batch !== '') {
        const text = this.batch;
        const waiters = this.waiters;
        this.batch = '';
        this.waiters = [];
        try {
          await this.file.append(text);
          this.writes++;
          for (const w of waiters) w.resolve();
          waiters.length = 0;
          if (this.file.journalBytes > Math.max(this.compactBytes, this.file.snapshotBytes)) await this.db.write();
        } catch (e) {
          // Memory is now ahead of the disk: refuse further writes rather than acknowledge lost data.
          this.broken = e;
          for (const w of [...waiters, ...this.waiters]) w.reject(this.failure());
          this.waiters = [];
          this.batch = '';
          return;
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private failure(): TaxbridgeError {
    return new TaxbridgeError('STORE_IO', `writing ${this.name} failed: ${(this.broken as Error)?.message ?? String(this.broken)}`, {
      hint: 'check free disk space and permissions of the data folder, then restart',
      cause: this.broken,
    });
  }
}
