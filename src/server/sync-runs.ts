/**
 * Syncs started through the admin API (POST /admin/connections/:id/sync), remembered while the server runs
 * so a client can follow one until it ends (GET /admin/connections/:id/syncs/:run): queued behind the
 * connection's other runs, running with the last committed page's progress, then its per-stream summaries.
 * Bounded: the last RUNS_KEPT runs per connection (the lasting record of every stream's run is sync_runs).
 */
import { randomBytes } from 'node:crypto';
import type { SyncProgress, SyncSummary } from '../sync/index.ts';

const RUNS_KEPT = 20;
/** Record failures shown per stream (the stored sync_runs keep up to 1000). */
const FAILURES_SHOWN = 5;

export type SyncRunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped';

export interface SyncRunView {
  id: string;
  connection_id: string;
  streams: string[];
  full: boolean;
  status: SyncRunStatus;
  queued_at: string;
  started_at?: string;
  finished_at?: string;
  /** The last committed page of the stream being read. */
  progress?: SyncProgress;
  /** Once ended: each stream's summary (its first failures only). */
  summaries?: SyncSummary[];
  error?: { code: string; message: string };
}

export class SyncRuns {
  private readonly byConnection = new Map<string, SyncRunView[]>();

  create(connectionId: string, streams: string[], full: boolean): SyncRunView {
    const run: SyncRunView = { id: `sync_${randomBytes(9).toString('base64url')}`, connection_id: connectionId, streams, full, status: 'queued', queued_at: new Date().toISOString() };
    const list = this.byConnection.get(connectionId) ?? [];
    list.push(run);
    if (list.length > RUNS_KEPT) list.splice(0, list.length - RUNS_KEPT);
    this.byConnection.set(connectionId, list);
    return run;
  }

  get(connectionId: string, id: string): SyncRunView | undefined {
    return this.byConnection.get(connectionId)?.find((r) => r.id === id);
  }

  started(run: SyncRunView): void {
    run.status = 'running';
    run.started_at = new Date().toISOString();
  }

  progress(run: SyncRunView, p: SyncProgress): void {
    run.progress = { ...p };
  }

  finished(run: SyncRunView, summaries: SyncSummary[] | undefined, error?: { code: string; message: string }): void {
    run.finished_at = new Date().toISOString();
    if (error) {
      run.status = 'failed';
      run.error = error;
    } else if (!summaries) {
      run.status = 'stopped';
    } else {
      run.status = summaries.every((s) => s.status === 'ok') ? 'succeeded' : 'failed';
      run.summaries = summaries.map((s) => ({ ...s, failures: s.failures.slice(0, FAILURES_SHOWN) }));
    }
    delete run.progress;
  }
}
