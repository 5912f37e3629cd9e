/**
 * The coordinator for a store: shared (claims, leases, tick rows, LISTEN/NOTIFY) when the store is one that
 * several processes can open at once (PostgreSQL), embedded (today's single-process behaviour) otherwise.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { EmbeddedCoordinator } from './embedded.ts';
import { SharedCoordinator, isCoordinationStore } from './shared.ts';
import type { Coordinator } from './types.ts';

export type * from './types.ts';
export { EmbeddedCoordinator, LOCAL_CLAIMS } from './embedded.ts';
export { SharedCoordinator, isCoordinationStore, splitTickKey, CHANGES_TOPIC, type CoordinationStore } from './shared.ts';
export { ClaimedRuns, type RunResult } from './claimed-runs.ts';
export { holdSyncLease, syncLeaseName, backfillLeaseName, type SyncLeases } from './sync-leases.ts';

/** A replica id: host, process and a random part (a restarted process on the same pid is a new replica). */
export function newReplicaId(): string {
  return `${hostname().slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export interface CoordinatorOptions {
  replicaId?: string;
  leaseMs?: number;
  pollMs?: number;
  warn?: (message: string, fields?: Record<string, unknown>) => void;
}

export function createCoordinator(store: object, o: CoordinatorOptions = {}): Coordinator {
  const replicaId = o.replicaId ?? newReplicaId();
  if ((store as { kind?: string }).kind === 'postgres' && isCoordinationStore(store)) return new SharedCoordinator({ store, replicaId, leaseMs: o.leaseMs, pollMs: o.pollMs, warn: o.warn });
  return new EmbeddedCoordinator({ replicaId, leaseMs: o.leaseMs, pollMs: o.pollMs });
}
export { announceChanges } from './changes.ts';
