/**
 * What runs for each active connection in `taxbridge serve`: the backfill when it becomes active (resumed
 * after a restart if it was interrupted), the spec's cron schedules, and syncs asked for through the admin
 * API. Runs of one connection go one at a time (a scheduled run waits for the backfill), so a stream never
 * syncs twice at once. Disconnecting stops the schedules and aborts the run in progress; a stopped run
 * resumes from its last checkpoint the next time. Documents a sync stores new or changed are handed to the
 * write-back service when their kind declares `trigger: [sync]` (same job key as a webhook's, so each
 * change is written once; a document already carrying its tax is `unchanged`, which stops the loop of the
 * system's own update after our write).
 */
import { observeSyncFailure, observeSyncStream } from '../metrics/hooks.ts';
import { TaxbridgeError, errorMessage, errorRecord, isCode } from '../errors.ts';
import type { HttpClient } from '../http/index.ts';
import type { Logger } from '../log/index.ts';
import type { BackfillState, ConnectionDoc } from '../connections/model.ts';
import type { ConnectionService } from '../connections/service.ts';
import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';
import type { Store } from '../store/types.ts';
import { compileExpression, type Expression } from '../expressions/index.ts';
import type { ChangedRecord, RunSyncOptions, SyncSummary } from '../sync/index.ts';
import type { DocumentKind } from '../writeback/jobs.ts';
import type { WritebackService } from '../writeback/service.ts';
import { writebackConnection } from '../writeback/plan.ts';
import type { SyncRunner } from './connections-api.ts';
import type { Coordinator } from '../coordination/types.ts';
import { backfillLeaseName, holdSyncLease, syncLeaseName } from '../coordination/sync-leases.ts';
import { loadStreamState } from '../sync/state.ts';
import { SyncRuns, type SyncRunView } from './sync-runs.ts';

/** A started set of cron tasks for one connection. */
export interface ScheduleHandle {
  stop(): Promise<void> | void;
  /** The schedules (a stream may have several) and when each runs next. */
  streams?: ReadonlyArray<{ stream: string; cron: string; mode?: 'incremental' | 'full'; timezone?: string; nextRun(): Date | null }>;
}

/** Starts the spec's schedules of one connection; `run` syncs one stream in the given mode. */
export type StartSchedules = (opts: {
  spec: ConnectorSpec;
  conn: ConnectionContext;
  run: (stream: string, mode: 'incremental' | 'full') => Promise<unknown>;
  log: Logger;
  /** Several replicas: elects the replica that runs each tick (src/coordination). */
  ticks?: Coordinator['ticks'];
}) => ScheduleHandle | undefined;

export interface ConnectionRuntimeOptions {
  connections: ConnectionService;
  store: Store;
  runSync: (opts: RunSyncOptions) => Promise<SyncSummary[]>;
  /** An HTTP client per connection shared with webhook processing (one rate budget per connection). */
  client?: (doc: ConnectionDoc, spec: ConnectorSpec, conn: ConnectionContext) => HttpClient;
  startSchedules?: StartSchedules;
  log: Logger;
  /** Backfill connections when they become active. Default true. */
  backfill?: boolean;
  /** Run cron schedules. Default true. */
  schedules?: boolean;
  /** Write-back for documents a sync stores new or changed (kinds with `trigger` including `sync`). */
  writeback?: Pick<WritebackService, 'request'>;
  /**
   * Several replicas on one store (src/coordination): each stream syncs under a lease, a backfill runs on one
   * replica, cron ticks are elected, syncs a dead replica left are resumed here, and connections changed by
   * another replica are started, restarted or stopped here too. Default: this process only.
   */
  coordinator?: Coordinator;
}

type Trigger = 'backfill' | 'schedule' | 'api' | 'resume';

