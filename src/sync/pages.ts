import { setMaxListeners } from 'node:events';
import type { HttpClient, PageState } from '../http/index.ts';
import type { RequestSpec } from '../spec/types.ts';
import { attachChildren } from './children.ts';
import { evaluate, type CompiledStream } from './compile.ts';
import { readAhead } from './concurrency.ts';
import { changedSince, cursorInstant, formatCursor, type CursorFormat } from './cursor.ts';

/** What one run of a stream reads: the mode, the incremental lower bound, and where to resume. */
export interface ReadPlan {
  mode: 'full' | 'incremental';
  /** Records changed after this instant (incremental runs; lookback already applied). */
  sinceMs?: number;
  resume?: PageState;
  /** Number of the first page read (after a resume: one past the last committed page). */
  firstPage?: number;
}

export interface RawPage {
  page: number;
  next?: PageState;
  /** Records to process, children attached. */
  records: unknown[];
  /** Records in the response. */
  read: number;
  /** Records left out because they did not change since the cursor (filter-after-reading). */
  skipped: number;
  /** Latest change time among the page's records. */
  maxCursorMs?: number;
}

/** The stream's list request, with the incremental parameter when the run has a lower bound. */
export function listRequest(c: CompiledStream, plan: ReadPlan): RequestSpec {
  const inc = c.spec.incremental;
  if (plan.mode !== 'incremental' || plan.sinceMs === undefined || !inc?.param) return c.spec.request;
  return { ...c.spec.request, query: { ...c.spec.request.query, [inc.param]: formatCursor(plan.sinceMs, inc.format) } };
}

/** `incremental.*` as request templates see it: the lower bound formatted for the API, or nothing. */
export interface IncrementalContext {
  mode: 'full' | 'incremental';
  /** Unix formats give a number, the others a string; undefined when the run has no lower bound. */
  since?: string | number;
  since_ms?: number;
}

/**
 * The template context of a run's request: in incremental runs the cursor (lookback applied), in full runs
 * the declared `initial` instant, otherwise no `since` (a parameter that is exactly `{{ incremental.since }}`
 * is then omitted).
 */
export function incrementalContext(plan: Pick<ReadPlan, 'mode' | 'sinceMs'>, format: CursorFormat | undefined, initial: string | number | undefined): IncrementalContext {
  const ms = plan.mode === 'incremental' && plan.sinceMs !== undefined ? plan.sinceMs : initial !== undefined ? cursorInstant(initial, format) : undefined;
  if (ms === undefined) return { mode: plan.mode };
  const text = formatCursor(ms, format);
  return { mode: plan.mode, since: format === 'unix_seconds' || format === 'unix_ms' ? Number(text) : text, since_ms: ms };
}

/**
 * Pages of raw records ready to map: read (one page ahead of the consumer), filtered by the cursor when
 * the API cannot filter, and completed with their child requests.
 */
export function rawPages(c: CompiledStream, client: HttpClient, plan: ReadPlan, context: Record<string, unknown> = {}, signal?: AbortSignal): AsyncGenerator<RawPage> {
  const abandoned = new AbortController();
  const linked = signal ? AbortSignal.any([signal, abandoned.signal]) : abandoned.signal;
  // Every request and retry wait of the run listens on it; many at once is expected, not a leak.
  setMaxListeners(0, linked);
  return readAhead(produce(c, client, plan, context, linked), () => abandoned.abort(new Error('read-ahead abandoned')));
}

async function* produce(c: CompiledStream, client: HttpClient, plan: ReadPlan, context: Record<string, unknown>, signal?: AbortSignal): AsyncGenerator<RawPage> {
  const inc = c.spec.incremental;
  const filterAfterReading = plan.mode === 'incremental' && plan.sinceMs !== undefined && !inc?.param && !c.sinceInRequest;
  const ctx = { ...context, incremental: incrementalContext(plan, inc?.format, inc?.initial) };
  const pages = client.paginate(listRequest(c, plan), c.spec.pagination, c.spec.records, ctx, { signal, resume: plan.resume, firstPage: plan.firstPage });
  for await (const page of pages) {
    let maxCursorMs: number | undefined;
    const kept: unknown[] = [];
    for (const record of page.records) {
      if (c.cursor) {
        const at = cursorInstant(await evaluate(c.cursor, record), inc?.format);
        if (at !== undefined && (maxCursorMs === undefined || at > maxCursorMs)) maxCursorMs = at;
        if (filterAfterReading && !changedSince(at, plan.sinceMs!, inc?.format)) continue;
      }
      kept.push(record);
    }
    const objects = kept.filter((r): r is Record<string, unknown> => r !== null && typeof r === 'object' && !Array.isArray(r));
    await attachChildren(c, objects, client, signal);
    yield { page: page.page, next: page.next, records: kept, read: page.records.length, skipped: page.records.length - kept.length, maxCursorMs };
  }
}
