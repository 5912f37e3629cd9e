/**
 * Change-feed streams over real sockets: a small Stripe-like server with a list endpoint (full runs) and an
 * events endpoint (incremental runs, newest first, `created[gt]` in unix seconds, `starting_after` pages).
 * Upserts, deletes, an older event listed after a newer one, a duplicate delivery inside a run and events
 * re-read through the lookback window are each applied once, into the stream's normal table.
 */
import { describe, expect, it } from 'vitest';
import type { StreamSpec } from '../src/spec/types.ts';
import { openStore } from '../src/store/index.ts';
import { loadStreamState, readStream, runSync } from '../src/sync/index.ts';
import { syncHarness } from './fixtures/sync/harness.ts';
import { startLocalServer, type Handler } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

const h = syncHarness();

interface Product {
  id: string;
  name: string;
}
interface Event {
  id: string;
  type: string;
  created: number;
  data: { object: Product | { id: string; deleted: true } };
}

/** A Stripe-like API: `/v1/products` (the current state) and `/v1/events` (newest first, 2 per page). */
function stripeLike(state: { products: Product[]; events: Event[] }): Handler {
  return (req) => {
    if (req.path === '/v1/products') return { json: { object: 'list', has_more: false, data: state.products } };
    if (req.path !== '/v1/events') return { status: 404, json: { error: { message: 'no such path' } } };
    const gt = Number(req.query.get('created[gt]'));
    if (!Number.isFinite(gt)) return { status: 400, json: { error: { message: 'created[gt] is required' } } };
    const all = state.events.filter((e) => e.created > gt && e.type.startsWith((req.query.get('type') ?? '').replace('*', ''))).sort((a, b) => b.created - a.created);
    const after = req.query.get('starting_after');
    const start = after ? all.findIndex((e) => e.id === after) + 1 : 0;
    const page = all.slice(start, start + 2);
    return { json: { object: 'list', has_more: start + 2 < all.length, data: page } };
  };
}

const products: StreamSpec = {
  entity: 'product',
  request: { path: '/v1/products' },
  records: 'data',
  change_feed: {
    request: { path: '/v1/events', query: { type: 'product.*', 'created[gt]': '{{ incremental.since }}' } },
    records: 'data',
    pagination: { type: 'cursor', cursor: 'body.has_more ? body.data[-1].id', param: 'starting_after' },
    event_time: 'created',
    format: 'unix_seconds',
    object: 'data.object',
    delete_when: 'type = "product.deleted"',
    when: 'type != "product.ignored"',
    lookback_seconds: 3600,
  },
  mapping: '{ "external_id": id, "name": name, "description": $event.type }',
};

async function sync(state: { products: Product[]; events: Event[] }, full = false) {
  h.server ??= await startLocalServer(stripeLike(state));
  h.store ??= await openStore({ memory: true });
  const [s] = await runSync({ spec: testSpec({ streams: { products } }), conn: testConn(h.server.url, { connection_id: 'c1' }), store: h.store, full });
  return s!;
}

const names = async () => Object.fromEntries((await h.store!.listEntities('c1', 'products', { includeDeleted: true })).map((e) => [e.external_id, e.deleted ? 'deleted' : (e.data as { name: string }).name]));

describe('change-feed streams', () => {
  it('full runs list; incremental runs apply the feed: upserts, deletes, newest event per record, duplicates once', async () => {
    const state = { products: [{ id: 'prod_1', name: 'One' }, { id: 'prod_2', name: 'Two' }], events: [] as Event[] };
    const full = await sync(state);
    expect(full).toMatchObject({ mode: 'full', created: 2 });
    expect(h.server!.requests.map((r) => r.path)).toEqual(['/v1/products']);
    const cursor = (await loadStreamState(h.store!, 'c1', 'products'))!.cursor!.ms;

    const t = Math.floor(cursor / 1000);
    const upd = (id: string, name: string, created: number, eid: string, type = 'product.updated'): Event => ({ id: eid, type, created, data: { object: { id, name } } });
    state.events = [
      upd('prod_1', 'One (old)', t + 1, 'evt_a'),
      upd('prod_1', 'One v2', t + 5, 'evt_b'),
      { id: 'evt_c', type: 'product.deleted', created: t + 6, data: { object: { id: 'prod_2', deleted: true } } },
      upd('prod_3', 'Three', t + 7, 'evt_d', 'product.created'),
      upd('prod_3', 'Ignored', t + 8, 'evt_e', 'product.ignored'),
      upd('prod_4', 'Four', t + 2, 'evt_f', 'product.created'),
    ];
    // The provider delivers evt_d twice (duplicates happen): it shows on two pages of this run.
    state.events.push({ ...state.events[3]!, created: t + 3 });
    const inc = await sync(state);
    expect(inc).toMatchObject({ status: 'ok', mode: 'incremental', feed: true, duplicates: 1, created: 2, updated: 2, deleted: 1 });
    expect(await names()).toEqual({ prod_1: 'One v2', prod_2: 'deleted', prod_3: 'Three', prod_4: 'Four' });
    // The mapping sees the event that carried the object.
    expect((await h.store!.getEntity('c1', 'products', 'prod_3'))!.data.description).toBe('product.created');
    const feedRequests = h.server!.requests.filter((r) => r.path === '/v1/events');
    expect(feedRequests[0]!.query.get('created[gt]')).toBe(String(Math.floor((cursor - 3_600_000) / 1000)));
    expect(feedRequests[0]!.query.get('type')).toBe('product.*');
    expect(feedRequests.length).toBe(4);
    // The list is not read by incremental runs.
    expect(h.server!.requests.filter((r) => r.path === '/v1/products').length).toBe(1);
  });

  it('events re-read through the lookback window are not applied again over newer data', async () => {
    const state = { products: [{ id: 'prod_1', name: 'One' }], events: [] as Event[] };
    await sync(state);
    const t = Math.floor((await loadStreamState(h.store!, 'c1', 'products'))!.cursor!.ms / 1000);
    state.events = [{ id: 'evt_1', type: 'product.updated', created: t + 1, data: { object: { id: 'prod_1', name: 'One v2' } } }];
    expect(await sync(state)).toMatchObject({ updated: 1, duplicates: 0 });
    // A nightly full run stores a newer state; then the feed is read again with the same event in its window.
    state.products = [{ id: 'prod_1', name: 'One v3' }];
    expect(await sync(state, true)).toMatchObject({ mode: 'full', updated: 1 });
    const again = await sync(state);
    expect(again).toMatchObject({ mode: 'incremental', duplicates: 1, updated: 0, created: 0 });
    expect(await names()).toEqual({ prod_1: 'One v3' });
    expect(Object.keys((await loadStreamState(h.store!, 'c1', 'products'))!.feed_seen ?? {})).toEqual(['evt_1']);
  });

  it('readStream (spec tests) reads the feed when given a cursor', async () => {
    const t = 1_767_000_000;
    h.server = await startLocalServer(
      stripeLike({
        products: [],
        events: [
          { id: 'evt_1', type: 'product.created', created: t + 1, data: { object: { id: 'prod_9', name: 'Nine' } } },
          { id: 'evt_2', type: 'product.deleted', created: t + 2, data: { object: { id: 'prod_8', name: 'Eight' } } },
        ],
      }),
    );
    const out: Array<[string, boolean]> = [];
    for await (const p of readStream(testSpec({ streams: { products } }), testConn(h.server.url), 'products', { sinceMs: t * 1000 })) for (const r of p.records) if (r.ok) out.push([r.external_id, r.deleted]);
    expect(out).toEqual([
      ['prod_9', false],
      ['prod_8', true],
    ]);
  });
});
