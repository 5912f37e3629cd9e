/**
 * A connection's request budget: at most `maxConcurrency` requests in flight, and at most `requests` starts in
 * any window of `perMs` (a sliding log of start times, which is stricter than the fixed or sliding windows
 * servers count with, so staying under ours keeps us under theirs). A 429's Retry-After pauses every
 * request of the connection, not only the one that got it.
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', aborted, { once: true });
  });

export interface BudgetOptions {
  rateLimit?: { requests: number; perMs: number };
  maxConcurrency: number;
  now: () => number;
  sleep: Sleep;
}

export class ConnectionBudget {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  /** Start times of the last `requests` requests (ring buffer). */
  private readonly starts: number[];
  private next = 0;
  private rateTurn: Promise<void> = Promise.resolve();
  private pausedUntil = 0;

  constructor(private readonly opts: BudgetOptions) {
    this.starts = opts.rateLimit ? new Array<number>(opts.rateLimit.requests).fill(-Infinity) : [];
  }

  /** Waits for a concurrency slot and a rate slot; the returned function frees the concurrency slot. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    await this.takeSlot(signal);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.waiting.shift()?.();
    };
    try {
      await this.takeRate(signal);
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  /** Holds every request of this budget until `untilMs` (a 429's Retry-After). */
  pause(untilMs: number): void {
    if (untilMs > this.pausedUntil) this.pausedUntil = untilMs;
  }

  private takeSlot(signal?: AbortSignal): Promise<void> {
    if (this.inFlight < this.opts.maxConcurrency) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', aborted);
        this.inFlight++;
        resolve();
      };
      const aborted = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', aborted, { once: true });
      this.waiting.push(grant);
    });
  }

  /** Rate slots are handed out one at a time, in order, so the start log stays sorted. */
  private takeRate(signal?: AbortSignal): Promise<void> {
    const turn = this.rateTurn.then(async () => {
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const now = this.opts.now();
        let wait = this.pausedUntil - now;
        const limit = this.opts.rateLimit;
        if (limit) wait = Math.max(wait, this.starts[this.next]! + limit.perMs - now);
        if (wait <= 0) break;
        await this.opts.sleep(Math.ceil(wait), signal);
      }
      if (this.opts.rateLimit) {
        this.starts[this.next] = this.opts.now();
        this.next = (this.next + 1) % this.starts.length;
      }
    });
    // A waiter that aborted must not block the ones behind it.
    this.rateTurn = turn.catch(() => undefined);
    return turn;
  }
}

const shared = new Map<string, { budget: ConnectionBudget; users: number; idleSince: number; keepMs: number }>();

/**
 * One budget per connection and process, shared by every client of that connection (a sync and a
 * webhook refetch running together still respect one limit). A budget outlives its last client by one
 * rate window, so back-to-back runs (each with its own client) still see each other's requests.
 */
export function acquireBudget(key: string, opts: BudgetOptions): { budget: ConnectionBudget; release(): void } {
  const now = Date.now();
  for (const [k, e] of shared) if (e.users === 0 && now - e.idleSince > e.keepMs) shared.delete(k);
  let entry = shared.get(key);
  if (!entry) {
    entry = { budget: new ConnectionBudget(opts), users: 0, idleSince: now, keepMs: opts.rateLimit?.perMs ?? 0 };
    shared.set(key, entry);
  }
  entry.users++;
  const held = entry;
  let done = false;
  return {
    budget: held.budget,
    release() {
      if (done) return;
      done = true;
      if (--held.users === 0) held.idleSince = Date.now();
    },
  };
}
