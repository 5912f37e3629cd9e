/**
 * Back-pressure over a real socket and the real embedded store on a disk that stops syncing: calculations
 * waiting for the disk form a bounded queue; when it is full the answer is 503 recording_backlog with
 * Retry-After (nothing calculated, nothing held), and service resumes by itself once the disk catches up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeWriteFileOps, openStore, type Store, type WriteFileOps } from '../src/store/index.ts';
import { startTaxServer, type TaxServer } from './helpers/tax-server.ts';

const AUSTIN = { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const calc = { currency: 'usd', customer_address: AUSTIN, line_items: [{ id: 'l1', amount: 1000, product_id: 'p' }] };

/** node:fs, except that fsyncs of the tax_calculations journal wait while `stalled` (a disk that hangs). */
function stallingDisk() {
  let release: () => void = () => undefined;
  let gate: Promise<void> | undefined;
  const ops: WriteFileOps = {
    ...nodeWriteFileOps,
    async open(path, flags, mode) {
      const fh = await nodeWriteFileOps.open(path, flags, mode);
      if (!path.includes('tax_calculations')) return fh;
      const wait = async () => {
        while (gate) await gate;
      };
      return {
        write: (b, o, l) => fh.write(b, o, l),
        truncate: (n) => fh.truncate(n),
        close: () => fh.close(),
        datasync: async () => {
          await wait();
          return fh.datasync();
        },
        sync: async () => {
          await wait();
          return fh.sync();
        },
      };
    },
  };
  return {
    ops,
    stall: () => (gate = new Promise<void>((r) => (release = r))),
    resume: () => {
      gate = undefined;
      release();
    },
  };
}

let s: TaxServer<Store> | undefined;
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await s?.close();
  s = undefined;
  for (const c of cleanup.splice(0)) await c();
});

async function setup(opts: { maxPendingRecords?: number; maxPendingBytes?: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'tb-backpressure-'));
  const disk = stallingDisk();
  const store = await openStore({ dir, fileOps: disk.ops });
  cleanup.push(async () => {
    disk.resume();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  s = await startTaxServer({ store, ...opts });
  const org = await s.service.createOrganization({ name: 'Slow Disk Co', mode: 'test', default_product_tax_code: 'saas' });
  await s.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
  const key = (await s.service.createApiKey(org.id)).key;
  const server = s;
  const post = () => server.post('/tax_api/calculate_tax', calc, { 'x-api-key': key });
  expect((await post()).status).toBe(200); // the table exists and is on disk before the stall
  await s.service.flush();
  return { disk, key, post, server };
}

describe('back-pressure on recording', () => {
  it('a full queue of records not yet on disk: 503 recording_backlog with Retry-After, then recovery', async () => {
    const { disk, key, post, server } = await setup({ maxPendingRecords: 5 });
    disk.stall();
    const answered: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post();
      expect(r.status, r.text).toBe(200);
      answered.push(r.json.data.sphere_tax_calculation_id);
    }
    expect(server.service.backlog().count).toBe(5);
    for (let i = 0; i < 3; i++) {
      const r = await post();
      expect(r.status, r.text).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json).toMatchObject({ type: 'api_error', code: 'recording_backlog' });
      expect(r.json.message).toMatch(/faster than they can be recorded \(5 waiting for the disk\)/);
    }
    expect(server.service.backlog().count).toBe(5); // refused requests hold nothing
    // what was answered stays readable while it waits for the disk
    expect((await server.get(`/tax_api/calculations/${answered[0]}`, { 'x-api-key': key })).status).toBe(200);
    disk.resume();
    await server.service.flush();
    expect(server.service.backlog()).toEqual({ count: 0, bytes: 0 });
    expect((await post()).status).toBe(200);
  });

  it('the queue is bounded in bytes too', async () => {
    const { disk, post, server } = await setup({ maxPendingBytes: 4000 });
    disk.stall();
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < 20; i++) {
      const r = await post();
      if (r.status === 200) ok++;
      else if (r.status === 503 && r.json.code === 'recording_backlog') refused++;
    }
    expect(ok).toBeGreaterThan(0);
    expect(refused).toBe(20 - ok);
    expect(server.service.backlog().bytes).toBeLessThan(4000 + 2000);
    disk.resume();
    await server.service.flush();
    expect((await post()).status).toBe(200);
  });
});
