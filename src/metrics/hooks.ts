/**
 * The one-line hooks the parts call where things happen. Each turns what happened into bounded labels for the
 * metric families (./registry.ts) and, where an alert may follow, an operational event (./events.ts) that keeps
 * the ids. Hooks never throw and never wait: observing must not change or slow the work observed.
 */
import type { Context } from 'koa';
import { emitOpsEvent, type OpsError } from './events.ts';
import type * as Families from './registry.ts';

// The metric families, once the server has loaded them (countInto, from src/server/metrics-api.ts): a CLI
// run that syncs or writes back through the same code never loads prom-client; its events still reach
// listeners (alerts).
let m: typeof Families | undefined;

/** Starts counting into the metric families (./registry.ts). */
export function countInto(families: typeof Families): void {
  m = families;
  httpSeries.clear();
  calculationSeries.clear();
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const CODE = /^[A-Za-z0-9_]{1,64}$/;

/** A spec-given name (connector, stream) as a label: a name, or "other" (never an arbitrary string). */
export const nameLabel = (s: string | undefined): string => (s && NAME.test(s) ? s : s === undefined ? 'unknown' : 'other');
/** An error code as a label. */
export const codeLabel = (s: string | undefined): string => (s && CODE.test(s) ? s : 'other');

function errorOf(e: unknown): OpsError {
  const err = e as { code?: unknown; message?: unknown };
  return { code: typeof err?.code === 'string' ? err.code : 'ERROR', message: typeof err?.message === 'string' ? err.message.slice(0, 500) : String(e).slice(0, 500) };
}

function safely(f: () => void): void {
  try {
    f();
  } catch {
    // Observation failing (a label mistake) must never fail a request, a sync or a write.
  }
}

// -------------------------------------------------------------------------------------------------- HTTP

/**
 * The route template a request matched (`/admin/connections/:id`): @koa/router's `_matchedRoute`, which names
 * the last route layer that ran; routes answered outside a router keep their fixed path; everything else
 * (404s, refused spellings) is "unmatched".
 */
export function routeTemplate(ctx: Context): string {
  const matched = (ctx as unknown as { _matchedRoute?: string | RegExp })._matchedRoute;
  if (matched === undefined) return ctx.path === '/openapi.json' ? '/openapi.json' : 'unmatched';
  const path = String(matched);
  // A router's own middleware (the admin token check refusing) names a pattern, not a template: its prefix.
  const special = path.search(/[()[\]?$^\\]/);
  return special < 0 ? path : `${path.slice(0, special).replace(/\/+$/, '')}/*`;
}


// The series of one (method, route, status), looked up once: prom-client hashes a label object per call.
const httpSeries = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();

/** One answered HTTP request (the access log's middleware). */
export function observeHttpRequest(ctx: Context, seconds: number): void {
  if (!m) return;
  const f = m;
  safely(() => {
    const route = routeTemplate(ctx);
    const key = `${ctx.method} ${ctx.status} ${route}`;
    let series = httpSeries.get(key);
    if (!series) {
      const labels = { method: ctx.method, route, status: String(ctx.status) };
      series = { count: f.httpRequests.labels(labels), time: f.httpDuration.labels(labels) };
      httpSeries.set(key, series);
    }
    series.count.inc();
    series.time.observe(seconds);
  });
}

// --------------------------------------------------------------------------------------------------- tax

interface CalculationResult {
  result: { taxTotal: bigint; lines: Array<{ reason: string }> };
}

// The counter of one (result, reason), looked up once (as httpSeries).
const calculationSeries = new Map<string, { inc(): void }>();

function countCalculation(result: string, reason: string): void {
  if (!m) return;
  const key = `${result} ${reason}`;
  let series = calculationSeries.get(key);
  if (!series) calculationSeries.set(key, (series = m.taxCalculations.labels({ result, reason })));
  series.inc();
}

function countSettled({ result }: CalculationResult): void {
  safely(() => {
    const lines = result.lines;
    let reason = lines.length === 0 ? 'none' : lines[0]!.reason;
    for (let i = 1; i < lines.length; i++) if (lines[i]!.reason !== reason) reason = 'mixed';
    countCalculation(result.taxTotal > 0n ? 'taxed' : 'not_taxed', codeLabel(reason));
  });
}

function countFailed(e: unknown): void {
  safely(() => countCalculation('error', codeLabel(errorOf(e).code)));
}

/** A calculate_tax call: counted when it settles (the promise is returned as given). */
export function observeTaxCalculation<T extends CalculationResult>(p: Promise<T>): Promise<T> {
  // Nothing counts (a CLI run): no reaction per calculation.
  if (m) p.then(countSettled, countFailed);
  return p;
}

// ------------------------------------------------------------------------------------------------ webhooks

/** A webhook delivery answered: accepted (new event), duplicate, or refused with the answer's code. */
export function observeWebhookDelivery(d: { connector?: string; connectionId?: string; status: number; code?: string; duplicate?: boolean }): void {
  safely(() => {
    const outcome = d.status >= 300 ? 'refused' : d.duplicate ? 'duplicate' : 'accepted';
    m?.webhookDeliveries.inc({ connector: nameLabel(d.connector), outcome, code: outcome === 'refused' ? codeLabel(d.code) : '' });
    emitOpsEvent({ kind: 'webhook_delivery', outcome, status: d.status, ...(d.connector ? { connector: d.connector } : {}), ...(d.connectionId ? { connectionId: d.connectionId } : {}), ...(d.code ? { code: d.code } : {}) });
  });
}

// ------------------------------------------------------------------------------------------------ write-back

/** A write-back job reached a status (final, or `retrying`). */
export function observeWriteback(job: { id: string; connection_id: string; connector: string; document_id: string; status: string; last_error?: { code: string; message: string } }): void {
  safely(() => {
    m?.writebacks.inc({ connector: nameLabel(job.connector), outcome: codeLabel(job.status) });
    emitOpsEvent({ kind: 'writeback', connectionId: job.connection_id, connector: job.connector, jobId: job.id, documentId: job.document_id, status: job.status, ...(job.last_error ? { error: { code: job.last_error.code, message: job.last_error.message } } : {}) });
  });
}

// ------------------------------------------------------------------------------------------------------ sync

/** One stream's run as its summary reports it. */
export function observeSyncStream(s: { connection_id: string; connector: string; stream: string; status: 'ok' | 'failed' | 'skipped'; records: number; duration_ms: number; error?: { code: string; message: string } }): void {
  safely(() => {
    const labels = { connector: nameLabel(s.connector), stream: nameLabel(s.stream) };
    m?.syncRuns.inc({ ...labels, status: s.status });
    m?.syncRecords.inc(labels, s.records);
    m?.syncDuration.observe({ ...labels, status: s.status }, s.duration_ms / 1000);
    emitOpsEvent({ kind: 'sync_stream', connectionId: s.connection_id, connector: s.connector, stream: s.stream, status: s.status, records: s.records, durationMs: s.duration_ms, ...(s.error ? { error: { code: s.error.code, message: s.error.message } } : {}) });
  });
}

/** A sync run that failed as a whole (no stream summary to report). */
export function observeSyncFailure(connection: { id: string; connector: string }, e: unknown): void {
  safely(() => {
    m?.syncRuns.inc({ connector: nameLabel(connection.connector), stream: 'all', status: 'failed' });
    emitOpsEvent({ kind: 'sync_run_failed', connectionId: connection.id, connector: connection.connector, error: errorOf(e) });
  });
}

// ----------------------------------------------------------------------------------------------- connections

export function observeNeedsReauthorization(connection: { id: string; connector: string }, reason: string): void {
  safely(() => emitOpsEvent({ kind: 'connection_needs_reauthorization', connectionId: connection.id, connector: connection.connector, reason: reason.slice(0, 500) }));
}

export function observeConnectionActive(connection: { id: string; connector: string }): void {
  safely(() => emitOpsEvent({ kind: 'connection_active', connectionId: connection.id, connector: connection.connector }));
}

// ------------------------------------------------------------------------------------------------- upstream

/** One HTTP attempt to a connected system: its status code, or network_error / timeout. */
export function observeUpstreamAttempt(connector: string, status: number | 'network_error' | 'timeout'): void {
  if (m) safely(() => m!.upstreamRequests.inc({ connector: nameLabel(connector), status: String(status) }));
}

/** A retry of a request to a connected system, with the status that caused it. */
export function observeUpstreamRetry(connector: string, status: number | 'network_error' | 'timeout'): void {
  if (m) safely(() => m!.upstreamRetries.inc({ connector: nameLabel(connector), status: String(status) }));
}
