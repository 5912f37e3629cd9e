/**
 * `npm run bench:tax-memory`: memory under hostile load. One API key sends ~1 MiB bodies at the default rate
 * limit (100 requests/s) for BENCH_SECONDS (default 40) to a real server on loopback (the tax API router over
 * the real store on a temporary data folder, as `taxbridge serve` composes them, with the default limits and
 * retention), while heap and RSS are sampled every 250 ms. Then the store is closed and reopened on that
 * folder, and the time until the tax API is ready again (store open, service open, a recorded calculation
 * read back) is measured.
 *
 * The bodies, in turn (each just under 1 MiB):
 *  - `padding`: a 5-line invoice plus one unknown ~1 MiB field (kept verbatim in memory and on disk before);
 *  - `lines`: 1,000 lines with 500-character descriptions, padded with an unknown field;
 *  - `max`: 1,000 lines whose ids and product ids are 500 characters: the largest record the caps allow.
 * BENCH_BODY=padding|lines|max sends only one kind.
 *
 * The load generator is this file run as a worker thread (its own heap; RSS is the whole process): open
 * loop, one request every 1/rate s, at most 200 in flight.
 *
 * Last line: {"bench":"tax-memory","seconds":..,"rate":..,"requests":..,"statuses":{..},"baseline_heap_mb":..,
 * "peak_heap_mb":..,"baseline_rss_mb":..,"peak_rss_mb":..,"records":..,"retained_mb":..,"file_mb":..,
 * "restart_s":..}. Environment: BENCH_SECONDS, BENCH_RATE (default 100), BENCH_BODY.
 */
import { isMainThread, parentPort, workerData, Worker } from 'node:worker_threads';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

interface WorkerInput {
  url: string;
  key: string;
  rate: number;
  durationMs: number;
  kinds: string[];
}
interface WorkerResult {
  requests: number;
  statuses: Record<string, number>;
  errors: number;
  lastId?: string;
}

const MB = 1024 * 1024;
const AUSTIN = { address1: '100 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };

/** A JSON body of about `target` bytes: `base` plus an unknown string field filling the rest. */
function padded(base: Record<string, unknown>, target: number): string {
  const text = JSON.stringify({ ...base, notes: '' });
  return text.replace('"notes":""', `"notes":"${'n'.repeat(Math.max(0, target - text.length))}"`);
}

function makeBody(kind: string): string {
  const target = MB - 1024;
  if (kind === 'padding') {
    return padded({ currency: 'usd', customer_address: AUSTIN, line_items: [1, 2, 3, 4, 5].map((i) => ({ id: `li_${i}`, amount: 1999 * i, product_id: `prod_${i}` })) }, target);
  }
  if (kind === 'lines') {
    const line_items = Array.from({ length: 1000 }, (_, i) => ({ id: `li_${i}`, amount: 100 + i, product_id: `prod_${i % 50}`, description: `Seat licence ${i} `.padEnd(500, '.') }));
    return padded({ currency: 'usd', customer_address: AUSTIN, line_items }, target);
  }
  const line_items = Array.from({ length: 1000 }, (_, i) => ({ id: `${i}`.padStart(500, 'i'), amount: 100 + i, product_id: `${i}`.padStart(500, 'p') }));
  return JSON.stringify({ currency: 'usd', customer_address: AUSTIN, line_items });
}

// ------------------------------------------------------------------------------------------ load worker
async function workerMain(input: WorkerInput): Promise<WorkerResult> {
  const { Pool } = await import('undici');
  const origin = new URL(input.url).origin;
  const pool = new Pool(origin, { connections: 32, pipelining: 1 });
  const bodies = input.kinds.map((k) => makeBody(k));
  const statuses: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  let inFlight = 0;
  let lastId: string | undefined;
  const start = performance.now();
  const interval = 1000 / input.rate;
  const pending = new Set<Promise<void>>();
  for (let i = 0; ; i++) {
    const due = start + i * interval;
    if (due - start >= input.durationMs) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight >= 200) continue; // the server is behind: skip this slot rather than queue without bound
    inFlight++;
    requests++;
    const p = pool
      .request({ method: 'POST', path: '/tax_api/calculate_tax', headers: { 'content-type': 'application/json', 'x-api-key': input.key }, body: bodies[i % bodies.length]! })
      .then(async (res) => {
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200) lastId = ((await res.body.json()) as { data: { sphere_tax_calculation_id: string } }).data.sphere_tax_calculation_id;
        else await res.body.dump();
      })
      .catch(() => void errors++)
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  }
  await Promise.allSettled([...pending]);
  await pool.close();
  return { requests, statuses, errors, lastId };
}

