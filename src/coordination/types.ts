/**
 * How background work is shared when several `taxbridge serve` replicas use one store. Every replica serves
 * every request; what must happen once is coordinated here:
 * - queue jobs (webhook inbox, write-back) are claimed before they run, with a visibility timeout, so a job
 *   held by a killed replica is claimed again after its claim expires (JobClaims);
 * - a sync of one (connection, stream) holds a lease renewed by heartbeats while it runs (lease);
 * - each cron tick of each schedule runs on one replica (tickCoordinator, node-cron's distributed mode);
 * - an OAuth token refresh runs under a lease, once across replicas (exclusive);
 * - caches of documents other replicas can change are dropped when told (changes).
 *
 * Two implementations: `EmbeddedCoordinator` (one process owns the data folder: today's behaviour, claims
 * always granted, leases and locks in memory) and `SharedCoordinator` (the store's claims, leases, tick rows
 * and LISTEN/NOTIFY: PostgreSQL).
 */

/** The collections whose documents other replicas change and this one caches. */
export type ChangeTopic = 'api_keys' | 'organizations' | 'connections';
export const CHANGE_TOPICS: readonly ChangeTopic[] = ['api_keys', 'organizations', 'connections'];

import type { Where } from '../store/types.ts';

/** Conditions on document fields, as the store's queries take them. */
export type DueWhere = Where;

/** Which jobs of a queue are due: each entry is one query (its conditions ANDed); the queries are ORed. */
export interface QueueSpec {
  collection: string;
  /** Queries of due jobs at `now` (ISO), e.g. pending, and retrying with next_attempt_at <= now. */
  due(now: string): DueWhere[];
  /** The partition a claimed job runs in (jobs of one partition run one at a time in this replica). */
  partition(doc: Record<string, unknown>): string;
  /** Order of claiming (oldest first). */
  orderBy?: string;
}

/** A job this replica holds. */
export interface JobClaims {
  /**
   * Claims job `id` for this replica (true when it already holds it); false when another replica holds a live
   * claim, or the job is no longer due. Embedded: always true.
   */
  claim(id: string): Promise<boolean>;
  /** Ends this replica's claim (after the job's outcome is saved); the job is free for whoever claims it next. */
  release(id: string): Promise<void>;
  /** Keeps the claim alive while the job runs (heartbeats); stop when done. */
  heartbeat(id: string): () => void;
  /** Claims up to `n` due jobs no live claim holds (a killed replica's after their claim expired). */
  claimDue(n: number): Promise<Array<{ id: string; partition: string }>>;
  /** Whether claimDue can ever find anything (false in the embedded store: the local queue has every job). */
  readonly polls: boolean;
}

/** A lease this replica holds; `signal` aborts when it is lost (a heartbeat failed to renew it in time). */
export interface HeldLease {
  readonly name: string;
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

/** node-cron's RunCoordinator (distributed tasks): true on exactly one replica per key (schedule + tick slot). */
export interface TickCoordinator {
  shouldRun(key: string, ttlMs: number): boolean | Promise<boolean>;
}

export type ChangeListener = (topic: ChangeTopic, id: string, origin: 'local' | 'remote') => void;

export interface Coordinator {
  /** Several processes may share the store: background work is claimed, leased and polled. */
  readonly shared: boolean;
  /** This process's id among the replicas (claims and leases name it). */
  readonly replicaId: string;
  /** Visibility timeout of claims and time-to-live of leases, ms. */
  readonly leaseMs: number;
  /** How often due jobs of other replicas and orphaned syncs are looked for, ms. */
  readonly pollMs: number;
  jobs(queue: QueueSpec): JobClaims;
  /** Takes the named lease now, or undefined when another replica (or this one) holds it. Renewed until released. */
  lease(name: string): Promise<HeldLease | undefined>;
  /** Runs `fn` holding the named lease, waiting for it when held elsewhere (at most `waitMs`). */
  exclusive<T>(name: string, fn: () => Promise<T>, waitMs?: number): Promise<T>;
  /** For node-cron `distributed` tasks; undefined: every tick runs here (one process). */
  readonly ticks: TickCoordinator | undefined;
  /** Tells every replica (this one included) that a cached document changed. */
  changed(topic: ChangeTopic, id: string): Promise<void>;
  /**
   * Called for each change, `origin` telling whether this process made it; `id` '*' when changes may have been
   * missed (drop everything). Returns unsubscribe.
   */
  onChange(fn: ChangeListener): () => void;
  /** Starts listening for changes. */
  start(): Promise<void>;
  stop(): Promise<void>;
}
