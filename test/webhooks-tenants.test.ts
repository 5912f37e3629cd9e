/**
 * One webhook URL for many connections (`webhooks.url: per_connector`) with fan-out (`for_each`), over real
 * sockets with the fake QuickBooks sending batched, intuit-signature deliveries of several realms: each event
 * reaches only the connection of its realm, an event of an unknown realm is acknowledged, recorded and applied
 * to nothing, every item is its own inbox event, and the limits hold against hostile deliveries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeQuickBooks, type FakeQuickBooks } from '../fakes/quickbooks.ts';
import { loadConnector } from '../src/spec/index.ts';
import { listEvents } from '../src/webhooks/inbox.ts';
import { unroutedSummary } from '../src/webhooks/unrouted.ts';
import { listJobs } from '../src/writeback/jobs.ts';
import { connectionTenant } from '../src/webhooks/receive.ts';
import { ADMIN_TOKEN, connection, makeOrganization, startHarness, waitFor, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';

const spec = loadConnector(new URL('./fixtures/specs/wh-shared-realms.yaml', import.meta.url).pathname);
const VERIFIER = 'verifier-token-of-the-app';
const REALM_A = '9130354937465116';
const REALM_B = '4620816365251219';

let qbo: FakeQuickBooks;
let store: Store;
let h: Harness;
let a: TestConnection;
let b: TestConnection;
let url: string;

async function seedInvoice(c: TestConnection, id: string) {
  await store.commitPage({ connectionId: c.conn.connection_id, stream: 'invoices', entity: 'invoice', writes: [{ external_id: id, data: { external_id: id, currency: 'USD', payment_status: 'open' }, raw: { Id: id }, deleted: false }] });
}

beforeAll(async () => {
  qbo = await startFakeQuickBooks({ webhook: { verifierToken: VERIFIER } });
  store = await openStore({ memory: true });
  const org = await makeOrganization(store);
  a = connection(spec, org.id, { connection_id: 'conn_realm_a', base_url: 'https://books.test/v3', credentials: {}, settings: { realm_id: REALM_A } });
  b = connection(spec, org.id, { connection_id: 'conn_realm_b', base_url: 'https://books.test/v3', credentials: {}, settings: { realm_id: REALM_B } });
  const all = [a, b];
  h = await startHarness({
    connections: all,
    store,
    receiver: {
      connectors: {
        spec: (name) => (name === spec.name ? spec.webhooks : undefined),
        appSecrets: () => [VERIFIER],
        connectionsFor: async (_n, tenant) => all.filter((c) => connectionTenant(spec.webhooks!, c.conn.settings) === tenant),
      },
    },
  });
  url = `${h.origin}/webhooks/connectors/${spec.name}`;
  await seedInvoice(a, '130');
  await seedInvoice(b, '130');
});
afterAll(async () => {
  await h?.close();
  await store?.close();
  await qbo?.close();
});

describe('one webhook URL for every connection, routed by tenant', () => {
  it('applies a delivery of realm B to B only, never to A whose invoice has the same id', async () => {
    const r = await qbo.sendWebhook(url, [{ realmId: REALM_B, entities: [{ name: 'Invoice', id: '130', operation: 'Update', lastUpdated: '2026-11-01T10:00:00.000Z' }] }]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ received: true, events: 1, unrouted: 0 });
    await waitFor(async () => (await listEvents(store, { connectionId: b.conn.connection_id })).find((e) => e.status === 'processed'), 5000, 'B event processed');
    await h.runtime.idle();
    expect((await store.getEntity(b.conn.connection_id, 'invoices', '130'))!.data).toMatchObject({ payment_status: 'update' });
    // A: the same invoice id, untouched; no event, no write-back job.
    expect((await store.getEntity(a.conn.connection_id, 'invoices', '130'))!.data).toMatchObject({ payment_status: 'open' });
    expect(await listEvents(store, { connectionId: a.conn.connection_id })).toEqual([]);
    expect(await listJobs(store, { connectionId: a.conn.connection_id })).toEqual([]);
  });

  it('splits a batch of 3 entities of A and 1 of an unknown realm: 3 events for A, 1 acknowledged and counted, nothing else touched', async () => {
    const before = (await unroutedSummary(store, spec.name)).count;
    const r = await qbo.sendWebhook(url, [
      { realmId: REALM_A, entities: [1, 2, 3].map((i) => ({ name: 'Invoice', id: `9${i}`, operation: 'Create', lastUpdated: '2026-11-01T11:00:00.000Z' })) },
      { realmId: '5555555555555555', entities: [{ name: 'Invoice', id: '130', operation: 'Delete', lastUpdated: '2026-11-01T11:00:00.000Z' }] },
    ]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ received: true, events: 3, unrouted: 1 });
    const events = await listEvents(store, { connectionId: a.conn.connection_id });
    expect(events.map((e) => e.event_type).sort()).toEqual(['invoice.create', 'invoice.create', 'invoice.create']);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    const s = await unroutedSummary(store, spec.name);
    expect(s.count).toBe(before + 1);
    expect(s.recent[0]).toMatchObject({ tenant: '5555555555555555', event_type: 'invoice.delete' });
    await h.runtime.idle();
    // The unknown realm's delete of invoice 130 reached neither A nor B.
    expect((await store.getEntity(a.conn.connection_id, 'invoices', '130'))!.deleted).toBe(false);
    expect((await store.getEntity(b.conn.connection_id, 'invoices', '130'))!.deleted).toBe(false);
  });

  it('de-duplicates each item on its own: a redelivery stores nothing new and counts no unrouted event twice', async () => {
    const notes = [
      { realmId: REALM_B, entities: [{ name: 'Invoice', id: '77', operation: 'Create', lastUpdated: '2026-11-02T00:00:00.000Z' }] },
      { realmId: 'nobody', entities: [{ name: 'Invoice', id: '77', operation: 'Create', lastUpdated: '2026-11-02T00:00:00.000Z' }] },
    ];
    await qbo.sendWebhook(url, notes);
    const count = (await unroutedSummary(store, spec.name)).count;
    const n = (await listEvents(store, { connectionId: b.conn.connection_id })).length;
    const again = await qbo.sendWebhook(url, notes);
    expect(JSON.parse(again.body)).toMatchObject({ events: 1, duplicate: true, unrouted: 1 });
    expect((await listEvents(store, { connectionId: b.conn.connection_id })).length).toBe(n);
    expect((await unroutedSummary(store, spec.name)).count).toBe(count);
  });

  it('treats prototype names and odd values as tenants of nobody (acknowledged, applied to nothing)', async () => {
    const before = (await unroutedSummary(store, spec.name)).count;
    const weird = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x'.repeat(300)];
    const r = await qbo.sendWebhook(url, weird.map((realmId, i) => ({ realmId, entities: [{ name: 'Invoice', id: `p${i}`, operation: 'Create', lastUpdated: '2026-11-03T00:00:00.000Z' }] })));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ events: 0, unrouted: 5 });
    const s = await unroutedSummary(store, spec.name, 100);
    expect(s.count).toBe(before + 5);
    // Over 200 characters a tenant is not a tenant: recorded as none.
    expect(s.recent.filter((u) => u.tenant === null).length).toBeGreaterThanOrEqual(1);
    expect(({} as Record<string, unknown>).realm_id).toBeUndefined();
  });

  it('refuses a delivery fanning out into 10,000 items (limit 1000) with 413 and stores nothing of it', async () => {
    const before = (await listEvents(store)).length;
    const r = await qbo.sendWebhook(url, [{ realmId: REALM_A, entities: Array.from({ length: 10_000 }, (_, i) => ({ name: 'Invoice', id: String(i), operation: 'Create', lastUpdated: '2026-11-04T00:00:00.000Z' })) }]);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'webhook_too_many_events' });
    expect((await listEvents(store)).length).toBe(before);
  });

  it('keeps the other items when one cannot be routed: it is stored failed with its reason, the rest are processed', async () => {
    const r = await qbo.sendWebhook(url, [{ realmId: REALM_A, entities: [
      { name: 'Invoice', id: 'ok1', operation: 'Create', lastUpdated: '2026-11-05T00:00:00.000Z' },
      { name: 'Invoice', id: '', operation: 'Update', lastUpdated: '2026-11-05T00:00:00.000Z' },
      { name: 'Invoice', id: 'ok2', operation: 'Create', lastUpdated: '2026-11-05T00:00:00.000Z' },
    ] }]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ events: 3 });
    await h.runtime.idle();
    const evs = (await listEvents(store, { connectionId: a.conn.connection_id })).filter((e) => e.received_at >= '1970' && e.raw_body.includes('2026-11-05'));
    expect(evs.filter((e) => e.status === 'failed').map((e) => e.last_error?.code)).toEqual(['webhook_record_missing']);
    expect(evs.filter((e) => e.status !== 'failed').length).toBe(2);
  });

  it('refuses a wrong intuit-signature with 401 and an unknown connector with 404, storing nothing', async () => {
    const before = (await listEvents(store)).length;
    const bad = await qbo.sendWebhook(url, [{ realmId: REALM_A, entities: [{ name: 'Invoice', id: '1', operation: 'Create' }] }], { verifierToken: 'not-the-token' });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.body)).toMatchObject({ code: 'webhook_signature_invalid' });
    const tampered = await qbo.sendWebhook(url, [{ realmId: REALM_A, entities: [{ name: 'Invoice', id: '1', operation: 'Create' }] }], { tamper: true });
    expect(tampered.status).toBe(401);
    const unknown = await qbo.sendWebhook(`${h.origin}/webhooks/connectors/__proto__`, [{ realmId: REALM_A, entities: [{ name: 'Invoice', id: '1', operation: 'Create' }] }]);
    expect(unknown.status).toBe(404);
    expect((await listEvents(store)).length).toBe(before);
  });

  it('shows the unrouted count on the admin API', async () => {
    const res = await fetch(`${h.origin}/admin/webhooks/unrouted?connector=${spec.name}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { count: number; recent: unknown[] } };
    expect(body.data.count).toBeGreaterThanOrEqual(7);
    expect((await fetch(`${h.origin}/admin/webhooks/unrouted?connector=${spec.name}`)).status).toBe(401);
  });
});
