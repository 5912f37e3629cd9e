/**
 * Delivers alert notifications to every configured URL, off the path of the work that raised them: `send()`
 * only queues. Each URL has its own queue, worked in order (a `resolved` never overtakes its `firing`).
 * Every attempt is signed anew (Standard Webhooks, src/webhooks/signature.ts's signer): the webhook-id stays,
 * the timestamp is the attempt's. 2xx: delivered. Network errors, timeouts, 408, 429 and 5xx: retried with
 * doubling backoff (1 s .. 5 min) up to `maxAttempts`. Any other status: given up at once (the receiver says
 * the request is wrong; repeating it would not help). A queue over its bound drops its oldest notification.
 */
import { randomUUID } from 'node:crypto';
import { compileSignature } from '../webhooks/signature.ts';
import { alertDeliveries } from '../metrics/registry.ts';
import type { AlertEvent } from './event.ts';

export interface DeliveryResult {
  url: string;
  ok: boolean;
  attempts: number;
  status?: number;
  error?: string;
}

export interface AlertSenderOptions {
  urls: string[];
  secrets: string[];
  maxAttempts: number;
  /** First retry delay and cap. Default 1 s, 5 min. */
  backoff?: { initialMs: number; maxMs: number };
  timeoutMs?: number;
  /** Notifications waiting per URL before the oldest is dropped. Default 1000. */
  maxQueued?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  userAgent?: string;
}

interface Pending {
  id: string;
  body: string;
  event: AlertEvent;
  done?: (r: DeliveryResult) => void;
}

const signer = compileSignature({ preset: 'standard_webhooks', secret: '' });

/** The Standard Webhooks headers for one attempt: webhook-id, webhook-timestamp, webhook-signature (one v1 per secret). */
export async function signedHeaders(secrets: string[], id: string, body: string, nowMs = Date.now()): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(nowMs / 1000));
  const signatures: string[] = [];
  for (const s of secrets) signatures.push((await signer.sign(s, body, { 'webhook-id': id, 'webhook-timestamp': timestamp }, nowMs))['webhook-signature']!);
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

export class AlertSender {
  private readonly opts: AlertSenderOptions;
  private readonly queues = new Map<string, Pending[]>();
  private readonly working = new Set<string>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(opts: AlertSenderOptions) {
    this.opts = opts;
    for (const u of opts.urls) this.queues.set(u, []);
  }

  /** Queues one notification for every URL; returns at once. `done` hears each URL's final result. */
  send(event: AlertEvent, done?: (r: DeliveryResult) => void): void {
    if (this.stopped) return;
    const body = JSON.stringify(event);
    const id = `msg_${randomUUID().replace(/-/g, '')}`;
    const max = this.opts.maxQueued ?? 1000;
    for (const [url, q] of this.queues) {
      if (q.length >= max) {
        const dropped = q.shift()!;
        alertDeliveries.inc({ condition: dropped.event.data.condition, result: 'dropped' });
        this.opts.log?.('error', 'alert notification dropped: too many waiting for this URL', { url_origin: new URL(url).origin, alert_id: dropped.event.data.alert_id });
      }
      q.push({ id, body, event, ...(done ? { done } : {}) });
      if (!this.working.has(url)) void this.work(url);
    }
  }

  /** Resolves when every queue is empty (or stop() was called). */
  idle(): Promise<void> {
    if (this.working.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops: waits up to `graceMs` for the queues to drain, then abandons what is left (in flight: aborted). */
  async stop(graceMs = 2000): Promise<void> {
    if (this.stopped) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (t = setTimeout(r, graceMs)))]);
    clearTimeout(t);
    this.stopped = true;
    this.abort.abort();
    for (const w of this.timers) {
      clearTimeout(w.timer);
      w.wake();
    }
  }

  private async work(url: string): Promise<void> {
    this.working.add(url);
    const q = this.queues.get(url)!;
    try {
      while (q.length > 0 && !this.stopped) {
        const p = q[0]!;
        const r = await this.deliver(url, p);
        q.shift();
        alertDeliveries.inc({ condition: p.event.data.condition, result: r.ok ? 'delivered' : 'failed' });
        if (!r.ok && !this.stopped) this.opts.log?.('error', 'alert notification not delivered', { url_origin: new URL(url).origin, alert_id: p.event.data.alert_id, condition: p.event.data.condition, attempts: r.attempts, status: r.status, error: r.error });
        p.done?.(r);
      }
    } finally {
      this.working.delete(url);
      if (this.working.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async deliver(url: string, p: Pending): Promise<DeliveryResult> {
    const backoff = this.opts.backoff ?? { initialMs: 1000, maxMs: 300_000 };
    let last: DeliveryResult = { url, ok: false, attempts: 0 };
    for (let attempt = 1; attempt <= this.opts.maxAttempts && !this.stopped; attempt++) {
      last = { url, ok: false, attempts: attempt };
      try {
        const headers = await signedHeaders(this.opts.secrets, p.id, p.body);
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': this.opts.userAgent ?? 'taxbridge-alerts', ...headers },
          body: p.body,
          redirect: 'manual',
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.timeoutMs ?? 10_000)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        last.status = res.status;
        if (res.status >= 200 && res.status < 300) return { ...last, ok: true };
        if (!retryable(res.status)) return { ...last, error: `the receiver answered ${res.status}` };
        last.error = `the receiver answered ${res.status}`;
      } catch (e) {
        last.error = e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e);
      }
      if (attempt < this.opts.maxAttempts) {
        alertDeliveries.inc({ condition: p.event.data.condition, result: 'retried' });
        await this.sleep(Math.min(backoff.maxMs, backoff.initialMs * 2 ** (attempt - 1)));
      }
    }
    return last;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const w = {
        timer: setTimeout(() => {
          this.timers.delete(w);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.timers.add(w);
    });
  }
}
