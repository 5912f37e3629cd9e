/**
 * The in-process scheduler behind the durable inbox and the write-back jobs. It holds only ids: the job
 * itself (status, attempts, last error, next attempt) lives in the store, so the queue can be rebuilt after a
 * restart by a recovery scan. Jobs of one partition (a connection) run one at a time and in order, so two
 * events about one record never race; different partitions run in parallel up to `concurrency`.
 */

export interface QueueHandlerResult {
  /** Run the job again at this time (ms since epoch): a retry after backoff. */
  retryAt?: number;
}

export interface JobQueueOptions {
  concurrency?: number;
  /** Runs one job; returns when to retry, or nothing when the job reached a final state. Must not throw. */
  handle(id: string): Promise<QueueHandlerResult | void>;
  /** Called when `handle` throws anyway (a bug): the job is dropped from the queue, never lost from the store. */
  onCrash?(id: string, error: unknown): void;
  now?: () => number;
}

interface Entry {
  id: string;
  partition: string;
}

export class JobQueue {
  private readonly concurrency: number;
  private readonly partitions = new Map<string, Entry[]>();
  /** Partitions with waiting work and nothing running, in arrival order. */
  private readonly ready: string[] = [];
  private readonly busy = new Set<string>();
  private readonly known = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly idleWaiters: Array<() => void> = [];
  private active = 0;
  private stopped = false;
  private paused = false;

  constructor(private readonly opts: JobQueueOptions) {
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
  }

  /** Queues a job now (or at `at`); a job already queued, scheduled or running is not queued twice. */
  enqueue(id: string, partition: string, at?: number): void {
    if (this.stopped) return;
    const now = (this.opts.now ?? Date.now)();
    if (at !== undefined && at > now) {
      if (this.timers.has(id) || this.known.has(id)) return;
      const t = setTimeout(() => {
        this.timers.delete(id);
        this.enqueue(id, partition);
      }, at - now);
      t.unref?.();
      this.timers.set(id, t);
      return;
    }
    if (this.known.has(id)) return;
    const timer = this.timers.get(id);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(id);
    }
    this.known.add(id);
    let q = this.partitions.get(partition);
    if (!q) {
      q = [];
      this.partitions.set(partition, q);
    }
    q.push({ id, partition });
    if (q.length === 1 && !this.busy.has(partition)) this.ready.push(partition);
    this.pump();
  }

  /** True while the job is queued, scheduled for a retry or running. */
  has(id: string): boolean {
    return this.known.has(id) || this.timers.has(id);
  }

  /** Resolves when the job (if running) finishes its current run. */
  async settled(id: string): Promise<void> {
    await this.running.get(id);
  }

  get size(): { queued: number; running: number; scheduled: number } {
    return { queued: this.known.size - this.active, running: this.active, scheduled: this.timers.size };
  }

  /** Stops starting jobs (running ones finish); `resume` starts again. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Resolves when nothing is queued or running (scheduled retries do not count). */
  idle(): Promise<void> {
    if (this.active === 0 && this.known.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Drops queued and scheduled jobs (they stay in the store) and waits for running ones. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.partitions.clear();
    this.ready.length = 0;
    await Promise.allSettled([...this.running.values()]);
  }

  private pump(): void {
    while (!this.stopped && !this.paused && this.active < this.concurrency && this.ready.length > 0) {
      const partition = this.ready.shift()!;
      const q = this.partitions.get(partition);
      const entry = q?.shift();
      if (!entry) continue;
      this.busy.add(partition);
      this.active++;
      const run = this.runOne(entry);
      this.running.set(entry.id, run);
    }
  }

  private async runOne(entry: Entry): Promise<void> {
    let result: QueueHandlerResult | void = undefined;
    try {
      result = await this.opts.handle(entry.id);
    } catch (e) {
      this.opts.onCrash?.(entry.id, e);
    }
    this.running.delete(entry.id);
    this.known.delete(entry.id);
    this.active--;
    this.busy.delete(entry.partition);
    const q = this.partitions.get(entry.partition);
    if (q && q.length > 0) this.ready.push(entry.partition);
    else this.partitions.delete(entry.partition);
    if (result?.retryAt !== undefined) this.enqueue(entry.id, entry.partition, result.retryAt);
    this.pump();
    if (this.active === 0 && this.known.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** Exponential backoff with full jitter on the upper half: attempt 1 -> ~initial, doubling, capped. */
export function retryDelayMs(attempt: number, opts: { initialMs: number; maxMs: number }, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}
