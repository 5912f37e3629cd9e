/**
 * `npm run bench:webhooks`: signed Rillet invoice events (INVOICE.CREATED, a ~2 KB 3-item invoice) posted as
 * fast as possible for BENCH_SECONDS (10) to the real webhook receiver. 80% carry a new X-Rillet-Id; 20% are
 * re-sends of a recent one, as a sender retrying does: 1-3 requests back (usually still in flight, so the
 * duplicate waits for the original's fsync) or 24/61 back (already stored). The receiver does it all
 * (POST /webhooks/:token: raw body with limit, signature check, JSON parse, routing by the spec, durable
 * insertIfAbsent into the embedded store in a temporary folder, answer after the write is on disk), and in
 * the same run the same requests to a bare koa + @koa/router endpoint that reads the body and answers 200.
 * Afterwards every event id that got a 2xx (first delivery or duplicate; recorded by a middleware outside
 * the receiver) is looked up in the store: all must be there, and the stored count must equal the distinct
 * acknowledged ids.
 *
 * The load generator is bench/lib/load.ts: a worker thread with an undici Pool, BENCH_CONNECTIONS (50)
 * requests in flight, closed loop. This file is also the worker's request module (makeRequest). The targets
 * alternate in BENCH_SLICE_SECONDS (2) slices so that noise from a shared machine falls on both alike.
 * Event processing and write-back are NOT running during the measurement (the events stay pending in the
 * inbox, as after a burst); the bench measures what acknowledging costs.
 *
 * What a request costs the server (as bench:tax measures it): right before each slice's first request and
 * after its last answer the load worker waits until this side has read its CPU clocks (the main thread's from
 * /proc, the whole process's less the load worker's own), so each target's slices add up to CPU µs per
 * request: `main_us` (the event loop, where the receiver is bound) and `server_us` (also GC helper and libuv
 * threads, e.g. the store's fsyncs). These depend much less than req/s on how busy the machine is.
 *
 * Last line: {"bench":"webhooks","acked":..,"stored":..,"duplicates_acked":..,"missing":..,"events_per_s":..,
 * "baseline_rps":..,"ratio":..,"main_us":..,"baseline_main_us":..,"server_us":..,"baseline_server_us":..}:
 * acked = distinct event ids acknowledged, events_per_s = acknowledged deliveries (duplicates included) per
 * second, *_us = CPU per request of the receiver and of the bare endpoint. Targets: stored == acked,
 * missing 0, ratio >= 0.3.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isMainThread, threadId } from 'node:worker_threads';

const TOKEN = 'tok_bench_0123456789abcdef';
const PATH = `/webhooks/${TOKEN}`;

interface ModuleArgs {
  signingToken: string;
  body: string;
  path: string;
}

let args: ModuleArgs | undefined;
let key: Buffer | undefined;

/** Worker side: receives the signing token and the body once. */
export function setup(a: ModuleArgs): void {
  args = a;
  key = Buffer.from(a.signingToken, 'base64');
}

/** How far back a re-send reaches (never a multiple of 5, so it always names an original, not a re-send). */
const RESEND_BACK = [1, 2, 3, 24, 61];

/**
 * Worker side: one signed delivery with a fresh timestamp; every fifth (from the 62nd on) re-sends an
 * earlier event id of this worker, the others carry a new one.
 */
export function makeRequest(i: number): { method: string; path: string; headers: Record<string, string>; body: string } {
  const a = args!;
  const resend = i % 5 === 4 && i > 61;
  const n = resend ? i - RESEND_BACK[Math.floor(i / 5) % RESEND_BACK.length]! : i;
  const id = `bench-${threadId}-${n}`;
  const ts = new Date().toISOString();
  const sig = createHmac('sha256', key!).update(`${ts}.${id}.INVOICE.CREATED.${a.body}`).digest('base64');
  return {
    method: 'POST',
    path: a.path,
    headers: { 'content-type': 'application/json', 'x-rillet-id': id, 'x-rillet-timestamp': ts, 'x-rillet-entity': 'INVOICE', 'x-rillet-event': 'CREATED', 'x-rillet-signature': sig },
    body: a.body,
  };
}

