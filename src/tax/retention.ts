/**
 * Retention of recorded calculations (`tax_calculations`): the embedded store holds a table in memory, so
 * what is kept must be bounded, by age, by count and by size, whatever the clients send.
 *
 * - An index of the records kept (id, time, approximate JSON bytes: ./record.ts recordBytes) in creation
 *   order: a new record is appended in O(1); pruning removes from the oldest end.
 * - Pruning runs in the background: every `intervalMs`, and as soon as a new record takes the count or the
 *   bytes over their limit (then down to 99 % of it, so it runs once per 1 % of the budget, not per request).
 * - After pruning a large share of the table (a quarter of what it still holds, and at least 64 KiB),
 *   the table is compacted (`compact(collection)`, where the store offers it), so deleted records leave the
 *   file, not only memory. Without it the embedded store compacts once the journal (new records and the
 *   deletions) outgrows the snapshot, which then holds only the records kept: the files stay within about
 *   twice the retained bytes plus the store's compaction threshold.
 * - Records written before this process started are indexed by one scan of the table a second after start
 *   (start-up and the first requests do not wait for it; the scan parses each record once, ~1 s per
 *   100-200 MB, in chunks of 500 records between which requests are served); pruning waits for it.
 *
 * Memory: the store holds each record as its JSON text plus ~150 bytes (map entry, row, key, this index). A
 * typical record (5-line invoice, Sphere's fields) is ~0.8 KB of JSON; the largest the request caps allow
 * (1,000 lines with 500-character ids and product ids) ~1 MB. So the defaults bound the table's heap at
 * 256 MiB of JSON + 150 B x records (at most ~500,000 records of the smallest size fit in 256 MiB: ~75 MB),
 * about 330 MB in all, whatever is sent. That is ~330,000 typical records: 400 days of ~800 invoices a day
 * (then age applies), or the last hour of one key sending at its full rate limit; raise the bytes where
 * memory allows (billing systems keep the answer on their invoice; this copy is for reading back). The
 * files hold at most the snapshot plus a journal no larger than it, so a restart reads at most ~2 x 256 MiB
 * (measured: ~1.3 s per 160 MB on the development machine). The count limit (1,000,000) bounds the index
 * and the per-record overhead where the bytes are raised.
 *
 * Calculation ids carry their creation time (calc_<12 hex ms><20 hex random>), so a GET of a pruned one can
 * say so (./service.ts).
 */
import { flatString } from '../flat-string.ts';
import type { Collection, Store } from '../store/types.ts';
import type { TaxCalculationDoc } from './model.ts';
import { recordBytes } from './record.ts';

export interface RetentionOptions {
  /** Records older than this many days are deleted. Default 400 (a yearly invoice cycle, plus a month). */
  maxAgeDays: number;
  /** At most this many records are kept (the oldest go first). Default 1,000,000. */
  maxCount: number;
  /** At most this many bytes of record JSON are kept (the oldest go first). Default 256 MiB. */
  maxBytes: number;
  /** How often age-based pruning runs, ms; 0 = only when called (tests). Default 60 s. */
  intervalMs: number;
}

export const DEFAULT_RETENTION: Readonly<RetentionOptions> = Object.freeze({
  maxAgeDays: 400,
  maxCount: 1_000_000,
  maxBytes: 256 * 1024 * 1024,
  intervalMs: 60_000,
});

const DAY_MS = 86_400_000;
/** Records indexed between two turns of the event loop while loading (~1-2 ms of parsing). */
const LOAD_CHUNK = 500;
/** Deletes issued at once (they share group commits). */
const DELETE_CHUNK = 512;

/**
 * A store that can rewrite one table from the rows it holds now. The embedded store otherwise compacts a table
 * only when its journal outgrows its snapshot (src/store/table.ts), which steady traffic guarantees but an
 * idle server after a large prune does not.
 */
interface CompactingStore extends Store {
  compact?(collection: Collection): Promise<void>;
}

