import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeSequence, type FakeSequence } from '../fakes/index.ts';
import { openStore } from '../src/store/index.ts';
import type { SyncSummary } from '../src/sync/index.ts';
import { diffStream, expectedSequence } from './fixtures/sync/expected.ts';

const child = join(import.meta.dirname, 'fixtures', 'sync', 'sync-child.ts');
let fake: FakeSequence | undefined;
let dir: string | undefined;
afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the sync child; with `killAfterPage`, SIGKILLs it as soon as it reports that page committed. */
function runChild(killAfterPage?: number): Promise<{ killed: boolean; pages: number[]; summaries?: SyncSummary[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, fake!.url, dir!], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pages: number[] = [];
    let out = '';
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const m of d.toString().matchAll(/^page (\d+)$/gm)) {
        pages.push(Number(m[1]));
        if (Number(m[1]) === killAfterPage) p.kill('SIGKILL');
      }
    });
    p.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') return resolve({ killed: true, pages });
      if (code !== 0) return reject(new Error(`sync child exited ${code}: ${err}`));
      const last = out.trim().split('\n').pop()!;
      resolve({ killed: false, pages, summaries: JSON.parse(last) as SyncSummary[] });
    });
  });
}

describe('sync crash and resume', () => {
  it('a sync killed with SIGKILL mid-run and restarted ends with exactly the source data', async () => {
    fake = await startFakeSequence({ seed: 21, counts: { customers: 40, products: 10, invoices: 640, creditNotes: 2 }, latencyMs: 1 });
    dir = await mkdtemp(join(tmpdir(), 'tb-sync-crash-'));

    const first = await runChild(2);
    expect(first.killed).toBe(true);
    const second = await runChild(4);
    expect(second.killed).toBe(true);
    expect(second.pages[0]).toBeGreaterThanOrEqual(3); // resumed after the committed pages, not from page 1
    fake.requests.clear();
    const third = await runChild();
    const [summary] = third.summaries!;
    expect(summary).toMatchObject({ stream: 'invoices', status: 'ok', mode: 'full', failed: 0 });
    expect(summary!.resumed_from_page).toBeGreaterThanOrEqual(5);
    expect(third.pages.at(-1)).toBe(7);
    // The resumed run asked for the page after its checkpoint, with the saved cursor.
    const firstList = fake.requests.find((r) => r.path === '/api/invoices')!;
    expect(firstList.query.after).toBeDefined();

    const store = await openStore({ dir });
    expect(await diffStream(store, 'seq-crash', 'invoices', expectedSequence(fake).invoices!)).toEqual([]);
    expect(await store.countEntities('seq-crash', 'invoices')).toEqual({ active: 640, deleted: 0 });
    // The next run is incremental and finds nothing new.
    await store.close();
    const fourth = await runChild();
    expect(fourth.summaries![0]).toMatchObject({ mode: 'incremental', records: 0, created: 0 });
  });
});
