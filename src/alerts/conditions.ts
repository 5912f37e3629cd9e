/**
 * The alert conditions and their de-duplication: a condition of one subject (a connection, a stream, a queue)
 * fires once and stays quiet until it clears, then sends one `resolved`. Fed by the operational events of
 * src/metrics/events.ts and by a periodic check (queue ages, quiet signature windows). With a ledger
 * (src/alerts/ledger.ts, in the store) the open alerts are shared by replicas and survive a restart: one
 * notification per condition across all of them; without one, state is in memory only.
 */
import type { OpsEvent } from '../metrics/events.ts';
import type { QueueStats } from '../metrics/queues.ts';
import { buildAlertEvent, type AlertEvent, type AlertFacts } from './event.ts';
import type { AlertLedger } from './ledger.ts';
import { isCode } from '../errors.ts';

export interface ConditionOptions {
  signatureFailures: number;
  signatureWindowSeconds: number;
  queueAgeSeconds: number;
  /** Receives each notification to send (firing or resolved). */
  notify(event: AlertEvent): void;
  now?: () => number;
  /** Open alerts shared through the store (replicas, restarts). */
  ledger?: AlertLedger;
  /** A ledger operation failed (the notification is sent anyway: a duplicate beats a missed alert). */
  onError?: (message: string, e: unknown) => void;
}

/** Subjects tracked at most (open alerts, signature windows): beyond, the oldest are forgotten. */
const MAX_TRACKED = 10_000;

interface Open {
  facts: AlertFacts;
  startedAt: string;
}