export interface PruneResult {
  deleted: number;
  bytes: number;
  compacted: boolean;
}

let idMs = -1;
let idPrefix = '';
/** Time-ordered calculation id: 12 hex digits of ms since the epoch, then 20 random hex digits. */
export function calculationId(nowMs: number, randomHex: string): string {
  const ms = Math.max(0, Math.floor(nowMs));
  // Many calculations share a millisecond under load: its prefix is built once.
  if (ms !== idMs) {
    idMs = ms;
    idPrefix = `calc_${ms.toString(16).padStart(12, '0').slice(-12)}`;
  }
  // Kept for the record's life (map keys, the retention index): one flat string, not a pair.
  return flatString(idPrefix + (randomHex.length === 20 ? randomHex : randomHex.slice(0, 20)));
}

/** The creation time carried by a calculation id, when it plausibly carries one (ids before 2020 did not). */
export function calculationIdTime(id: string): number | undefined {
  const m = /^calc_([0-9a-f]{12})[0-9a-f]{20}$/.exec(id);
  if (!m) return undefined;
  const ms = parseInt(m[1]!, 16);
  return ms >= Date.UTC(2020, 0, 1) && ms <= Date.now() + DAY_MS ? ms : undefined;
}

export class CalculationRetention {
  readonly options: RetentionOptions;
  // The index as parallel arrays from `head` (creation order); compacted when the dead prefix grows.
  private ids: string[] = [];
  private times: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  private loaded = false;
  private early = new Set<string>();
  private loading?: Promise<void>;
  private pruning?: Promise<PruneResult>;
  private timer?: NodeJS.Timeout;
  private loadTimer?: NodeJS.Timeout;
  private prunedSinceCompact = 0;
  /** Time of the newest record pruned: ids older than this are known to have been pruned. */
  prunedUpTo = 0;

  constructor(
    private readonly store: CompactingStore,
    private readonly collection: string,
    options: Partial<RetentionOptions>,
    private readonly clock: () => number,
    private readonly report: (message: string, err: unknown) => void,
  ) {
    this.options = { ...DEFAULT_RETENTION, ...options };
  }

  /**
   * Starts the pruning timer and, a second later (so start-up and the first requests do not wait for it),
   * the index of the stored records.
   */
  start(): void {
    if (!this.loading && !this.loadTimer) {
      this.loadTimer = setTimeout(() => this.beginLoad(), 1000);
      this.loadTimer.unref();
    }
    if (this.options.intervalMs > 0 && !this.timer) {
      this.timer = setInterval(() => void this.prune().catch(() => undefined), this.options.intervalMs);
      this.timer.unref();
    }
  }

  get count(): number {
    return this.ids.length - this.head;
  }

  get retainedBytes(): number {
    return this.bytes;
  }

  private beginLoad(): Promise<void> {
    if (this.loadTimer) clearTimeout(this.loadTimer);
    this.loadTimer = undefined;
    this.loading ??= this.load().catch((e) => {
      this.report('indexing recorded calculations for retention failed', e);
    });
    return this.loading;
  }

  /** Waits for the index of the stored records (starting it now if it has not started). */
  async ready(): Promise<void> {
    await this.beginLoad();
  }

  private async load(): Promise<void> {
    const found: Array<{ id: string; at: number; size: number }> = [];
    // Each document is parsed, measured and dropped (never all held at once), and every LOAD_CHUNK of them
    // the event loop gets a turn: a large table is indexed without stalling the requests arriving meanwhile.
    let n = 0;
    await this.store.scan<TaxCalculationDoc>(this.collection, (d) => {
      if (!this.early.has(d.id)) {
        const at = Date.parse(d.created_at);
        found.push({ id: d.id, at: Number.isFinite(at) ? at : 0, size: recordBytes(d) });
      }
      if (++n % LOAD_CHUNK === 0) return new Promise<void>((r) => setImmediate(r));
    });
    found.sort((a, b) => a.at - b.at);
    const ids: string[] = [];
    const times: number[] = [];
    const sizes: number[] = [];
    let bytes = 0;
    for (const f of found) {
      ids.push(f.id);
      times.push(f.at);
      sizes.push(f.size);
      bytes += f.size;
    }
    for (let i = this.head; i < this.ids.length; i++) {
      ids.push(this.ids[i]!);
      times.push(this.times[i]!);
      sizes.push(this.sizes[i]!);
    }
    this.ids = ids;
    this.times = times;
    this.sizes = sizes;
    this.head = 0;
    this.bytes += bytes;
    this.loaded = true;
    this.early.clear();
    this.maybePrune();
  }

