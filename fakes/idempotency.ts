/**
 * `Idempotency-Key` on POST: the first request with a key runs and its response (status, body,
 * content type) is stored for 24 h; later requests with the same key and the same method, path and
 * body get the stored response back (header `Idempotent-Replayed: true`) without running again.
 * The same key with a different request is a 422; while the first is still running, a 409.
 * Responses with 5xx statuses and thrown errors are not stored, so the request can be retried.
 */
import type Koa from 'koa';
import { ApiError, readRawBody } from './http.ts';

const TTL_MS = 24 * 3600 * 1000;

interface Stored {
  fingerprint: string;
  at: number;
  pending: boolean;
  status?: number;
  body?: string;
  contentType?: string;
}

export class IdempotencyStore {
  readonly entries = new Map<string, Stored>();

  prune(now: number): void {
    for (const [k, v] of this.entries) {
      if (now - v.at >= TTL_MS) this.entries.delete(k);
      else break; // insertion order = age order
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

export function idempotencyMiddleware(store: IdempotencyStore): Koa.Middleware {
  return async (ctx, next) => {
    const key = ctx.get('idempotency-key');
    if (ctx.method !== 'POST' || key === '') return next();
    if (key.length > 255) throw new ApiError(400, 'badRequest', 'Idempotency-Key must be at most 255 characters', { field: 'Idempotency-Key' });
    const raw = await readRawBody(ctx);
    const fingerprint = `${ctx.method} ${ctx.path}\n${raw}`;
    const now = Date.now();
    store.prune(now);
    const hit = store.entries.get(key);
    if (hit) {
      if (hit.fingerprint !== fingerprint) {
        throw new ApiError(422, 'idempotencyKeyReused', `Idempotency-Key ${JSON.stringify(key)} was already used for a different request`, { field: 'Idempotency-Key' });
      }
      if (hit.pending) {
        throw new ApiError(409, 'conflict', `a request with Idempotency-Key ${JSON.stringify(key)} is still being processed`, { field: 'Idempotency-Key' });
      }
      ctx.status = hit.status!;
      ctx.set('Idempotent-Replayed', 'true');
      if (hit.body !== undefined) {
        ctx.type = hit.contentType ?? 'application/json';
        ctx.body = hit.body;
      }
      return;
    }
    const entry: Stored = { fingerprint, at: now, pending: true };
    store.entries.set(key, entry);
    let ok = false;
    try {
      await next();
      ok = ctx.status < 500;
      if (ok) {
        entry.pending = false;
        entry.status = ctx.status;
        const b: unknown = ctx.body;
        if (b === undefined || b === null) {
          entry.body = undefined;
        } else if (typeof b === 'string') {
          entry.body = b;
          entry.contentType = ctx.response.get('content-type') || 'text/plain';
        } else {
          // snapshot now: the live record may change after this response
          entry.body = JSON.stringify(b);
          entry.contentType = 'application/json; charset=utf-8';
        }
      }
    } finally {
      if (!ok) store.entries.delete(key);
    }
  };
}
