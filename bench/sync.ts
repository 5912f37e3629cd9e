/**
 * `npm run bench:sync`: backfill 20,000 invoices of 5 lines from the fake Sequence and compare, in the same
 * run and against the same fake,
 *   (a) raw fetching: undici + JSON.parse only, the same list pages AND the same per-invoice line-item
 *       requests, at the same concurrency as the spec (http.max_concurrency, default 4), and
 *   (b) the full sync through connectors/sequence.yaml into a temporary data folder (mapping, schema
 *       validation, durable store writes, checkpoints).
 * The fake runs in a child process so this process's CPU and peak RSS are the runtime's alone; its line
 * items are generated before either measurement. Progress goes to stderr-like lines; the last line of
 * output is one JSON object.
 *
 * BENCH_STORE=postgres: the sync is measured twice after the raw fetch, each in a child process of its own
 * (so each peak RSS is its store's alone): into PostgreSQL (a database created for the run on BENCH_PG_URL,
 * default postgres://postgres@127.0.0.1:5432/postgres, dropped after) and into the embedded store, and both
 * ratios to the raw fetch are printed side by side. The PostgreSQL child samples its RSS as the records
 * arrive, to show memory flat in the number of records (the embedded store holds every record in memory).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { openBenchStore } from './lib/bench-store.ts';
import type { ConnectorSpec } from '../src/spec/types.ts';
import type { Store } from '../src/store/types.ts';
import { compileStream } from '../src/sync/compile.ts';

const INVOICES = Number(process.env.BENCH_INVOICES ?? 20_000);
const LINES = 5;
const PAGE = 100;

if (process.argv[2] === '--sync-child') {
  // Child mode: one sync into the store named by argv[3], against the fake at argv[4]; prints one JSON line.
  await syncChild(process.argv[3] as 'embedded' | 'postgres', process.argv[4]!);
} else if (process.argv[2] === '--serve-fake') {
  // Child mode: serve the fake and report its URL.
  const { startFakeSequence } = await import('../fakes/index.ts');
  const fake = await startFakeSequence({ seed: 42, counts: { customers: 200, products: 50, invoices: INVOICES, creditNotes: 0 }, linesPerInvoice: LINES });
  for (const id of fake.data.invoices.keys()) fake.lineItemsOf(id);
  process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void fake.close().then(() => process.exit(0)));
} else {
  await main();
}

/** The bench's connection to the fake Sequence (the fake accepts these credentials). */
function benchConnection(url: string) {
  return { connection_id: 'bench', environment: 'production' as const, base_url: url, credentials: { client_id: 'seq_client', client_secret: 'seq_secret' }, settings: {} };
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function startFakeProcess(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve-fake'], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    if (line.startsWith('{')) return { url: (JSON.parse(line) as { url: string }).url, child };
  }
  throw new Error('the fake Sequence did not start');
}

/** (a) undici + JSON.parse: list pages, then each invoice's line items, `concurrency` requests at a time. */
async function rawFetch(baseUrl: string, concurrency: number): Promise<{ records: number; requests: number; ms: number }> {
  const base = new URL(baseUrl);
  const pool = new Pool(base.origin, { connections: concurrency });
  const headers = { authorization: `Basic ${Buffer.from('seq_client:seq_secret').toString('base64')}`, 'sequence-version': '2024-07-30', accept: 'application/json' };
  const get = async (path: string): Promise<unknown> => {
    const res = await pool.request({ method: 'GET', path: `${base.pathname}${path}`, headers });
    const body = JSON.parse(await res.body.text()) as unknown;
    if (res.statusCode !== 200) throw new Error(`raw fetch ${path}: ${res.statusCode}`);
    return body;
  };
  const started = performance.now();
  let records = 0;
  let requests = 0;
  let after: string | undefined;
  let lastLog = started;
  do {
    const page = (await get(`/invoices?sortOrder=ASC&limit=${PAGE}${after ? `&after=${encodeURIComponent(after)}` : ''}`)) as { items: Array<{ id: string }>; pagination: { after?: string } };
    requests++;
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < page.items.length) {
          const inv = page.items[next++]!;
          await get(`/invoices/${inv.id}/line-items/all`);
          requests++;
        }
      }),
    );
    records += page.items.length;
    after = page.pagination.after;
    if (performance.now() - lastLog > 2000) {
      lastLog = performance.now();
      log(`raw: ${records.toLocaleString('en-US')} invoices, ${Math.round((records * 1000) / (lastLog - started))} invoices/s`);
    }
  } while (after);
  const ms = performance.now() - started;
  await pool.close();
  return { records, requests, ms };
}

