/**
 * `application/x-www-form-urlencoded` bodies and query strings with bracketed keys, as Stripe and
 * Chargebee read them: `a[b]=1` nests, `a[0][b]=1` (Stripe) and `a[b][0]=1` (Chargebee, index last)
 * both index arrays, `a[]=x` appends. Decoded trees use null-prototype objects, so a key such as
 * `__proto__` is just a key. Also the per-request idempotency store both fakes share.
 */
import type Koa from 'koa';
import { ApiError, readRawBody } from './http.ts';

export type FormValue = string | FormValue[] | FormTree;
export interface FormTree {
  [key: string]: FormValue;
}

export const FORM_LIMITS = { pairs: 2000, depth: 8, keyLength: 500 } as const;

/** A malformed key or value; `param` is the key as sent. */
export class FormError extends Error {
  constructor(readonly param: string, message: string) {
    super(message);
    this.name = 'FormError';
  }
}

const tree = (): FormTree => Object.create(null) as FormTree;

/** `a[b][0][]` -> ['a', 'b', '0', '']; throws on unbalanced brackets. */
export function keyPath(key: string): string[] {
  const open = key.indexOf('[');
  if (open < 0) return [key];
  if (open === 0) throw new FormError(key, `invalid parameter name ${JSON.stringify(key)}: it starts with '['`);
  const parts = [key.slice(0, open)];
  let i = open;
  while (i < key.length) {
    if (key[i] !== '[') throw new FormError(key, `invalid parameter name ${JSON.stringify(key)}: expected '[' at position ${i}`);
    const close = key.indexOf(']', i);
    if (close < 0) throw new FormError(key, `invalid parameter name ${JSON.stringify(key)}: unclosed '['`);
    parts.push(key.slice(i + 1, close));
    i = close + 1;
  }
  return parts;
}

/** The (key, value) pairs of a form body or query string, in order, with limits. */
export function formPairs(raw: string): [string, string][] {
  const out: [string, string][] = [];
  if (raw === '') return out;
  for (const [k, v] of new URLSearchParams(raw)) {
    if (out.length >= FORM_LIMITS.pairs) throw new FormError(k, `too many parameters (more than ${FORM_LIMITS.pairs})`);
    if (k.length > FORM_LIMITS.keyLength) throw new FormError(k.slice(0, 40), `parameter name longer than ${FORM_LIMITS.keyLength} characters`);
    out.push([k, v]);
  }
  return out;
}

const INDEX_RE = /^(0|[1-9]\d{0,3})$/;

/**
 * Decode bracketed pairs into a tree. Objects whose keys are all small integers become arrays in
 * index order (gaps are closed up, as the APIs do); `[]` appends. A key used both as a value and as
 * an object (`a=1&a[b]=2`) is an error naming it.
 */
export function decodeForm(raw: string): FormTree {
  const root = tree();
  for (const [key, value] of formPairs(raw)) {
    const path = keyPath(key);
    if (path.length > FORM_LIMITS.depth) throw new FormError(key, `parameter ${key} is nested more than ${FORM_LIMITS.depth} levels deep`);
    let node = root;
    for (let i = 0; i < path.length; i++) {
      let part = path[i]!;
      if (part === '') part = String(Object.keys(node).length); // `a[]`: the next free slot
      const last = i === path.length - 1;
      const existing = Object.hasOwn(node, part) ? node[part] : undefined;
      if (last) {
        if (existing !== undefined && typeof existing !== 'string') throw new FormError(key, `parameter ${key} is given both as a value and as an object`);
        node[part] = value; // a repeated scalar key keeps the last value
      } else {
        if (typeof existing === 'string') throw new FormError(key, `parameter ${key} is given both as a value and as an object`);
        if (existing === undefined) {
          const child = tree();
          node[part] = child;
          node = child;
        } else node = existing as FormTree;
      }
    }
  }
  return arrayify(root) as FormTree;
}

function arrayify(v: FormValue): FormValue {
  if (typeof v === 'string' || Array.isArray(v)) return v;
  const keys = Object.keys(v);
  for (const k of keys) v[k] = arrayify(v[k]!);
  if (keys.length > 0 && keys.every((k) => INDEX_RE.test(k))) {
    return keys.map(Number).sort((a, b) => a - b).map((n) => v[String(n)]!);
  }
  return v;
}

/** Stable text of a decoded tree (sorted keys), for comparing two requests' parameters. */
export function canonicalForm(v: FormValue | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalForm).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalForm(v[k])}`).join(',')}}`;
}

export function isFormTree(v: FormValue | undefined): v is FormTree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when the request declares a form body (or sends none). */
export function isFormRequest(ctx: Koa.Context, raw: string): boolean {
  const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
  if (raw === '') return true;
  return type === 'application/x-www-form-urlencoded';
}

// ------------------------------------------------------------------------------------------------
// Idempotency keys (Stripe and Chargebee semantics differ in the details; the store is the same)

interface StoredResponse {
  fingerprint: string;
  at: number;
  pending: boolean;
  status?: number;
  body?: string;
}

export interface IdempotencyHooks {
  /** Request header carrying the key (lower case). */
  header: string;
  /** Response header marking a replay. */
  replayedHeader: string;
  ttlMs: number;
  /** The error for the same key used with other parameters / while the first is running. */
  mismatch(key: string): ApiError;
  inFlight(key: string): ApiError;
  tooLong(key: string): ApiError;
  /** Whether this error may be stored and replayed (errors raised before execution are not). */
  storable(e: ApiError): boolean;
  /** Render an error as the API does (status and JSON body). */
  render(e: unknown): { status: number; body: unknown };
  /** The request's parameters, canonical (after body parsing). */
  fingerprint(ctx: Koa.Context): Promise<string>;
}

/**
 * POST with a key: the first request runs and its answer is kept for `ttlMs`; the same key with the
 * same method, path and parameters replays it (with `replayedHeader: true`); other parameters get
 * `mismatch`, a request still running `inFlight`.
 */
export function formIdempotency(h: IdempotencyHooks): Koa.Middleware {
  const store = new Map<string, StoredResponse>();
  return async (ctx, next) => {
    const key = ctx.get(h.header);
    if (ctx.method !== 'POST' || key === '') return next();
    if (key.length > 255) throw h.tooLong(key);
    await readRawBody(ctx);
    const fingerprint = `${ctx.method} ${ctx.path}\n${await h.fingerprint(ctx)}`;
    const now = Date.now();
    for (const [k, v] of store) {
      if (now - v.at < h.ttlMs) break; // insertion order = age order
      store.delete(k);
    }
    const hit = store.get(key);
    if (hit) {
      if (hit.fingerprint !== fingerprint) throw h.mismatch(key);
      if (hit.pending) throw h.inFlight(key);
      ctx.status = hit.status!;
      ctx.set(h.replayedHeader, 'true');
      ctx.type = 'application/json; charset=utf-8';
      ctx.body = hit.body;
      return;
    }
    const entry: StoredResponse = { fingerprint, at: now, pending: true };
    store.set(key, entry);
    let keep = true;
    try {
      await next();
    } catch (e) {
      if (e instanceof ApiError && !h.storable(e)) {
        keep = false;
        throw e;
      }
      const r = h.render(e);
      ctx.status = r.status;
      ctx.body = r.body;
    } finally {
      if (!keep) store.delete(key);
      else {
        entry.pending = false;
        entry.status = ctx.status;
        entry.body = ctx.body === undefined || ctx.body === null ? '' : typeof ctx.body === 'string' ? ctx.body : JSON.stringify(ctx.body);
      }
    }
  };
}
