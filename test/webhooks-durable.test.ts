/**
 * Acknowledged means durable, over a real socket against `taxbridge serve` whose disk fails on demand (an
 * injected write path: writes take part of their bytes and throw ENOSPC / EIO): a delivery the store cannot
 * write gets 503 + Retry-After, its re-send gets 503 too (never "200 duplicate" for something not on disk),
 * /readyz answers 503 naming the table and the error while the disk fails and 200 again by itself once it
 * works, the re-send is then stored as a first delivery, and after a restart every acknowledged event is
 * there and no refused one appears from nowhere.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/index.ts';
import type { ServeConfig } from '../src/config/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { openStore } from '../src/store/index.ts';
import { createOrganization } from '../src/tax/orgs.ts';
import { eventDocId, EVENTS, type WebhookEventDoc } from '../src/webhooks/inbox.ts';
import { faultyFs } from './helpers/faulty-fs.ts';
import { inProcessConfig, startTestServer, until } from './helpers/e2e.ts';

let ril: FakeRillet;
let dataDir: string;
let config: ServeConfig;

beforeAll(async () => {
  ril = await startFakeRillet({ seed: 5, counts: { customers: 1, products: 1, invoices: 1, creditNotes: 0 } });
  dataDir = mkdtempSync(join(tmpdir(), 'tb-durable-'));
  config = inProcessConfig({ dataDir, env: { TAXBRIDGE_ADMIN_TOKEN: 'x'.repeat(24), TAXBRIDGE_SCHEDULES: 'false' } });
});
afterAll(async () => {
  await ril?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('webhooks on a failing disk', () => {
  it('503 + Retry-After while the disk fails, no duplicate for what is not stored, /readyz follows the disk, every ack survives a restart', async () => {
    const fs = faultyFs();
    const server: RunningServer = await startTestServer(config, { storeFileOps: fs.ops });
    let connectionId: string;
    const acked = new Set<string>();
    const refused = new Set<string>();
    try {
      const org = await createOrganization(server.store, { name: 'Durable Co', mode: 'test' });
      const sub = [...ril.data.subsidiaries.values()][0]!.id;
      const r = await server.connections.connect({ connector: 'rillet', organization_id: org.id, credentials: { api_key: ril.apiKey, signing_token: ril.signingToken }, settings: { subsidiary_id: sub }, base_url: ril.url });
      connectionId = r.connection.id;
      // The webhook URL is on the public URL; this server listens on a port of its own.
      const url = `${server.url}${new URL(r.webhook_url ?? r.connection.webhook_url!).pathname}`;
      const invoiceId = ril.data.invoices.keys().next().value!;
      // Let the backfill finish: its writes are not what this test looks at.
      await until(async () => {
        const d = await server.store.get<{ backfill?: { status?: string } }>('connections', connectionId);
        return d?.backfill?.status === 'succeeded' || d?.backfill?.status === 'failed' ? true : undefined;
      }, 'backfill');
      const send = async (eventId: string) => {
        const res = await ril.sendWebhook(url, { entity: 'INVOICE', event: 'UPDATED', id: invoiceId }, { eventId });
        if (res.status === 200) acked.add(eventId);
        return res;
      };
      const readyz = async () => {
        const res = await request(`${server.url}/readyz`);
        return { status: res.statusCode, json: (await res.body.json()) as { checks: { store: { ok: boolean; detail?: string; failing?: Array<{ table: string; code: string }> } } } };
      };
      const settled = (id: string) => async () => {
        const d = await server.store.get<WebhookEventDoc>(EVENTS, eventDocId(connectionId, id));
        return d && d.status !== 'pending' && d.status !== 'retrying' ? d : undefined;
      };

      expect((await send('evt-a')).status).toBe(200);
      await until(settled('evt-a'), 'evt-a processed');
      expect((await readyz()).status).toBe(200);

      // The original's fsync fails while its re-send waits for it: the original gets 503, the re-send stores
      // the event itself (a first delivery, not a duplicate of something that is not on disk).
      // Parks the fsync of the batch holding evt-c (event processing may write the same file meanwhile).
      const gate = fs.hold(/webhook_events\.journal$/, eventDocId(connectionId, 'evt-c'));
      const original = send('evt-c');
      await gate.reached;
      const resend = send('evt-c');
      fs.fail('EIO', { times: 1, match: /webhook_events\.journal$/ });
      gate.release();
      const [o, d] = await Promise.all([original, resend]);
      expect(o.status).toBe(503);
      expect(d.status).toBe(200);
      expect(JSON.parse(d.body)).toMatchObject({ received: true, duplicate: false });
      await until(settled('evt-c'), 'evt-c processed');

      // Disk full: the first delivery and every re-send are refused, nothing is acknowledged as duplicate.
      fs.fail('ENOSPC');
      for (let i = 0; i < 3; i++) {
        const res = await send('evt-b');
        expect(res.status).toBe(503);
        expect(JSON.parse(res.body)).toMatchObject({ type: 'api_error', code: 'webhook_store_unavailable' });
      }
      const r503 = await ril.sendWebhook(url, { entity: 'INVOICE', event: 'UPDATED', id: invoiceId }, { eventId: 'evt-refused' });
      expect(r503.status).toBe(503);
      refused.add('evt-refused');
      const headersRes = await request(url, { method: 'POST', body: r503.sent.body, headers: { 'content-type': 'application/json', ...r503.sent.headers } });
      expect(headersRes.statusCode).toBe(503);
      expect(headersRes.headers['retry-after']).toBe('5');
      await headersRes.body.text();
      const notReady = await readyz();
      expect(notReady.status).toBe(503);
      expect(notReady.json.checks.store.ok).toBe(false);
      expect(notReady.json.checks.store.detail).toContain('webhook_events (ENOSPC)');
      expect(notReady.json.checks.store.failing).toEqual(expect.arrayContaining([expect.objectContaining({ table: 'webhook_events', code: 'enospc' })]));

      // The disk recovers: readiness comes back by itself, and the sender's next retry stores the event.
      fs.heal();
      await until(async () => ((await readyz()).status === 200 ? true : undefined), '/readyz 200 after the disk recovered');
      const stored = await send('evt-b');
      expect(stored.status).toBe(200);
      expect(JSON.parse(stored.body)).toMatchObject({ duplicate: false });
      const dup = await send('evt-b');
      expect(JSON.parse(dup.body)).toMatchObject({ duplicate: true });
    } finally {
      await server.close();
    }

    const store = await openStore({ dir: dataDir });
    try {
      for (const id of acked) expect(await store.get(EVENTS, eventDocId(connectionId!, id)), id).toBeDefined();
      for (const id of refused) expect(await store.get(EVENTS, eventDocId(connectionId!, id)), id).toBeUndefined();
      expect([...acked].sort()).toEqual(['evt-a', 'evt-b', 'evt-c']);
    } finally {
      await store.close();
    }
  }, 60_000);
});
