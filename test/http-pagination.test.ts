import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, linkHeaderTarget, type HttpClient, type Page } from '../src/http/index.ts';
import type { PaginationSpec, RequestSpec } from '../src/spec/types.ts';
import { startLocalServer, type Handler, type LocalServer } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

let server: LocalServer | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

const ITEMS = Array.from({ length: 23 }, (_, i) => ({ id: `r${i}` }));

async function setup(handler: Handler) {
  server = await startLocalServer(handler);
  client = createHttpClient(testSpec(), testConn(server.url));
  return { server, client };
}

async function collect(it: AsyncIterable<Page>): Promise<Page[]> {
  const pages: Page[] = [];
  for await (const p of it) pages.push(p);
  return pages;
}

const ids = (pages: Page[]) => pages.flatMap((p) => p.records.map((r) => (r as { id: string }).id));

/** A cursor API: cursor = base64 of the next index. */
const cursorApi: Handler = (req) => {
  const limit = Number(req.query.get('limit') ?? 10);
  const after = req.query.get('after');
  const start = after ? Number(Buffer.from(after, 'base64').toString()) : 0;
  const items = ITEMS.slice(start, start + limit);
  const next = start + limit < ITEMS.length ? Buffer.from(String(start + limit)).toString('base64') : undefined;
  return { json: { items, pagination: next ? { after: next } : {} } };
};

