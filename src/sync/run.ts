import { randomUUID } from 'node:crypto';
import { isTaxbridgeError, errorMessage, TaxbridgeError, isCode, publicCode } from '../errors.ts';
import { createHttpClient, type HttpClient } from '../http/index.ts';
import type { EntityWrite } from '../store/types.ts';
import { compileStream } from './compile.ts';
import { yieldToEventLoop } from './concurrency.ts';
import { prepareConnection } from './connection.ts';
import { formatCursor } from './cursor.ts';
import { nextSeenWindow, readFeed } from './feed.ts';
import { mapCompiled, mappingBindings } from './map.ts';
import { rawPages, type ReadPlan } from './pages.ts';
import { checkpointId, loadStreamState } from './state.ts';
import type { ChangedRecord, RecordFailure, RunSyncOptions, StreamState, SyncMode, SyncSummary } from './types.ts';

const MAX_FAILURES = 1000;
/** Run summaries kept per (connection, stream) in sync_runs; older ones are removed. */
const KEEP_RUNS = 100;
/** Longest stretch of mapping before letting I/O run (the next page is being fetched meanwhile). */
const MAPPING_SLICE_MS = 8;

/**
 * Syncs streams of one connection into the store, one after another. A stream that fails is reported in
 * its summary (and in sync_runs) and the next stream still runs, except after HTTP_BAD_CREDENTIALS,
 * which fails every remaining stream the same way (they are reported as skipped).
 */
export async function runSync(opts: RunSyncOptions): Promise<SyncSummary[]> {
  const conn = prepareConnection(opts.spec, opts.conn);
  const names = opts.streams ?? Object.keys(opts.spec.streams);
  for (const name of names) compileStream(opts.spec, name); // unknown streams and bad expressions fail before any request
  const client = opts.http ?? createHttpClient(opts.spec, conn);
  const summaries: SyncSummary[] = [];
  try {
    let stop: SyncSummary['error'] | undefined;
    for (const name of names) {
      if (stop) {
        summaries.push(skipped(opts, name, stop));
        continue;
      }
      const lease = opts.leases ? await opts.leases.claimStream(name) : undefined;
      if (opts.leases && !lease) {
        summaries.push(skipped(opts, name, { code: publicCode('SYNC_RUNNING_ELSEWHERE'), message: 'another replica is syncing this stream' }));
        continue;
      }
      try {
        const signal = lease ? (opts.signal ? AbortSignal.any([opts.signal, lease.signal]) : lease.signal) : opts.signal;
        summaries.push(await runStream({ ...opts, conn, http: client, signal }, name));
      } catch (e) {
        if (opts.signal?.aborted || lease?.signal.aborted) throw e;
        const failed = (e as { syncSummary?: SyncSummary }).syncSummary;
        if (!failed) throw e;
        summaries.push(failed);
        if (isCode(failed.error?.code, 'HTTP_BAD_CREDENTIALS')) stop = failed.error;
      } finally {
        await lease?.release();
      }
    }
  } finally {
    if (!opts.http) await client.close();
  }
  return summaries;
}

function skipped(opts: RunSyncOptions, stream: string, cause: NonNullable<SyncSummary['error']>): SyncSummary {
  const now = new Date().toISOString();
  return {
    ...emptySummary(opts, stream, 'full', now),
    status: 'skipped',
    finished_at: now,
    error: isCode(cause.code, 'SYNC_RUNNING_ELSEWHERE') ? cause : { code: publicCode('SYNC_SKIPPED'), message: `not run after ${cause.code}`, hint: cause.hint },
  };
}

function emptySummary(opts: Pick<RunSyncOptions, 'spec' | 'conn'>, stream: string, mode: SyncMode, startedAt: string): SyncSummary {
  return {
    id: randomUUID(),
    connection_id: opts.conn.connection_id,
    connector: opts.spec.name,
    stream,
    entity: opts.spec.streams[stream]?.entity ?? 'unknown',
    mode,
    status: 'ok',
    pages: 0,
    records: 0,
    skipped: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    failed: 0,
    deleted: 0,
    failures: [],
    started_at: startedAt,
    finished_at: startedAt,
    duration_ms: 0,
  };
}

/** The plan of this run: resume an interrupted run, or start a full or incremental one. */
function planRun(state: StreamState | undefined, hasIncremental: boolean, lookbackSeconds: number, full: boolean): NonNullable<StreamState['run']> {
  const interrupted = state?.run;
  // An interrupted run is continued (its cursors and filter stay valid) unless a full run is asked
  // for while an incremental one was interrupted.
  if (interrupted && !(full && interrupted.mode === 'incremental')) return interrupted;
  const mode: SyncMode = full || !hasIncremental || !state?.cursor ? 'full' : 'incremental';
  return {
    id: randomUUID(),
    mode,
    started_at: new Date().toISOString(),
    since_ms: mode === 'incremental' ? state!.cursor!.ms - lookbackSeconds * 1000 : undefined,
    page: 0,
  };
}

