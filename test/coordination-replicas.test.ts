/**
 * Two replicas' coordinators on one store, the embedded store in memory and PostgreSQL (a fresh database,
 * dropped after): a job claimed by one is not handed to the other until released or expired (visibility
 * timeout), heartbeats keep a claim or lease, a lost lease aborts its holder, a tick is won once, `exclusive`
 * never overlaps, and change notices reach the other replica, well-formed ones only.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openConfiguredStore, openStore } from '../src/store/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/pg.ts';
import type { Store } from '../src/store/types.ts';
import { CHANGES_TOPIC, SharedCoordinator } from '../src/coordination/index.ts';
import type { DueWhere, QueueSpec } from '../src/coordination/index.ts';
import { waitFor } from './helpers/e2e.ts';

/** A queue collection of its own per test (the PostgreSQL database is shared by the tests of the file). */
let tests = 0;
let QUEUE: QueueSpec;
function newQueue(): QueueSpec {
  return {
    collection: `jobs_${++tests}`,
    due: (now): DueWhere[] => [{ status: 'pending' }, { status: 'retrying', next_attempt_at: { lte: now } }],
    partition: (d) => String(d.part),
    orderBy: 'created_at',
  };
}

let stores: Store[] = [];
let coordinators: SharedCoordinator[] = [];
let db: TestDatabase | undefined;
let kind: 'embedded' | 'postgres' = 'embedded';

/** The two replicas' stores: one embedded store shared in memory, or two PostgresStores (two pools) on one database. */
async function openPair(): Promise<[Store, Store]> {
  if (kind === 'embedded') {
    const s = await openStore({ memory: true });
    stores.push(s);
    return [s, s];
  }
  db ??= await createTestDatabase();
  const a = await openConfiguredStore({ dataDir: '', databaseUrl: db.url });
  const b = await openConfiguredStore({ dataDir: '', databaseUrl: db.url });
  stores.push(a, b);
  return [a, b];
}

async function twoReplicas(leaseMs = 300): Promise<{ store: Store; a: SharedCoordinator; b: SharedCoordinator }> {
  const [store, storeB] = await openPair();
  QUEUE = newQueue();
  const a = new SharedCoordinator({ store, replicaId: 'replica-a', leaseMs, pollMs: 50 });
  const b = new SharedCoordinator({ store: storeB, replicaId: 'replica-b', leaseMs, pollMs: 50 });
  coordinators.push(a, b);
  await a.start();
  await b.start();
  return { store, a, b };
}

afterEach(async () => {
  for (const c of coordinators) await c.stop();
  for (const s of stores) await s.close();
  stores = [];
  coordinators = [];
});

afterAll(async () => {
  await db?.drop();
});

async function addJobs(store: Store, n: number, status = 'pending'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `job_${i}`;
    await store.put(QUEUE.collection, id, { id, status, part: `p${i % 2}`, created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() });
    ids.push(id);
  }
  return ids;
}

