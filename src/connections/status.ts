/**
 * Where a connection stands, from what the store holds: per stream the last sync run and the stored entity
 * counts; the backfill; the last webhook and the events that failed; write-backs pending and dead; and the
 * recent errors of all of these, newest first.
 */
import type { Store } from '../store/types.ts';
import type { ConnectorSpec } from '../spec/types.ts';
import type { SyncSummary } from '../sync/index.ts';
import type { ConnectionDoc } from './model.ts';
import { authorizationView, type AuthorizationView } from './view.ts';

const LAST_SYNC_FIELDS = ['id', 'mode', 'status', 'started_at', 'finished_at', 'records', 'created', 'updated', 'unchanged', 'failed', 'deleted'] as const;

/** The last run of a stream, as shown in a connection's status. */
export type LastSync = Partial<Pick<SyncSummary, (typeof LAST_SYNC_FIELDS)[number]>> & { status: SyncSummary['status']; error?: { code: string; message: string } };

const SYNC_RUNS = 'sync_runs';
const EVENTS = 'webhook_events';
const JOBS = 'writeback_jobs';

export interface StreamStatus {
  entity: string;
  counts: { active: number; deleted: number };
  last_sync?: LastSync;
  last_success_at?: string;
  /** A run of this stream is going on now (known only to the serving process). */
  running?: boolean;
  /** Its (first) cron schedule in the serving process, and the next run. */
  schedule?: { cron: string; mode?: string; next_run: string | null };
  /** Every schedule of the stream (`schedules` in the spec), each with its mode and next run. */
  schedules?: Array<{ cron: string; mode?: string; timezone?: string; next_run: string | null }>;
}

export interface StatusError {
  source: 'connection' | 'sync' | 'webhook' | 'writeback';
  code: string;
  message: string;
  at: string;
  ref?: string;
}

export interface ConnectionStatusReport {
  id: string;
  status: ConnectionDoc['status'];
  next_step?: ConnectionDoc['next_step'];
  /** OAuth connections: when authorized, when the access token expires (refreshed before), scope. */
  authorization?: AuthorizationView;
  backfill?: ConnectionDoc['backfill'];
  streams: Record<string, StreamStatus>;
  webhooks: {
    mode: ConnectionDoc['webhook']['mode'];
    skipped?: boolean;
    received: number;
    failed: number;
    pending: number;
    last?: { id: string; event_type: string; status: string; received_at: string };
  };
  writebacks: { pending: number; dead: number; applied: number; no_tax: number; unchanged: number; last?: { id: string; document_id: string; status: string; updated_at: string; reason?: string } };
  errors: StatusError[];
}

/** A stored sync run (src/sync's SyncSummary) as far as status needs it. */
type SyncRunDoc = Pick<SyncSummary, 'connection_id' | 'stream'> & LastSync;

/** The write-back counts a status reports, and the job statuses each one counts. */
const JOB_COUNTS = [
  ['pending', ['pending', 'running', 'retrying']],
  ['dead', ['dead']],
  ['applied', ['applied']],
  ['no_tax', ['no_tax']],
  ['unchanged', ['unchanged']],
] as const satisfies ReadonlyArray<readonly [string, readonly string[]]>;

interface EventDocLite {
  id: string;
  connection_id: string;
  event_type: string;
  status: string;
  received_at: string;
  last_error?: { code: string; message: string; at: string };
}

interface JobDocLite {
  id: string;
  connection_id: string;
  document_id: string;
  status: string;
  reason?: string;
  updated_at: string;
  last_error?: { code: string; message: string; at: string };
}

const newestFirst = (a: string | undefined, b: string | undefined): number => ((a ?? '') < (b ?? '') ? 1 : (a ?? '') > (b ?? '') ? -1 : 0);

