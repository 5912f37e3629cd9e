/**
 * A write the disk refuses (disk full, I/O error) leaves nothing behind: its promise rejects with STORE_IO,
 * the row is gone from memory (so it never answers "duplicate"), later commits queued on top of it are undone
 * too, the journal is cut back to its durable length, the store reports unhealthy, and once the disk works
 * again writes succeed and health recovers by itself. Reopening the folder shows every acknowledged write
 * and none that was refused. A duplicate of a row whose write is in flight waits for that write.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.ts';
import { faultyFs } from './helpers/faulty-fs.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tb-faults-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const ticks = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`never happened: ${what}`);
}

function settled(p: Promise<unknown>): () => boolean {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}

describe.each([
  ['ENOSPC', false],
  ['EIO', false],
  ['EIO', true],
] as const)('store under %s (truncation fails too: %s)', (code, truncateFails) => {
  it('a refused write is not kept, never answers duplicate, and the store recovers by itself', async () => {
    const dir = await tempDir();
    const fs = faultyFs();
    const store = await openStore({ dir, fileOps: fs.ops });
    const acked = new Set<string>();
    const refused = new Set<string>();
    for (let i = 0; i < 5; i++) if (await store.insertIfAbsent('webhook_events', `ok${i}`, { i })) acked.add(`ok${i}`);
    expect(store.health()).toEqual({ ok: true, problems: [] });

    fs.fail(code, { truncate: truncateFails });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.insertIfAbsent('webhook_events', `bad${i}`, { i })));
    for (const [i, r] of results.entries()) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'STORE_IO', details: { table: 'webhook_events', code } });
      refused.add(`bad${i}`);
    }
    // Nothing of them in memory: not readable, and a re-send is not a "duplicate" (it tries to write, and fails).
    expect(await store.get('webhook_events', 'bad0')).toBeUndefined();
    await expect(store.insertIfAbsent('webhook_events', 'bad0', { again: true })).rejects.toMatchObject({ code: 'STORE_IO' });
    const health = store.health();
    expect(health.ok).toBe(false);
    expect(health.problems).toEqual([expect.objectContaining({ table: 'webhook_events', code })]);
    expect(health.detail).toContain(`webhook_events (${code})`);
    // A put and a delete fail the same way and change nothing.
    await expect(store.put('webhook_events', 'ok0', { i: 'changed' })).rejects.toMatchObject({ code: 'STORE_IO' });
    expect(await store.get('webhook_events', 'ok0')).toEqual({ i: 0 });
    await expect(store.delete('webhook_events', 'ok1')).rejects.toMatchObject({ code: 'STORE_IO' });
    expect(await store.get('webhook_events', 'ok1')).toEqual({ i: 1 });

    fs.heal();
    // Health comes back without any write of ours (the table probes the disk).
    await until(() => store.health().ok, 'health ok after the disk recovered');
    // The re-send of a refused event now writes it, as a first delivery.
    expect(await store.insertIfAbsent('webhook_events', 'bad0', { resent: true })).toBe(true);
    acked.add('bad0');
    refused.delete('bad0');
    expect(await store.insertIfAbsent('webhook_events', 'ok0', { dup: true })).toBe(false);
    await store.close();

    const reopened = await openStore({ dir });
    for (const id of acked) expect(await reopened.get('webhook_events', id), id).toBeDefined();
    for (const id of refused) expect(await reopened.get('webhook_events', id), id).toBeUndefined();
    expect(await reopened.get('webhook_events', 'bad0')).toEqual({ resent: true });
    expect(await reopened.get('webhook_events', 'ok0')).toEqual({ i: 0 });
    expect((await reopened.list('webhook_events')).length).toBe(acked.size);
    await reopened.close();
  });
});

/** A store whose insert of e1 is parked in its fsync, and a second insert of e1 issued meanwhile. */
async function originalInFlightAndItsDuplicate() {
  const dir = await tempDir();
  const fs = faultyFs();
  const store = await openStore({ dir, fileOps: fs.ops });
  await store.put('webhook_events', 'warm', {});
  const gate = fs.hold(/webhook_events\.journal$/);
  const first = store.insertIfAbsent('webhook_events', 'e1', { n: 1 });
  await gate.reached;
  const dup = store.insertIfAbsent('webhook_events', 'e1', { n: 2 });
  return { dir, fs, store, gate, first, dup };
}

