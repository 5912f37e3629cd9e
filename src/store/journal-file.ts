import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Adapter } from 'lowdb';
import { TaxbridgeError } from '../errors.ts';
import { adviceFor } from './damage.ts';
import { FILE_MODE } from './modes.ts';
import { acquireScratch, encodePieces, releaseScratch } from './utf8-batch.ts';

/**
 * One table on disk: a snapshot (`<base>.jsonl`) plus a journal of the commits made since
 * (`<base>.journal`). A commit appends a few lines and fsyncs, whatever the table's size; the snapshot is
 * rewritten (temp file, fsync, rename) only when the journal outgrows it, so rewriting costs stay
 * proportional to the data written.
 *
 * Line format, one record per line:
 *   {"t":"p","k":<key>,...row fields}<TAB><value JSON>   put (JSON.stringify never emits a raw TAB)
 *   {"t":"x","k":<key>}                                remove
 *   {"t":"c","s":<seq>,"m":{...},"c":<crc>}            commit: the lines since the previous commit take
 *                                                      effect together, with a meta patch (checkpoints)
 * The snapshot starts with {"t":"s","s":<seq>,"m":<meta>} and ends with {"t":"e","n":<rows>,"c":<crc>}.
 * `c` is the CRC-32 of the UTF-8 bytes of the lines it closes (a commit: its put and remove lines; a snapshot:
 * every line before the end marker), so a change that still parses (a flipped digit in an amount) is found at
 * open instead of loaded as data. Files written before checksums existed have none and load as they did.
 * A crash can only tear the journal's tail: lines after the last commit line are dropped on open, and so is a
 * last commit whose lines do not match its checksum (pages of an append that a crash cut off before its fsync
 * returned, so never acknowledged); a mismatch with more commits after it is damage, and the table is refused.
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

/** A put line as three pieces (head, the row's JSON, newline): the row's JSON is written as it is held, never copied into a joined line. */
function pushPutLine(out: JournalPiece[], key: string, row: Row): void {
  const header: Record<string, unknown> = { t: 'p', k: key };
  if (row.h !== undefined) header.h = row.h;
  if (row.r !== undefined) header.r = row.r;
  if (row.d) header.d = 1;
  if (row.f !== undefined) header.f = row.f;
  out.push(`${JSON.stringify(header)}\t`, row.json, '\n');
}

/**
 * A line whose text holds the CRC-32 of the bytes written before it: a commit line (of its put and remove
 * lines) or a snapshot's end marker (of the whole snapshot before it). Its text is made when it is encoded,
 * after those bytes (`writeAll`), so the checksum is taken of the encoded bytes, never of the strings again.
 */
interface SealedLine {
  seal(crc: number): string;
}

/** What a journal append writes: lines, and the commit lines that close them. */
export type JournalPiece = string | SealedLine;

class CommitLine implements SealedLine {
  /** `meta` is the patch's JSON, made at commit time: a value that cannot be encoded fails the commit there. */
  constructor(
    private readonly seq: number,
    private readonly meta: string | undefined,
  ) {}

  seal(crc: number): string {
    return this.meta === undefined ? `{"t":"c","s":${this.seq},"c":${crc}}\n` : `{"t":"c","s":${this.seq},"m":${this.meta},"c":${crc}}\n`;
  }
}

class EndMarker implements SealedLine {
  constructor(private readonly rows: number) {}

  seal(crc: number): string {
    return `{"t":"e","n":${this.rows},"c":${crc}}\n`;
  }
}

