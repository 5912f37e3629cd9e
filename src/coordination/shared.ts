/**
 * Coordination of replicas through the shared store (PostgreSQL): job claims with a visibility timeout
 * (`claimNext` ... FOR UPDATE SKIP LOCKED), named leases renewed by heartbeats, one row per cron tick, and
 * change notices over LISTEN/NOTIFY. Everything a replica holds expires by itself, so `kill -9` of a replica
 * leaves nothing stuck: its jobs are claimed again and its syncs resumed once their time runs out.
 */
import { TaxbridgeError, errorMessage } from '../errors.ts';
import type { Store, Where } from '../store/types.ts';
import { CHANGE_TOPICS, type ChangeListener, type ChangeTopic, type Coordinator, type HeldLease, type JobClaims, type QueueSpec, type TickCoordinator } from './types.ts';

/** The store operations coordination needs (src/store/types.ts; PostgresStore implements them in SQL). */
export type CoordinationStore = Pick<Store, 'claimNext' | 'renewClaim' | 'releaseClaim' | 'tryAcquireLease' | 'releaseLease' | 'claimTick' | 'publish' | 'subscribe'>;

export function isCoordinationStore(s: unknown): s is CoordinationStore {
  const o = s as Record<string, unknown>;
  return ['claimNext', 'renewClaim', 'releaseClaim', 'tryAcquireLease', 'releaseLease', 'claimTick', 'publish', 'subscribe'].every((m) => typeof o?.[m] === 'function');
}

/** The channel change notices travel on. */
export const CHANGES_TOPIC = 'taxbridge_changes';
const MAX_ID = 200;

type Warn = (message: string, fields?: Record<string, unknown>) => void;

export interface SharedCoordinatorOptions {
  store: CoordinationStore;
  replicaId: string;
  /** Claim visibility timeout and lease time-to-live. Default 30 s. */
  leaseMs?: number;
  /** Polling for due jobs and orphaned syncs. Default 1 s. */
  pollMs?: number;
  warn?: Warn;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** node-cron's key for a distributed task: `<task name>:<slot ISO time>`. */
export function splitTickKey(key: string): { schedule: string; tick: string } | undefined {
  const m = /^(.+):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$/.exec(key);
  return m ? { schedule: m[1]!, tick: m[2]! } : undefined;
}

export class SharedCoordinator implements Coordinator {
  readonly shared = true;
  readonly replicaId: string;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly ticks: TickCoordinator;
  private readonly store: CoordinationStore;
  private readonly warn: Warn;
  private readonly listeners = new Set<ChangeListener>();
  private unsubscribe: (() => Promise<void>) | undefined;
  /** Leases held by this process (a second taker in the same process is refused without asking the store). */
  private readonly held = new Map<string, { stop(): void }>();
  private readonly local = new Map<string, Promise<unknown>>();

  constructor(o: SharedCoordinatorOptions) {
    this.store = o.store;
    this.replicaId = o.replicaId;
    this.leaseMs = o.leaseMs ?? 30_000;
    this.pollMs = o.pollMs ?? 1000;
    this.warn = o.warn ?? (() => undefined);
    this.ticks = {
      shouldRun: async (key) => {
        const k = splitTickKey(key);
        if (!k) throw new TaxbridgeError('SCHEDULE_TICK_KEY', `unexpected tick key ${JSON.stringify(key.slice(0, 200))}`);
        return this.store.claimTick(k.schedule, k.tick);
      },
    };
  }

  jobs(q: QueueSpec): JobClaims {
    const store = this.store;
    const owner = this.replicaId;
    const leaseMs = this.leaseMs;
    const mine = new Set<string>();
    const orderBy = q.orderBy ? { field: q.orderBy } : undefined;
    const warn = this.warn;
    const claimOne = async (extra: Where): Promise<Record<string, unknown> | undefined> => {
      const now = new Date().toISOString();
      for (const where of q.due(now)) {
        // Claims expire by the store's clock (the database's); `now` only says which retries are due.
        const doc = await store.claimNext<Record<string, unknown>>(q.collection, { where: { ...where, ...extra }, ...(orderBy ? { orderBy } : {}), leaseMs, owner });
        if (doc) return doc;
      }
      return undefined;
    };
    return {
      polls: true,
      async claim(id) {
        if (mine.has(id)) return true;
        const doc = await claimOne({ id });
        if (!doc) return false;
        mine.add(id);
        return true;
      },
      async release(id) {
        if (!mine.delete(id)) return;
        await store.releaseClaim(q.collection, id, owner).catch((e: unknown) => warn('releasing a job claim failed; it expires by itself', { collection: q.collection, id, error: errorMessage(e) }));
      },
      heartbeat(id) {
        const t = setInterval(() => {
          void store.renewClaim(q.collection, id, owner, leaseMs).then(
            (ok) => {
              if (!ok) warn('a job claim was lost while the job ran (another replica may run it too)', { collection: q.collection, id });
            },
            (e: unknown) => warn('renewing a job claim failed', { collection: q.collection, id, error: errorMessage(e) }),
          );
        }, Math.max(50, Math.floor(leaseMs / 3)));
        t.unref();
        return () => clearInterval(t);
      },
      async claimDue(n) {
        const out: Array<{ id: string; partition: string }> = [];
        while (out.length < n) {
          const doc = await claimOne({});
          if (!doc) break;
          const id = String(doc.id);
          mine.add(id);
          out.push({ id, partition: q.partition(doc) });
        }
        return out;
      },
    };
  }

