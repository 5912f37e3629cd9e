/** `taxbridge events` and `taxbridge writebacks` over a data folder: listings with outcomes, filters, dead letters. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/rillet.ts';
import { main } from '../src/cli/main.ts';
import { openStore } from '../src/store/index.ts';
import { connection, makeOrganization, spec, startHarness, waitFor } from './fixtures/webhooks/harness.ts';
import { listJobs } from '../src/writeback/jobs.ts';

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await main(args), out };
  } finally {
    spy.mockRestore();
  }
}

describe('taxbridge events / writebacks', () => {
  let dir: string;
  let rillet: FakeRillet;
  let invoiceId: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taxbridge-cli-wh-'));
    rillet = await startFakeRillet({ seed: 2, counts: { customers: 1, products: 1, invoices: 0, creditNotes: 0 }, readOnly: true });
    const store = await openStore({ dir });
    const org = await makeOrganization(store);
    const conn = connection(spec('rillet'), org.id, { connection_id: 'conn_cli', base_url: rillet.url, settings: { subsidiary_id: 'sub_us' }, credentials: { api_key: rillet.apiKey, signing_token: rillet.signingToken } });
    const h = await startHarness({ store, connections: [conn] });
    const customer = rillet.createCustomer({ address: { line1: '1 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' } });
    invoiceId = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '10.00' }] }).id;
    await rillet.sendWebhook(h.webhookUrl(conn), { entity: 'INVOICE', event: 'CREATED', id: invoiceId });
    await rillet.sendWebhook(h.webhookUrl(conn), { entity: 'CONTRACT', event: 'CREATED', id: 'ctr_1', resource: { id: 'ctr_1' } });
    await waitFor(async () => (await listJobs(store, { status: 'dead' })).length === 1, 5000, 'a dead job');
    await h.close();
    await store.close();
  });
  afterAll(async () => {
    await rillet.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists events newest first with their outcomes, and filters them', async () => {
    const all = await cli(['events', '--data', dir, '--json']);
    expect(all.code).toBe(0);
    const rows = JSON.parse(all.out) as Array<{ event_type: string; status: string; raw_body?: string; outcome?: { writeback?: { status: string } } }>;
    expect(rows.map((r) => [r.event_type, r.status])).toEqual([
      ['CONTRACT.CREATED', 'ignored'],
      ['INVOICE.CREATED', 'processed'],
    ]);
    expect(rows[1]!.outcome?.writeback?.status).toBe('pending');
    expect(rows[0]).not.toHaveProperty('raw_body');
    const text = await cli(['events', '--data', dir, '--status', 'processed']);
    expect(text.out).toMatch(/INVOICE\.CREATED\s+processed\s+1\s+upsert inv_\S+ created; write-back pending/);
    expect(text.out).not.toContain('CONTRACT');
    expect((await cli(['events', '--data', dir, '--status', 'bogus'])).code).toBe(2);
  });

  it('lists dead write-backs with the reason', async () => {
    const dead = await cli(['writebacks', '--data', dir, '--dead']);
    expect(dead.code).toBe(0);
    expect(dead.out).toContain(`invoice ${invoiceId}`);
    expect(dead.out).toMatch(/dead\s+1\/6\s+0\.83 USD\s+.*403/);
    const none = await cli(['writebacks', '--data', dir, '--status', 'applied', '--json']);
    expect(JSON.parse(none.out)).toEqual([]);
  });
});