function runWorker(input: WorkerInput): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    // Workers do not inherit tsx's loader: register it in the worker, then import this file.
    const entry = new URL(import.meta.url).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    const worker = new Worker(boot, { eval: true, workerData: { taxMemoryWorker: true, input } });
    worker.once('message', (m: WorkerResult) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker exited with ${code}`));
    });
  });
}

function tableBytes(dir: string): number {
  const folder = join(dir, 'collections');
  return readdirSync(folder)
    .filter((f) => f.startsWith('tax_calculations.'))
    .reduce((n, f) => n + statSync(join(folder, f)).size, 0);
}

const mb = (n: number): number => Math.round((n / MB) * 10) / 10;

// ------------------------------------------------------------------------------------------ server side
async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 40);
  const rate = Number(process.env.BENCH_RATE ?? 100);
  const kinds = process.env.BENCH_BODY ? [process.env.BENCH_BODY] : ['padding', 'lines', 'max'];

  const { default: Koa } = await import('koa');
  const { loadTaxData } = await import('../src/tax/rates/index.ts');
  const { TaxService } = await import('../src/tax/service.ts');
  const { createTaxApiRouter } = await import('../src/server/tax-api.ts');
  const { openStore } = await import('../src/store/index.ts');
  const { DEFAULTS } = await import('../src/config/index.ts');

  const dir = mkdtempSync(join(tmpdir(), 'taxbridge-bench-tax-memory-'));
  const data = loadTaxData();
  const serviceOptions = {
    data,
    rateLimitPerSecond: DEFAULTS.taxRateLimitPerSecond,
    limits: { maxLineItems: DEFAULTS.taxMaxLineItems, maxDepth: DEFAULTS.taxMaxDepth, maxTextLength: DEFAULTS.taxMaxTextLength },
    maxPendingRecords: DEFAULTS.taxMaxPendingRecords,
    retention: { maxAgeDays: DEFAULTS.taxRetentionDays, maxCount: DEFAULTS.taxRetentionCount, maxBytes: DEFAULTS.taxRetentionBytes },
  };
  try {
    const store = await openStore({ dir });
    const service = await TaxService.open({ store, ...serviceOptions });
    const org = await service.createOrganization({ name: 'Bench Co', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX', postal_code: '78701' } });
    await service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
    const { key } = await service.createApiKey(org.id, { name: 'bench' });

    const app = new Koa();
    app.use(createTaxApiRouter({ service, maxBodyBytes: DEFAULTS.taxMaxBodyBytes }).routes());
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // Baseline: the server up and idle, after a collection.
    (globalThis as { gc?: () => void }).gc?.();
    const base = process.memoryUsage();
    let peakHeap = base.heapUsed;
    let peakRss = base.rss;
    const samples: Array<{ t: number; heap: number; rss: number }> = [];
    const t0 = performance.now();
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed);
      peakRss = Math.max(peakRss, m.rss);
      samples.push({ t: performance.now() - t0, heap: m.heapUsed, rss: m.rss });
    }, 250);
    process.stdout.write(`bench:tax-memory  ${rate} requests/s of ~1 MiB (${kinds.join(', ')}) for ${seconds} s, one key, store: embedded (temp folder)\n`);
    const load = await runWorker({ url, key, rate, durationMs: seconds * 1000, kinds });
    await service.flush();
    clearInterval(sampler);
    for (let s = 5; s <= seconds; s += 5) {
      const near = samples.filter((x) => x.t <= s * 1000).at(-1);
      if (near) process.stdout.write(`  t=${String(s).padStart(3)} s  heap ${mb(near.heap)} MB  rss ${mb(near.rss)} MB\n`);
    }
    const records = service.retention.count;
    const retained = service.retention.retainedBytes;
    server.close();
    server.closeAllConnections();
    await service.close();
    await store.close();
    const fileBytes = tableBytes(dir);

    // Restart on the same folder: until a recorded calculation is served again.
    const r0 = performance.now();
    const store2 = await openStore({ dir });
    const service2 = await TaxService.open({ store: store2, ...serviceOptions, retention: { ...serviceOptions.retention, intervalMs: 0 } });
    const back = load.lastId ? await store2.get('tax_calculations', load.lastId) : undefined;
    const restartS = (performance.now() - r0) / 1000;
    await service2.retention.ready();
    const afterRestart = service2.retention.count;
    await service2.close();
    await store2.close();

    process.stdout.write(
      `requests ${load.requests} (${JSON.stringify(load.statuses)}, errors ${load.errors})\n` +
        `heap: baseline ${mb(base.heapUsed)} MB, peak ${mb(peakHeap)} MB (+${mb(peakHeap - base.heapUsed)})\n` +
        `rss:  baseline ${mb(base.rss)} MB, peak ${mb(peakRss)} MB (+${mb(peakRss - base.rss)})\n` +
        `records kept ${records} (~${mb(retained)} MB of record JSON), table on disk ${mb(fileBytes)} MB; after restart ${afterRestart}\n` +
        `restart: ready in ${restartS.toFixed(2)} s${back ? '' : ' (last calculation not found!)'}\n`,
    );
    process.stdout.write(
      JSON.stringify({
        bench: 'tax-memory',
        seconds,
        rate,
        requests: load.requests,
        statuses: load.statuses,
        baseline_heap_mb: mb(base.heapUsed),
        peak_heap_mb: mb(peakHeap),
        baseline_rss_mb: mb(base.rss),
        peak_rss_mb: mb(peakRss),
        records,
        retained_mb: mb(retained),
        file_mb: mb(fileBytes),
        restart_s: Math.round(restartS * 100) / 100,
      }) + '\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Last, once every declaration above is initialized.
if (!isMainThread && (workerData as { taxMemoryWorker?: boolean })?.taxMemoryWorker) {
  parentPort!.postMessage(await workerMain((workerData as { input: WorkerInput }).input));
} else if (isMainThread) {
  await main();
}
