import { afterEach, describe, expect, it } from 'vitest';
import type { StreamSpec } from '../src/spec/types.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { changedSince, cursorInstant, formatCursor, loadStreamState, mapRecord, readStream, runSync, type SyncSummary } from '../src/sync/index.ts';
import { startLocalServer, type Handler, type LocalServer } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

let server: LocalServer | undefined;
let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  await server?.close();
  server = store = undefined;
});

const productStream = (over: Partial<StreamSpec> = {}): StreamSpec => ({
  entity: 'product',
  request: { path: '/products' },
  records: 'data',
  pagination: { type: 'cursor', cursor: 'body.next', param: 'cursor' },
  mapping: '{ "external_id": id, "name": name, "active": $not(archived = true), "updated_at": updated }',
  ...over,
});

/** A product API over `rows`, two per page, cursor = index; `since` filters like an updated.gt parameter. */
function productApi(rows: () => Array<Record<string, unknown>>): Handler {
  return (req) => {
    const since = req.query.get('since');
    const all = rows().filter((r) => !since || Date.parse(r.updated as string) > Date.parse(since));
    const start = Number(req.query.get('cursor') ?? 0);
    return { json: { data: all.slice(start, start + 2), next: start + 2 < all.length ? String(start + 2) : null } };
  };
}

async function sync(streams: Record<string, StreamSpec>, handler: Handler, opts: { full?: boolean } = {}, connectionId = 'c1'): Promise<SyncSummary[]> {
  server ??= await startLocalServer(handler);
  store ??= await openStore({ memory: true });
  return runSync({ spec: testSpec({ streams }), conn: testConn(server.url, { connection_id: connectionId }), store, full: opts.full });
}

