/**
 * Deletion by absence (`deletion.absent_in_full_sync`) over real sockets: records missing from a complete
 * full read are marked deleted in the same commit as its last page; a failed read, a read stopped by
 * max_pages, an incremental run and an empty read delete nothing.
 */
import { describe, expect, it } from 'vitest';
import type { StreamSpec } from '../src/spec/types.ts';
import { openStore } from '../src/store/index.ts';
import { runSync } from '../src/sync/index.ts';
import { syncHarness } from './fixtures/sync/harness.ts';
import { startLocalServer, type Handler } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

const h = syncHarness();

type Row = { id: string; name: string; updated: string };
const row = (n: number): Row => ({ id: `p${n}`, name: `P${n}`, updated: `2025-01-0${n}T00:00:00Z` });

const stream = (over: Partial<StreamSpec> = {}): StreamSpec => ({
  entity: 'product',
  request: { path: '/products' },
  records: 'data',
  pagination: { type: 'cursor', cursor: 'body.next', param: 'cursor' },
  incremental: { cursor_field: 'updated', param: 'since' },
  deletion: { absent_in_full_sync: true },
  mapping: '{ "external_id": id, "name": name }',
  ...over,
});

/** Two rows per page; `fail` answers 500 from that page on (after the retries, the run fails). */
function api(state: { rows: Row[]; fail?: number }): Handler {
  return (req) => {
    const start = Number(req.query.get('cursor') ?? 0);
    if (state.fail !== undefined && start / 2 + 1 >= state.fail) return { status: 500, json: { message: 'boom' } };
    const since = req.query.get('since');
    const all = state.rows.filter((r) => !since || Date.parse(r.updated) > Date.parse(since));
    return { json: { data: all.slice(start, start + 2), next: start + 2 < all.length ? String(start + 2) : null } };
  };
}

async function sync(state: { rows: Row[]; fail?: number }, s: StreamSpec, full = true) {
  h.server ??= await startLocalServer(api(state));
  h.store ??= await openStore({ memory: true });
  const [r] = await runSync({ spec: testSpec({ streams: { products: s } }), conn: testConn(h.server.url, { connection_id: 'c1' }), store: h.store, full });
  return r!;
}

const active = async () => (await h.store!.listEntities('c1', 'products')).map((e) => e.external_id).sort();

describe('deletion by absence', () => {
  it('a complete full read marks the records it did not see deleted, keeping their data', async () => {
    const state = { rows: [1, 2, 3, 4, 5].map(row) };
    expect(await sync(state, stream())).toMatchObject({ created: 5, absent_deleted: 0 });
    state.rows = [1, 3, 5].map(row);
    const s = await sync(state, stream());
    expect(s).toMatchObject({ status: 'ok', pages: 2, absent_deleted: 2, deleted: 2 });
    expect(await active()).toEqual(['p1', 'p3', 'p5']);
    const gone = await h.store!.getEntity('c1', 'products', 'p4');
    expect(gone).toMatchObject({ deleted: true, data: { name: 'P4' } });
    // Seen again later: active again.
    state.rows = [1, 3, 4, 5].map(row);
    expect(await sync(state, stream())).toMatchObject({ absent_deleted: 0 });
    expect(await active()).toEqual(['p1', 'p3', 'p4', 'p5']);
  });

  it('never after a failed read: a page that errors leaves every record active', async () => {
    const state: { rows: Row[]; fail?: number } = { rows: [1, 2, 3].map(row) };
    await sync(state, stream());
    // Page 1 has p1, p2; page 2 fails, so p3's absence from what was read proves nothing.
    state.rows = [1, 2, 4].map(row);
    state.fail = 2;
    const s = await sync(state, stream());
    expect(s).toMatchObject({ status: 'failed', absent_skipped: 'the run failed' });
    expect(s.absent_deleted).toBeUndefined();
    expect(await active()).toEqual(['p1', 'p2', 'p3']);
  });

  it('never after a capped read: max_pages stops the run before the collection ended', async () => {
    const state = { rows: [1, 2, 3].map(row) };
    await sync(state, stream());
    state.rows = [1, 2, 4, 5].map(row);
    const capped = stream({ pagination: { type: 'cursor', cursor: 'body.next', param: 'cursor', max_pages: 1 } });
    const s = await sync(state, capped);
    expect(s).toMatchObject({ status: 'failed', error: { code: 'pagination_limit' } });
    expect(await active()).toEqual(['p1', 'p2', 'p3']);
  });

  it('never in an incremental run, nor when a full read returns nothing at all', async () => {
    const state = { rows: [1, 2].map(row) };
    await sync(state, stream());
    state.rows = [2].map(row);
    // An incremental read is partial by design: nothing is absent from it.
    expect(await sync(state, stream(), false)).toMatchObject({ mode: 'incremental' });
    expect(await active()).toEqual(['p1', 'p2']);
    state.rows = [];
    const empty = await sync(state, stream());
    expect(empty).toMatchObject({ status: 'ok', absent_skipped: 'the read returned no record at all' });
    expect(await active()).toEqual(['p1', 'p2']);
  });

  it('never after a resumed run: pages read before the interruption are not known to this one', async () => {
    const state = { rows: [1, 2, 3, 4, 5].map(row) };
    await sync(state, stream());
    state.rows = [1, 2, 3, 4].map(row);
    const ac = new AbortController();
    const spec = testSpec({ streams: { products: stream() } });
    const conn = testConn(h.server!.url, { connection_id: 'c1' });
    await expect(runSync({ spec, conn, store: h.store!, full: true, signal: ac.signal, onProgress: () => ac.abort(new Error('stop')) })).rejects.toThrow();
    const [resumed] = await runSync({ spec, conn, store: h.store!, full: true });
    expect(resumed).toMatchObject({ status: 'ok', resumed_from_page: 2 });
    expect(resumed!.absent_skipped).toMatch(/resumed/);
    expect(await active()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
  });

  it('streams without the declaration keep records that vanished (as before)', async () => {
    const state = { rows: [1, 2].map(row) };
    await sync(state, stream({ deletion: undefined }));
    state.rows = [1].map(row);
    expect(await sync(state, stream({ deletion: undefined }))).not.toHaveProperty('absent_deleted');
    expect(await active()).toEqual(['p1', 'p2']);
  });
});