describe('pagination', () => {
  const req: RequestSpec = { path: '/items', query: { sortOrder: 'ASC' } };

  it('cursor in the query, page size sent, until the cursor is absent', async () => {
    const { server, client } = await setup(cursorApi);
    const pages = await collect(client.paginate(req, { type: 'cursor', cursor: 'body.pagination.after', param: 'after', page_size: { param: 'limit', value: 10 } }, 'items'));
    expect(pages.map((p) => p.page)).toEqual([1, 2, 3]);
    expect(ids(pages)).toEqual(ITEMS.map((i) => i.id));
    expect(pages[2]!.next).toBeUndefined();
    expect(pages[0]!.next).toEqual({ type: 'cursor', cursor: Buffer.from('10').toString('base64') });
    expect(server.requests.every((r) => r.query.get('limit') === '10' && r.query.get('sortOrder') === 'ASC')).toBe(true);
    expect(server.requests[0]!.query.has('after')).toBe(false);
  });

  it('resumes from a saved page state', async () => {
    const { server, client } = await setup(cursorApi);
    const pagination: PaginationSpec = { type: 'cursor', cursor: 'body.pagination.after', param: 'after', page_size: { param: 'limit', value: 10 } };
    const first = await collect(client.paginate(req, pagination, 'items'));
    const resumed = await collect(client.paginate(req, pagination, 'items', {}, { resume: first[0]!.next, firstPage: 2 }));
    expect(resumed.map((p) => p.page)).toEqual([2, 3]);
    expect(ids(resumed)).toEqual(ITEMS.slice(10).map((i) => i.id));
    expect(server.requests[3]!.query.get('after')).toBe(Buffer.from('10').toString('base64'));
  });

  it('cursor in the body (GraphQL style)', async () => {
    const { server, client } = await setup((r) => {
      const body = JSON.parse(r.body) as { query: string; vars: { after?: string } };
      const start = Number(body.vars.after ?? 0);
      return { json: { data: { nodes: ITEMS.slice(start, start + 10), next: start + 10 < ITEMS.length ? String(start + 10) : null } } };
    });
    const pages = await collect(client.paginate({ method: 'POST', path: '/graphql', body: { query: '{ things }', vars: {} } }, { type: 'cursor', cursor: 'body.data.next', param: 'vars.after', in: 'body' }, 'data.nodes'));
    expect(ids(pages)).toEqual(ITEMS.map((i) => i.id));
    expect(JSON.parse(server.requests[1]!.body)).toEqual({ query: '{ things }', vars: { after: '10' } });
  });

  it('page numbers from `start`, ending on a short page', async () => {
    const { server, client } = await setup((r) => {
      const page = Number(r.query.get('page'));
      const size = Number(r.query.get('per_page'));
      return { json: ITEMS.slice(page * size, page * size + size) };
    });
    const pages = await collect(client.paginate(req, { type: 'page_number', param: 'page', start: 0, page_size: { param: 'per_page', value: 10 } }, '$'));
    expect(ids(pages)).toEqual(ITEMS.map((i) => i.id));
    expect(server.requests.map((r) => r.query.get('page'))).toEqual(['0', '1', '2']);
  });

  it('page numbers without a page size end on an empty page', async () => {
    const { server, client } = await setup((r) => {
      const page = Number(r.query.get('page'));
      return { json: { data: ITEMS.slice((page - 1) * 10, page * 10) } };
    });
    const pages = await collect(client.paginate(req, { type: 'page_number', param: 'page' }, 'data'));
    expect(ids(pages)).toHaveLength(23);
    expect(server.requests).toHaveLength(4);
  });

  it('offset', async () => {
    const { server, client } = await setup((r) => {
      const offset = Number(r.query.get('offset'));
      return { json: { rows: ITEMS.slice(offset, offset + Number(r.query.get('limit'))) } };
    });
    const pages = await collect(client.paginate(req, { type: 'offset', param: 'offset', page_size: { param: 'limit', value: 10 } }, 'rows'));
    expect(ids(pages)).toEqual(ITEMS.map((i) => i.id));
    expect(server.requests.map((r) => r.query.get('offset'))).toEqual(['0', '10', '20']);
  });

  it('link header (relative links resolved), page size only on the first request', async () => {
    const { server, client } = await setup((r) => {
      const start = Number(r.query.get('from') ?? 0);
      const next = start + 10 < ITEMS.length ? `</items?from=${start + 10}>; rel="next", </items?from=0>; rel="first"` : '</items?from=0>; rel="first"';
      return { json: ITEMS.slice(start, start + 10), headers: { link: next } };
    });
    const pages = await collect(client.paginate(req, { type: 'link_header', page_size: { param: 'size', value: 10 } }, '$'));
    expect(ids(pages)).toEqual(ITEMS.map((i) => i.id));
    expect(server.requests.map((r) => r.url)).toEqual(['/items?sortOrder=ASC&size=10', '/items?from=10', '/items?from=20']);
  });

  it('none: one request; a single object is one record; nothing is no records', async () => {
    const { client } = await setup((r) => ({ json: r.path === '/one' ? { item: { id: 'x' } } : {} }));
    expect(ids(await collect(client.paginate({ path: '/one' }, { type: 'none' }, 'item')))).toEqual(['x']);
    expect((await collect(client.paginate({ path: '/empty' }, undefined, 'items')))[0]!.records).toEqual([]);
  });

  it('stop_when ends early', async () => {
    const { client } = await setup(cursorApi);
    const pages = await collect(client.paginate(req, { type: 'cursor', cursor: 'body.pagination.after', param: 'after', page_size: { param: 'limit', value: 5 }, stop_when: 'page >= 2' }, 'items'));
    expect(pages).toHaveLength(2);
  });

  it('the same cursor twice is PAGINATION_LOOP', async () => {
    const { client } = await setup(() => ({ json: { items: [{ id: 'a' }], pagination: { after: 'c2FtZQ==' } } }));
    const err = await collect(client.paginate(req, { type: 'cursor', cursor: 'body.pagination.after', param: 'after' }, 'items')).catch((e) => e);
    expect(err.code).toBe('PAGINATION_LOOP');
    expect(err.message).toContain('c2FtZQ==');
    expect(err.message).toContain('page 2');
  });

  it('max_pages is PAGINATION_LIMIT', async () => {
    const { client } = await setup(cursorApi);
    const err = await collect(client.paginate(req, { type: 'cursor', cursor: 'body.pagination.after', param: 'after', page_size: { param: 'limit', value: 5 }, max_pages: 3 }, 'items')).catch((e) => e);
    expect(err.code).toBe('PAGINATION_LIMIT');
  });

  it('parses Link headers', () => {
    expect(linkHeaderTarget('<https://a.test/x?p=2>; rel="next last"', 'next', 'https://a.test/x')).toBe('https://a.test/x?p=2');
    expect(linkHeaderTarget('<https://a.test/x?a=1,2>; rel=prev, <b?p=3>; rel=next', 'next', 'https://a.test/x/')).toBe('https://a.test/x/b?p=3');
    expect(linkHeaderTarget(undefined, 'next', 'https://a.test/')).toBeUndefined();
  });
});
