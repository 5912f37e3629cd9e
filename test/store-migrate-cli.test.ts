/**
 * `taxbridge store migrate --from <folder> --to <database>` and `taxbridge store check --database-url`:
 * a data folder with documents, synced records (one deleted), checkpoints and a cron tick is copied whole
 * into a fresh PostgreSQL database with counts; a second run skips what is done (resumable), --again copies
 * again without duplicating (idempotent); the check passes, then names a record changed behind its back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { openStore } from '../src/store/index.ts';
import { PostgresStore } from '../src/store/postgres/store.ts';
import { createTestDatabase, type TestDatabase } from './helpers/pg.ts';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'tb-migrate-'));
  const s = await openStore({ dir });
  await s.put('organizations', 'org_1', { id: 'org_1', name: 'Acme', created_at: '2026-01-01T00:00:00Z' });
  await s.put('connections', 'conn_1', { id: 'conn_1', organization_id: 'org_1', status: 'active', credentials: { api_key: 'v1.sealed.AAAA' }, created_at: '2026-01-01T00:00:00Z' });
  for (let i = 0; i < 1200; i++) await s.put('tax_calculations', `calc_${i}`, { id: `calc_${i}`, organization_id: 'org_1', mode: 'test', created_at: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z` });
  const writes = Array.from({ length: 1100 }, (_, i) => ({ external_id: `inv_${i}`, data: { total: `${i}.00` }, raw: { id: `inv_${i}` }, deleted: i === 7 }));
  await s.commitPage({ connectionId: 'conn_1', stream: 'invoices', entity: 'invoice', writes, checkpoint: { id: 'conn_1:invoices', value: { cursor: { value: '2026-01-02' }, run: null } } });
  await s.claimTick('conn_1:invoices:cron', '2026-01-01T00:15:00Z');
  await s.close();
}, 60_000);
afterAll(async () => {
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('taxbridge store migrate / check on PostgreSQL', () => {
  it('copies every table with counts, resumes, and copies again without duplicates', async () => {
    const r = await cli(['store', 'migrate', '--from', dir, '--to', db.url]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('collections/tax_calculations: 1200 row(s) copied, 1200 in the database');
    expect(r.out).toContain('entities/conn_1/invoices: 1100 row(s) copied, 1100 in the database');
    const pgStore = await PostgresStore.open({ url: db.url });
    try {
      const src = await openStore({ dir });
      try {
        expect(await pgStore.getEntity('conn_1', 'invoices', 'inv_5')).toEqual(await src.getEntity('conn_1', 'invoices', 'inv_5'));
        expect(await pgStore.getEntity('conn_1', 'invoices', 'inv_7')).toMatchObject({ deleted: true });
        expect(await pgStore.getCheckpoint('conn_1', 'invoices', 'conn_1:invoices')).toEqual({ cursor: { value: '2026-01-02' }, run: null });
        expect(await pgStore.get('connections', 'conn_1')).toEqual(await src.get('connections', 'conn_1'));
      } finally {
        await src.close();
      }
      expect(await pgStore.claimTick('conn_1:invoices:cron', '2026-01-01T00:15:00Z')).toBe(false); // already fired
      expect(await pgStore.countEntities('conn_1', 'invoices')).toEqual({ active: 1099, deleted: 1 });
    } finally {
      await pgStore.close();
    }
    const again = await cli(['store', 'migrate', '--from', dir, '--to', db.url]);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/skipped \d+ table\(s\) an earlier run finished/);
    const forced = await cli(['store', 'migrate', '--from', dir, '--to', db.url, '--again', '--json']);
    expect(forced.code, forced.err).toBe(0);
    const report = JSON.parse(forced.out);
    expect(report.tables.find((t: { table: string }) => t.table === 'entities/conn_1/invoices')).toEqual({ table: 'entities/conn_1/invoices', rows: 1100, in_database: 1100 });
  }, 120_000);

  it('store check reads the database: migrations, rows per table, and a record changed behind its back', async () => {
    const ok = await cli(['store', 'check', '--database-url', db.url, '--json']);
    expect(ok.code, ok.out + ok.err).toBe(0);
    const r = JSON.parse(ok.out);
    expect(r.migrations.pending).toEqual([]);
    expect(r.tables.find((t: { table: string }) => t.table === 'entities/conn_1/invoices')).toMatchObject({ rows: 1100, status: 'ok' });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`UPDATE taxbridge_entities SET data = '{"total":"999.00"}' WHERE external_id = 'inv_3'`);
    await c.end();
    const bad = await cli(['store', 'check', '--database-url', db.url]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('DAMAGED: 1 record(s) whose hash does not match their data (first: inv_3)');
  }, 60_000);

  it('usage errors exit 2; an unreachable database names the URL without its password', async () => {
    expect((await cli(['store', 'migrate', '--from', dir])).code).toBe(2);
    const r = await cli(['store', 'migrate', '--from', dir, '--to', 'postgres://u:hunter22@127.0.0.1:1/x']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('store_unreachable');
    expect(r.err).toContain('postgres://u:***@127.0.0.1:1/x');
    expect(r.err).not.toContain('hunter22');
  }, 60_000);
});
