/**
 * The alert notification body and its one-line Slack-compatible `text`. Its type is derived from
 * schemas/alert-event.schema.json (src/alerts/event.generated.ts, `npm test` checks it is current).
 */
import { createHash } from 'node:crypto';

import type { AlertEvent } from './event.generated.ts';
import { publicCode } from '../errors.ts';

export type { AlertEvent };
export type AlertCondition = AlertEvent['data']['condition'];
type AlertState = 'alert_id' | 'status' | 'started_at' | 'resolved_at';
/** What a condition knows about its subject and cause: the event's `data` less the state. */
export type AlertFacts = Omit<AlertEvent['data'], AlertState>;

/** A stable id for one condition of one subject (its key), safe to show. */
export function alertId(key: string): string {
  return `alr_${createHash('sha256').update(key).digest('base64url').slice(0, 24)}`;
}

const TITLES: Record<AlertCondition, string> = {
  sync_failed: 'sync failed',
  writeback_dead: 'write-back dead',
  connection_needs_reauthorization: 'connection needs re-authorization',
  credentials_rejected: 'credentials rejected',
  signature_failures: 'webhook signature failures',
  queue_oldest_age: 'queue backed up',
  test: 'test notification',
};

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

export function buildAlertEvent(key: string, facts: AlertFacts, state: { status: 'firing' | 'resolved'; startedAt: string; at: string; test?: boolean }): AlertEvent {
  const subject = [facts.connection_id && `connection ${facts.connection_id}`, facts.connector && `(${facts.connector})`, facts.stream && `stream ${facts.stream}`, facts.queue && `queue ${facts.queue}`].filter(Boolean).join(' ');
  const head = state.test ? '[TEST]' : state.status === 'firing' ? `[FIRING${facts.severity === 'critical' ? ', critical' : ''}]` : '[RESOLVED]';
  const text = clip(`taxbridge ${head} ${TITLES[facts.condition]}${subject ? `: ${subject}` : ''}: ${facts.summary}`, 3000);
  return {
    type: state.test ? 'alert.test' : state.status === 'firing' ? 'alert.firing' : 'alert.resolved',
    timestamp: state.at,
    text,
    data: {
      alert_id: alertId(key),
      ...facts,
      summary: clip(facts.summary, 1000),
      ...(facts.error ? { error: { code: clip(publicCode(facts.error.code), 100), message: clip(facts.error.message, 500) } } : {}),
      status: state.status,
      started_at: state.startedAt,
      ...(state.status === 'resolved' ? { resolved_at: state.at } : {}),
    },
  };
}