function invoiceBody(): string {
  const money = (amount: string) => ({ amount, currency: 'USD' });
  const items = [1, 2, 3].map((n) => ({
    id: `item_01HBENCH00000000000000000${n}`,
    description: `Platform subscription tier ${n} (monthly, billed in advance)`,
    product_id: `prod_01HBENCH0000000000000000${n}`,
    quantity: String(n * 2),
    gross_rate: money('149.00'),
    total_amount: money((n * 2 * 149).toFixed(2)),
    total_discount: money('0.00'),
    taxed_amount: money('0.00'),
    tax_rates: [],
    revenue: { start_date: '2026-03-01', end_date: '2026-03-31', account_code: '4000' },
  }));
  const address = { line1: '100 Congress Ave', line2: 'Suite 1200', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' };
  return JSON.stringify({
    id: 'inv_01HBENCH000000000000000001',
    subsidiary_id: 'sub_us',
    invoice_number: 'INV00042',
    customer_id: 'cus_01HBENCH000000000000000001',
    currency: 'USD',
    items,
    invoice_date: '2026-03-01',
    due_date: '2026-03-31',
    status: 'UNPAID',
    net_amount: money('1788.00'),
    subtotal: money('1788.00'),
    total_discount: money('0.00'),
    taxed_amount: money('0.00'),
    total: money('1788.00'),
    amount_due: money('1788.00'),
    overdue: false,
    customer_address: address,
    shipping_address: address,
    address: { line1: '1 Market St', city: 'San Francisco', state: 'CA', zip_code: '94105', country: 'US' },
    created_at: '2026-03-01T09:00:00.000Z',
    updated_at: '2026-03-01T09:00:00.000Z',
  });
}

async function main(): Promise<void> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { default: Koa } = await import('koa');
  const { Router } = await import('@koa/router');
  const { runLoad, trackPeakRss, round, listenOnLoopback, threadCpuMs } = await import('./lib/load.ts');
  type LoadResult = Awaited<ReturnType<typeof runLoad>>;
  const { loadConnector } = await import('../src/spec/index.ts');
  const { createWebhookReceiverRouter } = await import('../src/server/webhooks-api.ts');
  const { EVENTS, eventDocId } = await import('../src/webhooks/inbox.ts');

  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const sliceSeconds = Number(process.env.BENCH_SLICE_SECONDS ?? 2);
  const dir = mkdtempSync(join(tmpdir(), 'taxbridge-bench-webhooks-'));
  const { openBenchStore } = await import('./lib/bench-store.ts');
  const opened = await openBenchStore();
  const store = opened.store;
  const spec = loadConnector(new URL('../connectors/rillet.yaml', import.meta.url).pathname);
  const signingToken = randomBytes(32).toString('base64');
  const connection = {
    spec,
    organizationId: 'org_bench',
    conn: { connection_id: 'conn_bench', environment: 'sandbox' as const, base_url: 'http://127.0.0.1:9', credentials: { api_key: 'unused', signing_token: signingToken }, settings: { subsidiary_id: 'sub_us' } },
  };

  // Outside the receiver: which event ids got a 2xx, and how many of those answers said duplicate.
  const ackedIds = new Set<string>();
  let duplicatesAcked = 0;
  let counting = false;
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx, next) => {
    await next();
    if (!counting || ctx.status !== 200) return;
    ackedIds.add(String(ctx.get('x-rillet-id')));
    if (typeof ctx.body === 'string' && ctx.body.includes('"duplicate":true')) duplicatesAcked++;
  });
  app.use(createWebhookReceiverRouter({ store, resolveConnection: async (t) => (t === TOKEN ? connection : undefined) }).routes());
  const bare = new Router();
  bare.post('/bare', async (ctx) => {
    for await (const _chunk of ctx.req) void _chunk;
    ctx.body = { received: true };
  });
  const bareApp = new Koa();
  bareApp.use(bare.routes());

  const receiver = await listenOnLoopback(app);
  const baseline = await listenOnLoopback(bareApp);
  const body = invoiceBody();
  const module = new URL(import.meta.url).pathname;
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(`webhooks bench: ${connections} in flight, ${seconds} s per target in ${sliceSeconds} s slices, body ${Buffer.byteLength(body)} bytes, store ${dir}`);
  log('event processing and write-back: not running (events stay pending in the inbox)');

  // Warm-up (JIT, sockets, the store's files), not counted; its events are removed from the count below.
  await runLoad({ url: receiver.url, connections, durationMs: 1500, module, moduleArgs: { signingToken, body, path: PATH } });
  await runLoad({ url: baseline.url, connections, durationMs: 1500, module, moduleArgs: { signingToken, body, path: '/bare' } });
  await store.flush();
  const warm = (await store.list(EVENTS)).length;
  counting = true;

  // The two targets alternate in slices (receiver, bare, receiver, ...) so that load from elsewhere on a
  // shared machine falls on both alike; each gets `seconds` in all.
  const slices = Math.max(1, Math.round(seconds / sliceSeconds));
  const sliceMs = Math.round((seconds * 1000) / slices);
  const sum = (acc: LoadResult | undefined, x: LoadResult): LoadResult =>
    acc === undefined
      ? { ...x, statuses: { ...x.statuses } }
      : {
          ...acc,
          requests: acc.requests + x.requests,
          ok: acc.ok + x.ok,
          errors: acc.errors + x.errors,
          duration_ms: acc.duration_ms + x.duration_ms,
          p50_ms: Math.max(acc.p50_ms, x.p50_ms),
          p99_ms: Math.max(acc.p99_ms, x.p99_ms),
          statuses: Object.fromEntries([...new Set([...Object.keys(acc.statuses), ...Object.keys(x.statuses)])].map((k) => [k, (acc.statuses[k] ?? 0) + (x.statuses[k] ?? 0)])),
        };
  // CPU ms of each target over its slices, read between a slice's first request and its last answer.
  const cpu = { receiver: { mainMs: 0, serverMs: 0 }, baseline: { mainMs: 0, serverMs: 0 } };
  const clocked = (target: keyof typeof cpu) => {
    let start = { mainMs: 0, serverMs: 0 };
    return (phase: 'start' | 'end', workerCpuMs: number) => {
      const u = process.cpuUsage();
      const now = { mainMs: threadCpuMs(), serverMs: (u.user + u.system) / 1000 - workerCpuMs };
      if (phase === 'start') start = now;
      else {
        cpu[target].mainMs += now.mainMs - start.mainMs;
        cpu[target].serverMs += now.serverMs - start.serverMs;
      }
    };
  };
  const rss = trackPeakRss();
  let r: LoadResult | undefined;
  let b: LoadResult | undefined;
  for (let i = 0; i < slices; i++) {
    r = sum(r, await runLoad({ url: receiver.url, connections, durationMs: sliceMs, module, moduleArgs: { signingToken, body, path: PATH }, onMark: clocked('receiver') }));
    b = sum(b, await runLoad({ url: baseline.url, connections, durationMs: sliceMs, module, moduleArgs: { signingToken, body, path: '/bare' }, onMark: clocked('baseline') }));
  }
  const peak = rss.stop();
  counting = false;
  await store.flush();
  const stored = (await store.list(EVENTS)).length - warm;
  let missing = 0;
  for (const id of ackedIds) if (!(await store.get(EVENTS, eventDocId(connection.conn.connection_id, id)))) missing++;
  r = r!;
  b = b!;
  r.rps = round(r.requests / (r.duration_ms / 1000), 0);
  b.rps = round(b.requests / (b.duration_ms / 1000), 0);
  const perRequest = (ms: number, n: number) => (n ? Math.round((ms * 1000) / n) : 0);
  const us = {
    main_us: perRequest(cpu.receiver.mainMs, r.requests),
    baseline_main_us: perRequest(cpu.baseline.mainMs, b.requests),
    server_us: perRequest(cpu.receiver.serverMs, r.requests),
    baseline_server_us: perRequest(cpu.baseline.serverMs, b.requests),
  };
  log(`receiver: ${r.requests} requests, ${r.ok} acknowledged, statuses ${JSON.stringify(r.statuses)}, errors ${r.errors}, ${r.rps}/s, worst slice p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, peak RSS ${peak} MB, cpu/request: main thread ${us.main_us} µs, server ${us.server_us} µs`);
  log(`baseline (bare koa): ${b.requests} requests, ${b.rps}/s, worst slice p50 ${b.p50_ms} ms, p99 ${b.p99_ms} ms, cpu/request: main thread ${us.baseline_main_us} µs, server ${us.baseline_server_us} µs`);
  const acked = ackedIds.size;
  log(`acknowledged: ${r.ok} deliveries, ${duplicatesAcked} of them duplicates (${round((100 * duplicatesAcked) / Math.max(1, r.ok), 1)}%), ${acked} distinct events`);
  log(`stored events: ${stored} (distinct acknowledged ${acked}, acknowledged but not stored ${missing})${stored === acked && missing === 0 ? '' : '  <-- MISMATCH'}`);

  await new Promise<void>((res) => receiver.server.close(() => res()));
  await new Promise<void>((res) => baseline.server.close(() => res()));
  await store.close();
  await opened.cleanup();
  rmSync(dir, { recursive: true, force: true });
  const eventsPerS = round(r.ok / (r.duration_ms / 1000), 0);
  const baselineRps = round(b.requests / (b.duration_ms / 1000), 0);
  log(JSON.stringify({ bench: 'webhooks', acked, stored, duplicates_acked: duplicatesAcked, missing, events_per_s: eventsPerS, baseline_rps: baselineRps, ratio: round(eventsPerS / baselineRps, 3), ...us }));
}

if (isMainThread && process.env.BENCH_STORE === 'postgres') {
  const { runOnBothStores } = await import('./lib/bench-store.ts');
  await runOnBothStores(import.meta.url, 'webhooks');
} else if (isMainThread) await main();
