import type { RetrySpec } from '../spec/types.ts';

/** http.retry with the schema's documented defaults filled in. */
export interface RetryPolicy {
  statuses: Set<number>;
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  respectRetryAfter: boolean;
  networkErrors: boolean;
}

export function retryPolicy(spec: RetrySpec | undefined): RetryPolicy {
  return {
    statuses: new Set(spec?.statuses ?? [408, 429, 500, 502, 503, 504]),
    maxAttempts: spec?.max_attempts ?? 5,
    initialDelayMs: spec?.initial_delay_ms ?? 500,
    maxDelayMs: spec?.max_delay_ms ?? 30_000,
    respectRetryAfter: spec?.respect_retry_after ?? true,
    networkErrors: spec?.network_errors ?? true,
  };
}

/**
 * Milliseconds a Retry-After header asks for: delta-seconds or an HTTP date. Undefined when absent or
 * unreadable; never negative.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Wait before attempt `attempt + 1` (attempt counts from 1): full jitter over an exponentially growing
 * ceiling, so many clients that failed together do not retry together. A Retry-After the server sent is
 * a floor (waiting less would just earn another 429); everything is capped by maxDelayMs.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  const floor = policy.respectRetryAfter && retryAfterMs !== undefined ? retryAfterMs : 0;
  return Math.min(policy.maxDelayMs, Math.max(jittered, floor));
}