describe('store commits in flight', () => {
  it('a duplicate of a row whose write is in flight answers only after that write is on disk', async () => {
    const { dir, fs, store, gate, first, dup } = await originalInFlightAndItsDuplicate();
    const dupDone = settled(dup);
    await ticks();
    // The row is readable (read-your-writes), but "already there" is not said before it is durable.
    expect(await store.get('webhook_events', 'e1')).toEqual({ n: 1 });
    expect(dupDone()).toBe(false);
    gate.release();
    expect(await first).toBe(true);
    expect(await dup).toBe(false);
    const journal = await readFile(join(dir, 'collections', 'webhook_events.journal'), 'utf8');
    expect(journal).toContain('"k":"e1"');
    await store.close();
  });

  it('when the original write fails, a waiting duplicate writes the row as the first delivery; commits queued behind it are undone', async () => {
    const { dir, fs, store, gate, first, dup } = await originalInFlightAndItsDuplicate();
    // Queued behind the failing commit, applied in memory on top of it: undone with it.
    const later = store.put('webhook_events', 'e2', { n: 3 });
    await ticks();
    fs.fail('EIO', { times: 1 });
    gate.release();
    await expect(first).rejects.toMatchObject({ code: 'STORE_IO' });
    await expect(later).rejects.toMatchObject({ code: 'STORE_IO' });
    expect(await dup).toBe(true);
    expect(await store.get('webhook_events', 'e1')).toEqual({ n: 2 });
    expect(await store.get('webhook_events', 'e2')).toBeUndefined();
    await store.close();
    const reopened = await openStore({ dir });
    expect(await reopened.get('webhook_events', 'e1')).toEqual({ n: 2 });
    expect(await reopened.get('webhook_events', 'e2')).toBeUndefined();
    await reopened.close();
  });

  it('a checkpoint in a refused page is undone with the page', async () => {
    const dir = await tempDir();
    const fs = faultyFs();
    const store = await openStore({ dir, fileOps: fs.ops });
    const page = (n: number) => ({ connectionId: 'c', stream: 'invoices', entity: 'invoice', writes: [{ external_id: `i${n}`, data: { n } }], checkpoint: { id: 'c:invoices', value: { page: n } } });
    await store.commitPage(page(1));
    fs.fail('ENOSPC', { match: /invoices\.journal$/ });
    await expect(store.commitPage(page(2))).rejects.toMatchObject({ code: 'STORE_IO', details: { table: 'entities/c/invoices', code: 'ENOSPC' } });
    expect(await store.getCheckpoint('c', 'invoices', 'c:invoices')).toEqual({ page: 1 });
    expect(await store.getEntity('c', 'invoices', 'i2')).toBeUndefined();
    expect(store.health().problems.map((p) => p.table)).toEqual(['entities/c/invoices']);
    fs.heal();
    await store.commitPage(page(3));
    expect(store.health().ok).toBe(true);
    await store.close();
    const reopened = await openStore({ dir });
    expect(await reopened.getCheckpoint('c', 'invoices', 'c:invoices')).toEqual({ page: 3 });
    expect((await reopened.listEntities('c', 'invoices')).map((e) => e.external_id).sort()).toEqual(['i1', 'i3']);
    await reopened.close();
  });

  it('commits go on while a snapshot is written; the journal is cut after it, and a reopen holds every row', async () => {
    const dir = await tempDir();
    const fs = faultyFs();
    const store = await openStore({ dir, fileOps: fs.ops, compactAfterBytes: 1 });
    await store.put('webhook_events', 'warm', {});
    await store.flush();
    const gate = fs.hold(/webhook_events\.jsonl\.tmp$/);
    // Larger than the snapshot so far: the journal outgrows it and a new snapshot starts.
    await store.put('webhook_events', 'a', { n: 1, pad: 'x'.repeat(500) });
    await gate.reached; // that snapshot's fsync is held
    // Each commit is durable and answered while the snapshot waits: none is held behind it.
    for (let i = 0; i < 20; i++) await store.put('webhook_events', `b${i}`, { n: 2 });
    gate.release();
    await store.flush();
    const journal = await readFile(join(dir, 'collections', 'webhook_events.journal'), 'utf8');
    expect(journal).not.toContain('"k":"a"'); // in the snapshot now, cut from the journal
    const snapshot = await readFile(join(dir, 'collections', 'webhook_events.jsonl'), 'utf8');
    expect(snapshot).toContain('"k":"a"');
    await store.close();
    const reopened = await openStore({ dir, verify: true });
    expect((await reopened.list<{ n?: number }>('webhook_events')).length).toBe(22);
    await reopened.close();
  });

  it('compaction writes only durable commits: one queued behind it and then refused is not in the snapshot', async () => {
    const dir = await tempDir();
    const fs = faultyFs();
    const store = await openStore({ dir, fileOps: fs.ops, compactAfterBytes: 1 });
    await store.put('webhook_events', 'warm', {});
    await store.flush(); // its compaction too
    const gate = fs.hold(/webhook_events\.journal$/);
    // Larger than the snapshot so far: the journal outgrows it and the next drain compacts.
    const a = store.put('webhook_events', 'a', { n: 1, pad: 'x'.repeat(500) });
    await gate.reached;
    const b = store.put('webhook_events', 'b', { n: 2 });
    await ticks();
    // a's fsync and the compaction after it succeed; b's append then finds the disk full.
    fs.fail('ENOSPC', { match: /webhook_events\.journal$/, ops: ['write'] });
    gate.release();
    await a;
    await expect(b).rejects.toMatchObject({ code: 'STORE_IO' });
    await store.flush(); // the snapshot is written beside the commits now: wait for it
    const snapshot = await readFile(join(dir, 'collections', 'webhook_events.jsonl'), 'utf8');
    expect(snapshot).toContain('"k":"a"');
    expect(snapshot).not.toContain('"k":"b"');
    fs.heal();
    await store.put('webhook_events', 'c', { n: 3 });
    await store.close();
    const reopened = await openStore({ dir });
    expect((await reopened.list<{ n?: number }>('webhook_events')).map((d) => d.n ?? 0).sort()).toEqual([0, 1, 3]);
    await reopened.close();
  });
});