async function syncChild(kind: 'embedded' | 'postgres', url: string): Promise<void> {
  const { loadConnector } = await import('../src/spec/index.ts');
  const { runSync } = await import('../src/sync/index.ts');
  const spec = loadConnector(join(fileURLToPath(new URL('..', import.meta.url)), 'connectors', 'sequence.yaml'));
  spec.http = { ...spec.http, rate_limit: undefined };
  const { store, cleanup } = await openBenchStore(kind);
  const time = timeSyncParts(spec, store);
  const conn = benchConnection(url);
  const rss: Array<{ records: number; rss_mb: number }> = [];
  let nextSample = 0;
  let window = { ...time.totals, records: 0, ms: 0 };
  const started = performance.now();
  const [summary] = await runSync({
    spec,
    conn,
    store,
    streams: ['invoices'],
    full: true,
    onProgress: (p) => {
      if (p.records < nextSample) return;
      nextSample = p.records + Math.max(1000, Math.floor(INVOICES / 10));
      rss.push({ records: p.records, rss_mb: Math.round(process.memoryUsage.rss() / 1048576) });
      // Rate and per-page figures of the stretch since the previous line (not the running average), so a
      // slowdown as the table grows shows.
      const ms = performance.now() - started;
      const per = perPage(time.totals, window);
      const rate = Math.round(((p.records - window.records) * 1000) / (ms - window.ms));
      process.stderr.write(
        `${kind} sync: ${p.records.toLocaleString('en-US')} invoices, ${Math.round((p.records * 1000) / p.elapsed_ms)} invoices/s (last stretch ${rate}/s; per page of ${PAGE}: ` +
          `mapping ${per.mapping_ms} ms, validation ${per.validation_ms} ms, store ${per.store_ms} ms, ${per.statements} statements), rss ${rss[rss.length - 1]!.rss_mb} MB\n`,
      );
      window = { ...time.totals, records: p.records, ms };
    },
  });
  const syncMs = performance.now() - started;
  const peak = Math.round(process.resourceUsage().maxRSS / 1024);
  const stored = await store.countEntities('bench', 'invoices');
  await store.close();
  await cleanup();
  if (summary!.status !== 'ok' || stored.active !== INVOICES) throw new Error(`${kind} sync did not store every invoice: ${JSON.stringify({ status: summary!.status, error: summary!.error, stored })}`);
  const per = perPage(time.totals, { pages: 0, mapping: 0, validation: 0, store: 0, statements: 0 });
  process.stdout.write(`${JSON.stringify({ kind, records: summary!.records, sync_ms: Math.round(syncMs), peak_rss_mb: peak, rss, per_page: { wall_ms: Number((syncMs / time.totals.pages).toFixed(1)), ...per } })}\n`);
}

interface PartTotals {
  pages: number;
  mapping: number;
  validation: number;
  store: number;
  statements: number;
}

/**
 * Where a sync's time goes, per page: the mapping expression and the schema validation (timed around each
 * call of the stream's compiled ones), the store's commitPage (a page's commit overlaps the mapping of the
 * next one, so the parts add up to more than the wall time), and the SQL statements PostgreSQL received.
 */
function timeSyncParts(spec: ConnectorSpec, store: Store): { totals: PartTotals } {
  const totals: PartTotals = { pages: 0, mapping: 0, validation: 0, store: 0, statements: 0 };
  const c = compileStream(spec, 'invoices');
  const evaluate = c.mapping.evaluate.bind(c.mapping);
  c.mapping.evaluate = async (input, bindings) => {
    const t0 = performance.now();
    try {
      return await evaluate(input, bindings);
    } finally {
      totals.mapping += performance.now() - t0;
    }
  };
  const validate = c.validate;
  const timed = ((data: unknown) => {
    const t0 = performance.now();
    try {
      return validate(data);
    } finally {
      totals.validation += performance.now() - t0;
    }
  }) as typeof validate;
  Object.defineProperty(timed, 'errors', { get: () => validate.errors });
  c.validate = timed;
  const commitPage = store.commitPage.bind(store);
  store.commitPage = async (input) => {
    const t0 = performance.now();
    try {
      return await commitPage(input);
    } finally {
      totals.store += performance.now() - t0;
      totals.pages++;
    }
  };
  const pool = (store as { pool?: { query: (...a: unknown[]) => unknown; connect: (...a: unknown[]) => unknown } }).pool;
  if (pool) {
    const query = pool.query.bind(pool);
    pool.query = (...a: unknown[]) => {
      totals.statements++;
      return query(...a);
    };
    const connect = pool.connect.bind(pool);
    pool.connect = (...a: unknown[]) => {
      // pool.query connects with a callback; only transactions (pool.connect() awaited) need their client counted.
      if (a.length) return connect(...a);
      return (connect() as Promise<{ query: (...q: unknown[]) => unknown; benchCounted?: true }>).then((client) => {
        if (!client.benchCounted) {
          const q = client.query.bind(client);
          client.query = (...x: unknown[]) => {
            totals.statements++;
            return q(...x);
          };
          client.benchCounted = true;
        }
        return client;
      });
    };
  }
  return { totals };
}