  /** A record was written. */
  add(id: string, at: number, size: number): void {
    this.ids.push(id);
    this.times.push(at);
    this.sizes.push(size);
    this.bytes += size;
    if (!this.loaded) this.early.add(id);
    this.maybePrune();
  }

  private maybePrune(): void {
    if (!this.loaded || this.pruning) return;
    if (this.count > this.options.maxCount || this.bytes > this.options.maxBytes) void this.prune().catch(() => undefined);
  }

  /** Deletes what is too old, too many or too much; compacts the table after a large prune. */
  prune(): Promise<PruneResult> {
    // A prune in progress chose its victims earlier: wait for it, then prune what arrived meanwhile.
    if (this.pruning) return this.pruning.catch(() => undefined).then(() => this.prune());
    this.pruning = this.run().finally(() => {
      this.pruning = undefined;
      this.maybePrune();
    });
    return this.pruning;
  }

  private async run(): Promise<PruneResult> {
    await this.ready();
    const o = this.options;
    const cutoff = this.clock() - o.maxAgeDays * DAY_MS;
    // Over a limit, go 1 % below it, so pruning runs once per 1 % of the budget rather than per record.
    const countTarget = this.count > o.maxCount ? Math.floor(o.maxCount * 0.99) : o.maxCount;
    const bytesTarget = this.bytes > o.maxBytes ? Math.floor(o.maxBytes * 0.99) : o.maxBytes;
    const victims: string[] = [];
    let freed = 0;
    let count = this.count;
    let bytes = this.bytes;
    let i = this.head;
    while (i < this.ids.length && (this.times[i]! < cutoff || count > countTarget || bytes > bytesTarget)) {
      victims.push(this.ids[i]!);
      freed += this.sizes[i]!;
      bytes -= this.sizes[i]!;
      count--;
      this.prunedUpTo = Math.max(this.prunedUpTo, this.times[i]!);
      i++;
    }
    if (victims.length === 0) return { deleted: 0, bytes: 0, compacted: false };
    // Out of the index first: a record being deleted is no longer counted against the limits.
    this.head = i;
    this.bytes = bytes;
    if (this.head > 4096 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.times = this.times.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    let deleted = 0;
    try {
      for (let k = 0; k < victims.length; k += DELETE_CHUNK) {
        const chunk = victims.slice(k, k + DELETE_CHUNK);
        const done = await Promise.all(chunk.map((id) => this.store.delete(this.collection, id)));
        deleted += done.filter(Boolean).length;
      }
    } catch (e) {
      this.report('pruning recorded calculations failed', e);
      throw e;
    }
    this.prunedSinceCompact += freed;
    let compacted = false;
    if (this.store.compact && this.prunedSinceCompact >= Math.max(this.bytes / 4, 64 * 1024)) {
      try {
        await this.store.compact(this.collection);
        compacted = true;
        this.prunedSinceCompact = 0;
      } catch (e) {
        this.report('compacting tax_calculations after pruning failed', e);
      }
    }
    return { deleted, bytes: freed, compacted };
  }

  /** Stops the timer and waits for a prune in progress. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.loadTimer) clearTimeout(this.loadTimer);
    this.timer = this.loadTimer = undefined;
    await this.loading;
    await this.pruning?.catch(() => undefined);
  }
}
