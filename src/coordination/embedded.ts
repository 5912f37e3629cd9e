/**
 * One process owns the store (the embedded store's folder lock): every job is in this process's queue, every
 * tick runs here, and a lock in memory is a lock everywhere. Claims are always granted and nothing polls, so
 * behaviour is what it was before replicas existed. Leases and `exclusive` still exclude within the process.
 */
import { TaxbridgeError } from '../errors.ts';
import type { ChangeListener, ChangeTopic, Coordinator, HeldLease, JobClaims, QueueSpec } from './types.ts';

/** Claims of a queue only this process runs: always granted, never polled. */
export const LOCAL_CLAIMS: JobClaims = {
  polls: false,
  claim: async () => true,
  release: async () => undefined,
  heartbeat: () => () => undefined,
  claimDue: async () => [],
};

export class EmbeddedCoordinator implements Coordinator {
  readonly shared = false;
  readonly replicaId: string;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly ticks = undefined;
  private readonly held = new Set<string>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly listeners = new Set<ChangeListener>();

  constructor(o: { replicaId?: string; leaseMs?: number; pollMs?: number } = {}) {
    this.replicaId = o.replicaId ?? `local-${process.pid}`;
    this.leaseMs = o.leaseMs ?? 30_000;
    this.pollMs = o.pollMs ?? 1000;
  }

  jobs(_queue: QueueSpec): JobClaims {
    return LOCAL_CLAIMS;
  }

  async lease(name: string): Promise<HeldLease | undefined> {
    if (this.held.has(name)) return undefined;
    this.held.add(name);
    const abort = new AbortController();
    return {
      name,
      signal: abort.signal,
      release: async () => {
        this.held.delete(name);
      },
    };
  }

  exclusive<T>(name: string, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
    const prev = this.chains.get(name) ?? Promise.resolve();
    const waited = Promise.race([
      prev.catch(() => undefined),
      new Promise((_, reject) => setTimeout(() => reject(new TaxbridgeError('LEASE_WAIT_TIMEOUT', `waited ${waitMs} ms for ${name}`)), waitMs).unref()),
    ]);
    const run = waited.then(fn);
    const tail = run.catch(() => undefined);
    this.chains.set(name, tail);
    void tail.then(() => {
      if (this.chains.get(name) === tail) this.chains.delete(name);
    });
    return run;
  }

  async changed(topic: ChangeTopic, id: string): Promise<void> {
    for (const fn of this.listeners) fn(topic, id, 'local');
  }

  onChange(fn: ChangeListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.listeners.clear();
  }
}
