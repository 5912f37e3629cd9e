import { workerData, parentPort } from 'node:worker_threads';
import { Pool } from 'undici';
import { percentile, threadCpuMs, type LoadMark, type LoadOptions, type LoadRequest, type LoadResult } from './load.ts';

const opts = workerData as Omit<LoadOptions, 'onMark'> & { marks: boolean };
const origin = new URL(opts.url).origin;
const pool = new Pool(origin, { connections: opts.connections, pipelining: 1 });
const mod = opts.module ? ((await import(opts.module)) as { makeRequest(i: number): LoadRequest | Promise<LoadRequest>; setup?(args: unknown): unknown }) : undefined;
if (mod?.setup) await mod.setup(opts.moduleArgs);

/** With marks: tells the caller where the load starts or ends and waits until it has read its clocks. */
const mark = (m: LoadMark['mark']): Promise<void> | undefined =>
  opts.marks
    ? new Promise<void>((resolve) => {
        parentPort!.once('message', () => resolve());
        parentPort!.postMessage({ mark: m, workerCpuMs: threadCpuMs() } satisfies LoadMark);
      })
    : undefined;
await mark('start');

const latencies: number[] = [];
const statuses: Record<string, number> = {};
let ok = 0;
let errors = 0;
let counter = 0;
const started = performance.now();
const deadline = started + opts.durationMs;

async function loop(): Promise<void> {
  while (performance.now() < deadline) {
    const req = mod ? await mod.makeRequest(counter++) : opts.request!;
    const t0 = performance.now();
    try {
      const res = await pool.request({ origin, method: (req.method ?? 'GET') as 'GET', path: req.path, headers: req.headers, body: req.body });
      await res.body.dump();
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (res.statusCode >= 200 && res.statusCode < 300) ok++;
    } catch {
      errors++;
    }
    latencies.push(performance.now() - t0);
  }
}

await Promise.all(Array.from({ length: opts.connections }, loop));
const duration = performance.now() - started;
await mark('end');
await pool.close();
latencies.sort((a, b) => a - b);
const result: LoadResult = {
  requests: latencies.length,
  ok,
  errors,
  statuses,
  rps: Math.round((latencies.length / duration) * 1000),
  p50_ms: Math.round(percentile(latencies, 50) * 100) / 100,
  p99_ms: Math.round(percentile(latencies, 99) * 100) / 100,
  duration_ms: Math.round(duration),
};
parentPort!.postMessage(result);
