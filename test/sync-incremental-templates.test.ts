/**
 * `{{ incremental.since }}` in a stream's list request (path, query, headers, body), formatted as declared,
 * over real sockets against small servers started here: a QuickBooks-style query string, a Stripe-style
 * `created[gt]` in unix seconds, the declared initial value, and the omitted parameter of a first run.
 */
import { describe, expect, it } from 'vitest';
import type { StreamSpec } from '../src/spec/types.ts';
import { openStore } from '../src/store/index.ts';
import { formatCursor, loadStreamState, readStream, runSync } from '../src/sync/index.ts';
import { syncHarness } from './fixtures/sync/harness.ts';
import { startLocalServer, type Handler } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

const h = syncHarness();

async function run(streams: Record<string, StreamSpec>, handler: Handler, full = false) {
  h.server ??= await startLocalServer(handler);
  h.store ??= await openStore({ memory: true });
  return runSync({ spec: testSpec({ streams }), conn: testConn(h.server.url, { connection_id: 'c1' }), store: h.store, full });
}

/** Rows of a QuickBooks-like company: MetaData.LastUpdatedTime with an offset, as the API writes it. */
const QB_ROWS = [
  { Id: '1', Name: 'Widget', MetaData: { LastUpdatedTime: '2025-03-01T08:00:00-08:00' } },
  { Id: '2', Name: 'Gadget', MetaData: { LastUpdatedTime: '2025-03-02T09:30:15.250-08:00' } },
  { Id: '3', Name: 'Doohickey', MetaData: { LastUpdatedTime: '2025-03-03T10:00:00-08:00' } },
];

/** A tiny parser of `select * from Item [where Metadata.LastUpdatedTime > '<t>'] STARTPOSITION n MAXRESULTS m`. */
function quickbooksApi(rows: () => typeof QB_ROWS): Handler {
  return (req) => {
    const q = req.query.get('query') ?? '';
    const m = /^select \* from Item(?: where Metadata\.LastUpdatedTime > '([^']+)')? STARTPOSITION (\d+) MAXRESULTS (\d+)$/.exec(q);
    if (!m) return { status: 400, json: { Fault: { Error: [{ Message: `bad query: ${q}`, code: '4000' }] } } };
    const since = m[1] ? Date.parse(m[1]) : undefined;
    const all = rows().filter((r) => since === undefined || Date.parse(r.MetaData.LastUpdatedTime) > since);
    const start = Number(m[2]) - 1;
    const page = all.slice(start, start + Number(m[3]));
    return { json: { QueryResponse: page.length ? { Item: page, startPosition: start + 1, maxResults: page.length } : {}, time: '2025-03-04T00:00:00Z' } };
  };
}

const quickbooksItems = (incremental: StreamSpec['incremental']): StreamSpec => ({
  entity: 'product',
  request: {
    path: '/v3/company/123/query',
    query: {
      query: `select * from Item{{ incremental.since ? " where Metadata.LastUpdatedTime > '" & incremental.since & "'" : "" }} STARTPOSITION {{ (page - 1) * 2 + 1 }} MAXRESULTS 2`,
    },
  },
  records: 'QueryResponse.Item',
  primary_key: 'Id',
  pagination: { type: 'page_number', param: 'page_ignored', stop_when: '$count(records) < 2' },
  incremental,
  mapping: '{ "external_id": Id, "name": Name }',
});

