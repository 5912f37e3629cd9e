import { mkdtemp, readFile, rm, appendFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresStores } from './helpers/pg.ts';
import { openStore, type EntityWrite } from '../src/store/index.ts';

const pg = postgresStores();
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tb-store-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const inv = (id: string, total: string, extra: Record<string, unknown> = {}): EntityWrite => ({
  external_id: id,
  data: { external_id: id, total, ...extra },
  raw: { id, total },
});

describe.each([
  ['files', async () => openStore({ dir: await tempDir() })],
  ['memory', async () => openStore({ memory: true })],
  ['postgres', () => pg.make()],
])('store (%s)', (_name, make) => {
  it('documents: put, get, list with a filter, delete; get returns copies', async () => {
    const store = await make();
    await store.put('webhook_events', 'e1', { id: 'e1', kind: 'a' });
    await store.put('webhook_events', 'e2', { id: 'e2', kind: 'b' });
    const got = await store.get<{ id: string; kind: string }>('webhook_events', 'e1');
    expect(got).toEqual({ id: 'e1', kind: 'a' });
    got!.kind = 'mutated';
    expect((await store.get<{ kind: string }>('webhook_events', 'e1'))!.kind).toBe('a');
    expect(await store.list<{ kind: string }>('webhook_events', (d) => d.kind === 'b')).toEqual([{ id: 'e2', kind: 'b' }]);
    expect(await store.delete('webhook_events', 'e1')).toBe(true);
    expect(await store.delete('webhook_events', 'e1')).toBe(false);
    expect(await store.get('webhook_events', 'e1')).toBeUndefined();
    await store.close();
  });

  it('insertIfAbsent: exactly one of many racing inserts wins', async () => {
    const store = await make();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.insertIfAbsent('webhook_events', 'same', { n: i })));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.get('webhook_events', 'same')).toEqual({ n: results.indexOf(true) });
    await store.close();
  });

  it('commitPage counts created, updated, unchanged and deleted; keeps first_seen_at', async () => {
    const store = await make();
    const base = { connectionId: 'c1', stream: 'invoices', entity: 'invoice' };
    expect(await store.commitPage({ ...base, writes: [inv('a', '1.00'), inv('b', '2.00')] })).toMatchObject({ created: 2, updated: 0, unchanged: 0, deleted: 0 });
    const first = await store.getEntity('c1', 'invoices', 'a');
    expect(first).toMatchObject({ connection_id: 'c1', stream: 'invoices', entity: 'invoice', external_id: 'a', deleted: false, data: { external_id: 'a', total: '1.00' }, raw: { id: 'a', total: '1.00' } });
    await new Promise((r) => setTimeout(r, 5));
    const second = await store.commitPage({ ...base, writes: [inv('a', '1.50'), inv('b', '2.00'), { ...inv('c', '3.00'), deleted: true }] });
    expect(second).toEqual({ created: 1, updated: 1, unchanged: 1, deleted: 1 });
    const a = await store.getEntity('c1', 'invoices', 'a');
    expect(a!.first_seen_at).toBe(first!.first_seen_at);
    expect(a!.updated_at > first!.updated_at).toBe(true);
    expect(a!.hash).not.toBe(first!.hash);
    // Key order of the mapped data does not matter.
    expect(await store.commitPage({ ...base, writes: [{ external_id: 'b', data: { total: '2.00', external_id: 'b' }, raw: { id: 'b', total: '2.00' } }] })).toMatchObject({ unchanged: 1, updated: 0 });
    expect(await store.countEntities('c1', 'invoices')).toEqual({ active: 2, deleted: 1 });
    expect((await store.listEntities('c1', 'invoices')).map((e) => e.external_id).sort()).toEqual(['a', 'b']);
    expect(await store.listEntities('c1', 'invoices', { includeDeleted: true })).toHaveLength(3);
    expect(await store.markDeleted('c1', 'invoices', 'a')).toBe(true);
    expect(await store.markDeleted('c1', 'invoices', 'zzz')).toBe(false);
    expect((await store.getEntity('c1', 'invoices', 'a'))!.deleted).toBe(true);
    expect(await store.countEntities('c1', 'invoices')).toEqual({ active: 1, deleted: 2 });
    // Other connections and streams are separate.
    expect(await store.countEntities('c2', 'invoices')).toEqual({ active: 0, deleted: 0 });
    await store.close();
  });

  it('commitPage: several writes of one id in a page count in order, the last one is stored; raw-only changes are stored but unchanged; an unchanged page rewrites nothing', async () => {
    const store = await make();
    const base = { connectionId: 'c1', stream: 'invoices', entity: 'invoice' };
    expect(await store.commitPage({ ...base, writes: [inv('a', '1.00'), inv('a', '2.00'), inv('a', '2.00')] })).toEqual({ created: 1, updated: 1, unchanged: 1, deleted: 0 });
    expect((await store.getEntity('c1', 'invoices', 'a'))!.data).toEqual({ external_id: 'a', total: '2.00' });
    const stored = await store.getEntity('c1', 'invoices', 'a');
    await new Promise((r) => setTimeout(r, 5));
    expect(await store.commitPage({ ...base, writes: [inv('a', '2.00')] })).toEqual({ created: 0, updated: 0, unchanged: 1, deleted: 0 });
    expect((await store.getEntity('c1', 'invoices', 'a'))!.updated_at).toBe(stored!.updated_at);
    // The same mapped data from a different raw record: the raw copy is kept, the record counts as unchanged.
    expect(await store.commitPage({ ...base, writes: [{ ...inv('a', '2.00'), raw: { id: 'a', total: '2.00', note: 'x' } }] })).toEqual({ created: 0, updated: 0, unchanged: 1, deleted: 0 });
    const after = await store.getEntity('c1', 'invoices', 'a');
    expect(after!.raw).toEqual({ id: 'a', total: '2.00', note: 'x' });
    expect(after!.hash).toBe(stored!.hash);
    // Deleted, then written again in the same page.
    expect(await store.commitPage({ ...base, writes: [{ ...inv('a', '2.00'), deleted: true }, inv('b', '1.00'), inv('a', '3.00')] })).toEqual({ created: 1, updated: 2, unchanged: 0, deleted: 1 });
    expect(await store.getEntity('c1', 'invoices', 'a')).toMatchObject({ deleted: false, data: { total: '3.00' }, first_seen_at: stored!.first_seen_at });
    await store.close();
  });

  it('saves the checkpoint with the page and copies it to sync_state', async () => {
    const store = await make();
    await store.commitPage({ connectionId: 'c1', stream: 'customers', entity: 'customer', writes: [inv('x', '1')], checkpoint: { id: 'c1:customers', value: { next: 'abc', page: 1 } } });
    expect(await store.getCheckpoint('c1', 'customers', 'c1:customers')).toEqual({ next: 'abc', page: 1 });
    expect(await store.get('sync_state', 'c1:customers')).toEqual({ next: 'abc', page: 1 });
    await store.close();
  });
});