/**
 * One stream: pages -> children -> mapping + validation -> store, a checkpoint committed with every page.
 * An incremental run of a stream with a change feed reads the feed instead (readFeed, one commit).
 * Throws the run's error (with `syncSummary` attached) when the stream fails; the failed run is stored.
 */
export async function runStream(opts: RunSyncOptions & { http: HttpClient }, name: string): Promise<SyncSummary> {
  const { spec, store, http: client, signal } = opts;
  const conn = opts.conn;
  const c = compileStream(spec, name);
  const inc = c.spec.incremental;
  const started = performance.now();
  const id = checkpointId(conn.connection_id, name);
  const state = await loadStreamState(store, conn.connection_id, name);
  const lookback = c.feed ? (c.feed.spec.lookback_seconds ?? 0) : (inc?.lookback_seconds ?? 0);
  const run = planRun(state, !!inc || !!c.feed, lookback, opts.full === true);
  const summary = emptySummary(opts, name, run.mode, new Date().toISOString());
  if (run.page > 0) summary.resumed_from_page = run.page + 1;
  const bindings = mappingBindings(conn);
  const failures: RecordFailure[] = [];
  const plan: ReadPlan = { mode: run.mode, sinceMs: run.since_ms, resume: run.next, firstPage: run.page + 1 };
  const tracked = opts.changes?.streams.includes(name) ? opts.changes : undefined;
  // Deletion by absence: ids seen by a full run read from its first page in this process.
  const absence = run.mode === 'full' && c.spec.deletion?.absent_in_full_sync === true ? { seen: new Set<string>(), idless: 0, resumed: run.page > 0 } : undefined;
  const feedRun = run.mode === 'incremental' && !!c.feed;
  opts.logger?.info(`sync ${name}: ${run.mode}${feedRun ? ' (change feed)' : ''}${summary.resumed_from_page ? ` (resuming at page ${summary.resumed_from_page})` : ''}`, { connection_id: conn.connection_id });

  /** Commits one page of writes with its checkpoint; counts, reports changes and progress. */
  const commit = async (pageNo: number, writes: EntityWrite[], checkpoint: StreamState, readCount: number, skipped: number): Promise<void> => {
    const before = tracked ? await storedHashes(store, conn.connection_id, name, writes) : undefined;
    const result = await store.commitPage({ connectionId: conn.connection_id, stream: name, entity: c.entity, writes, checkpoint: { id, value: checkpoint as unknown as Record<string, unknown> } });
    summary.pages++;
    summary.records += readCount;
    summary.skipped += skipped;
    summary.created += result.created;
    summary.updated += result.updated;
    summary.unchanged += result.unchanged;
    summary.deleted += result.deleted ?? 0;
    if (checkpoint.run === null && checkpoint.cursor) summary.cursor = checkpoint.cursor.value;
    if (tracked && before) await reportChanges(opts, tracked, name, before);
    opts.onProgress?.({
      stream: name,
      mode: run.mode,
      page: pageNo,
      pages: summary.pages,
      records: summary.records,
      created: summary.created,
      updated: summary.updated,
      unchanged: summary.unchanged,
      failed: summary.failed,
      deleted: summary.deleted,
      elapsed_ms: Math.round(performance.now() - started),
    });
  };

  /** The mapped write of one raw record (undefined when it failed or is a deletion of nothing stored). */
  const toWrite = async (raw: unknown, pageNo: number, forceDeleted: boolean, extra?: Record<string, unknown>): Promise<EntityWrite | undefined> => {
    const m = await mapCompiled(c, raw, extra ? { ...bindings, ...extra } : bindings);
    if (absence) {
      if (m.external_id !== undefined) absence.seen.add(m.external_id);
      else absence.idless++;
    }
    if (m.ok && !forceDeleted) return { external_id: m.external_id, data: m.data, raw, deleted: m.deleted };
    if ((m.deleted || forceDeleted) && m.external_id !== undefined) {
      // Archived records may lack what the mapping needs: keep the stored data, mark it deleted, in
      // the same commit as the page (one never imported has nothing to mark). The previous page's commit
      // lands first, so a record it wrote is read as it wrote it.
      await settled();
      const stored = await store.getEntity(conn.connection_id, name, m.external_id);
      if (stored) return { external_id: m.external_id, data: stored.data, raw, deleted: true };
      return undefined;
    }
    if (!m.ok) {
      summary.failed++;
      if (failures.length < MAX_FAILURES) failures.push({ external_id: m.external_id, page: pageNo, reason: m.reason });
    }
    return undefined;
  };

  // The previous page's commit, still in flight while the next page is mapped (one at most: commits stay in
  // page order, and a page is never committed before the one before it).
  let inFlight: Promise<void> | undefined;
  // A failed commit stops the read at once (the page being read ahead is cancelled) and is the run's error.
  let commitFailure: { error: unknown } | undefined;
  const reading = new AbortController();
  const readSignal = signal ? AbortSignal.any([signal, reading.signal]) : reading.signal;
  const settled = async (): Promise<void> => {
    const p = inFlight;
    inFlight = undefined;
    if (p) await p;
  };

  try {
    if (feedRun) {
      const feed = await readFeed(c, client, run.since_ms!, state?.feed_seen ?? {}, signal);
      const writes: EntityWrite[] = [];
      let slice = performance.now();
      for (const ch of feed.changes) {
        const w = await toWrite(ch.object, 1, ch.deleted, { event: ch.event });
        if (w) writes.push(w);
        if (performance.now() - slice > MAPPING_SLICE_MS) {
          await yieldToEventLoop();
          slice = performance.now();
        }
      }
      if (feed.maxMs !== undefined && (run.high_water_ms === undefined || feed.maxMs > run.high_water_ms)) run.high_water_ms = feed.maxMs;
      summary.feed = true;
      summary.duplicates = feed.duplicates;
      const checkpoint = finalState(conn.connection_id, name, state, run, { seen: feed.seen, lookbackMs: lookback * 1000, feed: true });
      await commit(feed.pages, writes, checkpoint, feed.changes.length, feed.skipped);
      summary.pages = feed.pages;
    } else {
      for await (const page of rawPages(c, client, plan, {}, readSignal)) {
        const writes: EntityWrite[] = [];
        let slice = performance.now();
        for (const raw of page.records) {
          const w = await toWrite(raw, page.page, false);
          if (w) writes.push(w);
          if (performance.now() - slice > MAPPING_SLICE_MS) {
            await yieldToEventLoop();
            slice = performance.now();
          }
        }
        if (page.maxCursorMs !== undefined && (run.high_water_ms === undefined || page.maxCursorMs > run.high_water_ms)) run.high_water_ms = page.maxCursorMs;
        run.page = page.page;
        run.next = page.next;
        const last = page.next === undefined;
        // The read is complete once its last page arrived: records it never saw go in the same commit.
        await settled();
        if (last && absence) await addAbsent(absence, writes);
        const checkpoint: StreamState = last
          ? finalState(conn.connection_id, name, state, run, { lookbackMs: lookback * 1000, feed: !!c.feed })
          : { connection_id: conn.connection_id, stream: name, cursor: state?.cursor, run: { ...run }, last_run: state?.last_run, ...(state?.feed_seen ? { feed_seen: state.feed_seen } : {}) };
        // Committed while the next page is mapped; its failure surfaces at the next settled().
        const p = commit(page.page, writes, checkpoint, page.records.length, page.skipped);
        p.catch((err: unknown) => {
          commitFailure ??= { error: err };
          reading.abort(err);
        });
        inFlight = p;
      }
      await settled();
    }
  } catch (caught) {
    // Nothing of this run may still be writing once it is reported (or its lease released).
    await inFlight?.catch(() => undefined);
    if (signal?.aborted) throw caught;
    const e = commitFailure ? commitFailure.error : caught;
    finish(summary, failures, started);
    summary.status = 'failed';
    if (absence) summary.absent_skipped = 'the run failed';
    summary.error = isTaxbridgeError(e) ? { code: publicCode(e.code), message: e.message, ...(e.hint ? { hint: e.hint } : {}) } : { code: publicCode('SYNC_FAILED'), message: errorMessage(e) };
    opts.logger?.warn(`sync ${name} failed: ${summary.error.code}: ${summary.error.message}`, { connection_id: conn.connection_id });
    await saveRun(store, summary);
    const err = isTaxbridgeError(e) ? e : new TaxbridgeError('SYNC_FAILED', `sync of ${name} failed: ${errorMessage(e)}`, { cause: e });
    Object.defineProperty(err, 'syncSummary', { value: summary, enumerable: false });
    throw err;
  }
  finish(summary, failures, started);
  await saveRun(store, summary);
  opts.logger?.info(`sync ${name}: ${summary.records} records, ${summary.created} created, ${summary.updated} updated, ${summary.failed} failed${summary.absent_deleted ? `, ${summary.absent_deleted} deleted as absent` : ''}`, { connection_id: conn.connection_id });
  return summary;

  /** Stored records the complete read did not see become deletions of this commit (never on doubt). */
  async function addAbsent(a: NonNullable<typeof absence>, writes: EntityWrite[]): Promise<void> {
    const why = a.resumed ? 'the run was resumed from a checkpoint, so its earlier pages were read by another process' : a.idless > 0 ? `${a.idless} record(s) had no id` : a.seen.size === 0 ? 'the read returned no record at all' : undefined;
    if (why) {
      summary.absent_skipped = why;
      opts.logger?.warn(`sync ${name}: records missing from the read are not marked deleted: ${why}`, { connection_id: conn.connection_id });
      return;
    }
    let n = 0;
    // Page by page, so a large stream is never read whole (PostgreSQL) into memory.
    for (let after: string | undefined; ; ) {
      const page = await store.pageEntities(conn.connection_id, name, { after, limit: 1000 });
      if (!page.length) break;
      after = page[page.length - 1]!.external_id;
      for (const e of page) {
        if (a.seen.has(e.external_id)) continue;
        writes.push({ external_id: e.external_id, data: e.data, raw: e.raw, deleted: true });
        n++;
      }
    }
    summary.absent_deleted = n;
  }
}

