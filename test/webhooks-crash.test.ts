/**
 * Nothing acknowledged is lost: a runtime process that answered 200 and was then killed (SIGKILL) before
 * processing the event processes it after a restart on the same data folder, and the tax reaches the fake
 * Rillet invoice. And under a burst of signed deliveries with re-sends interleaved (the same event again
 * while the original may still be in flight), a SIGKILL mid-burst loses nothing that got a 2xx, first
 * delivery or duplicate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/rillet.ts';
import { openStore } from '../src/store/index.ts';
import { EVENTS, eventDocId, listEvents } from '../src/webhooks/inbox.ts';
import { listJobs } from '../src/writeback/jobs.ts';
import { makeOrganization, waitFor } from './fixtures/webhooks/harness.ts';

const CHILD = new URL('./fixtures/webhooks/runtime-child.ts', import.meta.url).pathname;

function startChild(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
    if (process.env.DEBUG_CHILD) process.stderr.write(String(d));
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (l) => resolve({ child, url: (JSON.parse(l) as { url: string }).url }));
    child.once('exit', (code) => reject(new Error(`runtime child exited with ${code}: ${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

describe('crash after acknowledging, before processing', () => {
  let rillet: FakeRillet | undefined;
  let dir: string | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
    await rillet?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('processes the stored event after a restart and writes the tax once', async () => {
    rillet = await startFakeRillet({ seed: 11, counts: { customers: 2, products: 2, invoices: 0, creditNotes: 0 } });
    dir = await mkdtemp(join(tmpdir(), 'taxbridge-crash-'));
    const setup = await openStore({ dir });
    const org = await makeOrganization(setup);
    await setup.close();
    const env = { DATA_DIR: dir, ORG_ID: org.id, RILLET_URL: rillet.url, API_KEY: rillet.apiKey, SIGNING_TOKEN: rillet.signingToken, TOKEN: 'tok_crash_0123456789abcdef' };

    const first = await startChild({ ...env, PROCESS: '0' });
    children.push(first.child);
    const customer = rillet.createCustomer({ address: { line1: '1 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' } });
    const inv = rillet.createInvoice({ customer_id: customer.id, itemInputs: [{ quantity: '1', gross_rate: '200.00' }] });
    const res = await rillet.sendWebhook(first.url, { entity: 'INVOICE', event: 'CREATED', id: inv.id });
    expect(res.status).toBe(200);
    first.child.kill('SIGKILL');
    await exited(first.child);
    expect(rillet.data.invoices.get(inv.id)!.taxes_calculated_at).toBeUndefined();
    const second = await startChild({ ...env, PROCESS: '1' });
    children.push(second.child);
    await waitFor(() => rillet!.data.invoices.get(inv.id)!.taxes_calculated_at, 10_000, 'tax after the restart');
    expect(rillet.data.invoices.get(inv.id)!.taxed_amount.amount).toBe('16.50');
    second.child.kill('SIGTERM');
    await exited(second.child);

    const store = await openStore({ dir });
    try {
      const events = await listEvents(store);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ status: 'processed', attempts: 1 });
      const jobs = await listJobs(store);
      expect(jobs.map((j) => j.status)).toEqual(['applied']);
    } finally {
      await store.close();
    }
    expect(rillet.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/taxes'))).toHaveLength(1);
  });

  it('a SIGKILL during a burst with interleaved re-sends loses no acknowledged event', async () => {
    rillet = await startFakeRillet({ seed: 12, counts: { customers: 1, products: 1, invoices: 1, creditNotes: 0 } });
    dir = await mkdtemp(join(tmpdir(), 'taxbridge-crash-burst-'));
    const setup = await openStore({ dir });
    const org = await makeOrganization(setup);
    await setup.close();
    const env = { DATA_DIR: dir, ORG_ID: org.id, RILLET_URL: rillet.url, API_KEY: rillet.apiKey, SIGNING_TOKEN: rillet.signingToken, TOKEN: 'tok_burst_0123456789abcdef', PROCESS: '0' };
    const invoiceId = rillet.data.invoices.keys().next().value!;
    const acked = new Set<string>();
    let duplicatesAcked = 0;
    let killed = false;

    for (const killAfter of [150, 400]) {
      const run = await startChild(env);
      children.push(run.child);
      const sent: string[] = [];
      let next = 0;
      let acks = 0;
      const deliver = async (eventId: string) => {
        try {
          const res = await rillet!.sendWebhook(run.url, { entity: 'INVOICE', event: 'UPDATED', id: invoiceId }, { eventId });
          if (res.status === 200) {
            acked.add(eventId);
            if ((JSON.parse(res.body) as { duplicate: boolean }).duplicate) duplicatesAcked++;
            if (++acks >= killAfter && !killed) {
              killed = true;
              run.child.kill('SIGKILL');
            }
          }
        } catch {
          // Connection reset by the kill: not acknowledged.
        }
      };
      // 16 senders; each sends a new event together with a re-send of it (in flight at the same time) every
      // third time, and a re-send of a recent event every fifth time.
      const sender = async (w: number) => {
        for (let i = 0; !killed; i++) {
          const id = `burst-${killAfter}-${w}-${next++}`;
          sent.push(id);
          const batch = [deliver(id)];
          if (i % 3 === 0) batch.push(deliver(id));
          if (i % 5 === 0 && sent.length > 20) batch.push(deliver(sent[sent.length - 1 - ((i * 7) % 20)]!));
          await Promise.all(batch);
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, w) => sender(w)));
      await exited(run.child);
      killed = false;
    }
    expect(duplicatesAcked).toBeGreaterThan(0);

    const store = await openStore({ dir });
    try {
      const missing: string[] = [];
      for (const id of acked) if (!(await store.get(EVENTS, eventDocId('conn_crash', id)))) missing.push(id);
      expect(missing).toEqual([]);
      expect(acked.size).toBeGreaterThan(100);
    } finally {
      await store.close();
    }
  }, 120_000);
});
