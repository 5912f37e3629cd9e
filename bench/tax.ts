/**
 * `npm run bench:tax`: throughput and latency of POST /tax_api/calculate_tax (a 5-line US invoice to Austin,
 * TX: state + city + transit district, Texas SaaS at 80 %) against a bare koa JSON echo endpoint (same body)
 * in the same process and the same run, 50 connections on loopback, 10 s each.
 *
 * The load generator is this file run as a worker thread (so it never shares the server's event loop): an
 * undici Pool with `connections` sockets and as many closed-loop workers, each sending its next request
 * when the previous answer is read. To keep the ratio fair on a shared, noisy machine the two targets are
 * measured in alternating 1-second slices (tax, echo, tax, echo, ...) until each has had its 10 s; latencies
 * are kept per target across slices. A 2-second warm-up of each comes first and is not counted.
 *
 * The server runs as `taxbridge serve` would: the real store (openStore on a temporary folder; an in-memory
 * one if src/store is unavailable) with calculations recorded in the default mode ('background'; set
 * BENCH_RECORD=durable to make every response wait for its fsync).
 *
 * What a request costs the server: at each slice boundary the load worker waits until the server side has read
 * its CPU clocks (the main thread's from /proc, the whole process's less the load worker's own), so each
 * target's slices add up to CPU µs per request: `main_us` (the event loop) and `server_us` (also GC helper
 * and libuv threads, e.g. the store's fsyncs), and what the load worker spent per request (it shares the
 * machine's cores with the server). These depend much less than req/s on how busy the machine is.
 *
 * Last line: {"bench":"tax","tax_rps":..,"baseline_rps":..,"ratio":..,"p50_ms":..,"p99_ms":..,"tax_main_us":..,
 * "baseline_main_us":..,"tax_server_us":..,"baseline_server_us":..,"tax_non_2xx":..,"sized_echo_rps":..,
 * "ratio_to_sized_echo":..,"sized_echo_main_us":..,"baseline_p99_ms":..,"sized_echo_p99_ms":..}. The third target, in the same alternation, is the echo answering
 * the tax endpoint's own answer (4.7 KB, re-serialized per request): what an answer that size costs with no work
 * behind it, so `ratio_to_sized_echo` says what the calculation and its recording cost. Rates count 2xx answers only
 * and `tax_non_2xx` says how many tax requests were refused (503 recording_backlog when the store cannot keep up):
 * a cheap refusal must not pass for a calculation. The two echoes' p99 say what latency the machine gives an
 * endpoint with no work behind it at the same concurrency (closed loop: p99 is about twice connections x CPU per
 * request, so on a machine where the sized echo's own p99 is near 20 ms no calculation can be under it).
 * Targets: ratio >= 0.6 and p99 < 20 ms. Environment: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (50),
 * BENCH_SLICE_MS (1000).
 */
import { isMainThread, parentPort, workerData, Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { threadCpuMs } from './lib/load.ts';

interface Target {
  name: string;
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
}
interface Phase {
  target: number;
  durationMs: number;
  count: boolean;
}
interface WorkerInput {
  url: string;
  connections: number;
  targets: Target[];
  phases: Phase[];
}
interface TargetResult {
  name: string;
  requests: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  durationMs: number;
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const r2 = (n: number) => Math.round(n * 100) / 100;

/** Sent by the load worker before the first phase and after each one; answered by `mark-read`. */
interface Mark {
  mark: number;
  workerCpuMs: number;
}

// ------------------------------------------------------------------------------------------ worker side
async function loadWorker(input: WorkerInput): Promise<TargetResult[]> {
  const { Pool } = await import('undici');
  const origin = new URL(input.url).origin;
  const pool = new Pool(origin, { connections: input.connections, pipelining: 1 });
  const acc = input.targets.map((t) => ({ name: t.name, lat: [] as number[], ok: 0, errors: 0, statuses: {} as Record<string, number>, durationMs: 0 }));
  // No request is in flight at a mark, and the next phase starts only once the server side has read its clocks.
  const mark = (i: number) =>
    new Promise<void>((resolve) => {
      parentPort!.once('message', () => resolve());
      parentPort!.postMessage({ mark: i, workerCpuMs: threadCpuMs() } satisfies Mark);
    });
  await mark(0);
  for (const [i, phase] of input.phases.entries()) {
    const t = input.targets[phase.target]!;
    const a = acc[phase.target]!;
    const started = performance.now();
    const deadline = started + phase.durationMs;
    const loop = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        let status = 0;
        try {
          const res = await pool.request({ origin, method: t.method, path: t.path, headers: t.headers, body: t.body });
          await res.body.dump();
          status = res.statusCode;
        } catch {
          status = -1;
        }
        if (!phase.count) continue;
        a.lat.push(performance.now() - t0);
        if (status === -1) a.errors++;
        else {
          a.statuses[status] = (a.statuses[status] ?? 0) + 1;
          if (status >= 200 && status < 300) a.ok++;
        }
      }
    };
    await Promise.all(Array.from({ length: input.connections }, loop));
    if (phase.count) a.durationMs += performance.now() - started;
    await mark(i + 1);
  }
  await pool.close();
  return acc.map((a) => {
    const sorted = Float64Array.from(a.lat).sort();
    return {
      name: a.name,
      requests: sorted.length,
      ok: a.ok,
      errors: a.errors,
      statuses: a.statuses,
      durationMs: Math.round(a.durationMs),
      // Only answers that did the work count: a 503 back-pressure refusal is cheap and must not raise the rate.
      rps: a.durationMs ? Math.round((a.ok / a.durationMs) * 1000) : 0,
      p50_ms: r2(percentile(sorted, 50)),
      p90_ms: r2(percentile(sorted, 90)),
      p99_ms: r2(percentile(sorted, 99)),
      max_ms: r2(sorted.length ? sorted[sorted.length - 1]! : 0),
    };
  });
}

