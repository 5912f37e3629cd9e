import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/index.ts';
import { loadConnector, type ConnectionContext, type ConnectorSpec } from '../src/spec/index.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { runSync, type SyncSummary } from '../src/sync/index.ts';
import { diffStream, expectedRillet } from './fixtures/sync/expected.ts';

let spec: ConnectorSpec;
let fake: FakeRillet;
let store: Store;
beforeAll(() => {
  spec = loadConnector('connectors/rillet.yaml');
});
afterEach(async () => {
  await store?.close();
  await fake?.close();
});

function conn(id: string, subsidiaryId: string | undefined, apiKey = 'rillet_key'): ConnectionContext {
  return { connection_id: id, environment: 'production', base_url: fake.url, credentials: { api_key: apiKey }, settings: subsidiaryId ? { subsidiary_id: subsidiaryId } : {} };
}

const byStream = (summaries: SyncSummary[]) => Object.fromEntries(summaries.map((s) => [s.stream, s]));

/** The subsidiary with the most invoices (so its invoices span several pages). */
function busiestSubsidiary(): string {
  const counts = new Map<string, number>();
  for (const i of fake.data.invoices.values()) counts.set(i.subsidiary_id, (counts.get(i.subsidiary_id) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

async function expectEqualToSource(connectionId: string, subsidiaryId: string) {
  for (const [stream, want] of Object.entries(expectedRillet(fake, subsidiaryId))) expect(await diffStream(store, connectionId, stream, want)).toEqual([]);
}

describe('Rillet through connectors/rillet.yaml', () => {
  it("backfills every stream for the connection's subsidiary, entity by entity", async () => {
    fake = await startFakeRillet({ seed: 4, counts: { customers: 130, invoices: 400 } });
    store = await openStore({ memory: true });
    const sub = busiestSubsidiary();
    const s = byStream(await runSync({ spec, conn: conn('ril', sub), store }));
    expect(Object.values(s).map((x) => x.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(s.invoices!.pages).toBeGreaterThan(1);
    expect(s.customers!.pages).toBe(2);
    expect(Object.values(s).reduce((n, x) => n + x.failed, 0)).toBe(0);
    await expectEqualToSource('ril', sub);
    const listCalls = fake.requests.filter((r) => r.path === '/invoices');
    expect(listCalls.every((r) => r.query.subsidiary_id === sub && r.query.limit === '100')).toBe(true);
    expect(fake.requests.every((r) => r.headers['x-rillet-api-version'] === '4' && r.headers.authorization === 'Bearer rillet_key')).toBe(true);
  });

  it('incremental runs send updated.gt and pick up only what changed', async () => {
    fake = await startFakeRillet({ seed: 9, counts: { customers: 30, invoices: 120 } });
    store = await openStore({ memory: true });
    const sub = busiestSubsidiary();
    await runSync({ spec, conn: conn('ril', sub), store });
    const mine = [...fake.data.invoices.values()].filter((i) => i.subsidiary_id === sub);
    await new Promise((r) => setTimeout(r, 5));
    fake.updateInvoice(mine[3]!.id, { status: 'PAID' });
    const customer = [...fake.data.customers.values()][4]!;
    fake.updateCustomer(customer.id, { name: 'Renamed Ltd' });
    const created = fake.createInvoice({ subsidiary_id: sub, customer_id: customer.id });
    fake.requests.clear();
    const s = byStream(await runSync({ spec, conn: conn('ril', sub), store }));
    expect(s.invoices).toMatchObject({ mode: 'incremental', records: 2, created: 1, updated: 1, unchanged: 0 });
    expect(s.customers).toMatchObject({ mode: 'incremental', records: 1, updated: 1 });
    const since = fake.requests.find((r) => r.path === '/invoices')!.query['updated.gt'] as string;
    expect(Date.parse(since)).toBeGreaterThan(0);
    expect((await store.getEntity('ril', 'invoices', mine[3]!.id))!.data.status).toBe('paid');
    expect(await store.getEntity('ril', 'invoices', created.id)).toBeDefined();
    expect((await store.getEntity('ril', 'customers', customer.id))!.data.name).toBe('Renamed Ltd');
    await expectEqualToSource('ril', sub);
  });

  it('a missing subsidiary setting fails before any request', async () => {
    fake = await startFakeRillet({ seed: 1 });
    store = await openStore({ memory: true });
    await expect(runSync({ spec, conn: conn('ril', undefined), store })).rejects.toMatchObject({ code: 'CONNECTION_INCOMPLETE', message: expect.stringContaining('setting subsidiary_id') });
    expect(fake.requests).toHaveLength(0);
  });

  it('a revoked key is HTTP_BAD_CREDENTIALS', async () => {
    fake = await startFakeRillet({ seed: 1 });
    store = await openStore({ memory: true });
    const [first] = await runSync({ spec, conn: conn('ril-bad', 'sub_x', 'revoked_key_123'), store });
    expect(first!.error).toMatchObject({ code: 'http_bad_credentials' });
    expect(first!.error!.message).toMatch(/^Rillet rejected the credentials of connection "ril-bad" \(401/);
    expect(first!.error!.message).not.toContain('revoked_key_123');
  });
});
