/** Webhook signing (Sequence and Rillet schemes) and delivery with a few retries, logged. */
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { sleep } from './http.ts';

/** Sequence: hex HMAC-SHA256 of "<t>.<raw body>" keyed with the utf8 bytes of the secret. */
export function sequenceSignature(secret: string, t: number | string, rawBody: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${rawBody}`, 'utf8').digest('hex');
}

/** The `Sequence-Signature` header value: `t=<unix ms>,s=<hex>`. */
export function sequenceSignatureHeader(secret: string, t: number, rawBody: string): string {
  return `t=${t},s=${sequenceSignature(secret, t, rawBody)}`;
}

/**
 * Rillet: base64(HMAC-SHA256(key = base64decode(token), "<timestamp>.<id>.<entity>.<event>.<raw body>")).
 */
export function rilletSignature(token: string, timestamp: string, id: string, entity: string, event: string, rawBody: string): string {
  return createHmac('sha256', Buffer.from(token, 'base64'))
    .update(`${timestamp}.${id}.${entity}.${event}.${rawBody}`, 'utf8')
    .digest('base64');
}

/** One signature per token, comma-separated (how a rotated token pair is sent). */
export function rilletSignatureHeader(tokens: readonly string[], timestamp: string, id: string, entity: string, event: string, rawBody: string): string {
  return tokens.map((t) => rilletSignature(t, timestamp, id, entity, event, rawBody)).join(',');
}

export interface PostResult {
  status: number;
  body: string;
}

/** POST a raw JSON body; network errors are thrown, HTTP errors are returned. */
export async function postRaw(url: string, rawBody: string, headers: Record<string, string>, timeoutMs = 10_000): Promise<PostResult> {
  const res = await request(url, {
    method: 'POST',
    body: rawBody,
    headers: { 'content-type': 'application/json', ...headers },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.body.text();
  return { status: res.statusCode, body };
}

/** Flip one character of a body so its signature no longer matches. */
export function tamperBody(rawBody: string): string {
  if (rawBody.length === 0) return ' ';
  const i = rawBody.length > 2 ? rawBody.length - 2 : 0;
  const c = rawBody[i]!;
  const repl = c === '0' ? '1' : c === ' ' ? '\t' : c === '"' ? ' "' : '0';
  return rawBody.slice(0, i) + repl + rawBody.slice(i + 1);
}

export interface DeliveryRecord {
  /** Which registration the delivery is for (policy id / target url). */
  target: string;
  url: string;
  event: string;
  resourceId?: string;
  attempt: number;
  /** HTTP status, or 0 on a network error. */
  status: number;
  error?: string;
  ok: boolean;
  at: number;
  /** The exact bytes and headers sent. */
  body: string;
  headers: Record<string, string>;
}

export interface DeliveryOptions {
  /** Attempts in all (default 3). */
  attempts?: number;
  /** First retry delay; doubles each time (default 100 ms). */
  backoffMs?: number;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
}

/** Fire-and-forget deliveries with retries on network errors and non-2xx; every attempt is logged. */
export class Deliverer {
  readonly log: DeliveryRecord[] = [];
  private inflight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly opts: DeliveryOptions = {}) {}

  enqueue(target: string, url: string, event: string, resourceId: string | undefined, body: string, headers: Record<string, string>): void {
    const p = this.run(target, url, event, resourceId, body, headers).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async run(target: string, url: string, event: string, resourceId: string | undefined, body: string, headers: Record<string, string>): Promise<void> {
    const attempts = Math.max(1, this.opts.attempts ?? 3);
    let delay = this.opts.backoffMs ?? 100;
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt++) {
      const rec: DeliveryRecord = { target, url, event, resourceId, attempt, status: 0, ok: false, at: Date.now(), body, headers };
      try {
        const res = await postRaw(url, body, headers, this.opts.timeoutMs ?? 10_000);
        rec.status = res.status;
        rec.ok = res.status >= 200 && res.status < 300;
      } catch (e) {
        rec.error = (e as Error).message;
      }
      this.log.push(rec);
      if (this.log.length > 10_000) this.log.splice(0, 1_000);
      if (rec.ok) return;
      if (attempt < attempts) {
        await sleep(delay);
        delay *= 2;
      }
    }
  }

  /** Resolves when every delivery started so far (including retries) has finished. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Stop retrying; in-flight attempts finish on their own. */
  stop(): void {
    this.stopped = true;
  }
}
