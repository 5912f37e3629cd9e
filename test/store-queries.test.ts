import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from './helpers/e2e.ts';
import { postgresStores } from './helpers/pg.ts';
import { openStore, type Store } from '../src/store/index.ts';

const pg = postgresStores();
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

type Doc = { id: string; connection_id?: string; status?: string | null; created_at?: string; n?: number; settings?: Record<string, unknown> };

async function seed(store: Store): Promise<void> {
  const docs: Doc[] = [
    { id: 'a', connection_id: 'c1', status: 'pending', created_at: '2026-01-01T00:00:03Z', n: 1, settings: { realm: 'r1' } },
    { id: 'b', connection_id: 'c1', status: 'done', created_at: '2026-01-01T00:00:01Z', n: 2 },
    { id: 'c', connection_id: 'c2', status: 'pending', created_at: '2026-01-01T00:00:02Z', n: 1, settings: { realm: 'r2' } },
    { id: 'd', connection_id: 'c1', status: 'retrying', created_at: '2026-01-01T00:00:02Z' },
    { id: 'e', connection_id: 'c2', status: null },
    { id: 'f' },
  ];
  for (const d of docs) await store.put('jobs', d.id, d);
}

const ids = (docs: Doc[]) => docs.map((d) => d.id);

describe.each([
  ['files', async () => {
    const d = await mkdtemp(join(tmpdir(), 'tb-q-'));
    dirs.push(d);
    return openStore({ dir: d });
  }],
  ['memory', async () => openStore({ memory: true })],
  ['postgres', () => pg.make()],
])('store queries (%s)', (_name, make) => {
  it('find by equality, in, ne, null and dotted paths; count agrees', async () => {
    const store = await make();
    await seed(store);
    expect(ids((await store.find<Doc>('jobs', { where: { connection_id: 'c1' } })).docs)).toEqual(['a', 'b', 'd']);
    expect(ids((await store.find<Doc>('jobs', { where: { connection_id: 'c1', status: { in: ['pending', 'retrying'] } } })).docs)).toEqual(['a', 'd']);
    expect(ids((await store.find<Doc>('jobs', { where: { status: null } })).docs)).toEqual(['e', 'f']);
    expect(ids((await store.find<Doc>('jobs', { where: { status: { ne: 'pending' } } })).docs)).toEqual(['b', 'd', 'e', 'f']);
    expect(ids((await store.find<Doc>('jobs', { where: { status: { ne: null } } })).docs)).toEqual(['a', 'b', 'c', 'd']);
    expect(ids((await store.find<Doc>('jobs', { where: { 'settings.realm': 'r2' } })).docs)).toEqual(['c']);
    expect(ids((await store.find<Doc>('jobs', { where: { n: 1 } })).docs)).toEqual(['a', 'c']);
    expect(ids((await store.find<Doc>('jobs', { where: { n: '1' } })).docs)).toEqual([]);
    expect(await store.count('jobs', { connection_id: 'c1' })).toBe(3);
    expect(await store.count('jobs')).toBe(6);
    expect(await store.count('nothing_here', { status: 'x' })).toBe(0);
    await store.close();
  });

  it('ranges on strings, order by a field (ties by id), pages with a cursor', async () => {
    const store = await make();
    await seed(store);
    expect(ids((await store.find<Doc>('jobs', { where: { created_at: { gte: '2026-01-01T00:00:02Z' } } })).docs)).toEqual(['a', 'c', 'd']);
    expect(ids((await store.find<Doc>('jobs', { where: { created_at: { lt: '2026-01-01T00:00:02Z' } } })).docs)).toEqual(['b']);
    const desc = await store.find<Doc>('jobs', { orderBy: { field: 'created_at', desc: true } });
    expect(ids(desc.docs)).toEqual(['a', 'd', 'c', 'b', 'f', 'e']);
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await store.find<Doc>('jobs', { orderBy: { field: 'created_at' }, limit: 4, after });
      seen.push(...ids(page.docs));
      after = page.next;
      pages++;
    } while (after);
    expect(seen).toEqual(['e', 'f', 'b', 'c', 'd', 'a']);
    expect(pages).toBe(2);
    // A write between pages: the cursor continues where it was, the new document falls in its place.
    const p1 = await store.find<Doc>('jobs', { orderBy: { field: 'created_at' }, limit: 3 });
    await store.put('jobs', 'z', { id: 'z', created_at: '2026-01-01T00:00:09Z' });
    await store.delete('jobs', 'c');
    const p2 = await store.find<Doc>('jobs', { orderBy: { field: 'created_at' }, after: p1.next });
    expect(ids(p2.docs)).toEqual(['d', 'a', 'z']);
    expect(p2.next).toBeUndefined();
    await store.close();
  });

  it('indexes follow puts, replacements and deletes', async () => {
    const store = await make();
    await seed(store);
    expect(await store.count('jobs', { status: 'pending' })).toBe(2);
    await store.put('jobs', 'a', { id: 'a', connection_id: 'c1', status: 'done' });
    await store.delete('jobs', 'c');
    expect(await store.count('jobs', { status: 'pending' })).toBe(0);
    expect(ids((await store.find<Doc>('jobs', { where: { status: 'done' } })).docs)).toEqual(['a', 'b']);
    expect(await store.insertIfAbsent('jobs', 'g', { id: 'g', status: 'pending' })).toBe(true);
    expect(ids((await store.find<Doc>('jobs', { where: { status: 'pending' } })).docs)).toEqual(['g']);
    // A document written as its JSON text (no document for the index to read) is indexed all the same.
    const putJson = (store as Store).putJson?.bind(store);
    if (putJson) {
      await putJson('jobs', 'h', JSON.stringify({ id: 'h', status: 'pending', settings: { realm: 'r9' } }));
      await putJson('jobs', 'g', JSON.stringify({ id: 'g', status: 'done' }));
      expect(ids((await store.find<Doc>('jobs', { where: { status: 'pending' } })).docs)).toEqual(['h']);
      expect(ids((await store.find<Doc>('jobs', { where: { 'settings.realm': 'r9' } })).docs)).toEqual(['h']);
      expect(await store.get('jobs', 'g')).toEqual({ id: 'g', status: 'done' });
      // Text that would tear the one-line-per-row journal is refused, and nothing is stored.
      await expect(putJson('jobs', 'i', JSON.stringify({ id: 'i' }, null, 2))).rejects.toMatchObject({ code: 'STORE_BAD_JSON' });
      await expect(putJson('jobs', 'i', '[1]')).rejects.toMatchObject({ code: 'STORE_BAD_JSON' });
      expect(await store.get('jobs', 'i')).toBeUndefined();
    }
    await store.close();
  });

  it('reject bad queries and forged cursors with typed errors', async () => {
    const store = await make();
    await seed(store);
    await expect(store.find('jobs', { where: { '__proto__.x': 1 } })).resolves.toEqual({ docs: [] });
    await expect(store.find('jobs', { where: { 'a b': 1 } })).rejects.toMatchObject({ code: 'STORE_BAD_QUERY' });
    await expect(store.find('jobs', { where: { x: { like: '%' } as never } })).rejects.toMatchObject({ code: 'STORE_BAD_QUERY' });
    await expect(store.find('jobs', { limit: 0 })).rejects.toMatchObject({ code: 'STORE_BAD_QUERY' });
    await expect(store.find('jobs', { after: 'not a cursor!' })).rejects.toMatchObject({ code: 'STORE_BAD_CURSOR' });
    await expect(store.find('jobs', { after: Buffer.from('{"x":1}').toString('base64url') })).rejects.toMatchObject({ code: 'STORE_BAD_CURSOR' });
    await store.close();
  });

  it('scan visits every matching document once', async () => {
    const store = await make();
    await seed(store);
    const got: string[] = [];
    expect(await store.scan<Doc>('jobs', (d) => void got.push(d.id), { where: { connection_id: 'c2' } })).toBe(2);
    expect(got.sort()).toEqual(['c', 'e']);
    let all = 0;
    await store.scan('jobs', () => void all++);
    expect(all).toBe(6);
    await store.close();
  });

  it('claimNext hands each job to one owner until its lease expires, oldest first', async () => {
    const store = await make();
    await seed(store);
    const q = { where: { status: { in: ['pending', 'retrying'] } }, orderBy: { field: 'created_at' }, leaseMs: 60_000 };
    const got = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((owner) => store.claimNext<Doc>('jobs', { ...q, owner })));
    // Three jobs, four racing claimers: each job to exactly one of them, one claimer left without.
    expect(got.filter((d) => d !== undefined).map((d) => d!.id).sort()).toEqual(['a', 'c', 'd']);
    expect(got.filter((d) => d === undefined)).toHaveLength(1);
    const first = (await store.claimNext<Doc>('jobs', { ...q, owner: 'r1', now: new Date(Date.now() + 61_000).toISOString() }))?.id;
    expect(first).toBe('c'); // leases expired: the oldest again
    expect(await store.releaseClaim('jobs', 'c', 'someone-else')).toBe(false);
    expect(await store.renewClaim('jobs', 'a', 'nobody', 1000)).toBe(false);
    await store.close();
  });

  it('leases: one holder at a time, renewed by its holder, free after release or expiry', async () => {
    const store = await make();
    expect(await store.tryAcquireLease('sync:c1/invoices', 'r1', 60_000)).toBe(true);
    expect(await store.tryAcquireLease('sync:c1/invoices', 'r2', 60_000)).toBe(false);
    expect(await store.tryAcquireLease('sync:c1/invoices', 'r1', 60_000)).toBe(true);
    expect(await store.releaseLease('sync:c1/invoices', 'r2')).toBe(false);
    expect(await store.releaseLease('sync:c1/invoices', 'r1')).toBe(true);
    expect(await store.tryAcquireLease('sync:c1/invoices', 'r2', 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 5));
    expect(await store.tryAcquireLease('sync:c1/invoices', 'r3', 60_000)).toBe(true);
    await expect(store.tryAcquireLease('x', '', 10)).rejects.toMatchObject({ code: 'STORE_BAD_QUERY' });
    await store.close();
  });

  it('claimTick: once per tick among racing callers, never for an older tick', async () => {
    const store = await make();
    const wins = await Promise.all([1, 2, 3, 4].map(() => store.claimTick('nightly', '2026-01-02T00:00:00Z')));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await store.claimTick('nightly', '2026-01-01T00:00:00Z')).toBe(false);
    expect(await store.claimTick('nightly', '2026-01-03T00:00:00Z')).toBe(true);
    expect(await store.claimTick('other', '2026-01-01T00:00:00Z')).toBe(true);
    await store.close();
  });

  it('publish reaches subscribers of the topic until they unsubscribe', async () => {
    const store = await make();
    const got: string[] = [];
    const off = await store.subscribe('keys', (m) => got.push(m));
    await store.subscribe('other', (m) => got.push(`other:${m}`));
    await store.publish('keys', 'revoked k1');
    // Delivery may be asynchronous (LISTEN/NOTIFY).
    await until(() => got.length >= 1 || undefined, 'the first message', 10_000);
    await off();
    await store.publish('keys', 'revoked k2');
    await store.publish('other', 'marker');
    await until(() => got.includes('other:marker') || undefined, 'the marker', 10_000);
    expect(got).toEqual(['revoked k1', 'other:marker']);
    await store.close();
  });

  it('pageEntities walks a stream in external id order; entityStates reads many at once', async () => {
    const store = await make();
    const writes = Array.from({ length: 25 }, (_, i) => ({ external_id: `inv-${String(i).padStart(3, '0')}`, data: { i }, deleted: i === 3 }));
    await store.commitPage({ connectionId: 'c1', stream: 'invoices', entity: 'invoice', writes });
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.pageEntities('c1', 'invoices', { after, limit: 10 });
      if (!page.length) break;
      seen.push(...page.map((e) => e.external_id));
      after = page[page.length - 1]!.external_id;
    }
    expect(seen).toEqual(writes.filter((w) => !w.deleted).map((w) => w.external_id));
    expect((await store.pageEntities('c1', 'invoices', { limit: 100, includeDeleted: true })).length).toBe(25);
    const hashes = await store.entityStates('c1', 'invoices', ['inv-001', 'nope', 'inv-003']);
    expect([...hashes.keys()]).toEqual(['inv-001', 'inv-003']);
    expect(hashes.get('inv-001')).toEqual({ hash: (await store.getEntity('c1', 'invoices', 'inv-001'))!.hash, deleted: false });
    expect(hashes.get('inv-003')?.deleted).toBe(true);
    await store.close();
  });
});
