/**
 * `taxbridge store check` as a real CLI process: clean, torn and damaged folders (exit 0, 0 with a warning,
 * 1), usage (2), --json, and a folder a running server holds (read, said to be live, LOCK untouched).
 * Nothing it reads is changed.
 */
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.ts';
import { runCli, startServe } from './helpers/serve-child.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function seeded(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tb-check-'));
  dirs.push(dir);
  const store = await openStore({ dir });
  await store.put('connections', 'conn_1', { id: 'conn_1' });
  await store.put('webhook_events', 'evt_1', { id: 'evt_1' });
  await store.put('webhook_events', 'evt_2', { id: 'evt_2' });
  await store.commitPage({
    connectionId: 'conn/1',
    stream: 'invoices',
    entity: 'invoice',
    writes: [1, 2, 3].map((i) => ({ external_id: `inv_${i}`, data: { total: `${i}.00` } })),
  });
  await store.close();
  return dir;
}

describe('taxbridge store check', () => {
  it('a clean folder: every table with rows, bytes and ok; exit 0', async () => {
    const dir = await seeded();
    const r = await runCli(['store', 'check', '--data', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Checking ${dir} (read only: nothing is changed)`);
    expect(r.stdout).toMatch(/collections\/connections\s+1\s+\d+\s+ok/);
    expect(r.stdout).toMatch(/collections\/webhook_events\s+2\s+\d+\s+ok/);
    // Ids are shown decoded from their file-name-safe form.
    expect(r.stdout).toMatch(/entities\/conn\/1\/invoices\s+3\s+\d+\s+ok/);
    expect(r.stdout).toMatch(/3 table\(s\), 6 row\(s\), \d+ bytes: 3 ok, 0 with a torn tail, 0 damaged/);
    expect(r.stdout).not.toContain('LOCK');
  });

  it('a torn tail is a warning (exit 0) and the file is left as it is', async () => {
    const dir = await seeded();
    const journal = join(dir, 'collections', 'webhook_events.journal');
    await appendFile(journal, '{"t":"p","k":"evt_3"}\t{"id":');
    const before = await readFile(journal);
    const r = await runCli(['store', 'check', '--data', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/collections\/webhook_events\s+2\s+\d+\s+torn tail \(28 bytes\)/);
    expect(r.stdout).toContain(`torn journal tail in ${journal}: 28 bytes from byte ${before.length - 28}`);
    expect(r.stdout).toContain('the next start drops them');
    expect(await readFile(journal)).toEqual(before);
  });

  it('damage: exit 1 with the same message as the start (file, offset, line, what is lost, what to do)', async () => {
    const dir = await seeded();
    const journal = join(dir, 'collections', 'connections.journal');
    const text = await readFile(journal, 'utf8');
    await writeFile(journal, `${text}{"t":"p","k":"conn_2"}\tnot json\n{"t":"c","s":9}\n`);
    const r = await runCli(['store', 'check', '--data', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/collections\/connections\s+-\s+\d+\s+DAMAGED/);
    const offset = Buffer.byteLength(text) + '{"t":"p","k":"conn_2"}\t'.length;
    expect(r.stdout).toContain(`store_corrupt: store file ${journal} is damaged at byte ${offset} (line 3): the value of row "conn_2" is not valid JSON`);
    expect(r.stdout).toContain('what to do: a sync cannot rebuild this table');
    expect(r.stdout).toMatch(/1 damaged/);

    const json = await runCli(['store', 'check', '--data', dir, '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    const conn = report.tables.find((t: { table: string }) => t.table === 'collections/connections');
    expect(conn).toMatchObject({ status: 'damaged', error: { code: 'store_corrupt', details: { file: journal, offset, line: 3 } }, advice: { rebuild: 'backup' } });
    expect(report.summary).toMatchObject({ tables: 3, damaged: 1 });

    // The start refuses it with the same words.
    const start = await runCli(['serve', '--data', dir, '--port', '0'], { ...process.env, TAXBRIDGE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), TAXBRIDGE_ADMIN_TOKEN: 'a'.repeat(32) });
    expect(start.code).toBe(1);
    expect(start.stderr).toContain(conn.error.message);
  });

  it('usage errors exit 2', async () => {
    expect((await runCli(['store'])).code).toBe(2);
    expect((await runCli(['store', 'verify'])).code).toBe(2);
    expect((await runCli(['store', 'check', '--nope'])).code).toBe(2);
    const missing = await runCli(['store', 'check', '--data', join(tmpdir(), 'tb-check-does-not-exist')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no data folder at');
    const help = await runCli(['--help']);
    expect(help.stdout).toMatch(/\n {2}store +Check the data folder offline/);
  });

  it('reads a folder a running server holds, says so, and leaves its LOCK alone', async () => {
    const dir = await seeded();
    const server = await startServe(dir);
    try {
      const lock = await readFile(join(dir, 'LOCK'), 'utf8');
      const r = await runCli(['store', 'check', '--data', dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`note: a LOCK is present (taxbridge process ${server.child.pid} on host`);
      expect(r.stdout).toContain('this read a live folder');
      expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe(lock);
      expect((await stat(join(dir, 'LOCK'))).isFile()).toBe(true);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