/** Appends the journal text of one commit to `out`, in pieces (./utf8-batch.ts writes them one after another). */
export function encodeCommit(out: JournalPiece[], ops: TableOp[], seq: number, metaPatch: Record<string, unknown> | undefined): void {
  for (const op of ops) {
    if (op.t === 'p') pushPutLine(out, op.k, op.row);
    else out.push(`${JSON.stringify({ t: 'x', k: op.k })}\n`);
  }
  out.push(new CommitLine(seq, metaPatch ? JSON.stringify(metaPatch) : undefined));
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
  /** Checksum of the lines a commit or a snapshot's end marker closes. */
  c?: number;
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

/** Lines of a file with their byte offsets and numbers, read in chunks (files may exceed one string). */
async function* lines(fh: FileHandle): AsyncGenerator<{ line: string; bytes: Buffer; start: number; end: number; no: number; terminated: boolean }> {
  const buf = Buffer.allocUnsafe(1 << 20);
  let carry: Buffer = Buffer.alloc(0);
  let offset = 0;
  let no = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    // Copied out of `buf`, which the next read reuses.
    const chunk = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : Buffer.from(buf.subarray(0, bytesRead));
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const lineStart = offset;
      offset += nl + 1 - start;
      // `bytes` (the line and its end, as on disk) is a view valid until the next line is asked for.
      yield { line: chunk.toString('utf8', start, nl), bytes: chunk.subarray(start, nl + 1), start: lineStart, end: offset, no: ++no, terminated: true };
      start = nl + 1;
    }
    carry = chunk.subarray(start);
  }
  if (carry.length) yield { line: carry.toString('utf8'), bytes: carry, start: offset, end: offset + carry.length, no: ++no, terminated: false };
}

/** Where in a table file the damage starts. */
export interface DamagePlace {
  offset?: number;
  line?: number;
}

/**
 * A table file that cannot be loaded: names the file, where the damage starts, what the table holds and
 * what to do (a sync rebuilds entity tables; most collections need the backup).
 */
export class StoreCorruptError extends TaxbridgeError {
  constructor(file: string, detail: string, place: DamagePlace = {}, cause?: unknown) {
    const advice = adviceFor(file);
    const at = place.offset === undefined ? '' : ` at byte ${place.offset}${place.line === undefined ? '' : ` (line ${place.line})`}`;
    super('STORE_CORRUPT', `store file ${file} is damaged${at}: ${detail}. The table ${advice.table} cannot be loaded: ${advice.lost} are unavailable until it is repaired`, {
      hint: advice.action,
      details: { file, ...place, table: advice.table, lost: advice.lost, rebuild: advice.rebuild, action: advice.action },
      cause,
    });
  }
}

/** Something the store repaired or noticed on its own that an operator should see (logged as a warning). */
export interface StoreWarning {
  code: 'STORE_TORN_TAIL' | 'STORE_MODES_TIGHTENED' | 'STORE_LOCK_TAKEN_OVER' | 'STORE_LOCK_LOST';
  message: string;
  file: string;
  /** Torn tail: bytes dropped (or, read-only, that would be dropped), from `offset` (line `line`). */
  bytes?: number;
  offset?: number;
  line?: number;
  details?: Record<string, unknown>;
}

export interface ReadOptions {
  onWarning?: (w: StoreWarning) => void;
  /** Never change the files (offline checks of a folder another process may hold): torn tails are reported, not cut. */
  readOnly?: boolean;
  /**
   * JSON.parse every row's value too (default true), so a bad value is refused at open naming its offset,
   * never later as a bare SyntaxError. Off only for a table verified since it was last written (the start).
   */
  checkValues?: boolean;
}

/** Where a load puts rows: the table's Map, or (verification) a key set that keeps no values. */
interface RowSink {
  set(key: string, row: Row): unknown;
  delete(key: string): unknown;
  readonly size: number;
}

function keyOnlySink(): RowSink {
  const keys = new Set<string>();
  return {
    set: (k) => keys.add(k),
    delete: (k) => keys.delete(k),
    get size() {
      return keys.size;
    },
  };
}

type LineAt = { line: string; start: number; no: number; terminated: boolean };
type Checked = { header: Header; json?: string; problem?: undefined } | { problem: string; offset: number };

/** One line parsed and checked (header and value JSON, key present); a problem says what and at which byte. */
function checkLine(at: LineAt, checkValues = true): Checked {
  let parsed: { header: Header; json?: string };
  if (!at.terminated) return { problem: 'the last line is cut short (no line end)', offset: at.start };
  try {
    parsed = parseLine(at.line);
  } catch (e) {
    return { problem: `the line is not valid JSON (${(e as Error).message})`, offset: at.start };
  }
  const { header, json } = parsed;
  if (header === null || typeof header !== 'object' || typeof header.t !== 'string') return { problem: 'the line is not a record of this store', offset: at.start };
  if ((header.t === 'p' || header.t === 'x') && typeof header.k !== 'string') return { problem: `a ${header.t === 'p' ? 'put' : 'remove'} record has no key`, offset: at.start };
  if (header.t === 'p') {
    if (json === undefined) return { problem: `the row ${JSON.stringify(header.k)} has no value`, offset: at.start };
    if (!checkValues) return parsed;
    try {
      JSON.parse(json);
    } catch (e) {
      const valueAt = at.start + Buffer.byteLength(at.line.slice(0, at.line.indexOf('\t') + 1));
      return { problem: `the value of row ${JSON.stringify(header.k)} is not valid JSON (${(e as Error).message})`, offset: valueAt };
    }
  }
  return parsed;
}

