/**
 * PostgresStore.putJson on the real server: puts to one collection are written in groups, one INSERT per
 * batch (counted at the store's own pool), in call order per id, an id put twice in a batch stored once with
 * its last text; a batch whose statement fails rejects every caller of it and the store goes on; one caller's
 * text that is not JSON rejects only that caller; NUL is stored as put() stores it; text that is not one
 * object on one line is refused.
 */
import { describe, expect, it } from 'vitest';
import { postgresStores } from './helpers/pg.ts';
import type { PostgresStore } from '../src/store/postgres/store.ts';

const stores = postgresStores();

/** Counts the INSERT statements the store sends into taxbridge_documents. */
function countInserts(store: PostgresStore): { readonly n: number } {
  const counter = { n: 0 };
  const pool = store.pool;
  const query = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  (pool as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    if (typeof a[0] === 'string' && a[0].startsWith('INSERT INTO taxbridge_documents')) counter.n++;
    return query(...a);
  };
  return counter;
}

const text = (doc: object) => JSON.stringify(doc);

describe('PostgresStore putJson', () => {
  it('writes puts issued together as one statement, and those arriving during it as the next', async () => {
    const store = await stores.make();
    const inserts = countInserts(store);
    await Promise.all(Array.from({ length: 300 }, (_, i) => store.putJson('jobs', `j${i}`, text({ id: `j${i}`, n: i }))));
    expect(inserts.n).toBe(1);
    // One put in flight; 200 more issued while it is: they wait and go out as one batch.
    const first = store.putJson('jobs', 'k0', text({ id: 'k0' }));
    await new Promise((r) => setImmediate(r));
    const rest = Array.from({ length: 200 }, (_, i) => store.putJson('jobs', `k${i + 1}`, text({ id: `k${i + 1}` })));
    await Promise.all([first, ...rest]);
    expect(inserts.n).toBe(3);
    expect(await store.count('jobs')).toBe(501);
    expect(await store.get('jobs', 'j299')).toEqual({ id: 'j299', n: 299 });
  });

  it('caps a batch at 1,000 rows, applies puts of one id in call order and keeps the last of an id within a batch', async () => {
    const store = await stores.make();
    const inserts = countInserts(store);
    // 2,500 puts over 7 ids, issued together: three batches (1,000 + 1,000 + 500), each id ends with its last put.
    const puts = Array.from({ length: 2_500 }, (_, i) => store.putJson('jobs', `id${i % 7}`, text({ id: `id${i % 7}`, n: i })));
    await Promise.all(puts);
    expect(inserts.n).toBe(3);
    for (let k = 0; k < 7; k++) {
      const last = 2_499 - ((2_499 - k) % 7);
      expect(await store.get('jobs', `id${k}`)).toEqual({ id: `id${k}`, n: last });
    }
    expect(await store.count('jobs')).toBe(7);
  });

  it('rejects every caller of a batch whose statement fails, with the store error, and keeps working', async () => {
    const store = await stores.make();
    // A trigger on the store's own table (in this test's schema) refuses one document: its whole statement fails.
    await store.pool.query(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.doc ? 'poison' THEN RAISE EXCEPTION 'poisoned document %', NEW.id; END IF; RETURN NEW; END $$`);
    await store.pool.query('CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON taxbridge_documents FOR EACH ROW EXECUTE FUNCTION refuse_poison()');
    const batch = Array.from({ length: 10 }, (_, i) => store.putJson('jobs', `p${i}`, text(i === 4 ? { id: `p${i}`, poison: true } : { id: `p${i}` })));
    const settled = await Promise.allSettled(batch);
    expect(settled.map((s) => s.status)).toEqual(Array(10).fill('rejected'));
    for (const s of settled) expect((s as PromiseRejectedResult).reason).toMatchObject({ code: 'STORE_DB_ERROR', details: { code: 'P0001' } });
    expect(await store.count('jobs')).toBe(0);
    expect(store.health().ok).toBe(true);
    await store.putJson('jobs', 'after', text({ id: 'after' }));
    expect(await store.get('jobs', 'after')).toEqual({ id: 'after' });
  });

  it('rejects only the caller whose text is not JSON; the others of its batch are stored', async () => {
    const store = await stores.make();
    const settled = await Promise.allSettled([store.putJson('jobs', 'a', text({ id: 'a' })), store.putJson('jobs', 'b', '{"id":'), store.putJson('jobs', 'c', text({ id: 'c' }))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'STORE_DB_ERROR', details: { code: '22P02' } });
    expect((await store.list<{ id: string }>('jobs')).map((d) => d.id)).toEqual(['a', 'c']);
  });

  it('stores a NUL as put() stores it, and refuses text that is not one object on one line', async () => {
    const store = await stores.make();
    const doc = { id: 'n', s: 'a\u0000b', ['k\u0000']: ['\u0000'], plain: 'x' };
    await Promise.all([store.putJson('jobs', 'n', text(doc)), store.put('jobs', 'm', doc)]);
    expect(await store.get('jobs', 'n')).toEqual(await store.get('jobs', 'm'));
    expect(await store.get('jobs', 'n')).toEqual({ id: 'n', s: 'a\ufffdb', ['k\ufffd']: ['\ufffd'], plain: 'x' });
    for (const bad of [JSON.stringify({ id: 'i' }, null, 2), '{"a":1}\r', '[1]', '', '{"a":"\\u0000"']) {
      await expect(store.putJson('jobs', 'i', bad), bad).rejects.toMatchObject({ code: 'STORE_BAD_JSON' });
    }
    await expect(store.putJson('jobs', '', '{}')).rejects.toMatchObject({ code: 'STORE_BAD_ID' });
    expect(await store.get('jobs', 'i')).toBeUndefined();
  });

  it('a put, insertIfAbsent or delete of an id issued after its queued putJson applies after it', async () => {
    const store = await stores.make();
    const ids = Array.from({ length: 20 }, (_, i) => `o${i}`);
    // Not awaited in between: the grouped INSERT of the first text is still queued when the second write is issued.
    await Promise.all(ids.flatMap((id) => [store.putJson('jobs', id, text({ id, v: 1 })), store.put('jobs', id, { id, v: 2 })]));
    for (const id of ids) expect(await store.get('jobs', id)).toEqual({ id, v: 2 });
    await Promise.all(ids.flatMap((id) => [store.putJson('jobs', id, text({ id, v: 3 })), store.delete('jobs', id)]));
    for (const id of ids) expect(await store.get('jobs', id)).toBeUndefined();
    const absent = await Promise.all(ids.flatMap((id) => [store.putJson('jobs', id, text({ id, v: 4 })).then(() => true), store.insertIfAbsent('jobs', id, { id, v: 5 })]));
    // The queued text was there first: insertIfAbsent finds it.
    expect(absent.filter((_, i) => i % 2 === 1)).toEqual(ids.map(() => false));
    for (const id of ids) expect(await store.get('jobs', id)).toEqual({ id, v: 4 });
    await store.close();
  });

  it('flush() and close() wait for puts still queued', async () => {
    const store = await stores.make();
    for (let i = 0; i < 1_500; i++) void store.putJson('jobs', `q${i}`, text({ id: `q${i}` }));
    await store.flush();
    expect(await store.count('jobs')).toBe(1_500);
    let committed = 0;
    for (let i = 0; i < 50; i++) void store.putJson('late', `l${i}`, text({ id: `l${i}` })).then(() => committed++);
    await store.close();
    expect(committed).toBe(50);
    await expect(store.putJson('late', 'x', '{}')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });
});
