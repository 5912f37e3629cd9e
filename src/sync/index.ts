export { runSync, runStream } from './run.ts';
export { fetchRecord, type FetchResult } from './fetch.ts';
export { mapRecord, mappingBindings, type MappedRecord } from './map.ts';
export { readStream, type ReadPage } from './read.ts';
export { prepareConnection } from './connection.ts';
export { cursorInstant, formatCursor, changedSince } from './cursor.ts';
export { checkpointId, loadStreamState } from './state.ts';
export type { SyncSummary, SyncProgress, SyncMode, RecordFailure, RunSyncOptions, StreamState, SyncLogger, ChangedRecord } from './types.ts';