/** Stored hashes of the entities a page writes, to tell which ones the commit created or changed. */
async function storedHashes(store: RunSyncOptions['store'], connectionId: string, stream: string, writes: EntityWrite[]): Promise<Map<string, string | undefined>> {
  const ids = [...new Set(writes.map((w) => w.external_id))];
  const stored = await store.entityStates(connectionId, stream, ids);
  return new Map(ids.map((id) => [id, stored.get(id)?.hash]));
}

async function reportChanges(opts: RunSyncOptions, tracked: NonNullable<RunSyncOptions['changes']>, stream: string, before: Map<string, string | undefined>): Promise<void> {
  const changed: ChangedRecord[] = [];
  const after = await opts.store.entityStates(opts.conn.connection_id, stream, [...before.keys()]);
  for (const [externalId, prev] of before) {
    const now = after.get(externalId);
    if (!now || now.deleted || now.hash === prev) continue;
    changed.push({ external_id: externalId, status: prev === undefined ? 'created' : 'updated' });
  }
  if (!changed.length) return;
  try {
    await tracked.onChanged(stream, changed);
  } catch (e) {
    // The records are stored; a failing listener (write-back evaluation) must not fail the sync.
    opts.logger?.warn(`sync ${stream}: change listener failed: ${errorMessage(e)}`, { connection_id: opts.conn.connection_id });
  }
}

