import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TaxbridgeError } from '../errors.ts';
import { adviceFor, type TableAdvice } from './damage.ts';
import { JournaledFile, StoreCorruptError, type StoreWarning } from './journal-file.ts';
import { LOCK_FILE } from './lock.ts';
import { fromSafeFileName, safeFileName } from './names.ts';
import { octal } from './modes.ts';

/** A table found in a data folder: collections/<name> or entities/<connection>/<stream>. */
export interface TableOnDisk {
  kind: 'collection' | 'entities';
  /** "collections/connections", "entities/<connection>/<stream>" (decoded ids). */
  table: string;
  /** The collection name, or the connection and stream, when the file names decode to ids. */
  collection?: string;
  connection?: string;
  stream?: string;
  /** Path without extension: <base>.jsonl and <base>.journal. */
  base: string;
}

const TABLE_FILE = /^(.+)\.(jsonl|journal)$/;

async function entries(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Ids of a file name, only when encoding them again gives the same name (otherwise not a table of ours). */
function idOf(name: string): string | undefined {
  const id = fromSafeFileName(name);
  return id !== undefined && safeFileName(id) === name ? id : undefined;
}

async function tablesIn(dir: string): Promise<string[]> {
  const bases = new Set<string>();
  for (const e of await entries(dir)) {
    const m = e.isFile() ? TABLE_FILE.exec(e.name) : null;
    if (m) bases.add(m[1]!);
  }
  return [...bases].sort();
}

/** Every table with a snapshot or a journal under `dir`, collections first. */
export async function tablesOnDisk(dir: string): Promise<TableOnDisk[]> {
  const out: TableOnDisk[] = [];
  for (const b of await tablesIn(join(dir, 'collections'))) {
    const collection = idOf(b);
    out.push({ kind: 'collection', table: `collections/${collection ?? b}`, ...(collection !== undefined ? { collection } : {}), base: join(dir, 'collections', b) });
  }
  for (const c of (await entries(join(dir, 'entities'))).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    const connection = idOf(c);
    for (const b of await tablesIn(join(dir, 'entities', c))) {
      const stream = idOf(b);
      out.push({
        kind: 'entities',
        table: `entities/${connection ?? c}/${stream ?? b}`,
        ...(connection !== undefined && stream !== undefined ? { connection, stream } : {}),
        base: join(dir, 'entities', c, b),
      });
    }
  }
  return out;
}

export interface TableReport {
  table: string;
  kind: TableOnDisk['kind'];
  status: 'ok' | 'torn_tail' | 'damaged' | 'unreadable';
  rows?: number;
  /** Snapshot + journal bytes on disk. */
  bytes: number;
  /** Torn journal tail bytes (a start drops them). */
  torn_bytes?: number;
  files: string[];
  /** Modes looser than the data folder's (0600 files): a start tightens them. */
  loose_modes?: Array<{ file: string; mode: string }>;
  error?: { code: string; message: string; hint?: string; details?: Record<string, unknown> };
  advice?: TableAdvice;
  warnings?: string[];
}

export interface CheckReport {
  data_dir: string;
  /** Set when a LOCK is present: a server may be writing while this ran (the check only reads). */
  live?: { lock: string; holder?: unknown };
  tables: TableReport[];
  summary: { tables: number; ok: number; torn_tail: number; damaged: number; rows: number; bytes: number };
}

async function sizeAndMode(path: string): Promise<{ size: number; mode: number } | undefined> {
  try {
    const s = await stat(path);
    return { size: s.size, mode: s.mode };
  } catch {
    return undefined;
  }
}

/** Reads and verifies one table without changing anything (no truncation, no temp-file cleanup). */
export async function checkTable(t: TableOnDisk): Promise<TableReport> {
  const files = [`${t.base}.jsonl`, `${t.base}.journal`];
  const present: string[] = [];
  let bytes = 0;
  const loose: Array<{ file: string; mode: string }> = [];
  for (const f of files) {
    const s = await sizeAndMode(f);
    if (!s) continue;
    present.push(f);
    bytes += s.size;
    if ((s.mode & 0o077) !== 0) loose.push({ file: f, mode: octal(s.mode) });
  }
  const warnings: StoreWarning[] = [];
  const base: TableReport = { table: t.table, kind: t.kind, status: 'ok', bytes, files: present, ...(loose.length ? { loose_modes: loose } : {}) };
  try {
    const scan = await new JournaledFile(t.base, undefined, { readOnly: true, onWarning: (w) => warnings.push(w) }).scan();
    return {
      ...base,
      rows: scan.rows,
      ...(scan.tornBytes ? { status: 'torn_tail' as const, torn_bytes: scan.tornBytes } : {}),
      ...(warnings.length ? { warnings: warnings.map((w) => w.message) } : {}),
    };
  } catch (e) {
    if (e instanceof StoreCorruptError) return { ...base, status: 'damaged', error: e.toJSON() as TableReport['error'], advice: adviceFor((e.details?.file as string) ?? files[0]!) };
    if (e instanceof TaxbridgeError) return { ...base, status: 'unreadable', error: e.toJSON() as TableReport['error'] };
    throw e;
  }
}

/** `taxbridge store check`: every table of the folder read and verified, nothing written. */
export async function checkDataDir(dir: string): Promise<CheckReport> {
  const dirStat = await sizeAndMode(dir);
  if (!dirStat) throw new TaxbridgeError('STORE_NOT_FOUND', `no data folder at ${dir}`, { hint: 'pass the folder with --data <dir> (default ./data, or TAXBRIDGE_DATA_DIR)' });
  const report: CheckReport = { data_dir: dir, tables: [], summary: { tables: 0, ok: 0, torn_tail: 0, damaged: 0, rows: 0, bytes: 0 } };
  const lock = join(dir, LOCK_FILE);
  const lockText = await readFile(lock, 'utf8').catch(() => undefined);
  if (lockText !== undefined) {
    let holder: unknown;
    try {
      holder = JSON.parse(lockText);
    } catch {
      holder = lockText.trim() || undefined;
    }
    report.live = { lock, ...(holder === undefined ? {} : { holder }) };
  }
  for (const t of await tablesOnDisk(dir)) {
    const r = await checkTable(t);
    report.tables.push(r);
    const s = report.summary;
    s.tables++;
    s.bytes += r.bytes;
    s.rows += r.rows ?? 0;
    if (r.status === 'ok') s.ok++;
    else if (r.status === 'torn_tail') s.torn_tail++;
    else s.damaged++;
  }
  return report;
}
