import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.ts';

const writer = join(import.meta.dirname, 'fixtures', 'sync', 'store-crash-writer.ts');
let dir: string;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the writer until it has acknowledged `pages` more pages, then SIGKILLs it mid-write. */
function runAndKill(pages: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let acked = -1;
    let seen = 0;
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        const m = /^committed (\d+)$/.exec(line);
        if (!m) continue;
        acked = Math.max(acked, Number(m[1]));
        if (++seen === pages) child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(acked) : reject(new Error(`writer exited ${code}: ${err}`))));
  });
}

describe('store crash safety', () => {
  it('a writer killed with SIGKILL during writes leaves whole pages and a checkpoint matching them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-crash-'));
    let lastAcked = -1;
    for (const pages of [7, 30, 55]) {
      lastAcked = await runAndKill(pages);
      const store = await openStore({ dir });
      const checkpoint = await store.getCheckpoint('conn', 'invoices', 'conn:invoices');
      const page = checkpoint!.page as number;
      // Everything acknowledged is there; the checkpoint may be ahead of the last line the parent read.
      expect(page).toBeGreaterThanOrEqual(lastAcked);
      const all = await store.listEntities('conn', 'invoices');
      expect(all).toHaveLength((page + 1) * 40);
      const perPage = new Map<number, number>();
      for (const e of all) perPage.set(e.data.page as number, (perPage.get(e.data.page as number) ?? 0) + 1);
      for (let p = 0; p <= page; p++) expect(perPage.get(p)).toBe(40);
      expect(await store.get('sync_state', 'conn:invoices')).toEqual({ page });
      await store.close();
    }
  });
});
