import { EmbeddedStore } from './embedded.ts';
import { lockDataDir, type LockOptions } from './lock.ts';
import type { StoreWarning, WriteFileOps } from './journal-file.ts';
import { makePrivate, mkdirPrivate } from './modes.ts';
import type { Store } from './types.ts';

export type * from './types.ts';
export { EmbeddedStore } from './embedded.ts';
export { StoreCorruptError, nodeWriteFileOps, type StoreWarning, type WriteFileOps, type WriteHandle } from './journal-file.ts';
export { stableStringify, contentHash } from './hash.ts';

export interface OpenStoreOptions {
  dir: string;
  compactAfterBytes?: number;
  fileOps?: WriteFileOps;
  /** Read every table now and refuse a damaged one (STORE_CORRUPT), instead of failing at first use. */
  verify?: boolean;
  /** Repairs the store made by itself (torn tails cut, modes tightened, a stale lock taken over). */
  onWarning?: (w: StoreWarning) => void;
  lock?: Omit<LockOptions, 'onWarning'>;
}

/**
 * Opens the embedded store: files under `dir` (created if missing; one process per folder), or nothing
 * on disk with `{ memory: true }` (tests, dry runs). The folder is made private (0700 folders, 0600 files)
 * once it is locked. A failure after the lock releases this lock, never another process's.
 */
export async function openStore(opts: OpenStoreOptions | { memory: true }): Promise<Store & EmbeddedStore> {
  if ('memory' in opts) return new EmbeddedStore(undefined);
  await mkdirPrivate(opts.dir);
  const lock = await lockDataDir(opts.dir, { ...opts.lock, onWarning: opts.onWarning });
  const store = new EmbeddedStore(opts.dir, () => lock.release(), opts.compactAfterBytes, opts.fileOps, opts.onWarning);
  try {
    const changed = await makePrivate(opts.dir);
    if (changed.length) {
      const shown = changed.slice(0, 5).map((c) => `${c.path} ${c.from}`).join(', ');
      opts.onWarning?.({
        code: 'STORE_MODES_TIGHTENED',
        message: `made the data folder private: ${changed.length} entr${changed.length === 1 ? 'y was' : 'ies were'} readable by other users (${shown}${changed.length > 5 ? ', ...' : ''}); folders are now 0700, files 0600`,
        file: opts.dir,
        details: { changed: changed.length, first: changed.slice(0, 20) },
      });
    }
    if (opts.verify) await store.verify();
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return store;
}

/** Where a process keeps its data: the settings of src/config that choose and tune the store. */
export interface StoreChoice {
  dataDir: string;
  /** postgres://... (TAXBRIDGE_DATABASE_URL / --database-url): PostgreSQL instead of the data folder. */
  databaseUrl?: string;
  databasePoolSize?: number;
  databaseStatementTimeoutMs?: number;
}

/**
 * The store a command or `serve` uses: PostgreSQL when a database URL is configured (schema migrations
 * applied at open), else the embedded store in the data folder (the default, and the demo's). The
 * PostgreSQL driver is loaded only then.
 */
export async function openConfiguredStore(choice: StoreChoice, embedded: Omit<OpenStoreOptions, 'dir'> = {}): Promise<Store> {
  if (choice.databaseUrl) {
    const { PostgresStore } = await import('./postgres/store.ts');
    return PostgresStore.open({ url: choice.databaseUrl, poolSize: choice.databasePoolSize, statementTimeoutMs: choice.databaseStatementTimeoutMs });
  }
  return openStore({ dir: choice.dataDir, ...embedded });
}