describe('store files', () => {
  it('persists across reopen, with ids that are not file-name safe', async () => {
    const dir = await tempDir();
    let store = await openStore({ dir });
    await store.commitPage({ connectionId: '../evil/conn', stream: 'in voices', entity: 'invoice', writes: [inv('a/b', '1.00')], checkpoint: { id: 'cp', value: { page: 3 } } });
    await store.put('connections', 'x', { name: 'X' });
    await store.close();
    expect((await readdir(join(dir, 'entities'))).every((f) => !f.includes('/') && f !== '..')).toBe(true);
    store = await openStore({ dir });
    expect((await store.getEntity('../evil/conn', 'in voices', 'a/b'))!.data).toEqual({ external_id: 'a/b', total: '1.00' });
    expect(await store.getCheckpoint('../evil/conn', 'in voices', 'cp')).toEqual({ page: 3 });
    expect(await store.get('connections', 'x')).toEqual({ name: 'X' });
    await store.close();
  });

  it('group commit: writes issued together share one disk write; each resolves only after it', async () => {
    const dir = await tempDir();
    const store = await openStore({ dir });
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.put('webhook_events', `e${i}`, { i })));
    expect((await store.diskWrites())['c/webhook_events']).toBe(1);
    // Writes arriving while a write is in progress form the next batch.
    const first = Array.from({ length: 10 }, (_, i) => store.put('webhook_events', `f${i}`, { i }));
    await new Promise((r) => setImmediate(r));
    const second = Array.from({ length: 10 }, (_, i) => store.put('webhook_events', `g${i}`, { i }));
    await Promise.all([...first, ...second]);
    expect((await store.diskWrites())['c/webhook_events']).toBeLessThanOrEqual(3);
    // Resolved writes are in the file already (no flush needed).
    const journal = await readFile(join(dir, 'collections', 'webhook_events.journal'), 'utf8');
    expect(journal.split('\n').filter((l) => l.startsWith('{"t":"p"'))).toHaveLength(70);
    await store.close();
  });

  it('a sync of one stream does not rewrite another table', async () => {
    const dir = await tempDir();
    const store = await openStore({ dir });
    await store.put('webhook_events', 'e', { big: 'x'.repeat(1000) });
    for (let p = 0; p < 5; p++) await store.commitPage({ connectionId: 'c', stream: 'invoices', entity: 'invoice', writes: [inv(`i${p}`, '1')] });
    expect((await store.diskWrites())['c/webhook_events']).toBe(1);
    await store.close();
  });

  it('compacts a journal that outgrows its snapshot, keeping every row', async () => {
    const dir = await tempDir();
    let store = await openStore({ dir, compactAfterBytes: 20_000 });
    for (let p = 0; p < 40; p++) {
      await store.commitPage({ connectionId: 'c', stream: 'invoices', entity: 'invoice', writes: Array.from({ length: 10 }, (_, i) => inv(`i${(p * 7 + i) % 150}`, `${p}.00`)), checkpoint: { id: 'cp', value: { page: p } } });
    }
    await store.close();
    const snapshot = await readFile(join(dir, 'entities', 'c', 'invoices.jsonl'), 'utf8');
    expect(snapshot.startsWith('{"t":"s"')).toBe(true);
    store = await openStore({ dir });
    const all = await store.listEntities('c', 'invoices');
    expect(all).toHaveLength(150);
    expect(await store.getCheckpoint('c', 'invoices', 'cp')).toEqual({ page: 39 });
    expect((await store.getEntity('c', 'invoices', `i${(39 * 7) % 150}`))!.data.total).toBe('39.00');
    await store.close();
  });

  it('keeps text outside ASCII exactly, through the journal and a compacted snapshot (bytes counted as UTF-8)', async () => {
    const dir = await tempDir();
    const texts = ['Zürich café', 'Łódź ул. Тверская', '東京都 千代田区', 'emoji 😀🧾 and a lone \u00e9', 'tab\tquote"backslash\\'];
    let store = await openStore({ dir, compactAfterBytes: 2_000 });
    for (let i = 0; i < 60; i++) await store.put('webhook_events', `e${i}`, { id: `e${i}`, text: texts[i % texts.length]!.repeat(1 + (i % 7)) });
    await store.close();
    store = await openStore({ dir });
    for (let i = 0; i < 60; i++) expect((await store.get<{ text: string }>('webhook_events', `e${i}`))!.text).toBe(texts[i % texts.length]!.repeat(1 + (i % 7)));
    // Appending after the reopen lands after the durable bytes (a miscounted journal length would tear it).
    await store.put('webhook_events', 'last', { id: 'last', text: texts[3] });
    await store.close();
    store = await openStore({ dir });
    expect((await store.get<{ text: string }>('webhook_events', 'last'))!.text).toBe(texts[3]);
    expect(await store.list('webhook_events')).toHaveLength(61);
    await store.close();
  });

  it('drops a torn journal tail (a commit without its commit line) and keeps appending after it', async () => {
    const dir = await tempDir();
    let store = await openStore({ dir });
    await store.commitPage({ connectionId: 'c', stream: 's', entity: 'product', writes: [inv('a', '1')], checkpoint: { id: 'cp', value: { page: 1 } } });
    await store.close();
    const journal = join(dir, 'entities', 'c', 's.journal');
    await appendFile(journal, '{"t":"p","k":"b","h":"x"}\t{"connection_id":"c","data":{}}\n{"t":"p","k":"c"}\t{"trunc');
    store = await openStore({ dir });
    expect((await store.listEntities('c', 's')).map((e) => e.external_id)).toEqual(['a']);
    expect(await store.getCheckpoint('c', 's', 'cp')).toEqual({ page: 1 });
    await store.commitPage({ connectionId: 'c', stream: 's', entity: 'product', writes: [inv('d', '1')] });
    await store.close();
    store = await openStore({ dir });
    expect((await store.listEntities('c', 's')).map((e) => e.external_id).sort()).toEqual(['a', 'd']);
    await store.close();
  });

  it('refuses a damaged journal middle with STORE_CORRUPT', async () => {
    const dir = await tempDir();
    let store = await openStore({ dir });
    await store.put('connections', 'a', { a: 1 });
    await store.close();
    const journal = join(dir, 'collections', 'connections.journal');
    const text = await readFile(journal, 'utf8');
    await appendFile(journal, `garbage\n${text}`);
    store = await openStore({ dir });
    await expect(store.get('connections', 'a')).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    await store.close();
  });

  it('one open store per data folder', async () => {
    const dir = await tempDir();
    const store = await openStore({ dir });
    await expect(openStore({ dir })).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    await store.close();
    await (await openStore({ dir })).close();
  });
});
