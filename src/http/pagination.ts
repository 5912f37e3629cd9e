import { compileExpression, type Expression } from '../expressions/index.ts';
import type { PaginationSpec, RequestSpec } from '../spec/types.ts';
import { CrossOriginPageError, PaginationError, type RequestTarget } from './errors.ts';
import { reencodeBody, type RenderedRequest } from './render.ts';
import type { HttpResponse } from './response.ts';

/** Where the next page starts; saved in sync checkpoints so a run can resume there. */
export type PageState =
  | { type: 'cursor'; cursor: string }
  | { type: 'page_number'; page: number }
  | { type: 'offset'; offset: number }
  | { type: 'link_header'; url: string }
  | { type: 'next_url'; url: string };

export interface Page {
  records: unknown[];
  response: HttpResponse;
  /** 1-based number of this page in the run. */
  page: number;
  /** Where the following page starts; undefined on the last page. */
  next?: PageState;
}

export interface PaginationDeps {
  send(req: RequestSpec, context: Record<string, unknown>, opts: { signal?: AbortSignal; adjust?: (r: RenderedRequest) => void; url?: string }): Promise<HttpResponse>;
  target(path: string): RequestTarget;
  /** Origin of the connection's base URL: next-page URLs must stay on it. */
  origin: string;
}

const DEFAULT_MAX_PAGES = 100_000;

/** Reads a records expression's result as an array (one object is one record; nothing is none). */
export async function evaluateRecords(expr: Expression, body: unknown): Promise<unknown[]> {
  const fast = expr.readSync(body);
  const v = fast ? fast.value : await expr.evaluate(body);
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function setQuery(r: RenderedRequest, name: string, value: string): void {
  r.query = r.query.filter(([k]) => k !== name);
  r.query.push([name, value]);
}

/** Sets a dotted path inside the body (cursor `in: body`, GraphQL-style APIs), in the body's own encoding. */
function setBodyPath(r: RenderedRequest, path: string, value: string): void {
  const body = structuredClone(isRecord(r.bodyValue) ? r.bodyValue : {}) as Record<string, unknown>;
  const keys = path.split('.');
  let node = body;
  for (const k of keys.slice(0, -1)) {
    if (!isRecord(node[k])) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
  r.bodyValue = body;
  if (r.encoding === 'text') r.encoding = 'json';
  reencodeBody(r);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A next-page URL read from a response, resolved against the answering URL. It must stay on the
 * connection's origin (scheme, host, port): a body or header that points elsewhere would make the runtime
 * send the connection's credentials to another host (SSRF).
 */
export function sameOriginNext(raw: string, answeredUrl: string, origin: string, target: RequestTarget, page: number): string {
  let url: URL;
  try {
    url = new URL(raw, answeredUrl);
  } catch {
    throw new PaginationError('PAGINATION_BAD_NEXT_URL', target, `page ${page} of ${target.path} gave a next-page URL that is not a URL: "${abbreviate(raw)}"`, { page });
  }
  if (url.origin !== origin) throw new CrossOriginPageError(target, url.origin, origin, page);
  return url.toString();
}

/** The URL of the `rel` link in an RFC 8288 Link header, resolved against the answering URL. */
export function linkHeaderTarget(header: string | undefined, rel: string, base: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    const rels = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2]!);
    const names = (rels?.[1] ?? rels?.[2] ?? '').toLowerCase().split(/\s+/);
    if (names.includes(rel.toLowerCase())) return new URL(m[1]!, base).toString();
  }
  return undefined;
}

/**
 * Yields pages until the strategy says the collection is done. Cursors and next-links seen twice mean the
 * API is looping (PAGINATION_LOOP); more than max_pages pages fails with PAGINATION_LIMIT.
 */
