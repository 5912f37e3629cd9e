/**
 * A closed-loop HTTP load generator for the benchmarks: `connections` requests in flight for `durationMs`,
 * run in a worker thread so it never shares the measured server's event loop. Latencies are recorded per
 * request; results give throughput and percentiles. Loopback only.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Worker } from 'node:worker_threads';

export interface LoadRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationMs: number;
  /** The same request every time... */
  request?: LoadRequest;
  /** ...or a module (absolute path) exporting `makeRequest(i: number): LoadRequest | Promise<LoadRequest>`. */
  module?: string;
  /** Passed to the module's optional `setup(args)` before the run. */
  moduleArgs?: unknown;
  /**
   * Called (on this thread) right before the first request and right after the last answer, with the load
   * worker's own CPU ms so far: a caller reads its clocks there for CPU per request (see `threadCpuMs`).
   * The load starts only once `start` has returned.
   */
  onMark?: (phase: 'start' | 'end', workerCpuMs: number) => void;
}

/** CPU time of the calling thread in ms (utime + stime of /proc/thread-self/stat, 10 ms ticks); NaN off Linux. */
export function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** What the load worker posts when marks are asked for (`onMark`); answered with 'mark-read'. */
export interface LoadMark {
  mark: 'start' | 'end';
  workerCpuMs: number;
}

export interface LoadResult {
  requests: number;
  /** Responses with a 2xx status. */
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  duration_ms: number;
}

export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    // Workers do not inherit tsx's loader: register it in the worker before importing the TypeScript entry.
    const entry = new URL('./load-worker.ts', import.meta.url).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    const { onMark, ...data } = opts;
    const worker = new Worker(boot, { eval: true, workerData: { ...data, marks: onMark !== undefined } });
    worker.on('message', (m: LoadResult | LoadMark) => {
      if ('mark' in m) {
        onMark!(m.mark, m.workerCpuMs);
        worker.postMessage('mark-read');
      } else resolve(m);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker exited with ${code}`));
    });
  });
}

/** Resident set size high-water mark of this process, in MB (sampled). */
export function trackPeakRss(intervalMs = 50): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, intervalMs);
  t.unref();
  return {
    stop() {
      clearInterval(t);
      return Math.round((Math.max(peak, process.memoryUsage().rss) / 1024 / 1024) * 10) / 10;
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Serves a koa app (or anything with `callback()`) on a free loopback port, with keep-alive long enough for the load. */
export async function listenOnLoopback(app: { callback(): http.RequestListener }): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}
