/**
 * Page numbers written into the request by templates (a query language that pages inside the query, such as
 * QuickBooks' `STARTPOSITION n MAXRESULTS m`): page_number without `param`, page_size without `param`. The
 * template sees `page` and `page_size`; no page parameter of our own reaches the server; a short page ends it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient, type Page } from '../src/http/index.ts';
import { checkSpecText } from '../src/spec/load.ts';
import type { RequestSpec } from '../src/spec/types.ts';
import { startLocalServer, type Handler, type LocalServer } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

let server: LocalServer | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

const ROWS = Array.from({ length: 7 }, (_, i) => ({ Id: String(i + 1) }));

/** SELECT ... STARTPOSITION s MAXRESULTS m (1-based), answered QuickBooks-style; no key on an empty page. */
const queryApi: Handler = (req) => {
  const m = /STARTPOSITION (\d+) MAXRESULTS (\d+)$/.exec(req.query.get('query') ?? '');
  if (!m) return { status: 400, json: { error: 'bad query' } };
  const rows = ROWS.slice(Number(m[1]) - 1, Number(m[1]) - 1 + Number(m[2]));
  return { json: { QueryResponse: rows.length ? { Item: rows, startPosition: Number(m[1]), maxResults: rows.length } : {} } };
};

async function collect(it: AsyncIterable<Page>): Promise<Page[]> {
  const pages: Page[] = [];
  for await (const p of it) pages.push(p);
  return pages;
}

describe('pagination written by templates', () => {
  const req: RequestSpec = { path: '/query', query: { query: 'SELECT * FROM Item STARTPOSITION {{ (page - 1) * page_size + 1 }} MAXRESULTS {{ page_size }}' } };

  it('page_number and page_size without param: the query pages itself, a short page ends it, no page parameter is sent', async () => {
    server = await startLocalServer(queryApi);
    client = createHttpClient(testSpec(), testConn(server.url));
    const pages = await collect(client.paginate(req, { type: 'page_number', page_size: { value: 3 } }, 'QueryResponse.Item'));
    expect(pages.map((p) => p.records.length)).toEqual([3, 3, 1]);
    expect(pages.flatMap((p) => p.records.map((r) => (r as { Id: string }).Id))).toEqual(ROWS.map((r) => r.Id));
    expect(server.requests.map((r) => r.query.get('query'))).toEqual([
      'SELECT * FROM Item STARTPOSITION 1 MAXRESULTS 3',
      'SELECT * FROM Item STARTPOSITION 4 MAXRESULTS 3',
      'SELECT * FROM Item STARTPOSITION 7 MAXRESULTS 3',
    ]);
    expect(server.requests.every((r) => [...r.query.keys()].join() === 'query')).toBe(true);
  });

  it('an exact multiple of the page size ends on the empty page (no key in the answer)', async () => {
    server = await startLocalServer(queryApi);
    client = createHttpClient(testSpec(), testConn(server.url));
    const pages = await collect(client.paginate({ ...req, query: { query: 'SELECT * FROM Item STARTPOSITION {{ (page - 1) * page_size + 1 }} MAXRESULTS {{ page_size }}' } }, { type: 'page_number', page_size: { value: 7 } }, 'QueryResponse.Item'));
    expect(pages.map((p) => p.records.length)).toEqual([7, 0]);
  });

  it('resumes at a saved page with the template seeing that page', async () => {
    server = await startLocalServer(queryApi);
    client = createHttpClient(testSpec(), testConn(server.url));
    const pages = await collect(client.paginate(req, { type: 'page_number', page_size: { value: 3 } }, 'QueryResponse.Item', {}, { resume: { type: 'page_number', page: 2 }, firstPage: 2 }));
    expect(server.requests[0]!.query.get('query')).toBe('SELECT * FROM Item STARTPOSITION 4 MAXRESULTS 3');
    expect(pages.map((p) => p.page)).toEqual([2, 3]);
  });
});

describe('lint of page_number without param', () => {
  const spec = (request: string) => `spec_version: 1
name: pgu
title: PGU
environments: { production: { base_url: 'https://api.example.com' } }
auth: { type: none }
streams:
  items:
    entity: product
    request: ${request}
    records: items
    pagination: { type: page_number, page_size: { value: 10 } }
    mapping: '{ "external_id": id, "name": name }'
`;
  const codes = (text: string) => checkSpecText('pgu.yaml', text).diagnostics.map((d) => d.code);

  it('refuses a request that never writes the page, accepts one that does', () => {
    expect(codes(spec('{ path: /items }'))).toContain('LINT_PAGINATION_PAGE_UNUSED');
    expect(codes(spec("{ path: /items, query: { q: 'LIMIT {{ page_size }} OFFSET {{ (page - 1) * page_size }}' } }"))).not.toContain('LINT_PAGINATION_PAGE_UNUSED');
  });
});
