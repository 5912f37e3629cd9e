/**
 * Per-key token buckets: `rate` tokens per second, up to `burst`. take() is O(1) and allocation-free on
 * the hot path; idle buckets are dropped by sweep() so the map stays small.
 */
export interface RateLimitDecision {
  ok: boolean;
  /** Whole seconds until a request would be allowed (for Retry-After), when not ok. */
  retryAfter: number;
  limit: number;
  remaining: number;
}

interface Bucket {
  tokens: number;
  at: number;
  rate: number;
  burst: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly defaultRate: number,
    private readonly defaultBurst: number = defaultRate * 2,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(key: string, rate = this.defaultRate, burst = rate === this.defaultRate ? this.defaultBurst : rate * 2): RateLimitDecision {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b || b.rate !== rate || b.burst !== burst) {
      b = { tokens: burst, at: t, rate, burst };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
      b.at = t;
    }
    if (t - this.lastSweep > 60_000) this.sweep(t);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, retryAfter: 0, limit: rate, remaining: Math.floor(b.tokens) };
    }
    return { ok: false, retryAfter: Math.max(1, Math.ceil((1 - b.tokens) / rate)), limit: rate, remaining: 0 };
  }

  private sweep(t: number): void {
    this.lastSweep = t;
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * b.rate >= b.burst) this.buckets.delete(k);
  }
}