if (!isMainThread && (workerData as { taxBenchWorker?: boolean })?.taxBenchWorker) {
  const results = await loadWorker((workerData as { input: WorkerInput }).input);
  parentPort!.postMessage({ results });
} else if (isMainThread && process.env.BENCH_STORE === 'postgres') {
  const { runOnBothStores } = await import('./lib/bench-store.ts');
  await runOnBothStores(import.meta.url, 'tax');
} else if (isMainThread) {
  await main();
}

/** CPU clocks of the server side at one mark. */
interface Clocks {
  mainMs: number;
  serverMs: number;
  loadMs: number;
}

function runWorker(input: WorkerInput, onMark: (m: Mark) => void): Promise<TargetResult[]> {
  return new Promise((resolve, reject) => {
    // Workers do not inherit tsx's loader: register it in the worker, then import this file.
    const entry = new URL(import.meta.url).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    const worker = new Worker(boot, { eval: true, workerData: { taxBenchWorker: true, input } });
    worker.on('message', (m: Mark | { results: TargetResult[] }) => {
      if ('results' in m) return resolve(m.results);
      onMark(m);
      worker.postMessage('mark-read');
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker exited with ${code}`));
    });
  });
}

// ------------------------------------------------------------------------------------------ server side
async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const sliceMs = Number(process.env.BENCH_SLICE_MS ?? 1000);
  const recordMode = process.env.BENCH_RECORD === 'durable' ? 'durable' : 'background';

  const { default: Koa } = await import('koa');
  const { default: Router } = await import('@koa/router');
  const { loadTaxData } = await import('../src/tax/rates/index.ts');
  const { TaxService } = await import('../src/tax/service.ts');
  const { createTaxApiRouter } = await import('../src/server/tax-api.ts');
  type Store = import('../src/store/types.ts').Store;

  const dir = mkdtempSync(join(tmpdir(), 'taxbridge-bench-tax-'));
  const { openBenchStore } = await import('./lib/bench-store.ts');
  const opened = await openBenchStore();
  const store: Store = opened.store;
  const storeKind = opened.kind;

  const service = await TaxService.open({ store, data: loadTaxData(), rateLimitPerSecond: 1_000_000, recordMode });
  const org = await service.createOrganization({
    name: 'Bench Co',
    mode: 'test',
    default_product_tax_code: 'saas',
    origin_address: { country: 'US', state: 'TX', postal_code: '78701' },
  });
  await service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
  const { key } = await service.createApiKey(org.id, { name: 'bench' });

  const app = new Koa();
  const echo = new Router();
  echo.post('/echo', async (ctx) => {
    const chunks: Buffer[] = [];
    for await (const c of ctx.req) chunks.push(c as Buffer);
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  });
  // The same echo answering what the tax endpoint answers (one calculation's answer, re-serialized per request):
  // what an answer of that size costs by itself, to read the ratio against.
  let answer: unknown;
  echo.post('/echo-answer', async (ctx) => {
    const chunks: Buffer[] = [];
    for await (const c of ctx.req) chunks.push(c as Buffer);
    JSON.parse(Buffer.concat(chunks).toString('utf8'));
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(answer);
  });
  app.use(echo.routes()).use(createTaxApiRouter({ service }).routes());
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const invoice = JSON.stringify({
    currency: 'usd',
    customer_address: { address1: '100 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' },
    include_taxability_reason: true,
    line_items: [1, 2, 3, 4, 5].map((i) => ({ id: `li_${i}`, amount: 1999 * i + 1, product_id: `prod_${i}` })),
  });
  const targets: Target[] = [
    { name: 'tax', method: 'POST', path: '/tax_api/calculate_tax', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: invoice },
    { name: 'baseline', method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: invoice },
    { name: 'sized', method: 'POST', path: '/echo-answer', headers: { 'content-type': 'application/json' }, body: invoice },
  ];
  {
    const auth = await service.authenticate(key);
    answer = JSON.parse((await service.calculate(auth!, JSON.parse(invoice), invoice)).json);
  }
  const phases: Phase[] = [
    { target: 0, durationMs: 2000, count: false },
    { target: 1, durationMs: 2000, count: false },
    { target: 2, durationMs: 2000, count: false },
  ];
  const slices = Math.max(1, Math.round((seconds * 1000) / sliceMs));
  for (let i = 0; i < slices; i++) {
    phases.push({ target: 0, durationMs: sliceMs, count: true }, { target: 1, durationMs: sliceMs, count: true }, { target: 2, durationMs: sliceMs, count: true });
  }

  process.stdout.write(`bench:tax  ${connections} connections, ${seconds} s each in ${slices} alternating slices, store: ${storeKind}, record: ${recordMode}, node flags: ${process.execArgv.filter((a) => a.startsWith('--max-')).join(' ') || '(defaults)'}\n`);
  const clocks: Clocks[] = [];
  const [taxRes, baseRes, sizedRes] = await runWorker({ url, connections, targets, phases }, (m) => {
    const cpu = process.cpuUsage();
    clocks[m.mark] = { mainMs: threadCpuMs(), serverMs: (cpu.user + cpu.system) / 1000 - m.workerCpuMs, loadMs: m.workerCpuMs };
  });
  // CPU per request of each target over its counted slices.
  const cost = targets.map(() => ({ mainMs: 0, serverMs: 0, loadMs: 0 }));
  phases.forEach((p, i) => {
    if (!p.count) return;
    cost[p.target]!.mainMs += clocks[i + 1]!.mainMs - clocks[i]!.mainMs;
    cost[p.target]!.serverMs += clocks[i + 1]!.serverMs - clocks[i]!.serverMs;
    cost[p.target]!.loadMs += clocks[i + 1]!.loadMs - clocks[i]!.loadMs;
  });
  const perRequest = [taxRes!, baseRes!, sizedRes!].map((r, i) => ({
    main_us: r.requests ? Math.round((cost[i]!.mainMs * 1000) / r.requests) : 0,
    server_us: r.requests ? Math.round((cost[i]!.serverMs * 1000) / r.requests) : 0,
    load_us: r.requests ? Math.round((cost[i]!.loadMs * 1000) / r.requests) : 0,
  }));
  for (const [i, r] of [taxRes!, baseRes!, sizedRes!].entries()) {
    process.stdout.write(
      `${r.name.padEnd(9)} ${String(r.rps).padStart(7)} req/s  p50 ${r.p50_ms} ms  p90 ${r.p90_ms} ms  p99 ${r.p99_ms} ms  max ${r.max_ms} ms  requests ${r.requests}  statuses ${JSON.stringify(r.statuses)}  errors ${r.errors}  cpu/request: main thread ${perRequest[i]!.main_us} µs, server ${perRequest[i]!.server_us} µs, load generator ${perRequest[i]!.load_us} µs\n`,
    );
  }
  await service.flush();
  await store.flush();
  const recorded = (await store.list('tax_calculations')).length;
  const writes = (store as { diskWrites?: () => Promise<Record<string, number>> }).diskWrites;
  const disk = writes ? (await writes.call(store))['c/tax_calculations'] : undefined;
  process.stdout.write(`recorded calculations: ${recorded}${disk !== undefined ? ` in ${disk} group commits (append + fsync)` : ''}\n`);
  if (taxRes!.ok !== taxRes!.requests) process.stdout.write(`WARNING: ${taxRes!.requests - taxRes!.ok} tax requests did not answer 2xx\n`);

  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await service.close();
  await store.close();
  await opened.cleanup();
  rmSync(dir, { recursive: true, force: true });

  process.stdout.write(
    JSON.stringify({
      bench: 'tax',
      tax_rps: taxRes!.rps,
      baseline_rps: baseRes!.rps,
      ratio: Math.round((baseRes!.rps ? taxRes!.rps / baseRes!.rps : 0) * 1000) / 1000,
      p50_ms: taxRes!.p50_ms,
      p99_ms: taxRes!.p99_ms,
      tax_main_us: perRequest[0]!.main_us,
      baseline_main_us: perRequest[1]!.main_us,
      tax_server_us: perRequest[0]!.server_us,
      baseline_server_us: perRequest[1]!.server_us,
      tax_non_2xx: taxRes!.requests - taxRes!.ok,
      sized_echo_rps: sizedRes!.rps,
      ratio_to_sized_echo: Math.round((sizedRes!.rps ? taxRes!.rps / sizedRes!.rps : 0) * 1000) / 1000,
      sized_echo_main_us: perRequest[2]!.main_us,
      baseline_p99_ms: baseRes!.p99_ms,
      sized_echo_p99_ms: sizedRes!.p99_ms,
    }) + '\n',
  );
}