export class AlertConditions {
  private readonly opts: ConditionOptions;
  private readonly open = new Map<string, Open>();
  /** Refusal times (ms) per webhook subject, at most `signatureFailures` kept. */
  private readonly refusals = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(opts: ConditionOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  /** Alerts firing now (their keys). */
  firing(): string[] {
    return [...this.open.keys()];
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  raise(key: string, facts: AlertFacts): void {
    if (this.open.has(key)) return;
    if (this.open.size >= MAX_TRACKED) this.open.delete(this.open.keys().next().value!);
    const startedAt = this.iso();
    this.open.set(key, { facts, startedAt });
    const firing = () => this.opts.notify(buildAlertEvent(key, facts, { status: 'firing', startedAt, at: startedAt }));
    const ledger = this.opts.ledger;
    if (!ledger) return firing();
    this.serially(key, async () => {
      const r = await ledger.claim({ key, facts, started_at: startedAt }).catch((e: unknown) => {
        this.opts.onError?.('the open alert could not be stored', e);
        return { fired: true, alert: { key, facts, started_at: startedAt } };
      });
      if (r.fired) return firing();
      // Open already (another replica, or before a restart): keep its start, send nothing.
      if (this.open.has(key)) this.open.set(key, { facts: r.alert.facts, startedAt: r.alert.started_at });
    });
  }

  clear(key: string, summary: string): void {
    const o = this.open.get(key);
    if (!o) return;
    this.open.delete(key);
    const resolved = (facts0: AlertFacts, startedAt: string) => {
      const { error: _e, job_id: _j, ...facts } = facts0;
      this.opts.notify(buildAlertEvent(key, { ...facts, summary }, { status: 'resolved', startedAt, at: this.iso() }));
    };
    const ledger = this.opts.ledger;
    if (!ledger) return resolved(o.facts, o.startedAt);
    this.serially(key, async () => {
      const stored = await ledger.release(key).catch((e: unknown) => {
        this.opts.onError?.('the open alert could not be removed from the store', e);
        return { key, facts: o.facts, started_at: o.startedAt };
      });
      // Only the replica that removed it resolves it.
      if (stored) resolved(stored.facts, stored.started_at);
    });
  }

  /** Ledger operations of one key run in order (a clear right after a raise must see the raise stored). */
  private readonly pending = new Map<string, Promise<void>>();
  private serially(key: string, fn: () => Promise<void>): void {
    const run = (this.pending.get(key) ?? Promise.resolve()).then(fn).catch((e: unknown) => this.opts.onError?.('alert bookkeeping failed', e));
    this.pending.set(key, run);
    void run.finally(() => {
      if (this.pending.get(key) === run) this.pending.delete(key);
    });
  }

  /** Resolves when no ledger operation is in flight. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending.values()]);
  }

  /**
   * Aligns what this process believes is open with the ledger (start, each periodic check, a notice from
   * another replica): alerts opened elsewhere can then be cleared here, and ones resolved elsewhere can fire again.
   */
  async reconcile(): Promise<void> {
    const ledger = this.opts.ledger;
    if (!ledger) return;
    const stored = new Map((await ledger.openAlerts()).map((a) => [a.key, a]));
    for (const key of [...this.open.keys()]) if (!stored.has(key) && !this.pending.has(key)) this.open.delete(key);
    for (const [key, a] of stored) if (!this.open.has(key) && !this.pending.has(key) && this.open.size < MAX_TRACKED) this.open.set(key, { facts: a.facts, startedAt: a.started_at });
  }

  /** A notice from another replica: opened (clear it here when its cause goes) or closed (it may fire again). */
  noticed(change: { open: boolean; key: string }): void {
    if (this.pending.has(change.key)) return;
    if (!change.open) this.open.delete(change.key);
    else if (!this.open.has(change.key) && this.open.size < MAX_TRACKED) void this.reconcile().catch((e: unknown) => this.opts.onError?.('open alerts could not be read', e));
  }

  handle(e: OpsEvent): void {
    switch (e.kind) {
      case 'sync_stream': {
        const key = `sync_failed\u0000${e.connectionId}\u0000${e.stream}`;
        if (e.status === 'failed') {
          this.raise(key, { condition: 'sync_failed', severity: 'critical', connection_id: e.connectionId, connector: e.connector, stream: e.stream, ...(e.error ? { error: e.error } : {}), summary: `the ${e.stream} sync failed after its retries${e.error ? ` (${e.error.code}: ${e.error.message})` : ''}; see taxbridge connections and the server log` });
          if (e.error && isCode(e.error.code, 'HTTP_BAD_CREDENTIALS')) this.credentialsRejected(e.connectionId, e.connector, e.error);
        } else if (e.status === 'ok') {
          this.clear(key, `the ${e.stream} sync succeeds again`);
          this.clear(`sync_failed\u0000${e.connectionId}\u0000*`, 'a sync of the connection succeeds again');
          this.clear(`credentials_rejected\u0000${e.connectionId}`, `the system accepts the connection's credentials again (the ${e.stream} sync succeeded)`);
        }
        return;
      }
      case 'sync_run_failed':
        this.raise(`sync_failed\u0000${e.connectionId}\u0000*`, { condition: 'sync_failed', severity: 'critical', connection_id: e.connectionId, connector: e.connector, error: e.error, summary: `a sync run failed (${e.error.code}: ${e.error.message}); see the server log` });
        if (isCode(e.error.code, 'HTTP_BAD_CREDENTIALS')) this.credentialsRejected(e.connectionId, e.connector, e.error);
        return;
      case 'writeback': {
        const key = `writeback_dead\u0000${e.connectionId}`;
        if (e.status === 'dead') {
          this.raise(key, { condition: 'writeback_dead', severity: 'critical', connection_id: e.connectionId, connector: e.connector, job_id: e.jobId, ...(e.error ? { error: e.error } : {}), summary: `tax for document ${e.documentId} could not be written back${e.error ? ` (${e.error.code}: ${e.error.message})` : ''}; fix the cause, then taxbridge writebacks --dead and replay` });
          if (e.error && isCode(e.error.code, 'HTTP_BAD_CREDENTIALS')) this.credentialsRejected(e.connectionId, e.connector, e.error);
        } else if (e.status === 'applied') {
          this.clear(key, 'write-backs of the connection are applied again (dead jobs stay listed until replayed)');
          this.clear(`credentials_rejected\u0000${e.connectionId}`, "the system accepts the connection's credentials again (a write-back was applied)");
        }
        return;
      }
      case 'connection_needs_reauthorization':
        this.raise(`connection_needs_reauthorization\u0000${e.connectionId}`, { condition: 'connection_needs_reauthorization', severity: 'critical', connection_id: e.connectionId, connector: e.connector, summary: `${e.reason}; schedules are stopped and write-backs wait: run taxbridge connect --connection ${e.connectionId} --reauthorize` });
        return;
      case 'connection_active':
        this.clear(`connection_needs_reauthorization\u0000${e.connectionId}`, 'the connection is authorized again');
        this.clear(`credentials_rejected\u0000${e.connectionId}`, 'the connection was updated and is active');
        return;
      case 'webhook_delivery':
        this.webhookDelivery(e);
        return;
    }
  }

  private credentialsRejected(connectionId: string, connector: string, error: { code: string; message: string }): void {
    this.raise(`credentials_rejected\u0000${connectionId}`, { condition: 'credentials_rejected', severity: 'critical', connection_id: connectionId, connector, error, summary: `the system refused the connection's credentials (${error.message}); update them with taxbridge connect --connection ${connectionId}` });
  }

  private webhookDelivery(e: Extract<OpsEvent, { kind: 'webhook_delivery' }>): void {
    if (!e.connectionId && !e.connector) return;
    const subject = e.connectionId ? `c\u0000${e.connectionId}` : `k\u0000${e.connector}`;
    const key = `signature_failures\u0000${subject}`;
    if (e.outcome !== 'refused') {
      this.refusals.delete(subject);
      this.clear(key, 'webhook deliveries are accepted again');
      return;
    }
    if (e.status !== 401) return;
    const nowMs = this.now();
    const windowMs = this.opts.signatureWindowSeconds * 1000;
    const times = (this.refusals.get(subject) ?? []).filter((t) => t > nowMs - windowMs);
    times.push(nowMs);
    if (times.length > this.opts.signatureFailures) times.shift();
    this.refusals.delete(subject); // re-inserted last: the map's order is least recently refused first
    if (this.refusals.size >= MAX_TRACKED) this.refusals.delete(this.refusals.keys().next().value!);
    this.refusals.set(subject, times);
    if (times.length >= this.opts.signatureFailures) {
      this.raise(key, {
        condition: 'signature_failures',
        severity: 'warning',
        ...(e.connectionId ? { connection_id: e.connectionId } : {}),
        ...(e.connector ? { connector: e.connector } : {}),
        value: times.length,
        threshold: this.opts.signatureFailures,
        ...(e.code ? { error: { code: e.code, message: 'the last refused delivery' } } : {}),
        summary: `${times.length} webhook deliveries refused (signature or credentials) within ${this.opts.signatureWindowSeconds} s: the sender's signing secret may have been rotated, or someone is probing the URL; see taxbridge events`,
      });
    }
  }

  /** The periodic check: queue ages against the threshold, signature windows that went quiet. */
  check(stats: QueueStats | undefined): void {
    if (stats) {
      for (const queue of ['inbox', 'writeback'] as const) {
        const s = stats[queue];
        const key = `queue_oldest_age\u0000${queue}`;
        if (s.oldestAgeSeconds > this.opts.queueAgeSeconds) {
          this.raise(key, { condition: 'queue_oldest_age', severity: 'warning', queue, value: s.oldestAgeSeconds, threshold: this.opts.queueAgeSeconds, summary: `the oldest of ${s.depth} items in the ${queue === 'inbox' ? 'webhook inbox' : 'write-back queue'} has waited ${s.oldestAgeSeconds} s (threshold ${this.opts.queueAgeSeconds} s); check the workers and the connected systems` });
        } else {
          this.clear(key, `the ${queue === 'inbox' ? 'webhook inbox' : 'write-back queue'} is moving again (oldest item ${s.oldestAgeSeconds} s, ${s.depth} waiting)`);
        }
      }
    }
    const windowStart = this.now() - this.opts.signatureWindowSeconds * 1000;
    for (const [subject, times] of [...this.refusals]) {
      if (times.at(-1)! > windowStart) continue;
      this.refusals.delete(subject);
      this.clear(`signature_failures\u0000${subject}`, `no refused webhook deliveries for ${this.opts.signatureWindowSeconds} s`);
    }
  }
}
