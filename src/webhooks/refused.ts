/**
 * Webhook deliveries the receiver refused (bad signature, unknown URL, too large, not JSON, ...), kept so a
 * person can see what a system sends that never became an event. Never the body, a header value or a
 * secret: only when, the status and code, the size, the sender's address and the delivery id when the spec
 * reads it from a header.
 *
 * An attacker can send refused requests without end, so neither memory nor the store grows with them:
 * - one document per bucket (a connection, a connector's shared URL, or one bucket for every unknown URL, so
 *   made-up tokens cannot create documents), holding a counter and the last `maxRecent` entries;
 * - refusals are gathered in memory (at most `maxRecent` per bucket, the rest only counted) and written at
 *   most once per `flushMs` per bucket: a burst of any size costs one read and one write per bucket and
 *   interval.
 * Several replicas merge into the same document (read, add, write); two flushing the same bucket in the same
 * instant may undercount. This is a diagnostic record, not an inbox.
 */
import type { Store } from '../store/types.ts';

export const REFUSED = 'webhook_refused';
export const UNKNOWN_URL_BUCKET = 'unknown_url';

export interface RefusedDelivery {
  /** ISO time of the refusal. */
  at: string;
  status: number;
  code: string;
  /** Bytes of the body (as read, or as Content-Length announced when it was not read); null when unknown. */
  size: number | null;
  remote_address: string | null;
  /** The delivery's id when the spec's event_id reads it from a header; never from an unverified body. */
  delivery_id?: string;
}

export type RefusedScope = { connection_id: string } | { connector: string } | { unknown_url: true };

interface RefusedDoc {
  id: string;
  connection_id?: string;
  connector?: string;
  count: number;
  first_at: string | null;
  last_at: string | null;
  /** Newest first. */
  recent: RefusedDelivery[];
}

export interface RefusedSummary {
  connection_id?: string;
  connector?: string;
  unknown_url?: true;
  count: number;
  first_at: string | null;
  last_at: string | null;
  recent: RefusedDelivery[];
}

interface Pending {
  scope: RefusedScope;
  count: number;
  firstAt: string;
  /** Newest first, at most maxRecent. */
  recent: RefusedDelivery[];
}

export interface RefusedOptions {
  /** Entries kept per bucket. Default 100. */
  maxRecent?: number;
  /** Least time between two writes of one bucket. Default 2000 ms. */
  flushMs?: number;
  onError?: (e: unknown) => void;
}

function docId(scope: RefusedScope): string {
  if ('connection_id' in scope) return `conn:${scope.connection_id}`;
  if ('connector' in scope) return `connector:${scope.connector}`;
  return UNKNOWN_URL_BUCKET;
}

export class RefusedDeliveries {
  private readonly pending = new Map<string, Pending>();
  private readonly maxRecent: number;
  private readonly flushMs: number;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly opts: RefusedOptions = {},
  ) {
    this.maxRecent = opts.maxRecent ?? 100;
    this.flushMs = opts.flushMs ?? 2000;
  }

  /** Notes one refusal (synchronous, in memory); written with the others of its bucket at the next flush. */
  record(scope: RefusedScope, entry: RefusedDelivery): void {
    const id = docId(scope);
    let p = this.pending.get(id);
    if (!p) this.pending.set(id, (p = { scope, count: 0, firstAt: entry.at, recent: [] }));
    p.count++;
    p.recent.unshift(entry);
    if (p.recent.length > this.maxRecent) p.recent.length = this.maxRecent;
    this.arm();
  }

  /** The next flush in `flushMs`, unless one is already due. */
  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
    this.timer.unref();
  }

  /** Writes every bucket with refusals not yet stored (one read and one write each); one flush at a time. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return Promise.resolve();
    const run = this.writePending().finally(() => {
      if (this.flushing === run) this.flushing = undefined;
    });
    this.flushing = run;
    return run;
  }

  private async writePending(): Promise<void> {
    const batch = [...this.pending.entries()];
    this.pending.clear();
    for (const [id, p] of batch) {
      try {
        const doc = await this.store.get<RefusedDoc>(REFUSED, id);
        await this.store.put<RefusedDoc>(REFUSED, id, merge(id, p, doc, this.maxRecent));
      } catch (e) {
        // The store cannot write now: keep the refusals (still bounded) for the next flush.
        const again = this.pending.get(id);
        this.pending.set(id, again ? combine(p, again, this.maxRecent) : p);
        this.opts.onError?.(e);
      }
    }
    if (this.pending.size > 0) this.arm();
  }

  /** The stored record with what is not written yet. */
  async summary(scope: RefusedScope, limit = this.maxRecent): Promise<RefusedSummary> {
    const id = docId(scope);
    const doc = await this.store.get<RefusedDoc>(REFUSED, id);
    const p = this.pending.get(id);
    const merged = p ? merge(id, p, doc, this.maxRecent) : doc;
    const label = 'connection_id' in scope ? { connection_id: scope.connection_id } : 'connector' in scope ? { connector: scope.connector } : { unknown_url: true as const };
    return { ...label, count: merged?.count ?? 0, first_at: merged?.first_at ?? null, last_at: merged?.last_at ?? null, recent: (merged?.recent ?? []).slice(0, Math.max(0, limit)) };
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // A flush under way took only what was pending when it began: write the rest after it.
    await this.flushing;
    await this.flush();
  }
}

function merge(id: string, p: Pending, doc: RefusedDoc | undefined, maxRecent: number): RefusedDoc {
  const label = 'connection_id' in p.scope ? { connection_id: p.scope.connection_id } : 'connector' in p.scope ? { connector: p.scope.connector } : {};
  return {
    id,
    ...label,
    count: (doc?.count ?? 0) + p.count,
    first_at: doc?.first_at ?? p.firstAt,
    last_at: p.recent[0]?.at ?? doc?.last_at ?? null,
    recent: [...p.recent, ...(doc?.recent ?? [])].slice(0, maxRecent),
  };
}

/** `older` failed to be written and `newer` came in meanwhile. */
function combine(older: Pending, newer: Pending, maxRecent: number): Pending {
  return { scope: older.scope, count: older.count + newer.count, firstAt: older.firstAt, recent: [...newer.recent, ...older.recent].slice(0, maxRecent) };
}
