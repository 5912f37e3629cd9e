import { createHash } from 'node:crypto';
import { compileExpression, compileTemplate, renderTemplate, splitTemplate, type Expression, type Template } from '../expressions/index.ts';
import type { HttpSpec, RequestSpec } from '../spec/types.ts';
import { CONTENT_TYPES, encodeBody, type BodyEncoding, type FormStyle } from './body.ts';

/** A request spec with every template compiled once (cached per spec object). */
export interface CompiledRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: Array<string | Expression>;
  query: Array<[string, Template]>;
  headers: Array<[string, Template]>;
  body?: Template;
  /** Request-level encoding and form style; undefined falls back to http.body_encoding / http.form. */
  encoding?: BodyEncoding;
  form?: FormStyle;
  idempotency?: true | { varyBy: Template } | Template;
  idempotencyHeader: string;
  okStatuses: Set<number>;
}

/** A request ready to send, before authentication. */
export interface RenderedRequest {
  method: CompiledRequest['method'];
  /** Path with expressions URL-encoded, no query string. */
  path: string;
  query: Array<[string, string]>;
  /** The http.query defaults among `query` (added to absolute next-page URLs that lack them). */
  defaultQuery: Array<[string, string]>;
  headers: Record<string, string>;
  /** Serialized body (JSON, form or text per `encoding`). */
  body?: string;
  /** The rendered body before serialization (pagination sets a cursor inside it and re-encodes). */
  bodyValue?: unknown;
  encoding: BodyEncoding;
  form: FormStyle;
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
    encoding: spec.body_encoding,
    form: spec.form,
    idempotency: compileIdempotency(spec.idempotency_key),
    idempotencyHeader: spec.idempotency_header ?? 'Idempotency-Key',
    okStatuses: new Set(spec.ok_statuses ?? []),
  };
  cache.set(spec, hit);
  return hit;
}

function compileIdempotency(k: RequestSpec['idempotency_key']): CompiledRequest['idempotency'] {
  if (k === true) return true;
  if (typeof k === 'string') return compileTemplate(k);
  if (k && typeof k === 'object') return { varyBy: compileTemplate(k.vary_by) };
  return undefined;
}

/** Compiles header templates shared by every request (http.headers). */
export function compileHeaders(headers: Record<string, string> | undefined): Array<[string, Template]> {
  return Object.entries(headers ?? {}).map(([k, v]) => [k, compileTemplate(v)]);
}

/** What every request of a connector shares (the `http` block), compiled once per client. */
export interface SharedRequestParts {
  headers: Array<[string, Template]>;
  /** http.query: defaults a request's own parameter of the same name replaces. */
  query: Array<[string, Template]>;
  encoding: BodyEncoding;
  form: FormStyle;
}

export function compileShared(http: HttpSpec | undefined): SharedRequestParts {
  return {
    headers: compileHeaders(http?.headers),
    query: Object.entries(http?.query ?? {}).map(([k, v]) => [k, compileTemplate(v)]),
    encoding: http?.body_encoding ?? 'json',
    form: http?.form ?? {},
  };
}

/** Serializes `r.bodyValue` again after a change (a pagination cursor written into the body). */
export function reencodeBody(r: RenderedRequest): void {
  r.body = encodeBody(r.bodyValue, r.encoding, r.form);
  if (r.body !== undefined) r.headers['content-type'] ??= CONTENT_TYPES[r.encoding];
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

export interface RenderOptions {
  /**
   * Mixed into derived idempotency keys (idempotency_key: true or vary_by): the caller's identity of one
   * write, stable across its retries (the write-back passes its job and document version).
   */
  idempotencyScope?: string;
}

export async function renderRequest(req: CompiledRequest, shared: SharedRequestParts, ctx: Record<string, unknown>, opts: RenderOptions = {}): Promise<RenderedRequest> {
  let path = '';
  for (const part of req.path) {
    if (typeof part === 'string') path += part;
    else {
      const v = await value(part, ctx);
      path += v === null || v === undefined ? '' : encodeURIComponent(scalarText(v));
    }
  }
  const headers: Record<string, string> = {};
  await renderHeaders(shared.headers, ctx, headers);
  await renderHeaders(req.headers, ctx, headers);
  const own = req.query.length ? new Set(req.query.map(([k]) => k)) : undefined;
  const defaults = own ? shared.query.filter(([k]) => !own.has(k)) : shared.query;
  const defaultQuery = defaults.length ? await renderQuery(defaults, ctx) : [];
  const query = defaultQuery.length ? [...defaultQuery, ...(await renderQuery(req.query, ctx))] : await renderQuery(req.query, ctx);
  const r: RenderedRequest = { method: req.method, path, query, defaultQuery, headers, encoding: req.encoding ?? shared.encoding, form: req.form ?? shared.form, okStatuses: req.okStatuses };
  if (req.body !== undefined) {
    r.bodyValue = await renderTemplate(req.body, ctx, ctx);
    reencodeBody(r);
  }
  if (req.idempotency === true) r.idempotencyKey = derivedIdempotencyKey(req.method, path, query, r.body, opts.idempotencyScope);
  else if (req.idempotency && 'varyBy' in req.idempotency) {
    const v = await renderTemplate(req.idempotency.varyBy, ctx, ctx);
    r.idempotencyKey = derivedIdempotencyKey(req.method, path, query, r.body, `${opts.idempotencyScope ?? ''}\u0000${v === undefined || v === null ? '' : scalarText(v)}`);
  } else if (req.idempotency) {
    const v = await renderTemplate(req.idempotency, ctx, ctx);
    if (v !== null && v !== undefined && v !== '') r.idempotencyKey = scalarText(v);
  }
  return r;
}

/**
 * The same write (method, URL, body, and the caller's scope: which write of which document version) always
 * gets the same key, so a job retried after a crash or a timeout is recognised by the system as a replay
 * rather than a second write; a later write of the same content in another scope gets a new key, so the
 * system does not answer it with the stored result of the first (tax A -> B -> A inside a 24 h window).
 */
export function derivedIdempotencyKey(method: string, path: string, query: Array<[string, string]>, body: string | undefined, scope?: string): string {
  const h = createHash('sha256');
  h.update(`${method} ${path}?${new URLSearchParams(query).toString()}\n`);
  if (body !== undefined) h.update(body);
  if (scope) h.update(`\n${scope}`);
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
