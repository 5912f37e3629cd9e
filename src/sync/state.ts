import type { Store } from '../store/types.ts';
import type { StreamState } from './types.ts';

export function checkpointId(connectionId: string, stream: string): string {
  return `${connectionId}:${stream}`;
}

/** The stream's checkpoint, from the stream's own file when the store can (it commits with the pages). */
export async function loadStreamState(store: Store, connectionId: string, stream: string): Promise<StreamState | undefined> {
  const id = checkpointId(connectionId, stream);
  const value = store.getCheckpoint ? await store.getCheckpoint(connectionId, stream, id) : await store.get<StreamState>('sync_state', id);
  return value as StreamState | undefined;
}