export async function* paginate(
  deps: PaginationDeps,
  req: RequestSpec,
  spec: PaginationSpec | undefined,
  recordsExpr: string,
  context: Record<string, unknown>,
  opts: { signal?: AbortSignal; resume?: PageState; firstPage?: number },
): AsyncGenerator<Page> {
  const records = compileExpression(recordsExpr);
  const p: PaginationSpec = spec ?? { type: 'none' };
  const stopWhen = p.type !== 'none' && p.stop_when ? compileExpression(p.stop_when) : undefined;
  const maxPages = p.type !== 'none' ? (p.max_pages ?? DEFAULT_MAX_PAGES) : 1;
  const pageSize = p.type !== 'none' ? p.page_size : undefined;
  const cursorExpr = p.type === 'cursor' ? compileExpression(p.cursor) : undefined;
  const nextUrlExpr = p.type === 'next_url' ? compileExpression(p.next_url) : undefined;
  const seen = new Set<string>();
  let state: PageState | undefined = opts.resume;
  if (state?.type === 'cursor') seen.add(state.cursor);
  if (state?.type === 'link_header' || state?.type === 'next_url') seen.add(state.url);
  let pageNo = opts.firstPage ?? 1;
  let fetched = 0;

  for (;;) {
    if (fetched >= maxPages) {
      throw new PaginationError('PAGINATION_LIMIT', deps.target(req.path), `stopped after max_pages (${maxPages}) pages of ${req.path}: the collection did not end`, { max_pages: maxPages });
    }
    const current = state;
    const response = await deps.send(req, { ...context, page: pageNo, ...(pageSize ? { page_size: pageSize.value } : {}) }, {
      signal: opts.signal,
      url: current?.type === 'link_header' || current?.type === 'next_url' ? current.url : undefined,
      adjust(r) {
        if (pageSize?.param && current?.type !== 'link_header' && current?.type !== 'next_url') setQuery(r, pageSize.param, String(pageSize.value));
        if (p.type === 'cursor' && current?.type === 'cursor') {
          if (p.in === 'body') setBodyPath(r, p.param, current.cursor);
          else setQuery(r, p.param, current.cursor);
        } else if (p.type === 'page_number' && p.param) {
          // without a param the page number reaches the request only through templates ({{ page }})
          setQuery(r, p.param, String(current?.type === 'page_number' ? current.page : (p.start ?? 1)));
        } else if (p.type === 'offset') {
          setQuery(r, p.param, String(current?.type === 'offset' ? current.offset : 0));
        }
      },
    });
    fetched++;
    const items = await evaluateRecords(records, response.body);

    let next: PageState | undefined;
    switch (p.type) {
      case 'none':
        break;
      case 'cursor': {
        const input = { body: response.body, headers: response.headers };
        const fast = cursorExpr!.readSync(input);
        const c = fast ? fast.value : await cursorExpr!.evaluate(input);
        if (c !== undefined && c !== null && c !== '') {
          const cursor = typeof c === 'string' ? c : JSON.stringify(c);
          if (seen.has(cursor)) {
            throw new PaginationError('PAGINATION_LOOP', deps.target(req.path), `${req.path} returned cursor "${abbreviate(cursor)}" a second time (page ${pageNo}): the API is looping`, { cursor: abbreviate(cursor), page: pageNo });
          }
          seen.add(cursor);
          next = { type: 'cursor', cursor };
        }
        break;
      }
      case 'page_number':
      case 'offset': {
        const short = items.length === 0 || (pageSize !== undefined && items.length < pageSize.value);
        if (!short) {
          if (p.type === 'page_number') next = { type: 'page_number', page: (current?.type === 'page_number' ? current.page : (p.start ?? 1)) + 1 };
          else next = { type: 'offset', offset: (current?.type === 'offset' ? current.offset : 0) + items.length };
        }
        break;
      }
      case 'link_header':
      case 'next_url': {
        let url: string | undefined;
        if (p.type === 'link_header') url = linkHeaderTarget(response.headers.link, p.rel ?? 'next', response.url);
        else {
          const input = { body: response.body, headers: response.headers };
          const fast = nextUrlExpr!.readSync(input);
          const v = fast ? fast.value : await nextUrlExpr!.evaluate(input);
          if (typeof v === 'string' && v.trim() !== '') url = v.trim();
          else if (v !== undefined && v !== null && v !== '' && v !== false) {
            throw new PaginationError('PAGINATION_BAD_NEXT_URL', deps.target(req.path), `pagination.next_url \`${p.next_url}\` gave ${typeof v === 'object' ? 'an object' : `a ${typeof v}`} on page ${pageNo} of ${req.path}; it must give the next page's URL as a string (or nothing on the last page)`, { page: pageNo });
          }
        }
        if (url) {
          url = sameOriginNext(url, response.url, deps.origin, deps.target(req.path), pageNo);
          if (seen.has(url)) {
            throw new PaginationError('PAGINATION_LOOP', deps.target(req.path), `${req.path} linked to ${new URL(url).pathname}${new URL(url).search ? ' (same query)' : ''} a second time (page ${pageNo}): the API is looping`, { page: pageNo });
          }
          seen.add(url);
          next = { type: p.type, url };
        }
        break;
      }
    }
    if (next && stopWhen) {
      const stop = await stopWhen.evaluate({ response: { status: response.status, headers: response.headers, body: response.body }, records: items, page: pageNo });
      if (stop === true) next = undefined;
    }
    yield { records: items, response, page: pageNo, next };
    if (!next) return;
    state = next;
    pageNo++;
  }
}

function abbreviate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