export async function connectionStatus(store: Store, doc: ConnectionDoc, spec: ConnectorSpec | undefined, running: ReadonlySet<string> = new Set()): Promise<ConnectionStatusReport> {
  // Counts and the few newest documents, each an indexed query: a connection's whole history is never loaded.
  const mine = { connection_id: doc.id };
  const newest = (collection: string, field: string, status?: readonly string[]) =>
    store.find<EventDocLite & JobDocLite>(collection, { where: { ...mine, ...(status ? { status: { in: [...status] } } : {}) }, orderBy: { field, desc: true }, limit: status ? 10 : 1 }).then((p) => p.docs);
  const countOf = (collection: string, status?: readonly string[]) => store.count(collection, { ...mine, ...(status ? { status: { in: [...status] } } : {}) });
  const [runsPage, lastEvents, eventErrors, received, failedEvents, pendingEvents, lastJobs, jobErrors, ...jobCounts] = await Promise.all([
    store.find<SyncRunDoc>(SYNC_RUNS, { where: mine }),
    newest(EVENTS, 'received_at'),
    newest(EVENTS, 'received_at', ['failed', 'retrying']),
    countOf(EVENTS),
    countOf(EVENTS, ['failed']),
    countOf(EVENTS, ['pending', 'retrying']),
    newest(JOBS, 'updated_at'),
    newest(JOBS, 'updated_at', ['dead', 'retrying']),
    ...JOB_COUNTS.map(([, s]) => countOf(JOBS, s)),
  ]);
  const runs = runsPage.docs;
  const errors: StatusError[] = [];
  if (doc.last_error) errors.push({ source: 'connection', ...doc.last_error });

  const streams: Record<string, StreamStatus> = {};
  const streamNames = spec ? Object.keys(spec.streams) : [...new Set(runs.map((r) => r.stream))];
  runs.sort((a, b) => newestFirst(a.finished_at ?? a.started_at, b.finished_at ?? b.started_at));
  for (const name of streamNames) {
    const own = runs.filter((r) => r.stream === name);
    const last = own[0];
    const lastOk = own.find((r) => r.status === 'ok');
    const st: StreamStatus = { entity: spec?.streams[name]?.entity ?? 'unknown', counts: await store.countEntities(doc.id, name) };
    if (last) {
      st.last_sync = Object.fromEntries(LAST_SYNC_FIELDS.filter((k) => last[k] !== undefined).map((k) => [k, last[k]])) as unknown as LastSync;
      if (last.error) st.last_sync.error = { code: last.error.code, message: last.error.message };
      if (last.status === 'failed' && last.error) errors.push({ source: 'sync', code: last.error.code, message: last.error.message, at: last.finished_at ?? last.started_at ?? '', ref: name });
    }
    if (lastOk?.finished_at) st.last_success_at = lastOk.finished_at;
    if (running.has(name)) st.running = true;
    streams[name] = st;
  }

  const lastEvent = lastEvents[0];
  for (const e of eventErrors) {
    if (e.last_error) errors.push({ source: 'webhook', code: e.last_error.code, message: e.last_error.message, at: e.last_error.at, ref: e.id });
  }

  for (const j of jobErrors) {
    if (j.last_error) errors.push({ source: 'writeback', code: j.last_error.code, message: j.last_error.message, at: j.last_error.at, ref: j.id });
  }
  const lastJob = lastJobs[0];

  errors.sort((a, b) => newestFirst(a.at, b.at));
  return {
    id: doc.id,
    status: doc.status,
    ...(doc.next_step ? { next_step: doc.next_step } : {}),
    ...(doc.oauth ? { authorization: authorizationView(doc.oauth) } : {}),
    ...(doc.backfill ? { backfill: doc.backfill } : {}),
    streams,
    webhooks: {
      mode: doc.webhook.mode,
      ...(doc.webhook.skipped ? { skipped: true } : {}),
      received,
      failed: failedEvents,
      pending: pendingEvents,
      ...(lastEvent ? { last: { id: lastEvent.id, event_type: lastEvent.event_type, status: lastEvent.status, received_at: lastEvent.received_at } } : {}),
    },
    writebacks: {
      ...(Object.fromEntries(JOB_COUNTS.map(([name], i) => [name, jobCounts[i]])) as Record<(typeof JOB_COUNTS)[number][0], number>),
      ...(lastJob ? { last: { id: lastJob.id, document_id: lastJob.document_id, status: lastJob.status, updated_at: lastJob.updated_at, ...(lastJob.reason ? { reason: lastJob.reason } : {}) } } : {}),
    },
    errors: errors.slice(0, 20),
  };
}