/** A stream's schedules as connection status shows them: the first at the top (older clients), all in `schedules`. */
export interface StreamSchedules {
  cron: string;
  mode?: 'incremental' | 'full';
  next_run: string | null;
  schedules: Array<{ cron: string; mode?: 'incremental' | 'full'; timezone?: string; next_run: string | null }>;
}

interface Active {
  doc: ConnectionDoc;
  schedules?: ScheduleHandle;
  abort: AbortController;
  /** Tail of the connection's run queue. */
  tail: Promise<unknown>;
  queued: number;
  running: Set<string>;
}

export class ConnectionRuntime implements SyncRunner {
  private readonly active = new Map<string, Active>();
  private readonly all = new Set<Promise<unknown>>();
  private readonly apiRuns = new SyncRuns();
  private stopping = false;
  private readonly log: Logger;
  private orphanTimer: NodeJS.Timeout | undefined;
  private orphanCheck: Promise<void> | undefined;
  private checks = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: ConnectionRuntimeOptions) {
    this.log = opts.log;
  }

  private get shared(): Coordinator | undefined {
    return this.opts.coordinator?.shared ? this.opts.coordinator : undefined;
  }

  /** Activates every active connection in the store (after a restart: schedules, unfinished backfills). */
  async start(): Promise<number> {
    const docs = await this.opts.connections.list({ status: 'active' });
    for (const d of docs) await this.activate(d);
    const co = this.shared;
    if (co) {
      this.unsubscribe = co.onChange((topic, id, origin) => {
        if (topic === 'connections' && origin === 'remote') void this.remoteChange(id).catch((e: unknown) => this.log.warn('a connection changed by another replica was not applied here', { connection_id: id, error: e }));
      });
      // Twice the lease: a dead replica's lease has expired by the second look.
      this.orphanTimer = setInterval(() => {
        this.orphanCheck ??= this.resumeOrphans()
          .catch((e: unknown) => this.log.warn('looking for syncs left by other replicas failed', { error: e }))
          .finally(() => (this.orphanCheck = undefined));
      }, Math.max(co.pollMs, 250) * 2);
      this.orphanTimer.unref();
    }
    return docs.length;
  }

  /** Another replica changed a connection: start, restart or stop it here as well. */
  private async remoteChange(id: string): Promise<void> {
    if (this.stopping) return;
    if (id === '*') return this.reconcile();
    const doc = await this.opts.connections.store.get<ConnectionDoc>('connections', id);
    const entry = this.active.get(id);
    if (!doc || doc.status !== 'active') {
      if (entry) await this.deactivate({ id });
      return;
    }
    if (!entry) return this.activate(doc);
    // Backfill progress and token refreshes rewrite the document too: restart schedules only when they would change.
    if (scheduleInputs(entry.doc) !== scheduleInputs(doc)) await this.changed(doc);
    else entry.doc = doc;
  }

  /**
   * Syncs another replica left unfinished (it died: its lease expired): a stream whose checkpoint shows a
   * run in progress and whose lease is free resumes here from that checkpoint; a backfill still `running`
   * whose lease is free is taken over.
   */
  /**
   * Runs here exactly the connections that are active in the store (a notice lost with a dropped LISTEN
   * connection would otherwise leave a connection started or stopped elsewhere unknown here until a restart).
   */
  private async reconcile(): Promise<void> {
    const active = await this.opts.connections.list({ status: 'active' });
    const ids = new Set(active.map((d) => d.id));
    for (const id of [...this.active.keys()]) if (!ids.has(id)) await this.deactivate({ id });
    for (const d of active) await this.remoteChange(d.id);
  }

  private async resumeOrphans(): Promise<void> {
    const co = this.shared;
    if (!co || this.stopping) return;
    // About every 30 s: the set of running connections is checked against the store.
    if (++this.checks % 15 === 0) await this.reconcile();
    for (const entry of this.active.values()) {
      if (entry.queued > 0 || entry.abort.signal.aborted) continue;
      const doc = entry.doc;
      const b = doc.backfill?.status;
      if (this.opts.backfill !== false && (b === 'running' || b === 'pending')) {
        const l = await co.lease(backfillLeaseName(doc.id));
        if (l) {
          await l.release();
          this.log.info('taking over a backfill no replica is running', { connection_id: doc.id });
          void this.enqueue(entry, 'backfill', { full: true }).catch(() => undefined);
          continue;
        }
      }
      const spec = this.opts.connections.registry.find(doc.connector)?.spec;
      if (!spec) continue;
      for (const stream of Object.keys(spec.streams)) {
        const state = await loadStreamState(this.opts.store, doc.id, stream);
        if (!state?.run) continue;
        const l = await co.lease(syncLeaseName(doc.id, stream));
        if (!l) continue;
        await l.release();
        this.log.info('resuming a sync no replica is running, from its checkpoint', { connection_id: doc.id, stream, page: state.run.page, run_id: state.run.id });
        void this.enqueue(entry, 'resume', { streams: [stream], full: false }).catch(() => undefined);
      }
    }
  }

  get size(): number {
    return this.active.size;
  }

  async activate(doc: ConnectionDoc): Promise<void> {
    if (this.stopping || doc.status !== 'active' || this.active.has(doc.id)) return;
    const spec = this.opts.connections.registry.find(doc.connector)?.spec;
    const log = this.log.child({ connection_id: doc.id, connector: doc.connector });
    if (!spec) {
      log.error('connection not started: its connector spec is not loaded', { spec_path: doc.spec_path });
      return;
    }
    const entry: Active = { doc, abort: new AbortController(), tail: Promise.resolve(), queued: 0, running: new Set() };
    this.active.set(doc.id, entry);
    if (this.opts.schedules !== false && this.opts.startSchedules) {
      try {
        entry.schedules = this.opts.startSchedules({
          spec,
          conn: this.opts.connections.context(doc),
          log,
          run: (stream, mode) => this.enqueue(entry, 'schedule', { streams: [stream], full: mode === 'full' }),
          ...(this.shared ? { ticks: this.shared.ticks } : {}),
        });
      } catch (e) {
        log.error('schedules not started', { error: e });
      }
    }
    const b = doc.backfill?.status;
    if (this.opts.backfill !== false && (b === 'pending' || b === 'running')) {
      void this.enqueue(entry, 'backfill', { full: true }).catch(() => undefined);
    }
  }

  /** Settings or credentials changed: schedules restart with the new context. */
  async changed(doc: ConnectionDoc): Promise<void> {
    const entry = this.active.get(doc.id);
    if (!entry) return this.activate(doc);
    await entry.schedules?.stop();
    entry.schedules = undefined;
    entry.doc = doc;
    const spec = this.opts.connections.registry.find(doc.connector)?.spec;
    if (spec && this.opts.schedules !== false && this.opts.startSchedules) {
      entry.schedules = this.opts.startSchedules({
        spec,
        conn: this.opts.connections.context(doc),
        log: this.log.child({ connection_id: doc.id, connector: doc.connector }),
        run: (stream, mode) => this.enqueue(entry, 'schedule', { streams: [stream], full: mode === 'full' }),
        ...(this.shared ? { ticks: this.shared.ticks } : {}),
      });
    }
  }

  async deactivate(doc: Pick<ConnectionDoc, 'id'>): Promise<void> {
    const entry = this.active.get(doc.id);
    if (!entry) return;
    this.active.delete(doc.id);
    await entry.schedules?.stop();
    entry.abort.abort(new TaxbridgeError('CONNECTION_STOPPED', `connection ${doc.id} stopped`));
    await entry.tail.catch(() => undefined);
  }

  running(connectionId: string): ReadonlySet<string> {
    return this.active.get(connectionId)?.running ?? new Set();
  }

  schedules(connectionId: string): Record<string, StreamSchedules> {
    const out = new Map<string, StreamSchedules>();
    for (const s of this.active.get(connectionId)?.schedules?.streams ?? []) {
      const one = { cron: s.cron, ...(s.mode ? { mode: s.mode } : {}), ...(s.timezone ? { timezone: s.timezone } : {}), next_run: s.nextRun()?.toISOString() ?? null };
      const hit = out.get(s.stream);
      if (hit) hit.schedules.push(one);
      else out.set(s.stream, { cron: one.cron, ...(one.mode ? { mode: one.mode } : {}), next_run: one.next_run, schedules: [one] });
    }
    return Object.fromEntries(out);
  }

  syncNow(doc: ConnectionDoc, o: { streams?: string[]; full?: boolean }): { run_id: string; streams: string[]; full: boolean; started_at: string } {
    if (this.stopping) throw new TaxbridgeError('SHUTTING_DOWN', 'the server is shutting down');
    const entry = this.active.get(doc.id);
    if (!entry || doc.status !== 'active') {
      throw new TaxbridgeError('CONNECTION_NOT_ACTIVE', `connection ${doc.id} is ${doc.status}${doc.next_step ? ` (waiting for ${doc.next_step.step.replace('_', ' ')})` : ''}; only active connections sync`);
    }
    if (entry.queued > 0) throw new TaxbridgeError('SYNC_ALREADY_RUNNING', `a sync of connection ${doc.id} is already running or waiting (${[...entry.running].join(', ') || 'queued'})`, { hint: 'wait for it to finish; follow it with GET /admin/connections/:id' });
    const spec = this.opts.connections.specOf(doc);
    const streams = o.streams?.length ? o.streams : Object.keys(spec.streams);
    const run = this.apiRuns.create(doc.id, streams, !!o.full);
    void this.enqueue(entry, 'api', { streams, full: !!o.full }, run).catch(() => undefined);
    return { run_id: run.id, streams, full: !!o.full, started_at: run.queued_at };
  }

  syncRun(connectionId: string, runId: string): SyncRunView | undefined {
    return this.apiRuns.get(connectionId, runId);
  }

  /** Queues a run on the connection's line; resolves with its summaries. */
  private enqueue(entry: Active, trigger: Trigger, o: { streams?: string[]; full: boolean }, followed?: SyncRunView): Promise<SyncSummary[] | undefined> {
    entry.queued++;
    const run = entry.tail
      .then(() => this.runOnce(entry, trigger, o, followed))
      .then(
        (summaries) => {
          if (followed) this.apiRuns.finished(followed, summaries);
          return summaries;
        },
        (e) => {
          if (followed) this.apiRuns.finished(followed, undefined, errorRecord(e, 'SYNC_FAILED'));
          throw e;
        },
      )
      .finally(() => entry.queued--);
    entry.tail = run.catch(() => undefined);
    this.all.add(run);
    run.finally(() => this.all.delete(run)).catch(() => undefined);
    return run;
  }

  private async runOnce(entry: Active, trigger: Trigger, o: { streams?: string[]; full: boolean }, followed?: SyncRunView): Promise<SyncSummary[] | undefined> {
    if (this.stopping || entry.abort.signal.aborted) return undefined;
    const { connections } = this.opts;
    // Read the connection again: credentials may have changed since it was queued.
    const doc = await connections.store.get<ConnectionDoc>('connections', entry.doc.id);
    if (!doc || doc.status !== 'active') return undefined;
    const co = this.shared;
    if (co && trigger === 'backfill') {
      // One replica backfills; the others (all activate the connection) find it done or taken.
      if (doc.backfill?.status !== 'pending' && doc.backfill?.status !== 'running') return undefined;
      const lease = await co.lease(backfillLeaseName(doc.id));
      if (!lease) {
        this.log.debug('backfill runs on another replica', { connection_id: doc.id });
        return undefined;
      }
      try {
        return await this.runLeased(entry, trigger, o, doc, co, followed);
      } finally {
        await lease.release();
      }
    }
    return this.runLeased(entry, trigger, o, doc, co, followed);
  }

  private async runLeased(entry: Active, trigger: Trigger, o: { streams?: string[]; full: boolean }, doc: ConnectionDoc, co: Coordinator | undefined, followed?: SyncRunView): Promise<SyncSummary[] | undefined> {
    const { connections } = this.opts;
    const spec = connections.specOf(doc);
    const conn = connections.context(doc);
    const log = this.log.child({ connection_id: doc.id, connector: doc.connector, trigger });
    const startedAt = new Date().toISOString();
    if (followed) this.apiRuns.started(followed);
    if (trigger === 'backfill') {
      await connections.recordBackfill(doc.id, { status: 'running', started_at: doc.backfill?.started_at ?? startedAt });
      log.info('backfill started', { streams: Object.keys(spec.streams) });
    } else {
      log.info('sync started', { streams: o.streams, full: o.full });
    }
    let summaries: SyncSummary[];
    try {
      summaries = await this.opts.runSync({
        spec,
        conn,
        store: this.opts.store,
        ...(this.opts.client ? { http: this.opts.client(doc, spec, conn) } : {}),
        ...(o.streams ? { streams: o.streams } : {}),
        full: o.full,
        signal: entry.abort.signal,
        ...(co ? { leases: resumeOnly(holdSyncLease(co, doc.id), trigger === 'resume', this.opts.store, doc.id) } : {}),
        logger: log,
        ...this.syncWriteback(doc, spec, conn, log),
        onProgress: (p) => {
          entry.running.clear();
          entry.running.add(p.stream);
          if (followed) this.apiRuns.progress(followed, p);
        },
      });
    } catch (e) {
      entry.running.clear();
      if (entry.abort.signal.aborted || this.stopping) {
        log.info(`${trigger === 'backfill' ? 'backfill' : 'sync'} stopped; it resumes from its checkpoint next time`);
        return undefined;
      }
      log.error(`${trigger === 'backfill' ? 'backfill' : 'sync'} failed`, { error: e });
      observeSyncFailure(doc, e);
      if (trigger === 'backfill') {
        await connections.recordBackfill(doc.id, { status: 'failed', started_at: startedAt, finished_at: new Date().toISOString(), error: { ...errorRecord(e, 'SYNC_FAILED'), at: new Date().toISOString() } });
      }
      throw e;
    }
    entry.running.clear();
    for (const s of summaries) {
      if (s.error && (isCode(s.error.code, 'SYNC_RUNNING_ELSEWHERE') || isCode(s.error.code, 'SYNC_NOTHING_TO_RESUME'))) {
        log.debug(`stream not synced here: ${s.error.message}`, { stream: s.stream });
        continue;
      }
      observeSyncStream(s);
      const fields = { stream: s.stream, mode: s.mode, status: s.status, pages: s.pages, records: s.records, created: s.created, updated: s.updated, unchanged: s.unchanged, failed: s.failed, deleted: s.deleted, duration_ms: s.duration_ms };
      if (s.status === 'failed') log.warn('stream sync failed', { ...fields, error: s.error });
      else log.info('stream synced', fields);
    }
    if (trigger === 'backfill') {
      const failed = summaries.find((s) => s.status === 'failed');
      const state: BackfillState = {
        status: failed ? 'failed' : 'succeeded',
        started_at: doc.backfill?.started_at ?? startedAt,
        finished_at: new Date().toISOString(),
        streams: Object.fromEntries(summaries.map((s) => [s.stream, { status: s.status, records: s.records, created: s.created, updated: s.updated, unchanged: s.unchanged, failed: s.failed, deleted: s.deleted }])),
        ...(failed?.error ? { error: { code: failed.error.code, message: `${failed.stream}: ${failed.error.message}`, at: failed.finished_at } } : {}),
      };
      await connections.recordBackfill(doc.id, state);
      log.info('backfill finished', { status: state.status, records: summaries.reduce((n, s) => n + s.records, 0) });
    }
    return summaries;
  }

  /**
   * The sync's change listener for write-back: streams whose document kind declares `trigger: [sync]`, and
   * for each document stored new or changed, a write-back request when the target's `when` holds.
   */
  private syncWriteback(doc: ConnectionDoc, spec: ConnectorSpec, conn: ConnectionContext, log: Logger): Pick<RunSyncOptions, 'changes'> {
    const writeback = this.opts.writeback;
    if (!writeback || !spec.writeback) return {};
    const kinds = new Map<string, { kind: DocumentKind; when?: Expression }>();
    for (const kind of ['invoice', 'credit_note'] as const) {
      const target = spec.writeback[kind];
      if (!target?.trigger?.includes('sync')) continue;
      // A condition on the computed tax can only be judged by the write-back itself.
      const prefilter = target.when && !/\btax\b/.test(target.when) ? compileExpression(target.when) : undefined;
      kinds.set(target.stream, { kind, ...(prefilter ? { when: prefilter } : {}) });
    }
    if (!kinds.size) return {};
    const resolved = { spec, conn, organizationId: doc.organization_id };
    const store = this.opts.store;
    return {
      changes: {
        streams: [...kinds.keys()],
        async onChanged(stream: string, changed: ChangedRecord[]) {
          const k = kinds.get(stream)!;
          for (const ch of changed) {
            try {
              if (k.when) {
                // A document the write-back would skip (not a draft, say) leaves no job: evaluate `when` first.
                const e = await store.getEntity(conn.connection_id, stream, ch.external_id);
                const input = { document: e?.data, raw: e?.raw, settings: conn.settings, environment: conn.environment, connection: writebackConnection(conn), now: new Date().toISOString() };
                if (!e || (await k.when.evaluate(input, input)) !== true) continue;
              }
              const w = await writeback.request(resolved, k.kind, ch.external_id, `sync ${stream} (${ch.status})`);
              if (w.status !== 'unchanged' && w.status !== 'skipped') log.info('write-back requested by sync', { stream, document_id: ch.external_id, status: w.status, job_id: w.job_id });
            } catch (e) {
              log.warn('write-back request after sync failed', { stream, document_id: ch.external_id, error: e });
            }
          }
        },
      },
    };
  }

  /** Resolves when no run is queued or going on. */
  async idle(): Promise<void> {
    while (this.all.size) await Promise.allSettled([...this.all]);
  }

  /** Stops schedules, aborts runs (they resume from checkpoints next start) and waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.orphanTimer) clearInterval(this.orphanTimer);
    this.unsubscribe?.();
    await this.orphanCheck;
    const entries = [...this.active.values()];
    this.active.clear();
    await Promise.allSettled(entries.map((e) => e.schedules?.stop()));
    for (const e of entries) e.abort.abort(new TaxbridgeError('SHUTTING_DOWN', 'the server is shutting down'));
    await this.idle();
  }
}

/** What the schedules of a connection are made from: a change elsewhere restarts them only when this changes. */
function scheduleInputs(d: ConnectionDoc): string {
  return JSON.stringify([d.status, d.connector, d.environment, d.base_url ?? null, d.settings, d.credentials]);
}

/**
 * Leases for a resumed run: once the lease is held, the stream must still show a run in progress (the replica
 * we thought dead may have finished it meanwhile); otherwise nothing runs.
 */
function resumeOnly(leases: ReturnType<typeof holdSyncLease>, only: boolean, store: Store, connectionId: string): NonNullable<RunSyncOptions['leases']> {
  if (!only) return leases;
  return {
    async claimStream(stream) {
      const l = await leases.claimStream(stream);
      if (!l) return undefined;
      if ((await loadStreamState(store, connectionId, stream))?.run) return l;
      await l.release();
      return undefined;
    },
  };
}