describe.each(['embedded', 'postgres'] as const)('replica coordination on one %s store', (which) => {
  beforeAll(() => {
    kind = which;
  });

  it('hands each due job to one replica; a released job is free again; a held one only after its claim expires', async () => {
    // Long enough for the steps before the expiry to finish on a loaded machine.
    const { store, a, b } = await twoReplicas(1500);
    const ids = await addJobs(store, 4);
    await store.put(QUEUE.collection, 'later', { id: 'later', status: 'retrying', next_attempt_at: '2999-01-01T00:00:00.000Z', part: 'p0', created_at: '2026-01-02T00:00:00.000Z' });
    const qa = a.jobs(QUEUE);
    const qb = b.jobs(QUEUE);
    expect(await qa.claim(ids[0]!)).toBe(true);
    expect(await qa.claim(ids[0]!)).toBe(true); // its own claim
    expect(await qb.claim(ids[0]!)).toBe(false);
    const gotB = await qb.claimDue(10);
    expect(gotB.map((j) => j.id)).toEqual(ids.slice(1)); // oldest first, not the held one, not the retry due in 2999
    expect(gotB.map((j) => j.partition)).toEqual(['p1', 'p0', 'p1']);
    expect(await qa.claimDue(10)).toEqual([]);
    await qb.release(ids[1]!);
    expect((await qa.claimDue(10)).map((j) => j.id)).toEqual([ids[1]]);
    // Nobody releases or renews now (A "dies" holding ids[0] and ids[1]): after the visibility timeout every
    // claim has expired and B claims them all, A's included.
    const t0 = Date.now();
    const taken = new Set<string>();
    await waitFor('the expired claims', async () => {
      for (const j of await qb.claimDue(10)) taken.add(j.id);
      return taken.size === 4;
    }, 15_000, 50);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect([...taken].sort()).toEqual([...ids].sort());
  });

  it('keeps a claim alive with heartbeats while the job runs, and frees it once the heartbeat stops', async () => {
    const { store, a, b } = await twoReplicas(1000);
    const [id] = await addJobs(store, 1);
    const qa = a.jobs(QUEUE);
    const qb = b.jobs(QUEUE);
    expect(await qa.claim(id!)).toBe(true);
    const stop = qa.heartbeat(id!);
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      expect(await qb.claim(id!)).toBe(false);
      await new Promise((r) => setTimeout(r, 50));
    }
    stop();
    await waitFor('the claim to expire', () => qb.claim(id!), 10_000, 50);
  });

  it('gives a lease to one replica, keeps it with heartbeats, aborts a holder that lost it, and passes it on when the holder dies', async () => {
    const { store, a, b } = await twoReplicas(1000);
    const la = await a.lease('sync:c1/invoices');
    expect(la).toBeDefined();
    expect(await a.lease('sync:c1/invoices')).toBeUndefined(); // not twice in one process either
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      expect(await b.lease('sync:c1/invoices')).toBeUndefined();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(la!.signal.aborted).toBe(false);
    // Someone else takes it (as after a long pause of A): A's next heartbeat finds out and aborts.
    await store.releaseLease('sync:c1/invoices', 'replica-a');
    expect(await store.tryAcquireLease('sync:c1/invoices', 'intruder', 10_000)).toBe(true);
    await waitFor('A to notice the lost lease', () => la!.signal.aborted, 10_000, 20);
    expect((la!.signal.reason as { code?: string }).code).toBe('LEASE_LOST');
    await store.releaseLease('sync:c1/invoices', 'intruder');
    // A dies holding a lease (its timers stop, nothing is released): B gets it after the TTL.
    const l2 = await a.lease('backfill:c1');
    expect(l2).toBeDefined();
    await a.stop();
    expect(await b.lease('backfill:c1')).toBeUndefined();
    const lb = await waitFor('the dead holder\'s lease', () => b.lease('backfill:c1'), 10_000, 50);
    await lb.release();
    expect(await b.lease('backfill:c1')).toBeDefined();
  });

  it('elects one replica per cron tick, and never a tick at or before one already run', async () => {
    const { a, b } = await twoReplicas();
    const key = (iso: string) => `conn_1:invoices:0:${iso}`;
    const wins = await Promise.all([a.ticks.shouldRun(key('2026-12-01T12:00:00.000Z'), 1000), b.ticks.shouldRun(key('2026-12-01T12:00:00.000Z'), 1000)]);
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await a.ticks.shouldRun(key('2026-12-01T12:00:00.000Z'), 1000)).toBe(false);
    expect(await b.ticks.shouldRun(key('2026-12-01T12:00:02.000Z'), 1000)).toBe(true);
    expect(await a.ticks.shouldRun(key('2026-12-01T12:00:02.000Z'), 1000)).toBe(false);
    // Another schedule is its own.
    expect(await a.ticks.shouldRun(`conn_1:invoices:1:2026-12-01T12:00:02.000Z`, 1000)).toBe(true);
    await expect(Promise.resolve(a.ticks.shouldRun('no time in it', 1000))).rejects.toMatchObject({ code: 'SCHEDULE_TICK_KEY' });
  });

  it('runs `exclusive` sections one at a time across replicas', async () => {
    const { a, b } = await twoReplicas(300);
    let inside = 0;
    let overlap = false;
    const order: string[] = [];
    const section = (who: string) => async () => {
      inside++;
      if (inside > 1) overlap = true;
      order.push(`${who}+`);
      await new Promise((r) => setTimeout(r, 30));
      order.push(`${who}-`);
      inside--;
      return who;
    };
    const runs = await Promise.all([a.exclusive('oauth-refresh:c1', section('a1')), b.exclusive('oauth-refresh:c1', section('b1')), a.exclusive('oauth-refresh:c1', section('a2')), b.exclusive('oauth-refresh:c1', section('b2'))]);
    expect(runs).toEqual(['a1', 'b1', 'a2', 'b2']);
    expect(overlap).toBe(false);
    expect(order).toHaveLength(8);
  });

  it('tells the other replica what changed (origin remote), itself once (origin local), and ignores malformed notices', async () => {
    const { store, a, b } = await twoReplicas();
    const seenA: string[] = [];
    const seenB: string[] = [];
    a.onChange((t, id, o) => seenA.push(`${t}/${id}/${o}`));
    b.onChange((t, id, o) => seenB.push(`${t}/${id}/${o}`));
    await a.changed('api_keys', 'key_AbCd1234');
    for (const bad of ['not json', 'null', '[]', JSON.stringify({ t: '__proto__', id: 'x', r: 'z' }), JSON.stringify({ t: 'api_keys', id: 'x'.repeat(201), r: 'z' }), JSON.stringify({ t: 'api_keys', id: 7, r: 'z' }), JSON.stringify({ t: 'secrets', id: 'x', r: 'z' })]) {
      await store.publish(CHANGES_TOPIC, bad);
    }
    await store.publish(CHANGES_TOPIC, JSON.stringify({ t: 'connections', id: 'conn_9', r: 'replica-c' }));
    // Each replica has its own LISTEN connection: wait for both to hear the last notice.
    await waitFor('notices', () => seenB.length >= 2 && seenA.length >= 2, 3000, 10);
    expect(seenB).toEqual(['api_keys/key_AbCd1234/remote', 'connections/conn_9/remote']);
    expect(seenA).toEqual(['api_keys/key_AbCd1234/local', 'connections/conn_9/remote']);
  });
});
