/** The in-process queue behind the inbox and write-back jobs: order per partition, parallelism across, retries, no duplicates. */
import { describe, expect, it } from 'vitest';
import { JobQueue, retryDelayMs } from '../src/webhooks/job-queue.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('JobQueue', () => {
  it('runs one partition in order, one at a time, and partitions in parallel up to the limit', async () => {
    const log: string[] = [];
    let running = 0;
    let peak = 0;
    const perPartition = new Map<string, number>();
    const q = new JobQueue({
      concurrency: 2,
      async handle(id) {
        const p = id.split(':')[0]!;
        perPartition.set(p, (perPartition.get(p) ?? 0) + 1);
        expect(perPartition.get(p)).toBe(1);
        running++;
        peak = Math.max(peak, running);
        await tick(3);
        log.push(id);
        running--;
        perPartition.set(p, perPartition.get(p)! - 1);
      },
    });
    for (let i = 0; i < 5; i++) for (const p of ['a', 'b', 'c']) q.enqueue(`${p}:${i}`, p);
    await q.idle();
    expect(peak).toBe(2);
    for (const p of ['a', 'b', 'c']) expect(log.filter((x) => x.startsWith(p))).toEqual([0, 1, 2, 3, 4].map((i) => `${p}:${i}`));
  });

  it('does not queue a job twice and re-runs it at the time the handler asks for', async () => {
    const runs: Array<[string, number]> = [];
    const started = Date.now();
    const q = new JobQueue({
      async handle(id) {
        runs.push([id, Date.now() - started]);
        return runs.length < 3 ? { retryAt: Date.now() + 30 } : undefined;
      },
    });
    q.enqueue('x', 'p');
    q.enqueue('x', 'p');
    await q.idle();
    expect(runs).toHaveLength(1);
    while (runs.length < 3) await tick(10);
    expect(runs.map((r) => r[0])).toEqual(['x', 'x', 'x']);
    expect(runs[2]![1] - runs[1]![1]).toBeGreaterThanOrEqual(25);
    await q.stop();
  });

  it('holds jobs while paused and keeps a crashing handler from stopping the queue', async () => {
    const done: string[] = [];
    const crashes: string[] = [];
    const q = new JobQueue({
      async handle(id) {
        if (id === 'bad') throw new Error('boom');
        done.push(id);
      },
      onCrash: (id) => crashes.push(id),
    });
    q.pause();
    q.enqueue('bad', 'p');
    q.enqueue('good', 'p');
    await tick(20);
    expect(done).toEqual([]);
    q.resume();
    await q.idle();
    expect(crashes).toEqual(['bad']);
    expect(done).toEqual(['good']);
  });
});

describe('retryDelayMs', () => {
  it('doubles from the first delay up to the cap, with jitter in the upper half', () => {
    const o = { initialMs: 1000, maxMs: 5000 };
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, o, () => 1))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect([1, 2, 3].map((a) => retryDelayMs(a, o, () => 0))).toEqual([500, 1000, 2000]);
  });
});