function perPage(now: PartTotals, since: PartTotals): { mapping_ms: number; validation_ms: number; store_ms: number; statements: number } {
  const pages = Math.max(1, now.pages - since.pages);
  const f = (v: number) => Number((v / pages).toFixed(2));
  return { mapping_ms: f(now.mapping - since.mapping), validation_ms: f(now.validation - since.validation), store_ms: f(now.store - since.store), statements: f(now.statements - since.statements) };
}

type ChildResult = { kind: string; records: number; sync_ms: number; peak_rss_mb: number; rss: Array<{ records: number; rss_mb: number }>; per_page: Record<string, number> };

async function syncInChild(kind: 'embedded' | 'postgres', url: string): Promise<ChildResult> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--sync-child', kind, url], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  let last = '';
  for await (const line of createInterface({ input: child.stdout! })) if (line.startsWith('{')) last = line;
  const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('exit', r)));
  if (code !== 0 || !last) throw new Error(`the ${kind} sync child failed (exit ${code})`);
  return JSON.parse(last);
}

async function mainBothStores(): Promise<void> {
  log(`bench:sync (BENCH_STORE=postgres): fake Sequence with ${INVOICES.toLocaleString('en-US')} invoices x ${LINES} lines, in a child process; each sync in a child process of its own`);
  const { url, child } = await startFakeProcess();
  const { loadConnector } = await import('../src/spec/index.ts');
  const spec = loadConnector(join(fileURLToPath(new URL('..', import.meta.url)), 'connectors', 'sequence.yaml'));
  const concurrency = spec.http?.max_concurrency ?? 4;
  const raw = await rawFetch(url, concurrency);
  const rawRps = raw.records / (raw.ms / 1000);
  log(`raw: ${raw.records} invoices, ${raw.requests} requests in ${Math.round(raw.ms)} ms = ${Math.round(rawRps)} invoices/s`);
  const pgRun = await syncInChild('postgres', url);
  const emb = await syncInChild('embedded', url);
  child.stdin!.end();
  const rps = (r: { records: number; sync_ms: number }) => r.records / (r.sync_ms / 1000);
  for (const r of [pgRun, emb]) log(`${r.kind}: ${r.records} invoices in ${r.sync_ms} ms = ${Math.round(rps(r))} invoices/s, ratio to raw ${(rps(r) / rawRps).toFixed(3)}, peak RSS ${r.peak_rss_mb} MB; RSS by records: ${r.rss.map((x) => `${x.records}:${x.rss_mb}`).join(' ')}`);
  const pgRss = pgRun.rss.map((x) => x.rss_mb);
  const result = {
    bench: 'sync',
    store: 'postgres+embedded',
    records: INVOICES,
    raw_rps: Math.round(rawRps),
    postgres: { sync_rps: Math.round(rps(pgRun)), ratio: Number((rps(pgRun) / rawRps).toFixed(3)), peak_rss_mb: pgRun.peak_rss_mb, rss_growth_mb: pgRss.length ? Math.max(...pgRss) - pgRss[0]! : 0, sync_ms: pgRun.sync_ms, per_page: pgRun.per_page },
    embedded: { sync_rps: Math.round(rps(emb)), ratio: Number((rps(emb) / rawRps).toFixed(3)), peak_rss_mb: emb.peak_rss_mb, sync_ms: emb.sync_ms, per_page: emb.per_page },
    raw_ms: Math.round(raw.ms),
  };
  log(JSON.stringify(result));
}

