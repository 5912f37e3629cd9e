import { mkdir } from 'node:fs/promises';
import { EmbeddedStore } from './embedded.ts';
import { lockDataDir } from './lock.ts';
import type { WriteFileOps } from './journal-file.ts';
import type { Store } from './types.ts';

export type * from './types.ts';
export { EmbeddedStore } from './embedded.ts';
export { StoreCorruptError, nodeWriteFileOps, type WriteFileOps, type WriteHandle } from './journal-file.ts';
export { stableStringify, contentHash } from './hash.ts';

/**
 * Opens the embedded store: files under `dir` (created if missing; one process per folder), or nothing
 * on disk with `{ memory: true }` (tests, dry runs).
 */
export async function openStore(opts: { dir: string; compactAfterBytes?: number; fileOps?: WriteFileOps } | { memory: true }): Promise<Store & EmbeddedStore> {
  if ('memory' in opts) return new EmbeddedStore(undefined);
  await mkdir(opts.dir, { recursive: true });
  const unlock = await lockDataDir(opts.dir);
  return new EmbeddedStore(opts.dir, unlock, opts.compactAfterBytes, opts.fileOps);
}