/**
 * The checkpoint that ends a run: no run in progress and the new incremental cursor. The cursor is the
 * latest change seen, but never later than the run's start (a record changed during a long run, after
 * its page was read, is read again next time) and never earlier than the cursor it had. A full run of a
 * change-feed stream ends at its start (the feed covers what changed since).
 */
function finalState(connectionId: string, stream: string, prev: StreamState | undefined, run: NonNullable<StreamState['run']>, feed: { seen?: Record<string, number>; lookbackMs: number; feed: boolean }): StreamState {
  let cursor = prev?.cursor;
  const startMs = Date.parse(run.started_at);
  // A full read of a change-feed stream is the state as of its start: the feed takes over from there.
  const high = feed.feed && run.mode === 'full' ? startMs : run.high_water_ms;
  if (high !== undefined) {
    const ms = Math.min(high, startMs);
    if (!cursor || ms > cursor.ms) cursor = { ms, value: formatCursor(ms, 'iso8601') };
  }
  const seen = feed.feed && cursor ? nextSeenWindow(prev?.feed_seen, feed.seen ?? {}, cursor.ms - feed.lookbackMs) : undefined;
  return { connection_id: connectionId, stream, cursor, run: null, last_run: { id: run.id, mode: run.mode, finished_at: new Date().toISOString() }, ...(seen ? { feed_seen: seen } : {}) };
}

/** Stores the run summary and drops the oldest summaries of the same stream beyond KEEP_RUNS. */
async function saveRun(store: RunSyncOptions['store'], summary: SyncSummary): Promise<void> {
  await store.put('sync_runs', summary.id, summary);
  const where = { connection_id: summary.connection_id, stream: summary.stream };
  const n = await store.count('sync_runs', where);
  if (n <= KEEP_RUNS) return;
  const { docs: oldest } = await store.find<SyncSummary>('sync_runs', { where, orderBy: { field: 'started_at' }, limit: n - KEEP_RUNS });
  for (const old of oldest) await store.delete('sync_runs', old.id);
}

function finish(summary: SyncSummary, failures: RecordFailure[], started: number): void {
  summary.failures = failures;
  if (summary.failed > failures.length) summary.failures_truncated = summary.failed - failures.length;
  summary.finished_at = new Date().toISOString();
  summary.duration_ms = Math.round(performance.now() - started);
}