async function main(): Promise<void> {
  if (process.env.BENCH_STORE === 'postgres') return mainBothStores();
  const { loadConnector } = await import('../src/spec/index.ts');
  const { openStore } = await import('../src/store/index.ts');
  const { runSync, mapRecord } = await import('../src/sync/index.ts');
  const { compileStream } = await import('../src/sync/compile.ts');

  log(`bench:sync: fake Sequence with ${INVOICES.toLocaleString('en-US')} invoices x ${LINES} lines, no rate limit, in a child process`);
  const { url, child } = await startFakeProcess();
  const spec = loadConnector(join(fileURLToPath(new URL('..', import.meta.url)), 'connectors', 'sequence.yaml'));
  // The spec declares Sequence's published limit (1500/min); the fake has none, so the bench lifts it to
  // measure the engine rather than the budget. Everything else (retries, timeouts, concurrency) is as written.
  spec.http = { ...spec.http, rate_limit: undefined };
  const concurrency = spec.http.max_concurrency ?? 4;
  log(`bench:sync: spec rate_limit lifted for the bench; max_concurrency ${concurrency} for both measurements`);

  log('raw: undici + JSON.parse, list pages + one line-items request per invoice');
  const raw = await rawFetch(url, concurrency);
  const rawRps = raw.records / (raw.ms / 1000);
  log(`raw: ${raw.records} invoices, ${raw.requests} requests in ${Math.round(raw.ms)} ms = ${Math.round(rawRps)} invoices/s`);

  const dir = await mkdtemp(join(tmpdir(), 'taxbridge-bench-'));
  const store = await openStore({ dir });
  const conn = benchConnection(url);
  log('sync: connectors/sequence.yaml invoices stream, full, into a temporary data folder');
  let lastLog = performance.now();
  const started = performance.now();
  const [summary] = await runSync({
    spec,
    conn,
    store,
    streams: ['invoices'],
    full: true,
    onProgress: (p) => {
      if (performance.now() - lastLog < 2000) return;
      lastLog = performance.now();
      log(`sync: page ${p.page}, ${p.records.toLocaleString('en-US')} invoices, ${Math.round((p.records * 1000) / p.elapsed_ms)} invoices/s`);
    },
  });
  const syncMs = performance.now() - started;
  // Peak RSS of raw fetch + sync (measured before the mapping timing below loads every raw record).
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  const stored = await store.countEntities('bench', 'invoices');
  if (summary!.status !== 'ok' || stored.active !== INVOICES || summary!.failed !== 0) {
    throw new Error(`sync did not store every invoice: ${JSON.stringify({ status: summary!.status, error: summary!.error, stored, failed: summary!.failed })}`);
  }
  const syncRps = summary!.records / (syncMs / 1000);
  log(`sync: ${summary!.records} invoices in ${Math.round(syncMs)} ms = ${Math.round(syncRps)} invoices/s (${stored.active} stored)`);

  // How much of the sync is JSONata: map every stored raw invoice again, sequentially as the sync does,
  // timing the mapping evaluation alone and the schema validation alone.
  const c = compileStream(spec, 'invoices');
  const raws = (await store.listEntities('bench', 'invoices')).map((e) => e.raw);
  const bindings = { settings: {}, connection: { id: 'bench', environment: 'production' }, environment: 'production' };
  let mappingMs = 0;
  let validationMs = 0;
  for (const r of raws) {
    const t0 = performance.now();
    const data = await c.mapping.evaluate(r, bindings);
    const t1 = performance.now();
    c.validate(data);
    validationMs += performance.now() - t1;
    mappingMs += t1 - t0;
  }
  if (!(await mapRecord(spec, 'invoices', raws[0], conn)).ok) throw new Error('mapping check failed');
  await store.close();
  await rm(dir, { recursive: true, force: true });
  child.stdin!.end();

  log(`mapping: ${raws.length} JSONata evaluations, ${Math.round(mappingMs)} ms (${Math.round((mappingMs * 1000) / raws.length)} us each) = ${Math.round((mappingMs / syncMs) * 100)}% of the sync time; schema validation ${Math.round(validationMs)} ms`);
  const result = {
    bench: 'sync',
    records: summary!.records,
    raw_rps: Math.round(rawRps),
    sync_rps: Math.round(syncRps),
    ratio: Number((syncRps / rawRps).toFixed(3)),
    peak_rss_mb: peakRssMb,
    mapping_ms: Math.round(mappingMs),
    mapping_share: Number((mappingMs / syncMs).toFixed(3)),
    validation_ms: Math.round(validationMs),
    raw_ms: Math.round(raw.ms),
    sync_ms: Math.round(syncMs),
    requests: raw.requests,
    raw_includes_child_requests: true,
  };
  log(JSON.stringify(result));
}