describe('sync engine', () => {
  it('records failing their entity schema are listed with the reason and the run goes on', async () => {
    const rows = [
      { id: 'p1', name: 'Good', updated: '2030-01-01T00:00:00Z' },
      { id: 'p2', name: '', updated: '2030-01-01T00:00:00Z' },
      { id: 'p3', name: 'No date', updated: 'yesterday' },
      { name: 'no id' },
      { id: 'p5', name: 'Also good', updated: '2030-01-02T00:00:00Z' },
    ];
    const [s] = await sync({ products: productStream() }, productApi(() => rows));
    expect(s).toMatchObject({ status: 'ok', pages: 3, records: 5, created: 2, failed: 3 });
    expect(s!.failures).toEqual([
      { external_id: 'p2', page: 1, reason: 'product name must NOT have fewer than 1 characters' },
      { external_id: 'p3', page: 2, reason: 'product updated_at must match format "date-time"' },
      { page: 2, reason: 'the record has no id (primary_key `id`)' },
    ]);
    const stored = await store!.list<SyncSummary>('sync_runs');
    expect(stored[0]!.failures).toHaveLength(3);
  });

  it('deletion.when marks records deleted; children attach under their name, only when `when` holds', async () => {
    const rows = [
      { id: 'a', name: 'A', archived: false, kind: 'bundle' },
      { id: 'b', name: 'B', archived: true, kind: 'single' },
    ];
    const stream = productStream({
      deletion: { when: 'archived = true' },
      children: [{ name: 'parts', request: { path: '/products/{{ parent.id }}/parts' }, records: 'items', when: 'kind = "bundle"' }],
      mapping: '{ "external_id": id, "name": name & ($exists(parts) ? " (" & $string($count(parts)) & " parts)" : "") }',
    });
    const [s] = await sync({ products: stream }, (req) => (req.path.endsWith('/parts') ? { json: { items: [{ p: 1 }, { p: 2 }] } } : productApi(() => rows)(req, 0)));
    expect(s).toMatchObject({ created: 2, deleted: 1 });
    expect((await store!.getEntity('c1', 'products', 'a'))!.data.name).toBe('A (2 parts)');
    expect((await store!.getEntity('c1', 'products', 'a'))!.raw).toMatchObject({ parts: [{ p: 1 }, { p: 2 }] });
    expect((await store!.getEntity('c1', 'products', 'b'))!).toMatchObject({ deleted: true, data: { name: 'B' } });
    expect(server!.requests.filter((r) => r.path.endsWith('/parts')).map((r) => r.path)).toEqual(['/products/a/parts']);
  });

  it('a record archived in a shape the mapping cannot read keeps its stored data and is marked deleted', async () => {
    const rows: Array<Record<string, unknown>> = [{ id: 'a', name: 'A' }];
    const stream = productStream({ deletion: { when: '$exists(archivedAt)' }, mapping: '{ "external_id": id, "name": name }' });
    await sync({ products: stream }, productApi(() => rows));
    rows[0] = { id: 'a', archivedAt: '2030-01-01T00:00:00Z' };
    rows.push({ id: 'never-seen', archivedAt: '2030-01-01T00:00:00Z' });
    const [s] = await sync({ products: stream }, productApi(() => rows));
    expect(s).toMatchObject({ deleted: 1, failed: 0 });
    expect(await store!.getEntity('c1', 'products', 'a')).toMatchObject({ deleted: true, data: { name: 'A' }, raw: { archivedAt: '2030-01-01T00:00:00Z' } });
    expect(await store!.getEntity('c1', 'products', 'never-seen')).toBeUndefined();
  });

  it('a pagination loop is detected and reported as PAGINATION_LOOP', async () => {
    const [s] = await sync({ products: productStream() }, () => ({ json: { data: [{ id: 'x', name: 'X' }], next: 'same-cursor' } }));
    expect(s).toMatchObject({ status: 'failed', pages: 1, error: { code: 'pagination_loop' } });
    expect(s!.error!.message).toContain('same-cursor');
    // The run stopped at the second answer instead of going on forever; page 1 stays committed.
    expect(server!.requests).toHaveLength(2);
    expect((await loadStreamState(store!, 'c1', 'products'))!.run).toMatchObject({ page: 1, next: { type: 'cursor', cursor: 'same-cursor' } });
  });

  it('incremental with a query parameter: sends the cursor minus lookback; keeps the latest change as the new cursor', async () => {
    const rows = [
      { id: 'a', name: 'A', updated: '2020-01-01T00:00:00Z' },
      { id: 'b', name: 'B', updated: '2020-01-03T10:00:00+02:00' },
      { id: 'c', name: 'C', updated: '2020-01-02T00:00:00Z' },
    ];
    const stream = productStream({ incremental: { cursor_field: 'updated', param: 'since', lookback_seconds: 60 } });
    const [full] = await sync({ products: stream }, productApi(() => rows));
    expect(full).toMatchObject({ mode: 'full', created: 3, cursor: '2020-01-03T08:00:00.000Z' });
    rows.push({ id: 'd', name: 'D', updated: '2020-01-04T00:00:00Z' });
    const [inc] = await sync({ products: stream }, productApi(() => rows));
    expect(server!.requests.at(-1)!.query.get('since')).toBe('2020-01-03T07:59:00.000Z');
    expect(inc).toMatchObject({ mode: 'incremental', records: 2, created: 1, unchanged: 1, cursor: '2020-01-04T00:00:00.000Z' });
    const [again] = await sync({ products: stream }, productApi(() => rows), { full: true });
    expect(again).toMatchObject({ mode: 'full', records: 4, unchanged: 4 });
  });

  it('incremental without a parameter filters after reading, comparing instants and not strings', async () => {
    const rows = [
      { id: 'a', name: 'A', updated: 1_577_836_800 },
      { id: 'b', name: 'B', updated: 1_577_923_200 },
    ];
    const stream = productStream({ incremental: { cursor_field: 'updated', format: 'unix_seconds' }, mapping: '{ "external_id": id, "name": name }' });
    await sync({ products: stream }, productApi(() => rows));
    rows.push({ id: 'c', name: 'C', updated: 1_577_923_201 });
    rows[0]!.name = 'A2'; // changed without a new timestamp: not picked up incrementally
    const [inc] = await sync({ products: stream }, productApi(() => rows));
    expect(inc).toMatchObject({ mode: 'incremental', records: 1, skipped: 2, created: 1, updated: 0 });
    expect(server!.requests.at(-1)!.query.has('since')).toBe(false);
  });

  it('an aborted run stops between requests, keeps its checkpoint and resumes where it stopped', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, name: `P${i}` }));
    const abort = new AbortController();
    server = await startLocalServer(productApi(() => rows));
    store = await openStore({ memory: true });
    const spec = testSpec({ streams: { products: productStream({ mapping: '{ "external_id": id, "name": name }' }) } });
    const conn = testConn(server.url, { connection_id: 'c1' });
    const run = runSync({ spec, conn, store, signal: abort.signal, onProgress: (p) => p.page === 2 && abort.abort(new Error('stop now')) });
    await expect(run).rejects.toThrow('stop now');
    const state = await loadStreamState(store, 'c1', 'products');
    expect(state!.run!.page).toBeGreaterThanOrEqual(2);
    const [s] = await runSync({ spec, conn, store });
    expect(s!.resumed_from_page).toBe(state!.run!.page + 1);
    expect(await store.countEntities('c1', 'products')).toEqual({ active: 10, deleted: 0 });
  });

  it('a failing store write ends the run at once, cancelling the page being read ahead', async () => {
    const rows = Array.from({ length: 6 }, (_, i) => ({ id: `p${i}`, name: `P${i}` }));
    const api = productApi(() => rows);
    server = await startLocalServer((req, n) => (n === 1 ? api(req, n) : { ...(api(req, n) as object), delayMs: 3000 }));
    const real = await openStore({ memory: true });
    store = real;
    const failing = Object.assign(Object.create(real) as typeof real, {
      commitPage: async () => Promise.reject(new Error('disk full')),
    });
    const started = Date.now();
    const [s] = await runSync({ spec: testSpec({ streams: { products: productStream({ mapping: '{ "external_id": id, "name": name }' }) } }), conn: testConn(server.url), store: failing });
    expect(s).toMatchObject({ status: 'failed', error: { code: 'sync_failed', message: 'disk full' } });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('keeps the last 100 run summaries per stream in sync_runs', async () => {
    const streams = { products: productStream({ mapping: '{ "external_id": id, "name": name }' }) };
    for (let i = 0; i < 103; i++) await sync(streams, productApi(() => [{ id: 'a', name: 'A' }]));
    const runs = await store!.list<SyncSummary>('sync_runs');
    expect(runs).toHaveLength(100);
    expect(runs.filter((r) => r.created === 1)).toHaveLength(0); // the first run (which created "a") was dropped
  });

  it('mapRecord maps and validates one record with $settings, $connection and $environment', async () => {
    const spec = testSpec({
      streams: { products: productStream({ mapping: '{ "external_id": id, "name": name & " " & $settings.region & " " & $connection.id & " " & $environment }' }) },
    });
    const conn = testConn('http://unused', { connection_id: 'cx' });
    expect(await mapRecord(spec, 'products', { id: 'p', name: 'N' }, conn)).toEqual({ ok: true, external_id: 'p', deleted: false, data: { external_id: 'p', name: 'N eu cx production' } });
    expect(await mapRecord(spec, 'products', { name: 'N' }, conn)).toMatchObject({ ok: false, reason: 'the record has no id (primary_key `id`)' });
    await expect(mapRecord(spec, 'nope', {}, conn)).rejects.toMatchObject({ code: 'SYNC_UNKNOWN_STREAM' });
  });

  it('readStream yields mapped pages without storing anything', async () => {
    server = await startLocalServer(productApi(() => [{ id: 'a', name: 'A' }, { id: 'b', name: '' }, { id: 'c', name: 'C' }]));
    const spec = testSpec({ streams: { products: productStream({ mapping: '{ "external_id": id, "name": name }' }) } });
    const pages = [];
    for await (const p of readStream(spec, testConn(server.url), 'products')) pages.push(p);
    expect(pages.map((p) => p.records.map((r) => r.ok))).toEqual([[true, false], [true]]);
    expect(pages[0]!.records[0]).toMatchObject({ external_id: 'a', data: { name: 'A' }, raw: { id: 'a', name: 'A' } });
  });
});

describe('cursor values', () => {
  it('compares instants across formats and offsets', () => {
    expect(cursorInstant('2024-01-02T00:00:00+01:00')).toBeLessThan(cursorInstant('2024-01-01T23:30:00Z')!);
    expect(cursorInstant(1_700_000_000, 'unix_seconds')).toBe(1_700_000_000_000);
    expect(cursorInstant('1700000000000', 'unix_ms')).toBe(1_700_000_000_000);
    expect(cursorInstant('2024-03-01', 'date')).toBe(Date.parse('2024-03-01T00:00:00Z'));
    expect(cursorInstant('not a date')).toBeUndefined();
    expect(cursorInstant(null)).toBeUndefined();
    expect(formatCursor(Date.parse('2024-03-01T12:00:00Z'), 'date')).toBe('2024-03-01');
    expect(formatCursor(1_700_000_000_999, 'unix_seconds')).toBe('1700000000');
    expect(changedSince(Date.parse('2024-03-01T00:00:00Z'), Date.parse('2024-03-01T15:00:00Z'), 'date')).toBe(true);
    expect(changedSince(1000, 1000)).toBe(false);
    expect(changedSince(undefined, 1000)).toBe(true);
  });
});
