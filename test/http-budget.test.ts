import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, ConnectionBudget, createHttpClient, parseRetryAfter, retryPolicy, type HttpClient } from '../src/http/index.ts';
import { startLocalServer, type LocalServer } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

let server: LocalServer | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

describe('rate budget', () => {
  it('keeps every window under the declared limit instead of running into 429s', async () => {
    const arrivals: number[] = [];
    server = await startLocalServer(() => {
      arrivals.push(performance.now());
      return { json: {} };
    });
    client = createHttpClient(testSpec({ http: { rate_limit: { requests: 5, per_seconds: 0.25 }, max_concurrency: 10 } }), testConn(server.url));
    const started = performance.now();
    await Promise.all(Array.from({ length: 16 }, () => client!.request({ path: '/x' })));
    const elapsed = performance.now() - started;
    // 16 requests at 5 per 250 ms need at least three full windows.
    expect(elapsed).toBeGreaterThanOrEqual(740);
    expect(arrivals).toHaveLength(16);
  });

  it('sliding window: no window of per_seconds ever holds more than `requests` starts (virtual clock)', async () => {
    let now = 0;
    const budget = new ConnectionBudget({
      rateLimit: { requests: 5, perMs: 250 },
      maxConcurrency: 100,
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    });
    const grants: number[] = [];
    await Promise.all(
      Array.from({ length: 23 }, async () => {
        const release = await budget.acquire();
        grants.push(now);
        release();
      }),
    );
    grants.sort((a, b) => a - b);
    for (let i = 5; i < grants.length; i++) expect(grants[i]! - grants[i - 5]!).toBeGreaterThanOrEqual(250);
    expect(grants.at(-1)).toBe(1000);
  });

  it('shares one budget between two clients of the same connection', async () => {
    server = await startLocalServer(() => ({ json: {} }));
    const spec = testSpec({ http: { rate_limit: { requests: 4, per_seconds: 0.3 } } });
    const conn = testConn(server.url);
    client = createHttpClient(spec, conn);
    const other = createHttpClient(spec, conn);
    const started = performance.now();
    await Promise.all([...Array.from({ length: 4 }, () => client!.request({ path: '/a' })), ...Array.from({ length: 4 }, () => other.request({ path: '/b' }))]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    await other.close();
  });

  it('caps requests in flight at max_concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    server = await startLocalServer(async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return { json: {} };
    });
    client = createHttpClient(testSpec({ http: { max_concurrency: 3 } }), testConn(server.url));
    await Promise.all(Array.from({ length: 15 }, () => client!.request({ path: '/x' })));
    expect(peak).toBe(3);
  });

  it("a 429's Retry-After holds the connection's other requests too", async () => {
    const arrivals: Array<{ t: number; path: string }> = [];
    let limited = false;
    server = await startLocalServer((req) => {
      arrivals.push({ t: performance.now(), path: req.path });
      if (req.path === '/first' && !limited) {
        limited = true;
        return { status: 429, headers: { 'retry-after': '1' }, json: {} };
      }
      return { json: {} };
    });
    client = createHttpClient(testSpec({ http: { retry: { initial_delay_ms: 1, max_delay_ms: 2000 } } }), testConn(server.url));
    await client.request({ path: '/first' });
    expect(arrivals).toHaveLength(2);
    expect(arrivals[1]!.t - arrivals[0]!.t).toBeGreaterThanOrEqual(990);
    const c = new ConnectionBudget({ maxConcurrency: 1, now: () => 1000, sleep: async () => undefined });
    c.pause(500); // in the past: no wait
    (await c.acquire())();
  });
});

describe('retry arithmetic', () => {
  it('parses Retry-After', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('full jitter under a doubling ceiling; Retry-After as a floor; everything capped', () => {
    const p = retryPolicy({ initial_delay_ms: 100, max_delay_ms: 1000 });
    expect(backoffDelay(p, 1, undefined, () => 0.5)).toBe(50);
    expect(backoffDelay(p, 3, undefined, () => 0.5)).toBe(200);
    expect(backoffDelay(p, 10, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(p, 1, 700, () => 0.1)).toBe(700);
    expect(backoffDelay(p, 1, 60_000, () => 0.1)).toBe(1000);
    expect(backoffDelay(retryPolicy({ respect_retry_after: false, initial_delay_ms: 100 }), 1, 5000, () => 0)).toBe(0);
    expect(retryPolicy(undefined)).toMatchObject({ maxAttempts: 5, initialDelayMs: 500, maxDelayMs: 30_000, respectRetryAfter: true, networkErrors: true });
  });
});