  async lease(name: string): Promise<HeldLease | undefined> {
    if (this.held.has(name)) return undefined;
    // Reserved before the await, so two callers in this process never both ask.
    this.held.set(name, { stop: () => undefined });
    let got = false;
    try {
      got = await this.store.tryAcquireLease(name, this.replicaId, this.leaseMs);
    } finally {
      if (!got) this.held.delete(name);
    }
    if (!got) return undefined;
    const abort = new AbortController();
    let lastOk = Date.now();
    const every = Math.max(50, Math.floor(this.leaseMs / 3));
    const timer = setInterval(() => {
      void this.store.tryAcquireLease(name, this.replicaId, this.leaseMs).then(
        (ok) => {
          if (ok) lastOk = Date.now();
          else if (!abort.signal.aborted) abort.abort(new TaxbridgeError('LEASE_LOST', `the lease ${name} was taken by another replica`));
        },
        (e: unknown) => {
          this.warn('renewing a lease failed', { lease: name, error: errorMessage(e) });
          if (Date.now() - lastOk > this.leaseMs && !abort.signal.aborted) abort.abort(new TaxbridgeError('LEASE_LOST', `the lease ${name} could not be renewed for ${this.leaseMs} ms`));
        },
      );
    }, every);
    timer.unref();
    const stop = () => clearInterval(timer);
    this.held.set(name, { stop });
    let released = false;
    return {
      name,
      signal: abort.signal,
      release: async () => {
        if (released) return;
        released = true;
        stop();
        this.held.delete(name);
        await this.store.releaseLease(name, this.replicaId).catch((e: unknown) => this.warn('releasing a lease failed; it expires by itself', { lease: name, error: errorMessage(e) }));
      },
    };
  }

  exclusive<T>(name: string, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
    // Callers in this process queue up in memory; one at a time asks the store.
    const prev = this.local.get(name) ?? Promise.resolve();
    const run = prev
      .catch(() => undefined)
      .then(async () => {
        const end = Date.now() + waitMs;
        let wait = 25;
        for (;;) {
          const l = await this.lease(name);
          if (l) {
            try {
              return await fn();
            } finally {
              await l.release();
            }
          }
          if (Date.now() > end) throw new TaxbridgeError('LEASE_WAIT_TIMEOUT', `another replica held ${name} for more than ${waitMs} ms`, { hint: 'retry; a replica that died releases it when its lease expires' });
          await sleep(wait);
          wait = Math.min(250, wait * 2);
        }
      });
    const tail = run.catch(() => undefined);
    this.local.set(name, tail);
    void tail.then(() => {
      if (this.local.get(name) === tail) this.local.delete(name);
    });
    return run;
  }

  async changed(topic: ChangeTopic, id: string): Promise<void> {
    this.emit(topic, id, 'local');
    await this.store.publish(CHANGES_TOPIC, JSON.stringify({ t: topic, id, r: this.replicaId }));
  }

  onChange(fn: ChangeListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(topic: ChangeTopic, id: string, origin: 'local' | 'remote'): void {
    for (const fn of this.listeners) {
      try {
        fn(topic, id, origin);
      } catch (e) {
        this.warn('a change listener failed', { topic, error: errorMessage(e) });
      }
    }
  }

  /** A notice from another process: only well-formed ones (the channel is shared by every client of the database). */
  private received(message: string): void {
    let m: { t?: unknown; id?: unknown; r?: unknown };
    try {
      m = JSON.parse(message) as typeof m;
    } catch {
      return;
    }
    if (m === null || typeof m !== 'object' || m.r === this.replicaId) return;
    if (typeof m.t !== 'string' || !(CHANGE_TOPICS as readonly string[]).includes(m.t)) return;
    if (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > MAX_ID) return;
    this.emit(m.t as ChangeTopic, m.id, 'remote');
  }

  async start(): Promise<void> {
    this.unsubscribe ??= await this.store.subscribe(CHANGES_TOPIC, (msg) => this.received(msg));
    // Whatever changed before we listened is unknown: caches start over.
    for (const t of CHANGE_TOPICS) this.emit(t, '*', 'remote');
  }

  async stop(): Promise<void> {
    for (const h of this.held.values()) h.stop();
    const u = this.unsubscribe;
    this.unsubscribe = undefined;
    this.listeners.clear();
    await u?.().catch(() => undefined);
  }
}
