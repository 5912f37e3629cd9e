/**
 * Depth and oldest-item age of the two durable queues, read from the store: the webhook inbox (events
 * pending or retrying) and tax write-back (jobs pending, running or retrying). Read per scrape and per alert
 * check, not counted incrementally, so a restart or another process's writes cannot make them drift.
 */
import type { Store } from '../store/types.ts';
import { EVENTS, type WebhookEventDoc } from '../webhooks/inbox.ts';
import { WRITEBACK_JOBS, type WritebackJobDoc } from '../writeback/jobs.ts';
import { queueDepth, queueOldestAge } from './registry.ts';

export type QueueName = 'inbox' | 'writeback';

export interface QueueStat {
  depth: number;
  /** Seconds since the oldest waiting item was queued; 0 when empty. */
  oldestAgeSeconds: number;
}

export type QueueStats = Record<QueueName, QueueStat>;

const OPEN_EVENTS = new Set(['pending', 'retrying']);
const OPEN_JOBS = new Set(['pending', 'running', 'retrying']);

function stat(times: string[], nowMs: number): QueueStat {
  let oldest = Infinity;
  for (const t of times) {
    const ms = Date.parse(t);
    if (ms < oldest) oldest = ms;
  }
  return { depth: times.length, oldestAgeSeconds: Number.isFinite(oldest) ? Math.max(0, Math.round((nowMs - oldest) / 1000)) : 0 };
}

export async function queueStats(store: Store, nowMs = Date.now()): Promise<QueueStats> {
  const [events, jobs] = await Promise.all([
    store.list<WebhookEventDoc>(EVENTS, (d) => OPEN_EVENTS.has(d.status)),
    store.list<WritebackJobDoc>(WRITEBACK_JOBS, (j) => OPEN_JOBS.has(j.status)),
  ]);
  return { inbox: stat(events.map((e) => e.received_at), nowMs), writeback: stat(jobs.map((j) => j.created_at), nowMs) };
}

/** Sets the queue gauges from fresh stats (before a scrape). */
export async function refreshQueueGauges(store: Store): Promise<QueueStats> {
  const s = await queueStats(store);
  for (const q of ['inbox', 'writeback'] as const) {
    queueDepth.set({ queue: q }, s[q].depth);
    queueOldestAge.set({ queue: q }, s[q].oldestAgeSeconds);
  }
  return s;
}
