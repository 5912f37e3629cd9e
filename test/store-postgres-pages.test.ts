/**
 * PostgresStore.commitPage on the real server: the page and its checkpoint are one atomic write, and the
 * per-page reads stay primary-key probes on a table that grew since its last ANALYZE (autovacuum off, or
 * not run yet during a first backfill), instead of a scan of the whole stream every page.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { ADMIN_URL, postgresStores, schemaUrl } from './helpers/pg.ts';
import type { EntityWrite } from '../src/store/index.ts';
import { PostgresStore } from '../src/store/postgres/store.ts';

const stores = postgresStores();
const base = { connectionId: 'c1', stream: 'invoices', entity: 'invoice' };
const inv = (id: string, total: string): EntityWrite => ({ external_id: id, data: { external_id: id, total, memo: 'm'.repeat(600) }, raw: { id, total, lines: Array.from({ length: 5 }, (_, i) => ({ n: i, text: 'line '.repeat(20) })) } });

/**
 * Heap blocks of the entity table in `schema` read or hit so far. A backend flushes its statistics when it
 * exits, so the stores writing are closed first and the figure polled until it stops moving.
 */
async function heapBlocks(schema: string): Promise<number> {
  let last = -1;
  for (let i = 0; i < 30; i++) {
    const c = new pg.Client({ connectionString: ADMIN_URL.replace(/\/[^/]*$/, `/${stores.db().name}`) });
    await c.connect();
    const r = await c.query<{ n: string }>("SELECT coalesce(heap_blks_hit, 0) + coalesce(heap_blks_read, 0) AS n FROM pg_statio_all_tables WHERE schemaname = $1 AND relname = 'taxbridge_entities'", [schema]);
    await c.end();
    const n = Number(r.rows[0]?.n ?? 0);
    if (n === last) return n;
    last = n;
    await new Promise((r) => setTimeout(r, 300));
  }
  return last;
}

describe('PostgresStore commitPage', () => {
  it('writes nothing of a page, checkpoint included, when its statement fails', async () => {
    const store = await stores.make();
    await store.commitPage({ ...base, writes: [inv('a', '1.00')], checkpoint: { id: 'cp', value: { page: 1 } } });
    // PostgreSQL refuses the NUL character in an id (text and jsonb alike): the page's one statement fails as a whole.
    const bad: EntityWrite = { external_id: 'z\u0000', data: { external_id: 'z', total: 'bad' }, raw: { id: 'z' } };
    await expect(store.commitPage({ ...base, writes: [inv('a', '2.00'), inv('b', '1.00'), bad], checkpoint: { id: 'cp', value: { page: 2 } } })).rejects.toMatchObject({ code: 'STORE_DB_ERROR' });
    expect(await store.getCheckpoint('c1', 'invoices', 'cp')).toEqual({ page: 1 });
    expect(await store.get('sync_state', 'cp')).toEqual({ page: 1 });
    expect((await store.getEntity('c1', 'invoices', 'a'))!.data).toMatchObject({ total: '1.00' });
    expect(await store.getEntity('c1', 'invoices', 'b')).toBeUndefined();
    expect(await store.countEntities('c1', 'invoices')).toEqual({ active: 1, deleted: 0 });
  });

  it('stores a NUL inside data, raw records, documents and checkpoints as U+FFFD instead of failing the write forever', async () => {
    const store = await stores.make();
    const w: EntityWrite = { external_id: 'n1', data: { external_id: 'n1', memo: 'a\u0000b', ['k\u0000']: 1 }, raw: { id: 'n1', note: ['x\u0000'] } };
    expect(await store.commitPage({ ...base, writes: [w], checkpoint: { id: 'cp', value: { after: 'c\u0000' } } })).toMatchObject({ created: 1 });
    const got = (await store.getEntity('c1', 'invoices', 'n1'))!;
    expect(got.data).toEqual({ external_id: 'n1', memo: 'a\ufffdb', ['k\ufffd']: 1 });
    expect(got.raw).toEqual({ id: 'n1', note: ['x\ufffd'] });
    expect(await store.getCheckpoint('c1', 'invoices', 'cp')).toEqual({ after: 'c\ufffd' });
    // The same record again is unchanged (its stored hash is of what was stored).
    expect(await store.commitPage({ ...base, writes: [w] })).toMatchObject({ unchanged: 1 });
    await store.put('webhook_events', 'e1', { id: 'e1', raw_body: 'text\u0000body', headers: { 'x-a': 'v' } });
    expect(await store.get('webhook_events', 'e1')).toEqual({ id: 'e1', raw_body: 'text\ufffdbody', headers: { 'x-a': 'v' } });
    expect(await store.insertIfAbsent('webhook_events', 'e2', { id: 'e2', raw_body: '\u0000' })).toBe(true);
    // A literal backslash-u0000 (six characters, no NUL) is kept exactly.
    await store.put('webhook_events', 'e3', { id: 'e3', raw_body: '{"a":"\\u0000"}' });
    expect(((await store.get('webhook_events', 'e3')) as any).raw_body).toBe('{"a":"\\u0000"}');
  });

  it('stores entity data and raw records with lz4 when the server has it (migration 0002)', async () => {
    const store = await stores.make();
    const lz4 = (await store.pool.query<{ ok: boolean }>("SELECT 'lz4' = ANY (enumvals) AS ok FROM pg_settings WHERE name = 'default_toast_compression'")).rows[0]!.ok;
    const cols = await store.pool.query<{ attname: string; c: string }>("SELECT attname, attcompression AS c FROM pg_attribute WHERE attrelid = 'taxbridge_entities'::regclass AND attname IN ('data', 'raw') ORDER BY attname");
    expect(cols.rows).toEqual([{ attname: 'data', c: lz4 ? 'l' : '' }, { attname: 'raw', c: lz4 ? 'l' : '' }]);
  });

  it('a page of new records reads a few heap blocks, not the whole stream, on a table never analyzed', async () => {
    const first = await stores.make();
    const schema = (await first.pool.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
    for (let p = 0; p < 100; p++) await first.commitPage({ ...base, writes: Array.from({ length: 100 }, (_, i) => inv(`i${String(p * 100 + i).padStart(6, '0')}`, '1.00')), checkpoint: { id: 'cp', value: { page: p } } });
    const size = await first.pool.query<{ n: string }>("SELECT pg_relation_size('taxbridge_entities') / current_setting('block_size')::int AS n");
    const stream = Number(size.rows[0]!.n);
    expect(stream).toBeGreaterThan(1000);
    await first.close();
    const before = await heapBlocks(schema);
    const store = await PostgresStore.open({ url: schemaUrl(stores.db(), schema), poolSize: 2 });
    // New ids, and ids that exist (an update re-reads them), as a sync page has.
    const writes = [...Array.from({ length: 90 }, (_, i) => inv(`n${i}`, '1.00')), ...Array.from({ length: 10 }, (_, i) => inv(`i${String(i * 300).padStart(6, '0')}`, '2.00'))];
    expect(await store.commitPage({ ...base, writes, checkpoint: { id: 'cp', value: { page: 100 } } })).toEqual({ created: 90, updated: 10, unchanged: 0, deleted: 0 });
    await store.close();
    const read = (await heapBlocks(schema)) - before;
    // Measured: ~300 block accesses for the 100 rows; the old `external_id = ANY(...)` plan touched ~4,300 here.
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(stream / 2);
  }, 60_000);
});
