/**
 * Prometheus metrics: the families (./registry.ts), the hooks parts call where things happen (./hooks.ts),
 * the operational events alerts listen to (./events.ts), store write timing (./store.ts), queue gauges
 * (./queues.ts). Served by src/server/metrics-api.ts at GET /metrics.
 */
export * from './hooks.ts';
import * as families from './registry.ts';
import { countInto } from './hooks.ts';

// Whoever loads this index (the server) counts; parts that import ./hooks.ts alone (the CLI's paths) do not.
countInto(families);
export { emitOpsEvent, onOpsEvent, reportListenerErrors, type OpsEvent } from './events.ts';
export { instrumentStore } from './store.ts';
export { queueStats, refreshQueueGauges, type QueueName, type QueueStats } from './queues.ts';
export { enableProcessMetrics, registry } from './registry.ts';
