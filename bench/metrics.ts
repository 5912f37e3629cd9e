/**
 * `npm run bench:metrics`: what the metric hooks add to the work they observe, and what a scrape costs.
 *
 * 1. Per HTTP request: the access-log middleware's own line (createLogger, no-op writer: what every request
 *    already pays) is the baseline; measured in the same run, interleaved in slices, against the same line
 *    plus observeHttpRequest (route template, counter + histogram) and observeTaxCalculation (result and
 *    reason of a settled calculation). `hook_ratio` = (log + hooks) / log time per request.
 * 2. A scrape: GET /metrics's work (queue depth and age read from the store, then the text exposition) with
 *    BENCH_QUEUE (10,000) pending inbox events in a real embedded store in a temporary folder, against
 *    store.list of the same collection alone (the floor of reading the queue).
 *
 * Last line: {"bench":"metrics","log_ns":..,"log_plus_hooks_ns":..,"hook_ratio":..,"scrape_ms":..,"list_ms":..,"scrape_ratio":..}
 * Targets: hook_ratio <= 1.5 (the hooks cost less than half of a log line), scrape_ms < 250 at 10,000 pending.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'koa';
import { createLogger } from '../src/log/index.ts';
import { observeHttpRequest, observeTaxCalculation, refreshQueueGauges, registry } from '../src/metrics/index.ts';
import { openStore } from '../src/store/index.ts';
import { EVENTS } from '../src/webhooks/inbox.ts';

const N = Number(process.env.BENCH_ITERATIONS ?? 200_000);
const QUEUE = Number(process.env.BENCH_QUEUE ?? 10_000);
const SLICES = 10;

const log = createLogger({ write: () => undefined });
const ctx = { method: 'POST', status: 200, path: '/tax_api/calculate_tax', _matchedRoute: '/tax_api/calculate_tax' } as unknown as Context;
const settled = { result: { taxTotal: 1234n, lines: [{ reason: 'standard_rated' }, { reason: 'standard_rated' }] } };

function logOnly(n: number): void {
  for (let i = 0; i < n; i++) log.info('request', { method: 'POST', path: '/tax_api/calculate_tax', status: 200, duration_ms: 1.5, request_id: 'b5a8595e-45be-478d-8d3e-ade2002ddee7' });
}
async function logAndHooks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    log.info('request', { method: 'POST', path: '/tax_api/calculate_tax', status: 200, duration_ms: 1.5, request_id: 'b5a8595e-45be-478d-8d3e-ade2002ddee7' });
    observeHttpRequest(ctx, 0.0015);
    void observeTaxCalculation(Promise.resolve(settled));
    // The calculation's settlement callbacks run here, as they would before the next request.
    if ((i & 255) === 0) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
}

let logNs = 0;
let hooksNs = 0;
await logAndHooks(10_000); // warm-up
logOnly(10_000);
for (let s = 0; s < SLICES; s++) {
  let t = process.hrtime.bigint();
  logOnly(N / SLICES);
  logNs += Number(process.hrtime.bigint() - t);
  t = process.hrtime.bigint();
  await logAndHooks(N / SLICES);
  hooksNs += Number(process.hrtime.bigint() - t);
}

const dir = mkdtempSync(join(tmpdir(), 'tb-bench-metrics-'));
const store = await openStore({ dir });
const now = Date.now();
const writes: Array<Promise<unknown>> = [];
for (let i = 0; i < QUEUE; i++) {
  const at = new Date(now - i * 1000).toISOString();
  writes.push(store.put(EVENTS, `evt_${i}`, { id: `evt_${i}`, connection_id: 'conn_bench', organization_id: 'org_bench', connector: 'rillet', event_id: String(i), event_type: 'INVOICE.CREATED', action: 'upsert', headers: {}, raw_body: '{}', received_at: at, status: 'pending', attempts: 0, updated_at: at }));
}
await Promise.all(writes);
let scrapeMs = Infinity;
let listMs = Infinity;
let text = '';
for (let i = 0; i < 5; i++) {
  let t = performance.now();
  await refreshQueueGauges(store);
  text = await registry.metrics();
  scrapeMs = Math.min(scrapeMs, performance.now() - t);
  t = performance.now();
  await store.list(EVENTS, (d: { status: string }) => d.status === 'pending');
  listMs = Math.min(listMs, performance.now() - t);
}
await store.close();
rmSync(dir, { recursive: true, force: true });
if (!/taxbridge_queue_depth\{queue="inbox"\} (\d+)/.test(text) || Number(/taxbridge_queue_depth\{queue="inbox"\} (\d+)/.exec(text)![1]) !== QUEUE) throw new Error('the scrape did not see the queue');

const perLog = logNs / N;
const perBoth = hooksNs / N;
console.log(`per request: log line ${perLog.toFixed(0)} ns, log line + metric hooks ${perBoth.toFixed(0)} ns (hooks ${(perBoth - perLog).toFixed(0)} ns)`);
console.log(`scrape with ${QUEUE} pending inbox events: ${scrapeMs.toFixed(1)} ms (store.list alone ${listMs.toFixed(1)} ms)`);
console.log(JSON.stringify({ bench: 'metrics', log_ns: Math.round(perLog), log_plus_hooks_ns: Math.round(perBoth), hook_ratio: Number((perBoth / perLog).toFixed(2)), scrape_ms: Number(scrapeMs.toFixed(1)), list_ms: Number(listMs.toFixed(1)), scrape_ratio: Number((scrapeMs / listMs).toFixed(2)) }));
