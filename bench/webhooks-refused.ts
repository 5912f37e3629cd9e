/**
 * `npm run bench:webhooks-refused`: what a flood of forged webhook deliveries costs. Deliveries to a Rillet
 * connection's URL with a signature that does not verify (a ~2 KB body, fresh timestamp) are posted as fast
 * as possible for BENCH_SECONDS (10) to the real receiver, which refuses each with 401 and notes it in the
 * refused-deliveries record (src/webhooks/refused.ts) of an embedded store in a temporary folder. In the same
 * run, alternating in BENCH_SLICE_SECONDS (2) slices, the same requests go to the same receiver without the
 * record (the baseline: what refusing costs anyway).
 *
 * Measured: refusals per second with the record against without (ratio: what recording costs), the store writes the record made (counted
 * on the store) per 1000 refusals, the count and size the record ends with, and the peak RSS.
 * Last line: {"bench":"webhooks-refused","refused":..,"refused_per_s":..,"baseline_rps":..,"ratio":..,
 * "store_writes":..,"writes_per_1000":..,"recorded":..,"kept":..,"peak_rss_mb":..}.
 * Targets: recorded == refused, kept == 100, writes_per_1000 well under 1, ratio >= 0.9.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import { listenOnLoopback, round, runLoad, trackPeakRss, type LoadResult } from './lib/load.ts';
import { loadConnector } from '../src/spec/index.ts';
import { createWebhookReceiverRouter } from '../src/server/webhooks-api.ts';
import { openStore } from '../src/store/index.ts';
import { REFUSED, RefusedDeliveries } from '../src/webhooks/refused.ts';

const TOKEN = 'tok_bench_refused_0123456789';

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const sliceSeconds = Number(process.env.BENCH_SLICE_SECONDS ?? 2);
  const dir = mkdtempSync(join(tmpdir(), 'taxbridge-bench-refused-'));
  const store = await openStore({ dir });
  let writes = 0;
  const put = store.put.bind(store);
  store.put = ((collection, id, doc) => {
    if (collection === REFUSED) writes++;
    return put(collection, id, doc);
  }) as typeof store.put;
  const refused = new RefusedDeliveries(store, { onError: (e) => process.stderr.write(`refused record not written: ${String(e)}\n`) });
  const spec = loadConnector(new URL('../connectors/rillet.yaml', import.meta.url).pathname);
  const connection = {
    spec,
    organizationId: 'org_bench',
    conn: { connection_id: 'conn_bench', environment: 'sandbox' as const, base_url: 'http://127.0.0.1:9', credentials: { api_key: 'unused', signing_token: randomBytes(32).toString('base64') }, settings: { subsidiary_id: 'sub_us' } },
  };
  const app = new Koa();
  app.silent = true;
  app.use(createWebhookReceiverRouter({ store, refused, resolveConnection: async (t) => (t === TOKEN ? connection : undefined) }).routes());
  // The baseline: the same receiver refusing the same requests, without the record.
  const bareApp = new Koa();
  bareApp.silent = true;
  bareApp.use(createWebhookReceiverRouter({ store, resolveConnection: async (t) => (t === TOKEN ? connection : undefined) }).routes());
  const receiver = await listenOnLoopback(app);
  const baseline = await listenOnLoopback(bareApp);
  const body = JSON.stringify({ id: 'inv_bench', note: 'x'.repeat(2000) });
  const forged = (path: string) => ({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', 'x-rillet-id': 'dlv_forged', 'x-rillet-timestamp': new Date().toISOString(), 'x-rillet-entity': 'INVOICE', 'x-rillet-event': 'CREATED', 'x-rillet-signature': randomBytes(32).toString('base64') },
    body,
  });
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(`webhooks-refused bench: ${connections} in flight, ${seconds} s per target in ${sliceSeconds} s slices, body ${Buffer.byteLength(body)} bytes`);

  await runLoad({ url: receiver.url, connections, durationMs: 1000, request: forged(`/webhooks/${TOKEN}`) });
  await runLoad({ url: baseline.url, connections, durationMs: 1000, request: forged(`/webhooks/${TOKEN}`) });
  await refused.flush();
  const warm = (await refused.summary({ connection_id: 'conn_bench' })).count;
  const writesBefore = writes;

  const slices = Math.max(1, Math.round(seconds / sliceSeconds));
  const sliceMs = Math.round((seconds * 1000) / slices);
  const total = { r: 0, rMs: 0, r401: 0, b: 0, bMs: 0 };
  const rss = trackPeakRss();
  for (let i = 0; i < slices; i++) {
    const r: LoadResult = await runLoad({ url: receiver.url, connections, durationMs: sliceMs, request: forged(`/webhooks/${TOKEN}`) });
    const b: LoadResult = await runLoad({ url: baseline.url, connections, durationMs: sliceMs, request: forged(`/webhooks/${TOKEN}`) });
    total.r += r.requests;
    total.r401 += r.statuses['401'] ?? 0;
    total.rMs += r.duration_ms;
    total.b += b.requests;
    total.bMs += b.duration_ms;
  }
  const peak = rss.stop();
  await refused.close();
  const summary = await refused.summary({ connection_id: 'conn_bench' });
  const storeWrites = writes - writesBefore;
  const refusedPerS = total.r / (total.rMs / 1000);
  const baselineRps = total.b / (total.bMs / 1000);
  const result = {
    bench: 'webhooks-refused',
    refused: total.r401,
    refused_per_s: round(refusedPerS),
    baseline_rps: round(baselineRps),
    ratio: round(refusedPerS / baselineRps, 3),
    store_writes: storeWrites,
    writes_per_1000: round((storeWrites * 1000) / Math.max(1, total.r401), 3),
    recorded: summary.count - warm,
    kept: summary.recent.length,
    peak_rss_mb: round(peak),
  };
  log(`refused ${result.refused} (${result.refused_per_s}/s, without the record ${result.baseline_rps}/s, ratio ${result.ratio}); ${storeWrites} store writes (${result.writes_per_1000} per 1000); recorded ${result.recorded}, kept ${result.kept}; peak RSS ${result.peak_rss_mb} MB`);
  log(JSON.stringify(result));
  receiver.server.close();
  baseline.server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (result.recorded !== result.refused || result.kept !== 100) process.exitCode = 1;
}

await main();
