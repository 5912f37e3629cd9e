import { createHash } from 'node:crypto';
import { compileExpression, compileTemplate, renderTemplate, splitTemplate, type Expression, type Template } from '../expressions/index.ts';
import type { RequestSpec } from '../spec/types.ts';

/** A request spec with every template compiled once (cached per spec object). */
export interface CompiledRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: Array<string | Expression>;
  query: Array<[string, Template]>;
  headers: Array<[string, Template]>;
  body?: Template;
  idempotency?: true | Template;
  idempotencyHeader: string;
  okStatuses: Set<number>;
}

/** A request ready to send, before authentication. */
export interface RenderedRequest {
  method: CompiledRequest['method'];
  /** Path with expressions URL-encoded, no query string. */
  path: string;
  query: Array<[string, string]>;
  headers: Record<string, string>;
  /** Serialized JSON body. */
  body?: string;
  idempotencyKey?: string;
  okStatuses: Set<number>;
}

const cache = new WeakMap<RequestSpec, CompiledRequest>();

export function compileRequest(spec: RequestSpec): CompiledRequest {
  let hit = cache.get(spec);
  if (hit) return hit;
  hit = {
    method: spec.method ?? 'GET',
    path: splitTemplate(spec.path).map((p) => (typeof p === 'string' ? p : compileExpression(p.source))),
    query: Object.entries(spec.query ?? {}).map(([k, v]) => [k, compileTemplate(v)]),
    headers: Object.entries(spec.headers ?? {}).map(([k, v]) => [k, compileTemplate(v)]),
    body: spec.body === undefined ? undefined : compileTemplate(spec.body),
    idempotency: spec.idempotency_key === true ? true : typeof spec.idempotency_key === 'string' ? compileTemplate(spec.idempotency_key) : undefined,
    idempotencyHeader: spec.idempotency_header ?? 'Idempotency-Key',
    okStatuses: new Set(spec.ok_statuses ?? []),
  };
  cache.set(spec, hit);
  return hit;
}

/** Compiles header templates shared by every request (http.headers). */
export function compileHeaders(headers: Record<string, string> | undefined): Array<[string, Template]> {
  return Object.entries(headers ?? {}).map(([k, v]) => [k, compileTemplate(v)]);
}

async function value(t: Template | Expression, ctx: Record<string, unknown>): Promise<unknown> {
  if ('kind' in t) return renderTemplate(t, ctx, ctx);
  const fast = t.readSync(ctx, ctx);
  return fast ? fast.value : t.evaluate(ctx, ctx);
}

function scalarText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Query parameters: null/undefined dropped, arrays repeated, objects as JSON. */
export async function renderQuery(entries: Array<[string, Template]>, ctx: Record<string, unknown>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (const [name, t] of entries) {
    const v = await value(t, ctx);
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) {
      for (const item of v) if (item !== null && item !== undefined) out.push([name, scalarText(item)]);
    } else {
      out.push([name, scalarText(v)]);
    }
  }
  return out;
}

export async function renderHeaders(entries: Array<[string, Template]>, ctx: Record<string, unknown>, into: Record<string, string>): Promise<void> {
  for (const [name, t] of entries) {
    const v = await value(t, ctx);
    if (v === null || v === undefined || v === '') continue;
    into[name.toLowerCase()] = scalarText(v);
  }
}

export async function renderRequest(req: CompiledRequest, shared: Array<[string, Template]>, ctx: Record<string, unknown>): Promise<RenderedRequest> {
  let path = '';
  for (const part of req.path) {
    if (typeof part === 'string') path += part;
    else {
      const v = await value(part, ctx);
      path += v === null || v === undefined ? '' : encodeURIComponent(scalarText(v));
    }
  }
  const headers: Record<string, string> = {};
  await renderHeaders(shared, ctx, headers);
  await renderHeaders(req.headers, ctx, headers);
  const query = await renderQuery(req.query, ctx);
  let body: string | undefined;
  if (req.body !== undefined) {
    const rendered = await renderTemplate(req.body, ctx, ctx);
    if (rendered !== undefined) {
      body = JSON.stringify(rendered);
      headers['content-type'] ??= 'application/json';
    }
  }
  let idempotencyKey: string | undefined;
  if (req.idempotency === true) idempotencyKey = derivedIdempotencyKey(req.method, path, query, body);
  else if (req.idempotency) {
    const v = await renderTemplate(req.idempotency, ctx, ctx);
    if (v !== null && v !== undefined && v !== '') idempotencyKey = scalarText(v);
  }
  return { method: req.method, path, query, headers, body, idempotencyKey, okStatuses: req.okStatuses };
}

/**
 * The same request (method, URL, body) always gets the same key, so a job retried after a crash or a
 * timeout is recognised by the system as a replay rather than a second write.
 */
export function derivedIdempotencyKey(method: string, path: string, query: Array<[string, string]>, body: string | undefined): string {
  const h = createHash('sha256');
  h.update(`${method} ${path}?${new URLSearchParams(query).toString()}\n`);
  if (body !== undefined) h.update(body);
  return `tb_${h.digest('hex').slice(0, 48)}`;
}

/** Base URL + path + query as one URL string. */
export function buildUrl(baseUrl: string, path: string, query: Array<[string, string]>): string {
  const base = baseUrl.endsWith('/') ? baseUrl.slice(0, -1) : baseUrl;
  const isAbsolute = /^https?:\/\//i.test(path);
  let url = isAbsolute ? path : `${base}${path.startsWith('/') || path === '' ? '' : '/'}${path}`;
  if (query.length) url += (url.includes('?') ? '&' : '?') + new URLSearchParams(query).toString();
  return url;
}
