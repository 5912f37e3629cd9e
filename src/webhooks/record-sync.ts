import type { ResolvedConnection } from './connections.ts';

/**
 * How event processing changes stored entities: map a payload record through the stream's mapping and
 * store it (upsert), or read the record again by id from the system (refetch). The default implementation
 * (./sync-records.ts) uses src/sync; tests may pass their own.
 */
export interface RecordSync {
  upsert(c: ResolvedConnection, stream: string, record: unknown): Promise<RecordChange>;
  refetch(c: ResolvedConnection, stream: string, id: string): Promise<RecordChange>;
}

export interface RecordChange {
  externalId: string;
  /** created | updated | unchanged | deleted | stale (an older payload than the stored one) | not_found */
  result: 'created' | 'updated' | 'unchanged' | 'deleted' | 'stale' | 'not_found';
}