function ioError(file: string, e: unknown): TaxbridgeError {
  if (e instanceof TaxbridgeError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  return new TaxbridgeError('STORE_IO', `cannot read store file ${file}: ${code ?? (e as Error).message}`, {
    hint: code === 'EACCES' || code === 'EPERM' ? 'the data folder must be readable and writable by the user running taxbridge' : 'check the disk and the data folder',
    details: { file },
    cause: e,
  });
}

/** What a verification read of one table found. */
export interface TableScan {
  rows: number;
  seq: number;
  snapshotBytes: number;
  journalBytes: number;
  /** Torn tail bytes dropped (or, read-only, that a start would drop). */
  tornBytes: number;
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

  /** Torn journal tail bytes found by the last read (dropped unless read-only). */
  tornBytes = 0;

  constructor(
    base: string,
    private readonly ops: WriteFileOps = nodeWriteFileOps,
    private readonly readOpts: ReadOptions = {},
  ) {
    this.snapshotPath = `${base}.jsonl`;
    this.journalPath = `${base}.journal`;
  }

  async read(): Promise<TableData | null> {
    if (!this.readOpts.readOnly) await Promise.all([rm(`${this.snapshotPath}.tmp`, { force: true }), rm(`${this.journalPath}.tmp`, { force: true })]);
    const data = emptyTable();
    return (await this.load(data, data.rows)) ? data : null;
  }

  /** Reads and checks both files keeping only the keys: verifies a table without holding its rows. */
  async scan(): Promise<TableScan> {
    const data = emptyTable();
    const sink = keyOnlySink();
    await this.load(data, sink);
    return { rows: sink.size, seq: data.seq, snapshotBytes: this.snapshotBytes, journalBytes: this.journalBytes, tornBytes: this.tornBytes };
  }

  private async load(data: TableData, sink: RowSink): Promise<boolean> {
    const hadSnapshot = await this.readSnapshot(data, sink).catch((e) => Promise.reject(ioError(this.snapshotPath, e)));
    const hadJournal = await this.replayJournal(data, sink).catch((e) => Promise.reject(ioError(this.journalPath, e)));
    return hadSnapshot || hadJournal;
  }

  private async readSnapshot(data: TableData, sink: RowSink): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(this.snapshotPath, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    const file = this.snapshotPath;
    try {
      let ended = false;
      let n = 0;
      let crc = 0;
      for await (const at of lines(fh)) {
        if (ended) throw new StoreCorruptError(file, 'data follows the end marker', { offset: at.start, line: at.no });
        const c = checkLine(at, this.readOpts.checkValues);
        if (c.problem !== undefined) throw new StoreCorruptError(file, c.problem, { offset: c.offset, line: at.no });
        const { header, json } = c;
        if (at.no === 1 && header.t !== 's') throw new StoreCorruptError(file, 'the snapshot does not start with its header line', { offset: 0, line: 1 });
        if (header.t === 's') {
          if (at.no !== 1) throw new StoreCorruptError(file, 'a second header line', { offset: at.start, line: at.no });
          data.seq = header.s ?? 0;
          data.meta = header.m ?? {};
        } else if (header.t === 'p') {
          sink.set(header.k!, rowOf(header, json!));
          n++;
        } else if (header.t === 'e') {
          if (header.n !== n) throw new StoreCorruptError(file, `holds ${n} rows, its end marker says ${header.n}`, { offset: at.start, line: at.no });
          if (header.c !== undefined && header.c !== crc) {
            throw new StoreCorruptError(file, `its lines do not match the checksum in its end marker (CRC-32 ${crc}, recorded ${JSON.stringify(header.c)}): it was changed or damaged after it was written`, { offset: 0, line: 1 });
          }
          ended = true;
        } else throw new StoreCorruptError(file, `unexpected record type ${JSON.stringify(header.t)} in a snapshot`, { offset: at.start, line: at.no });
        if (!ended) crc = crc32(at.bytes, crc);
        this.snapshotBytes = at.end;
      }
      if (!ended) throw new StoreCorruptError(file, 'the snapshot has no end marker (the file is cut short)', { offset: this.snapshotBytes });
      return true;
    } finally {
      await fh.close();
    }
  }

  /**
   * Applies committed journal groups newer than the snapshot. Lines after the last commit line belong to a
   * commit a crash interrupted (never acknowledged): they are cut off the file, so later appends never follow
   * garbage, with a warning naming the file and the bytes. An unreadable line with more after it is damage.
   */
  private async replayJournal(data: TableData, sink: RowSink): Promise<boolean> {
    const readOnly = this.readOpts.readOnly === true;
    let fh: FileHandle;
    try {
      fh = await open(this.journalPath, readOnly ? 'r' : 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    const file = this.journalPath;
    try {
      let group: TableOp[] = [];
      let groupCrc = 0;
      let committedEnd = 0;
      let committedLines = 0;
      let torn: { problem: string; offset: number; line: number } | undefined;
      for await (const at of lines(fh)) {
        if (torn) throw new StoreCorruptError(file, `${torn.problem}, and more lines follow it (not a torn tail)`, { offset: torn.offset, line: torn.line });
        const c = checkLine(at, this.readOpts.checkValues);
        if (c.problem !== undefined) {
          torn = { problem: c.problem, offset: c.offset, line: at.no };
          continue;
        }
        const { header, json } = c;
        if (header.t === 'p' || header.t === 'x') {
          group.push(header.t === 'p' ? { t: 'p', k: header.k!, row: rowOf(header, json!) } : { t: 'x', k: header.k! });
          groupCrc = crc32(at.bytes, groupCrc);
        } else if (header.t === 'c') {
          if (header.c !== undefined && header.c !== groupCrc) {
            torn = { problem: `the lines of commit ${JSON.stringify(header.s)} do not match its checksum (CRC-32 ${groupCrc}, recorded ${JSON.stringify(header.c)})`, offset: committedEnd, line: committedLines + 1 };
            continue;
          }
          if ((header.s ?? 0) > data.seq) {
            for (const op of group) {
              if (op.t === 'p') sink.set(op.k, op.row);
              else sink.delete(op.k);
            }
            if (header.m) Object.assign(data.meta, header.m);
            data.seq = header.s!;
          }
          group = [];
          groupCrc = 0;
          committedEnd = at.end;
          committedLines = at.no;
        } else torn = { problem: `unexpected record type ${JSON.stringify(header.t)} in a journal`, offset: at.start, line: at.no };
      }
      const { size } = await fh.stat();
      this.tornBytes = size - committedEnd;
      if (this.tornBytes > 0) {
        if (!readOnly) {
          await fh.truncate(committedEnd);
          await fh.sync();
        }
        const where = `from byte ${committedEnd} (line ${committedLines + 1})`;
        this.readOpts.onWarning?.({
          code: 'STORE_TORN_TAIL',
          file,
          bytes: this.tornBytes,
          offset: committedEnd,
          line: committedLines + 1,
          ...(torn ? { details: { problem: torn.problem } } : {}),
          message: readOnly
            ? `torn journal tail in ${file}: ${this.tornBytes} bytes ${where} after the last complete commit (an interrupted write, never acknowledged${torn ? `: ${torn.problem}` : ''}); the next start drops them`
            : `dropped the torn journal tail of ${file}: ${this.tornBytes} bytes ${where} after the last complete commit (an interrupted write, never acknowledged${torn ? `: ${torn.problem}` : ''}); the file now ends at that commit`,
        });
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
  async append(texts: readonly JournalPiece[]): Promise<void> {
    if (this.torn) await this.cutTornTail();
    let size: number;
    try {
      this.journal ??= await this.ops.open(this.journalPath, 'a', FILE_MODE);
      size = await writeAll(this.journal, texts);
      await this.journal.datasync();
    } catch (e) {
      this.torn = true;
      await this.cutTornTail().catch(() => undefined);
      throw e;
    }
    this.journalBytes += size;
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

  /**
   * A new snapshot of `data` replaces the old one atomically (temp file, fsync, rename); the journal is left as
   * it is, so appends may go on meanwhile (replay skips the journal's commits the snapshot holds, by seq). What
   * is written is taken from `data` before the first wait.
   */
  async snapshot(data: TableData): Promise<void> {
    const rows = [...data.rows];
    const head = `${JSON.stringify({ t: 's', s: data.seq, m: data.meta })}\n`;
    const tmp = `${this.snapshotPath}.tmp`;
    const fh = await this.ops.open(tmp, 'w', FILE_MODE);
    let size = 0;
    try {
      // Written about a MiB at a time: the lines as pieces, never one joined string.
      let chunk: JournalPiece[] = [head];
      let chars = head.length;
      // The end marker's checksum covers every chunk before it.
      const carry = { crc: 0 };
      for (const [key, row] of rows) {
        pushPutLine(chunk, key, row);
        chars += row.json.length + 64;
        if (chars >= 1 << 20) {
          size += await writeAll(fh, chunk, carry);
          chunk = [];
          chars = 0;
        }
      }
      chunk.push(new EndMarker(rows.length));
      size += await writeAll(fh, chunk, carry);
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
  }

  /** Compaction at once: a new snapshot of `data`, then the journal restarts (no append may run meanwhile). */
  async write(data: TableData): Promise<void> {
    await this.snapshot(data);
    // Everything in the journal is now in the snapshot (replay skips it by seq even if this truncation is lost).
    const old = this.journal;
    this.journal = undefined;
    await old?.close().catch(() => undefined);
    this.journal = await this.ops.open(this.journalPath, 'w', FILE_MODE);
    this.journalBytes = 0;
    this.torn = false;
    await this.journal.datasync();
  }

  /**
   * Drops the journal's first `offset` bytes, which a snapshot now holds (Table: between two batches, after
   * `snapshot`): the rest is copied to a temp file, fsynced and renamed over the journal. A crash before the
   * rename leaves the whole journal, whose first commits replay skips by seq; a failure keeps it whole too.
   */
  async cutJournal(offset: number): Promise<void> {
    if (offset <= 0) return;
    if (this.torn) await this.cutTornTail();
    const end = this.journalBytes;
    const tmp = `${this.journalPath}.tmp`;
    const out = await this.ops.open(tmp, 'w', FILE_MODE);
    try {
      const src = await open(this.journalPath, 'r');
      try {
        const buf = Buffer.allocUnsafe(Math.max(1, Math.min(1 << 20, end - offset)));
        for (let pos = offset; pos < end; ) {
          const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, end - pos), pos);
          if (bytesRead === 0) throw new TaxbridgeError('STORE_IO', `${this.journalPath} ends at byte ${pos}, before its durable length ${end}`);
          for (let w = 0; w < bytesRead; ) w += (await out.write(buf, w, bytesRead - w)).bytesWritten;
          pos += bytesRead;
        }
      } finally {
        await src.close();
      }
      await out.sync();
      await out.close();
      await this.ops.rename(tmp, this.journalPath);
    } catch (e) {
      await out.close().catch(() => undefined);
      await this.ops.rm(tmp).catch(() => undefined);
      throw e;
    }
    // The open handle still points at the old file: the next append opens the new one.
    const old = this.journal;
    this.journal = undefined;
    await old?.close().catch(() => undefined);
    this.journalBytes = end - offset;
    await fsyncDir(this.ops, dirname(this.journalPath));
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

/**
 * Writes the pieces in order as UTF-8 (./utf8-batch.ts); resolves to the bytes written. A sealed line gets the
 * CRC-32 of the bytes since the one before it, or since the start, continuing `carry` (a snapshot's chunks);
 * `carry` ends holding the checksum of what follows the last sealed line.
 */
async function writeAll(fh: WriteHandle, pieces: readonly JournalPiece[], carry = { crc: 0 }): Promise<number> {
  let from = 0;
  const { buf, end } = encodePieces(acquireScratch(), 0, pieces, (line: SealedLine, at: Buffer, upTo: number) => {
    const text = line.seal(crc32(at.subarray(from, upTo), carry.crc));
    from = upTo + Buffer.byteLength(text);
    carry.crc = 0;
    return text;
  });
  carry.crc = crc32(buf.subarray(from, end), carry.crc);
  try {
    let written = 0;
    while (written < end) written += (await fh.write(buf, written, end - written)).bytesWritten;
    return end;
  } finally {
    releaseScratch(buf);
  }
}
