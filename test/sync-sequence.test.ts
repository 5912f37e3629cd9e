import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSequence, type FakeSequence } from '../fakes/index.ts';
import { loadConnector, type ConnectionContext, type ConnectorSpec } from '../src/spec/index.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { fetchRecord, runSync, type SyncSummary } from '../src/sync/index.ts';
import { diffStream, expectedSequence } from './fixtures/sync/expected.ts';

let spec: ConnectorSpec;
let fake: FakeSequence;
let store: Store;
beforeAll(() => {
  spec = loadConnector('connectors/sequence.yaml');
});
afterEach(async () => {
  await store?.close();
  await fake?.close();
});

function conn(id: string, over: Partial<ConnectionContext['credentials']> = {}): ConnectionContext {
  return { connection_id: id, environment: 'production', base_url: fake.url, credentials: { client_id: 'seq_client', client_secret: 'seq_secret', ...over }, settings: {} };
}

const byStream = (summaries: SyncSummary[]) => Object.fromEntries(summaries.map((s) => [s.stream, s]));

async function expectEqualToSource(connectionId: string) {
  const expected = expectedSequence(fake);
  for (const [stream, want] of Object.entries(expected)) expect(await diffStream(store, connectionId, stream, want)).toEqual([]);
}

describe('Sequence through connectors/sequence.yaml', () => {
  it('backfills every stream entity by entity, with line items from the child requests', async () => {
    fake = await startFakeSequence({ seed: 7, counts: { customers: 60, products: 15, invoices: 230, creditNotes: 20 } });
    store = await openStore({ memory: true });
    const s = byStream(await runSync({ spec, conn: conn('seq'), store }));
    expect(Object.values(s).map((x) => x.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(s.invoices).toMatchObject({ mode: 'full', pages: 3, records: 230, created: 230, failed: 0 });
    expect(s.customers!.deleted).toBe([...fake.data.customers.values()].filter((c) => c.archivedAt).length);
    await expectEqualToSource('seq');
    // One line-item request per invoice and credit note, nothing fetched twice.
    const lineRequests = fake.requests.filter((r) => /\/line-items(\/all)?$/.test(r.path));
    expect(lineRequests).toHaveLength(250);
    expect(new Set(lineRequests.map((r) => r.path)).size).toBe(250);
    expect(fake.requests.every((r) => r.headers['sequence-version'] === '2024-07-30')).toBe(true);
    const runs = await store.list<SyncSummary>('sync_runs');
    expect(runs.map((r) => r.stream).sort()).toEqual(['credit_notes', 'customers', 'invoices', 'products']);
  });

  it('incremental runs pick up only what changed', async () => {
    fake = await startFakeSequence({ seed: 3, counts: { customers: 20, products: 10, invoices: 150, creditNotes: 5 } });
    store = await openStore({ memory: true });
    await runSync({ spec, conn: conn('seq'), store });
    const invoices = [...fake.data.invoices.values()];
    fake.updateInvoice(invoices[10]!.id, { paymentStatus: 'PAID' });
    fake.updateInvoice(invoices[140]!.id, { dueDate: '2031-01-31' });
    const added = fake.createInvoice({ customerId: invoices[0]!.customerId, lineCount: 3 });
    const product = [...fake.data.products.values()][2]!;
    fake.updateProduct(product.id, { name: 'Renamed product' });
    fake.requests.clear();
    const s = byStream(await runSync({ spec, conn: conn('seq'), store }));
    expect(s.invoices).toMatchObject({ mode: 'incremental', records: 3, created: 1, updated: 2, unchanged: 0, skipped: 150 - 2 });
    expect(s.products).toMatchObject({ mode: 'incremental', records: 1, updated: 1 });
    expect(s.credit_notes).toMatchObject({ mode: 'incremental', records: 0 });
    // Line items are fetched only for the changed invoices.
    expect(fake.requests.filter((r) => r.path.endsWith('/line-items/all')).map((r) => r.path.split('/')[3]).sort()).toEqual([invoices[10]!.id, invoices[140]!.id, added.id].sort());
    await expectEqualToSource('seq');
    expect((await store.getEntity('seq', 'invoices', invoices[10]!.id))!.data.payment_status).toBe('paid');
    const again = byStream(await runSync({ spec, conn: conn('seq'), store }));
    expect(again.invoices).toMatchObject({ records: 0, created: 0, updated: 0 });
  });

  it('archived customers are marked deleted on the next run', async () => {
    fake = await startFakeSequence({ seed: 5, counts: { customers: 12, products: 2, invoices: 3, creditNotes: 1 } });
    store = await openStore({ memory: true });
    await runSync({ spec, conn: conn('seq'), store, streams: ['customers'] });
    const target = [...fake.data.customers.values()].find((c) => !c.archivedAt)!;
    fake.archiveCustomer(target.id);
    const [s] = await runSync({ spec, conn: conn('seq'), store, streams: ['customers'] });
    expect(s!.deleted).toBe(1);
    expect((await store.getEntity('seq', 'customers', target.id))!.deleted).toBe(true);
    expect(await diffStream(store, 'seq', 'customers', expectedSequence(fake).customers!)).toEqual([]);
  });

  it('survives a 429 storm, 5xx bursts and dropped connections with every record', async () => {
    fake = await startFakeSequence({ seed: 11, counts: { customers: 30, products: 8, invoices: 210, creditNotes: 6 }, rateLimit: { requests: 50, perSeconds: 1 } });
    store = await openStore({ memory: true });
    fake.faults.failNext(3, 503);
    // Further bursts land on whatever request comes next as the run goes on: pages, line items, other streams.
    const bursts = [() => fake.faults.dropNext(1), () => fake.faults.failNext(2, 502), () => fake.faults.dropNext(1, { midBody: true }), () => fake.faults.failNext(1, 500)];
    const onProgress = () => bursts.shift()?.();
    const s = byStream(await runSync({ spec, conn: conn('seq-storm'), store, onProgress }));
    expect(Object.values(s).map((x) => x.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(fake.requests.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    expect(fake.requests.filter((r) => r.status >= 500 || r.status === 0).length).toBe(8);
    await expectEqualToSource('seq-storm');
  }, 30_000);

  it('bad credentials fail with HTTP_BAD_CREDENTIALS naming the connection; later streams are skipped', async () => {
    fake = await startFakeSequence({ seed: 1, counts: { customers: 3, products: 1, invoices: 2, creditNotes: 1 } });
    store = await openStore({ memory: true });
    const summaries = await runSync({ spec, conn: conn('seq-bad', { client_secret: 'wrong-secret-value' }), store });
    expect(summaries[0]).toMatchObject({ stream: 'customers', status: 'failed', error: { code: 'http_bad_credentials' } });
    expect(summaries[0]!.error!.message).toContain('Sequence rejected the credentials of connection "seq-bad"');
    expect(summaries[0]!.error!.message).toContain('must be replaced');
    expect(summaries[0]!.error!.hint).toContain('client_id, client_secret');
    expect(JSON.stringify(summaries)).not.toContain('wrong-secret-value');
    expect(summaries.slice(1).map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(fake.requests).toHaveLength(1);
    expect((await store.list<SyncSummary>('sync_runs'))[0]!.error!.code).toBe('http_bad_credentials');
  });

  it('fetchRecord re-reads one invoice with its lines and upserts it', async () => {
    fake = await startFakeSequence({ seed: 2, counts: { customers: 5, products: 3, invoices: 4, creditNotes: 1 } });
    store = await openStore({ memory: true });
    const inv = [...fake.data.invoices.values()][1]!;
    const first = await fetchRecord(spec, conn('seq'), store, 'invoices', inv.id);
    expect(first).toMatchObject({ status: 'created', external_id: inv.id, deleted: false });
    expect((first.entity!.data.lines as unknown[]).length).toBe(fake.lineItemsOf(inv.id).length);
    expect((await fetchRecord(spec, conn('seq'), store, 'invoices', inv.id)).status).toBe('unchanged');
    fake.updateInvoice(inv.id, { paymentStatus: 'PAID' });
    expect((await fetchRecord(spec, conn('seq'), store, 'invoices', inv.id)).status).toBe('updated');
    await expect(fetchRecord(spec, conn('seq'), store, 'invoices', '00000000-0000-7000-8000-000000000000')).rejects.toMatchObject({ code: 'HTTP_PERMANENT', status: 404 });
  });
});

afterAll(() => undefined);
