import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Adapter } from 'lowdb';
import { TaxbridgeError } from '../errors.ts';

/**
 * One table on disk: a snapshot (`<base>.jsonl`) plus a journal of the commits made since
 * (`<base>.journal`). A commit appends a few lines and fsyncs, whatever the table's size; the snapshot is
 * rewritten (temp file, fsync, rename) only when the journal outgrows it, so rewriting costs stay
 * proportional to the data written.
 *
 * Line format, one record per line:
 *   {"t":"p","k":<key>,...row fields}<TAB><value JSON>   put (JSON.stringify never emits a raw TAB)
 *   {"t":"x","k":<key>}                                remove
 *   {"t":"c","s":<seq>,"m":{...}}                      commit: the lines since the previous commit take
 *                                                      effect together, with a meta patch (checkpoints)
 * The snapshot starts with {"t":"s","s":<seq>,"m":<meta>} and ends with {"t":"e","n":<rows>}.
 * A crash can only tear the journal's tail: lines after the last commit line are dropped on open.
 */

/** A stored value kept as its JSON text (cheap to hold, to snapshot and to hand out as a fresh copy). */
export interface Row {
  json: string;
  /** Content hash of the entity's data (entities only). */
  h?: string;
  /** Hash of the raw upstream record (entities only). */
  r?: string;
  /** Deleted flag (entities only). */
  d?: boolean;
  /** First-seen timestamp (entities only). */
  f?: string;
}

export interface TableData {
  rows: Map<string, Row>;
  meta: Record<string, unknown>;
  /** Sequence number of the last commit applied. */
  seq: number;
}

export type TableOp = { t: 'p'; k: string; row: Row } | { t: 'x'; k: string };

export function emptyTable(): TableData {
  return { rows: new Map(), meta: {}, seq: 0 };
}

function putLine(key: string, row: Row): string {
  const header: Record<string, unknown> = { t: 'p', k: key };
  if (row.h !== undefined) header.h = row.h;
  if (row.r !== undefined) header.r = row.r;
  if (row.d) header.d = 1;
  if (row.f !== undefined) header.f = row.f;
  return `${JSON.stringify(header)}\t${row.json}\n`;
}

/** The journal text of one commit. */
export function encodeCommit(ops: TableOp[], seq: number, metaPatch: Record<string, unknown> | undefined): string {
  let text = '';
  for (const op of ops) text += op.t === 'p' ? putLine(op.k, op.row) : `${JSON.stringify({ t: 'x', k: op.k })}\n`;
  return `${text}${JSON.stringify(metaPatch ? { t: 'c', s: seq, m: metaPatch } : { t: 'c', s: seq })}\n`;
}

export function applyOps(data: TableData, ops: TableOp[], metaPatch: Record<string, unknown> | undefined): void {
  for (const op of ops) {
    if (op.t === 'p') data.rows.set(op.k, op.row);
    else data.rows.delete(op.k);
  }
  if (metaPatch) Object.assign(data.meta, metaPatch);
}

interface Header {
  t: string;
  k?: string;
  s?: number;
  m?: Record<string, unknown>;
  n?: number;
  h?: string;
  r?: string;
  d?: number;
  f?: string;
}

function parseLine(line: string): { header: Header; json?: string } {
  const tab = line.indexOf('\t');
  if (tab < 0) return { header: JSON.parse(line) as Header };
  return { header: JSON.parse(line.slice(0, tab)) as Header, json: line.slice(tab + 1) };
}

function rowOf(header: Header, json: string): Row {
  const row: Row = { json };
  if (header.h !== undefined) row.h = header.h;
  if (header.r !== undefined) row.r = header.r;
  if (header.d) row.d = true;
  if (header.f !== undefined) row.f = header.f;
  return row;
}

/** Lines of a file with the byte offset just after each, read in chunks (files may exceed one string). */
async function* lines(fh: FileHandle): AsyncGenerator<{ line: string; end: number; terminated: boolean }> {
  const buf = Buffer.allocUnsafe(1 << 20);
  let carry: Buffer = Buffer.alloc(0);
  let offset = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    // Copied out of `buf`, which the next read reuses.
    const chunk = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : Buffer.from(buf.subarray(0, bytesRead));
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      offset += nl + 1 - start;
      yield { line: chunk.toString('utf8', start, nl), end: offset, terminated: true };
      start = nl + 1;
    }
    carry = chunk.subarray(start);
  }
  if (carry.length) yield { line: carry.toString('utf8'), end: offset + carry.length, terminated: false };
}

