import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient, type Page } from '../src/http/index.ts';
import type { HttpSpec, PaginationSpec } from '../src/spec/types.ts';
import { startLocalServer, type Handler, type LocalServer } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

const servers: LocalServer[] = [];
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  for (const s of servers.splice(0)) await s.close();
  client = undefined;
});

async function serve(handler: Handler): Promise<LocalServer> {
  const s = await startLocalServer(handler);
  servers.push(s);
  return s;
}

function connect(url: string, http: HttpSpec = {}): HttpClient {
  client = createHttpClient(testSpec({ http }), testConn(url));
  return client;
}

async function collect(it: AsyncIterable<Page>): Promise<Page[]> {
  const out: Page[] = [];
  for await (const p of it) out.push(p);
  return out;
}

const SALESFORCE: PaginationSpec = { type: 'next_url', next_url: 'body.nextRecordsUrl' };

describe('next-URL-in-body pagination', () => {
  it('follows relative next URLs (Salesforce nextRecordsUrl) until the body has none', async () => {
    const server = await serve((req) => {
      if (req.path === '/services/data/v60.0/query') return { json: { done: false, records: [{ Id: 'a' }, { Id: 'b' }], nextRecordsUrl: '/services/data/v60.0/query/01gD-2000' } };
      if (req.path === '/services/data/v60.0/query/01gD-2000') return { json: { done: false, records: [{ Id: 'c' }], nextRecordsUrl: '01gD-4000' } };
      return { json: { done: true, records: [{ Id: 'd' }] } };
    });
    const c = connect(server.url);
    const pages = await collect(c.paginate({ path: '/services/data/v60.0/query', query: { q: 'SELECT Id FROM Account' } }, SALESFORCE, 'records'));
    expect(pages.map((p) => p.records.map((r) => (r as { Id: string }).Id))).toEqual([['a', 'b'], ['c'], ['d']]);
    expect(server.requests.map((r) => r.url)).toEqual(['/services/data/v60.0/query?q=SELECT+Id+FROM+Account', '/services/data/v60.0/query/01gD-2000', '/services/data/v60.0/query/01gD-4000']);
    expect(pages[0]!.next).toEqual({ type: 'next_url', url: `${server.url}/services/data/v60.0/query/01gD-2000` });
    expect(pages[2]!.next).toBeUndefined();
  });

  it('follows absolute next URLs (Paddle meta.pagination.next), adds missing http.query defaults, stops on an empty string', async () => {
    let server!: LocalServer;
    server = await serve((req) => {
      const after = req.query.get('after');
      if (!after) return { json: { data: [{ id: 'txn_1' }], meta: { pagination: { next: `${server.url}/transactions?after=txn_1`, has_more: true } } } };
      return { json: { data: [{ id: 'txn_2' }], meta: { pagination: { next: '', has_more: false } } } };
    });
    const c = connect(server.url, { query: { v: '2' } });
    const pages = await collect(c.paginate({ path: '/transactions' }, { type: 'next_url', next_url: 'body.meta.pagination.next', page_size: { param: 'per_page', value: 1 } }, 'data'));
    expect(pages.flatMap((p) => p.records)).toEqual([{ id: 'txn_1' }, { id: 'txn_2' }]);
    expect(server.requests.map((r) => r.url)).toEqual(['/transactions?v=2&per_page=1', '/transactions?after=txn_1&v=2']);
  });

  it('resumes from a saved next URL', async () => {
    const server = await serve((req) => ({ json: req.query.get('p') === '3' ? { items: [3] } : { items: [1], next: '/l?p=2' } }));
    const c = connect(server.url);
    const pages = await collect(c.paginate({ path: '/l' }, { type: 'next_url', next_url: 'body.next' }, 'items', {}, { resume: { type: 'next_url', url: `${server.url}/l?p=3` }, firstPage: 3 }));
    expect(pages.map((p) => [p.page, p.records])).toEqual([[3, [3]]]);
    expect(server.requests.map((r) => r.url)).toEqual(['/l?p=3']);
  });

  it('refuses a next URL on another origin (SSRF guard): typed error, nothing sent there', async () => {
    const elsewhere = await serve(() => ({ json: { items: ['stolen'] } }));
    const server = await serve(() => ({ json: { items: [1], next: `${elsewhere.url}/collect` } }));
    const c = connect(server.url);
    const err = await collect(c.paginate({ path: '/l' }, { type: 'next_url', next_url: 'body.next' }, 'items')).catch((e) => e);
    expect(err).toMatchObject({ code: 'PAGINATION_CROSS_ORIGIN', details: { next_origin: elsewhere.url, origin: server.url, page: 1 } });
    expect(err.message).toContain(`points its next page at ${elsewhere.url}, not the connection's ${server.url}`);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('refuses scheme changes and protocol-relative URLs the same way, and Link headers to other hosts too', async () => {
    for (const next of ['//evil.example/x', 'https://127.0.0.1/x', 'http://localhost/x']) {
      const server = await serve(() => ({ json: { items: [1], next } }));
      const c = connect(server.url);
      await expect(collect(c.paginate({ path: '/l' }, { type: 'next_url', next_url: 'body.next' }, 'items'))).rejects.toMatchObject({ code: 'PAGINATION_CROSS_ORIGIN' });
      await c.close();
    }
    const elsewhere = await serve(() => ({ json: [] }));
    const server = await serve(() => ({ json: [1], headers: { link: `<${elsewhere.url}/p2>; rel="next"` } }));
    const c = connect(server.url);
    await expect(collect(c.paginate({ path: '/l' }, { type: 'link_header' }, '$'))).rejects.toMatchObject({ code: 'PAGINATION_CROSS_ORIGIN' });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('a next URL seen twice is a loop; a non-string next URL is a clear error', async () => {
    const looping = await serve(() => ({ json: { items: [1], next: '/l?p=2' } }));
    const c = connect(looping.url);
    await expect(collect(c.paginate({ path: '/l' }, { type: 'next_url', next_url: 'body.next' }, 'items'))).rejects.toMatchObject({ code: 'PAGINATION_LOOP' });
    await c.close();
    const odd = await serve(() => ({ json: { items: [1], next: { href: '/l?p=2' } } }));
    const c2 = connect(odd.url);
    await expect(collect(c2.paginate({ path: '/l' }, { type: 'next_url', next_url: 'body.next' }, 'items'))).rejects.toMatchObject({ code: 'PAGINATION_BAD_NEXT_URL', message: expect.stringContaining('must give the next page\'s URL as a string') });
  });
});
