/**
 * Alerts: signed JSON notifications to the configured URLs when something breaks, and when it is fixed.
 *
 *   ./config.ts      settings (URLs, whsec_ secret, thresholds) from the configuration file and environment
 *   ./conditions.ts  which events fire and clear which condition; one alert per condition until it clears
 *   ./ledger.ts      the open alerts in the store, so replicas (and a restart) send each notification once
 *   ./event.ts       the notification body (schemas/alert-event.schema.json) with a Slack-compatible text
 *   ./sender.ts      delivery: queued, signed (Standard Webhooks), retried with backoff, never blocking
 *
 * `startAlerts` wires them to the operational events of src/metrics and a periodic queue check;
 * `sendTestAlert` is `taxbridge alerts test`.
 */
import { onOpsEvent } from '../metrics/events.ts';
import { queueStats } from '../metrics/queues.ts';
import type { Store } from '../store/types.ts';
import { AlertConditions } from './conditions.ts';
import { storeLedger } from './ledger.ts';
import type { AlertsConfig } from './config.ts';
import { buildAlertEvent } from './event.ts';
import { AlertSender, type DeliveryResult } from './sender.ts';

export { parseAlertsConfig, describeAlerts, ALERT_DEFAULTS, type AlertsConfig } from './config.ts';
export type { AlertEvent } from './event.ts';
export type { DeliveryResult } from './sender.ts';

type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface RunningAlerts {
  conditions: AlertConditions;
  /** Runs the periodic check now (queues, quiet signature windows). */
  check(): Promise<void>;
  /** Resolves when no notification is waiting or being sent. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartAlertsOptions {
  config: AlertsConfig;
  store: Store;
  log?: Log;
  /** Backoff between delivery attempts (tests shorten it). Default 1 s doubling to 5 min. */
  backoff?: { initialMs: number; maxMs: number };
  userAgent?: string;
}

/** Starts listening for alert conditions; undefined when no URL is configured. */
export function startAlerts(opts: StartAlertsOptions): RunningAlerts | undefined {
  const c = opts.config;
  if (c.urls.length === 0) return undefined;
  const log = opts.log ?? (() => undefined);
  const sender = new AlertSender({ urls: c.urls, secrets: c.secrets, maxAttempts: c.maxAttempts, log, ...(opts.backoff ? { backoff: opts.backoff } : {}), ...(opts.userAgent ? { userAgent: opts.userAgent } : {}) });
  const ledger = storeLedger(opts.store);
  const conditions = new AlertConditions({
    signatureFailures: c.signatureFailures,
    signatureWindowSeconds: c.signatureWindowSeconds,
    queueAgeSeconds: c.queueAgeSeconds,
    notify: (event) => {
      log(event.data.status === 'firing' ? 'warn' : 'info', `alert ${event.data.status}: ${event.data.condition}`, { alert_id: event.data.alert_id, condition: event.data.condition, connection_id: event.data.connection_id, queue: event.data.queue });
      sender.send(event);
    },
    ledger,
    onError: (message, e) => log('warn', message, { error: e instanceof Error ? e.message : String(e) }),
  });
  const off = onOpsEvent((e) => conditions.handle(e));
  const reconcile = () => conditions.reconcile().catch((e: unknown) => log('warn', 'open alerts could not be read from the store', { error: e instanceof Error ? e.message : String(e) }));
  // Alerts left open by a previous run or opened by another replica; then their notices as they come.
  void reconcile();
  const unwatch = ledger.watch((change) => conditions.noticed(change));
  let checking: Promise<void> | undefined;
  const check = (): Promise<void> =>
    (checking ??= reconcile()
      .then(() => queueStats(opts.store))
      .then((s) => conditions.check(s))
      .catch((e: unknown) => {
        log('warn', 'alert check could not read the queues', { error: e instanceof Error ? e.message : String(e) });
        conditions.check(undefined);
      })
      .finally(() => (checking = undefined)));
  const timer = setInterval(() => void check(), c.checkIntervalSeconds * 1000);
  timer.unref();
  return {
    conditions,
    check,
    idle: async () => {
      await conditions.settled();
      await sender.idle();
    },
    async stop() {
      clearInterval(timer);
      off();
      await (await unwatch.catch(() => async () => undefined))().catch(() => undefined);
      await checking;
      await conditions.settled();
      await sender.stop();
    },
  };
}

/** Sends one `alert.test` notification to every configured URL and reports each URL's result. */
export async function sendTestAlert(config: AlertsConfig, opts: { backoff?: { initialMs: number; maxMs: number }; maxAttempts?: number; log?: Log } = {}): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = [];
  if (config.urls.length === 0) return results;
  const sender = new AlertSender({ urls: config.urls, secrets: config.secrets, maxAttempts: opts.maxAttempts ?? Math.min(config.maxAttempts, 3), ...(opts.backoff ? { backoff: opts.backoff } : {}), ...(opts.log ? { log: opts.log } : {}) });
  const at = new Date().toISOString();
  const event = buildAlertEvent('test', { condition: 'test', severity: 'info', summary: 'a test notification from `taxbridge alerts test`; alerts reach this receiver' }, { status: 'firing', startedAt: at, at, test: true });
  await new Promise<void>((resolve) => {
    sender.send(event, (r) => {
      results.push(r);
      if (results.length === config.urls.length) resolve();
    });
  });
  return results;
}
