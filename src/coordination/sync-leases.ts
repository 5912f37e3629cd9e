/**
 * Syncs under leases: one (connection, stream) syncs on one replica at a time. The lease is renewed by
 * heartbeats while the stream runs; a replica that dies stops renewing, the lease expires, and another
 * replica's orphan check (src/server/connection-runtime.ts) takes it and resumes from the stream's checkpoint.
 */
import type { Coordinator, HeldLease } from './types.ts';

export function syncLeaseName(connectionId: string, stream: string): string {
  return `sync:${connectionId}/${stream}`;
}

/** The backfill of a connection as a whole (its streams are leased one by one as they run). */
export function backfillLeaseName(connectionId: string): string {
  return `backfill:${connectionId}`;
}

export interface SyncLeases {
  /** The stream's lease, or undefined when another run holds it. */
  claimStream(stream: string): Promise<HeldLease | undefined>;
}

export function holdSyncLease(c: Pick<Coordinator, 'lease'>, connectionId: string): SyncLeases {
  return { claimStream: (stream) => c.lease(syncLeaseName(connectionId, stream)) };
}
