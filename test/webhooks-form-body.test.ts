/**
 * A connector declaring `webhooks.body_encoding: form` (Maxio/Chargify-style deliveries): a signed
 * application/x-www-form-urlencoded delivery over a real socket is verified over its raw bytes, decoded into
 * the nested object the event rules read, stored, and applied to the store.
 */
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formEncode } from '../src/http/index.ts';
import { loadConnector } from '../src/spec/index.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { listEvents } from '../src/webhooks/inbox.ts';
import { compileSignature } from '../src/webhooks/signature.ts';
import { connection, makeOrganization, startHarness, waitFor, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';

const SECRET = 'whsec_form_test';

describe('form-encoded webhook deliveries', () => {
  let store: Store;
  let h: Harness;
  let conn: TestConnection;

  beforeAll(async () => {
    store = await openStore({ memory: true });
    const org = await makeOrganization(store);
    const spec = loadConnector(join(import.meta.dirname, 'fixtures', 'specs', 'formpay.yaml'));
    conn = connection(spec, org.id, { connection_id: 'conn_form', base_url: 'http://127.0.0.1:9', credentials: { api_key: 'sk_test_1', webhook_secret: SECRET } });
    h = await startHarness({ store, connections: [conn], writeback: false });
  });
  afterAll(async () => {
    await h.close();
    await store.close();
  });

  async function deliver(raw: string, sign = true) {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (sign) Object.assign(headers, await compileSignature(conn.spec.webhooks!.signature!).sign(SECRET, raw, headers, Date.now()));
    const res = await request(h.webhookUrl(conn), { method: 'POST', headers, body: raw });
    return { status: res.statusCode, body: await res.body.text() };
  }

  it('decodes bracketed fields into the object the rules read and upserts the record', async () => {
    const raw = formEncode({ id: 'ev_form_1', event: 'customer.updated', payload: { customer: { id: 'c9', name: 'Nine & Co' } } });
    expect(raw).toBe('id=ev_form_1&event=customer.updated&payload%5Bcustomer%5D%5Bid%5D=c9&payload%5Bcustomer%5D%5Bname%5D=Nine+%26+Co');
    const res = await deliver(raw);
    expect(res.status).toBeLessThan(300);
    const entity = await waitFor(() => store.getEntity('conn_form', 'customers', 'c9'), 5000, 'customer c9 stored');
    expect(entity.data).toMatchObject({ external_id: 'c9', name: 'Nine & Co' });
    const [event] = await listEvents(store);
    expect(event).toMatchObject({ event_id: 'ev_form_1', event_type: 'customer.updated', action: 'upsert', raw_body: raw });
  });

  it('still verifies the signature over the raw bytes: an unsigned form delivery is refused', async () => {
    const res = await deliver(formEncode({ id: 'ev_form_2', event: 'customer.updated' }), false);
    expect(res.status).toBe(401);
    expect((await listEvents(store)).map((e) => e.event_id)).not.toContain('ev_form_2');
  });
});