export class StoreCorruptError extends TaxbridgeError {
  constructor(file: string, detail: string) {
    super('STORE_CORRUPT', `store file ${file} is damaged: ${detail}`, { hint: 'restore the data folder from a backup, or delete this file and run a full sync to rebuild it' });
  }
}

/** A file handle as the write path uses it (node's FileHandle is one). */
export interface WriteHandle {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(len: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file operations of the write path (append, compaction, repair after a failed append). Injectable so
 * tests can make writes fail the way a full disk or a failing device does (ENOSPC, EIO).
 */
export interface WriteFileOps {
  open(path: string, flags: string, mode?: number): Promise<WriteHandle>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string): Promise<void>;
}

export const nodeWriteFileOps: WriteFileOps = { open, rename, rm: (path) => rm(path, { force: true }) };

async function fsyncDir(ops: WriteFileOps, dir: string): Promise<void> {
  const fh = await ops.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** lowdb adapter for a journaled table: `read` loads snapshot + journal, `write` compacts. */
export class JournaledFile implements Adapter<TableData> {
  readonly snapshotPath: string;
  readonly journalPath: string;
  private journal?: WriteHandle;
  /** A failed append may have left part of its text: cut the journal back to journalBytes before the next one. */
  private torn = false;
  snapshotBytes = 0;
  /** Length of the journal's durable content (everything up to the last successful append). */
  journalBytes = 0;

  constructor(
    base: string,
    private readonly ops: WriteFileOps = nodeWriteFileOps,
  ) {
    this.snapshotPath = `${base}.jsonl`;
    this.journalPath = `${base}.journal`;
  }

  async read(): Promise<TableData | null> {
    await rm(`${this.snapshotPath}.tmp`, { force: true });
    const data = emptyTable();
    const hadSnapshot = await this.readSnapshot(data);
    const hadJournal = await this.replayJournal(data);
    return hadSnapshot || hadJournal ? data : null;
  }

  private async readSnapshot(data: TableData): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(this.snapshotPath, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    try {
      let ended = false;
      let n = 0;
      for await (const { line, end } of lines(fh)) {
        const { header, json } = parseLine(line);
        if (header.t === 's') {
          data.seq = header.s ?? 0;
          data.meta = header.m ?? {};
        } else if (header.t === 'p' && json !== undefined) {
          data.rows.set(header.k!, rowOf(header, json));
          n++;
        } else if (header.t === 'e') {
          if (header.n !== n) throw new StoreCorruptError(this.snapshotPath, `holds ${n} rows, its end marker says ${header.n}`);
          ended = true;
        }
        this.snapshotBytes = end;
      }
      if (!ended) throw new StoreCorruptError(this.snapshotPath, 'the snapshot has no end marker');
      return true;
    } catch (e) {
      if (e instanceof SyntaxError) throw new StoreCorruptError(this.snapshotPath, e.message);
      throw e;
    } finally {
      await fh.close();
    }
  }

  /** Applies committed journal groups newer than the snapshot; cuts a torn tail off the file. */
  private async replayJournal(data: TableData): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(this.journalPath, 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    try {
      let group: TableOp[] = [];
      let committedEnd = 0;
      let torn: string | undefined;
      let lineNo = 0;
      for await (const { line, end, terminated } of lines(fh)) {
        lineNo++;
        if (torn !== undefined) throw new StoreCorruptError(this.journalPath, `line ${lineNo - 1} is unreadable (${torn}) but more follows`);
        let parsed: ReturnType<typeof parseLine>;
        try {
          if (!terminated) throw new SyntaxError('unterminated last line');
          parsed = parseLine(line);
        } catch (e) {
          torn = (e as Error).message;
          continue;
        }
        const { header, json } = parsed;
        if (header.t === 'p' && json !== undefined) group.push({ t: 'p', k: header.k!, row: rowOf(header, json) });
        else if (header.t === 'x') group.push({ t: 'x', k: header.k! });
        else if (header.t === 'c') {
          if ((header.s ?? 0) > data.seq) {
            applyOps(data, group, header.m);
            data.seq = header.s!;
          }
          group = [];
          committedEnd = end;
        }
      }
      // Lines after the last commit belong to a commit a crash interrupted: it never happened.
      const { size } = await fh.stat();
      if (committedEnd < size) {
        await fh.truncate(committedEnd);
        await fh.sync();
      }
      this.journalBytes = committedEnd;
      return committedEnd > 0;
    } finally {
      await fh.close();
    }
  }

  /**
   * Appends commit text and waits until it is on disk. On failure nothing of it stays: the journal is cut back
   * to its durable length (now, or before the next append if cutting fails too), so text a caller was told
   * failed can never become valid later, and a torn line never ends up followed by good ones.
   */
  async append(text: string): Promise<void> {
    if (this.torn) await this.cutTornTail();
    const bytes = Buffer.from(text, 'utf8');
    try {
      this.journal ??= await this.ops.open(this.journalPath, 'a');
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await this.journal.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
      await this.journal.datasync();
    } catch (e) {
      this.torn = true;
      await this.cutTornTail().catch(() => undefined);
      throw e;
    }
    this.journalBytes += bytes.length;
  }

  /** Truncates the journal to its durable length and reopens it (after a failed fsync the handle is suspect). */
  private async cutTornTail(): Promise<void> {
    const old = this.journal;
    this.journal = undefined;
    await old?.close().catch(() => undefined);
    let fh: WriteHandle;
    try {
      fh = await this.ops.open(this.journalPath, 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.torn = false;
      return;
    }
    try {
      await fh.truncate(this.journalBytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.torn = false;
  }

  /** Compaction: a new snapshot of `data` replaces the old one atomically, then the journal restarts. */
  async write(data: TableData): Promise<void> {
    const rows = [...data.rows];
    const head = `${JSON.stringify({ t: 's', s: data.seq, m: data.meta })}\n`;
    const tmp = `${this.snapshotPath}.tmp`;
    const fh = await this.ops.open(tmp, 'w');
    let size = 0;
    try {
      let chunk = head;
      for (const [key, row] of rows) {
        chunk += putLine(key, row);
        if (chunk.length >= 1 << 20) {
          size += await writeAll(fh, chunk);
          chunk = '';
        }
      }
      chunk += `${JSON.stringify({ t: 'e', n: rows.length })}\n`;
      size += await writeAll(fh, chunk);
      await fh.sync();
    } catch (e) {
      // A half-written snapshot is never used (only a renamed one is): drop it, keep the old one and the journal.
      await fh.close().catch(() => undefined);
      await this.ops.rm(tmp).catch(() => undefined);
      throw e;
    }
    await fh.close();
    await this.ops.rename(tmp, this.snapshotPath);
    await fsyncDir(this.ops, dirname(this.snapshotPath));
    this.snapshotBytes = size;
    // Everything in the journal is now in the snapshot (replay skips it by seq even if this truncation is lost).
    const old = this.journal;
    this.journal = undefined;
    await old?.close().catch(() => undefined);
    this.journal = await this.ops.open(this.journalPath, 'w');
    this.journalBytes = 0;
    this.torn = false;
    await this.journal.datasync();
  }

  async close(): Promise<void> {
    await this.journal?.close();
    this.journal = undefined;
  }

  /** Bytes on disk (snapshot + journal), for tests and diagnostics. */
  async diskBytes(): Promise<number> {
    const sizes = await Promise.all([this.snapshotPath, this.journalPath].map((p) => stat(p).then((s) => s.size, () => 0)));
    return sizes[0]! + sizes[1]!;
  }
}

async function writeAll(fh: WriteHandle, text: string): Promise<number> {
  const bytes = Buffer.from(text, 'utf8');
  let written = 0;
  while (written < bytes.length) written += (await fh.write(bytes, written, bytes.length - written)).bytesWritten;
  return bytes.length;
}
