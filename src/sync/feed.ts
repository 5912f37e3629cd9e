import { setMaxListeners } from 'node:events';
import { TaxbridgeError } from '../errors.ts';
import type { HttpClient } from '../http/index.ts';
import { attachChildren } from './children.ts';
import { evaluate, type CompiledStream } from './compile.ts';
import { cursorInstant } from './cursor.ts';
import { externalIdOf } from './map.ts';
import { incrementalContext } from './pages.ts';

/** Event ids already applied, with their event time (epoch ms): the checkpoint's de-duplication window. */
export type SeenEvents = Record<string, number>;

/** Most event ids a checkpoint keeps (the newest win); a window holding more re-applies the oldest. */
export const MAX_SEEN_EVENTS = 20_000;

/** Most events one incremental run reads (they are held in memory to be ordered before applying). */
export const MAX_FEED_EVENTS = 200_000;

/** One record's latest change in the feed, ready to map. */
export interface FeedChange {
  event_id: string;
  at: number;
  event: unknown;
  object: unknown;
  /** The event says the object was deleted (`delete_when`). */
  deleted: boolean;
}

export interface FeedRead {
  pages: number;
  /** Events in the responses. */
  read: number;
  /** Events left out: `when` false, no object, no readable id or time, or superseded by a newer event of the same record. */
  skipped: number;
  /** Events already applied (seen earlier in this run or in the checkpoint's window). */
  duplicates: number;
  changes: FeedChange[];
  /** Latest event time read. */
  maxMs?: number;
  /** Ids of the events read in this run, with their times. */
  seen: SeenEvents;
}

/**
 * Reads the whole change feed since the run's lower bound, then keeps one change per record: events are
 * de-duplicated by id, ordered by event time (a deletion wins a tie), and the newest per record is kept, so
 * events in any order (Stripe lists newest first) end in the record's latest state. Children are read
 * for the kept objects only.
 */
export async function readFeed(c: CompiledStream, client: HttpClient, sinceMs: number, already: SeenEvents, signal?: AbortSignal): Promise<FeedRead> {
  const feed = c.feed!;
  const format = feed.spec.format;
  const out: FeedRead = { pages: 0, read: 0, skipped: 0, duplicates: 0, changes: [], seen: Object.create(null) as SeenEvents };
  const latest = new Map<string, FeedChange>();
  const linked = signal ?? new AbortController().signal;
  setMaxListeners(0, linked);
  const context = { incremental: incrementalContext({ mode: 'incremental', sinceMs }, format, undefined) };
  for await (const page of client.paginate(feed.spec.request, feed.spec.pagination, feed.spec.records, context, { signal: linked })) {
    out.pages++;
    if (out.read + page.records.length > MAX_FEED_EVENTS) {
      throw new TaxbridgeError('SYNC_FEED_TOO_LARGE', `the change feed of stream ${c.name} has more than ${MAX_FEED_EVENTS} events since the last run`, {
        hint: 'run a full sync (`taxbridge sync --full`): it reads the list and moves the cursor to its start',
      });
    }
    for (const event of page.records) {
      out.read++;
      const rawId = await evaluate(feed.eventId, event);
      const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : undefined;
      const at = cursorInstant(await evaluate(feed.eventTime, event), format);
      if (id === undefined || at === undefined) {
        out.skipped++;
        continue;
      }
      if (Object.hasOwn(already, id) || Object.hasOwn(out.seen, id)) {
        out.duplicates++;
        continue;
      }
      out.seen[id] = at;
      if (out.maxMs === undefined || at > out.maxMs) out.maxMs = at;
      if (feed.when && (await evaluate(feed.when, event)) !== true) {
        out.skipped++;
        continue;
      }
      const object = await evaluate(feed.object, event);
      const key = object === undefined || object === null ? undefined : await externalIdOf(c, object);
      if (key === undefined) {
        out.skipped++;
        continue;
      }
      const deleted = feed.deleteWhen ? (await evaluate(feed.deleteWhen, event)) === true : false;
      const prev = latest.get(key);
      if (prev && (prev.at > at || (prev.at === at && prev.deleted && !deleted))) {
        out.skipped++;
        continue;
      }
      if (prev) out.skipped++;
      latest.set(key, { event_id: id, at, event, object, deleted });
    }
  }
  out.changes = [...latest.values()].sort((a, b) => a.at - b.at);
  const objects = out.changes.filter((ch) => !ch.deleted).map((ch) => ch.object).filter((o): o is Record<string, unknown> => o !== null && typeof o === 'object' && !Array.isArray(o));
  await attachChildren(c, objects, client, signal);
  return out;
}

/**
 * The de-duplication window to keep: ids whose events can be read again by the next run (at or after
 * its lower bound), newest first, at most MAX_SEEN_EVENTS.
 */
export function nextSeenWindow(prev: SeenEvents | undefined, added: SeenEvents, fromMs: number): SeenEvents {
  const all = [...Object.entries(prev ?? {}), ...Object.entries(added)].filter(([, ms]) => typeof ms === 'number' && ms >= fromMs);
  all.sort((a, b) => b[1] - a[1]);
  const out = Object.create(null) as SeenEvents;
  for (const [id, ms] of all.slice(0, MAX_SEEN_EVENTS)) out[id] = ms;
  return out;
}
