/**
 * The metric families of `GET /metrics` (Prometheus text format, prom-client), in one process-wide registry:
 * the events they count happen deep in parts (the HTTP engine, the store) that have no server object at hand.
 *
 * Every label has a bounded set of values: route templates (never raw paths), connector and stream names from
 * the loaded specs, status codes, outcome words and error codes. No connection, job, event or document ids:
 * those belong in logs and alerts (src/alerts), where one series per id cannot explode a time-series database.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();

let processMetrics = false;
/** Node's process metrics (CPU, memory, event loop lag, GC) too: started by the server only, never by a CLI run. */
export function enableProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: registry, prefix: 'taxbridge_' });
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const httpRequests = new Counter({
  name: 'taxbridge_http_requests_total',
  help: 'HTTP requests answered, by method, route template and status code.',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'taxbridge_http_request_duration_seconds',
  help: 'Time to answer an HTTP request, by method, route template and status code.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const taxCalculations = new Counter({
  name: 'taxbridge_tax_calculations_total',
  help: 'Tax calculations (calculate_tax) by result (taxed, not_taxed, error) and reason (the taxability reason, or the error code).',
  labelNames: ['result', 'reason'] as const,
  registers: [registry],
});

export const webhookDeliveries = new Counter({
  name: 'taxbridge_webhook_deliveries_total',
  help: 'Webhook deliveries received, by connector and outcome (accepted, duplicate, refused); code is the refusal code.',
  labelNames: ['connector', 'outcome', 'code'] as const,
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'taxbridge_queue_depth',
  help: 'Items waiting in a queue: inbox (webhook events not processed yet) and writeback (jobs pending, running or retrying).',
  labelNames: ['queue'] as const,
  registers: [registry],
});

export const queueOldestAge = new Gauge({
  name: 'taxbridge_queue_oldest_age_seconds',
  help: 'Age of the oldest item waiting in a queue (0 when empty).',
  labelNames: ['queue'] as const,
  registers: [registry],
});

export const writebacks = new Counter({
  name: 'taxbridge_writebacks_total',
  help: 'Write-back jobs by connector and outcome (applied, unchanged, no_tax, superseded, dead, retrying, voided).',
  labelNames: ['connector', 'outcome'] as const,
  registers: [registry],
});

export const syncRuns = new Counter({
  name: 'taxbridge_sync_runs_total',
  help: 'Stream sync runs by connector, stream and status (ok, failed, skipped).',
  labelNames: ['connector', 'stream', 'status'] as const,
  registers: [registry],
});

export const syncRecords = new Counter({
  name: 'taxbridge_sync_records_total',
  help: 'Records read by stream syncs, by connector and stream.',
  labelNames: ['connector', 'stream'] as const,
  registers: [registry],
});

export const syncDuration = new Histogram({
  name: 'taxbridge_sync_duration_seconds',
  help: 'Duration of stream sync runs, by connector, stream and status.',
  labelNames: ['connector', 'stream', 'status'] as const,
  buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
  registers: [registry],
});

export const upstreamRequests = new Counter({
  name: 'taxbridge_upstream_requests_total',
  help: 'HTTP attempts to connected systems, by connector and status (the HTTP status code, network_error or timeout).',
  labelNames: ['connector', 'status'] as const,
  registers: [registry],
});

export const upstreamRetries = new Counter({
  name: 'taxbridge_upstream_retries_total',
  help: 'Retries of HTTP requests to connected systems, by connector and the status that caused them.',
  labelNames: ['connector', 'status'] as const,
  registers: [registry],
});

export const storeWriteDuration = new Histogram({
  name: 'taxbridge_store_write_duration_seconds',
  help: 'Time until a store write is durable, by operation and collection (entities for synced records).',
  labelNames: ['op', 'collection', 'result'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export const alertDeliveries = new Counter({
  name: 'taxbridge_alert_deliveries_total',
  help: 'Alert notifications by condition and result (delivered, retried, failed, dropped).',
  labelNames: ['condition', 'result'] as const,
  registers: [registry],
});