describe('incremental values in request templates', () => {
  it('QuickBooks query: the first run omits the clause, the next puts the cursor inside the query string (seconds, Z)', async () => {
    let rows = QB_ROWS.slice(0, 2);
    const stream = quickbooksItems({ cursor_field: 'MetaData.LastUpdatedTime', format: 'iso8601_seconds' });
    const [first] = await run({ items: stream }, quickbooksApi(() => rows));
    expect(first).toMatchObject({ status: 'ok', mode: 'full', created: 2, skipped: 0 });
    expect(h.server!.requests.map((r) => r.query.get('query'))).toEqual(['select * from Item STARTPOSITION 1 MAXRESULTS 2', 'select * from Item STARTPOSITION 3 MAXRESULTS 2']);

    rows = QB_ROWS;
    h.server!.requests.length = 0;
    const [second] = await run({ items: stream }, quickbooksApi(() => rows));
    // 2025-03-02T09:30:15.250-08:00 is 17:30:15.250Z; the cursor is sent to the second, so its own second is read again.
    expect(h.server!.requests[0]!.query.get('query')).toBe("select * from Item where Metadata.LastUpdatedTime > '2025-03-02T17:30:15Z' STARTPOSITION 1 MAXRESULTS 2");
    expect(second).toMatchObject({ status: 'ok', mode: 'incremental', records: 2, created: 1, unchanged: 1, skipped: 0 });
  });

  it('QuickBooks query with a declared initial value: the first run renders it, full runs too', async () => {
    const stream = quickbooksItems({ cursor_field: 'MetaData.LastUpdatedTime', format: 'iso8601_seconds', initial: '2025-03-02T00:00:00Z' });
    const [first] = await run({ items: stream }, quickbooksApi(() => QB_ROWS));
    expect(h.server!.requests[0]!.query.get('query')).toBe("select * from Item where Metadata.LastUpdatedTime > '2025-03-02T00:00:00Z' STARTPOSITION 1 MAXRESULTS 2");
    expect(first).toMatchObject({ mode: 'full', created: 2 });
    h.server!.requests.length = 0;
    await run({ items: stream }, quickbooksApi(() => QB_ROWS), true);
    expect(h.server!.requests[0]!.query.get('query')).toContain("> '2025-03-02T00:00:00Z'");
  });

  it('Stripe-style created[gt] in unix seconds: omitted on the first run, then the cursor minus the lookback', async () => {
    const created = [1735689600, 1735693200, 1735696800]; // 2025-01-01T00:00Z, +1 h, +2 h
    let rows = created.slice(0, 2).map((c, i) => ({ id: `cus_${i}`, name: `C${i}`, created: c }));
    const handler: Handler = (req) => {
      const gt = req.query.get('created[gt]');
      return { json: { object: 'list', has_more: false, data: rows.filter((r) => gt === null || r.created > Number(gt)) } };
    };
    const stream: StreamSpec = {
      entity: 'product',
      request: { path: '/v1/customers', query: { limit: 100, 'created[gt]': '{{ incremental.since }}' } },
      records: 'data',
      incremental: { cursor_field: 'created', format: 'unix_seconds', lookback_seconds: 60 },
      mapping: '{ "external_id": id, "name": name }',
    };
    await run({ customers: stream }, handler);
    expect(h.server!.requests[0]!.query.has('created[gt]')).toBe(false);
    expect((await loadStreamState(h.store!, 'c1', 'customers'))!.cursor!.ms).toBe(1735693200_000);

    rows = created.map((c, i) => ({ id: `cus_${i}`, name: `C${i}`, created: c }));
    const [second] = await run({ customers: stream }, handler);
    expect(h.server!.requests[1]!.query.get('created[gt]')).toBe(String(1735693200 - 60));
    expect(second).toMatchObject({ mode: 'incremental', records: 2, created: 1, unchanged: 1 });
  });

  it('the same value in path, header and JSON body; unix formats keep their number type in a body', async () => {
    const seen: Array<{ path: string; header: unknown; body: unknown }> = [];
    const handler: Handler = (req) => {
      seen.push({ path: req.path, header: req.headers['x-changed-since'], body: req.body ? JSON.parse(req.body) : undefined });
      return { json: { records: [{ id: 'a', name: 'A', ts: 1735696800000 }] } };
    };
    const stream: StreamSpec = {
      entity: 'product',
      request: {
        method: 'POST',
        path: '/changes/{{ incremental.mode }}/{{ incremental.since }}',
        headers: { 'X-Changed-Since': '{{ incremental.since }}' },
        body: { query: 'SELECT Id FROM Thing WHERE SystemModstamp > {{ incremental.since }}', since: '{{ incremental.since }}' },
      },
      records: 'records',
      incremental: { cursor_field: 'ts', format: 'unix_ms', initial: 0 },
      mapping: '{ "external_id": id, "name": name }',
    };
    await run({ things: stream }, handler);
    await run({ things: stream }, handler);
    expect(seen[0]).toEqual({ path: '/changes/full/0', header: '0', body: { query: 'SELECT Id FROM Thing WHERE SystemModstamp > 0', since: 0 } });
    expect(seen[1]).toEqual({ path: '/changes/incremental/1735696800000', header: '1735696800000', body: { query: 'SELECT Id FROM Thing WHERE SystemModstamp > 1735696800000', since: 1735696800000 } });
  });

  it('readStream (spec tests) renders the cursor it is given', async () => {
    h.server = await startLocalServer(quickbooksApi(() => QB_ROWS));
    const spec = testSpec({ streams: { items: quickbooksItems({ cursor_field: 'MetaData.LastUpdatedTime', format: 'iso8601_seconds' }) } });
    const ids: string[] = [];
    for await (const page of readStream(spec, testConn(h.server.url), 'items', { sinceMs: Date.parse('2025-03-02T12:00:00Z') })) for (const r of page.records) if (r.ok) ids.push(r.external_id);
    expect(ids).toEqual(['2', '3']);
    expect(h.server.requests[0]!.query.get('query')).toContain("> '2025-03-02T12:00:00Z'");
  });

  it('formats: ISO with and without the fraction, unix seconds and milliseconds, date', () => {
    const ms = Date.parse('2026-01-02T03:04:05.678Z');
    expect([formatCursor(ms, 'iso8601'), formatCursor(ms, 'iso8601_seconds'), formatCursor(ms, 'unix_seconds'), formatCursor(ms, 'unix_ms'), formatCursor(ms, 'date')]).toEqual([
      '2026-01-02T03:04:05.678Z',
      '2026-01-02T03:04:05Z',
      '1767323045',
      '1767323045678',
      '2026-01-02',
    ]);
  });
});
