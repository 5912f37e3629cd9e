/**
 * A damaged store is refused, clearly: `taxbridge serve` (a real child process) on a folder with a damaged
 * table stops before listening, exits non-zero and names the file, the byte offset and line, what is lost
 * and what to do; it never deletes the LOCK of a server already running on the folder; a torn journal tail
 * is cut with a warning naming the file and the bytes, keeping the data before it. In process: every
 * JSON.parse failure is a STORE_CORRUPT naming file and offset, and the advice says which tables a sync
 * rebuilds.
 */
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, type StoreWarning } from '../src/store/index.ts';
import { startServe, serveUntilExit, type ServeChild } from './helpers/serve-child.ts';

const dirs: string[] = [];
const running: ServeChild[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tb-damage-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A folder with a connection, two webhook events and a synced stream. */
async function seeded(): Promise<string> {
  const dir = await tempDir();
  const store = await openStore({ dir });
  await store.put('connections', 'conn_1', { id: 'conn_1', connector: 'rillet' });
  await store.put('webhook_events', 'evt_1', { id: 'evt_1', status: 'processed' });
  await store.put('webhook_events', 'evt_2', { id: 'evt_2', status: 'processed' });
  await store.commitPage({ connectionId: 'conn_1', stream: 'invoices', entity: 'invoice', writes: [{ external_id: 'inv_1', data: { total: '1.00' } }] });
  await store.close();
  return dir;
}

describe('taxbridge serve on a damaged folder', () => {
  for (const table of ['connections', 'webhook_events']) {
    it(`exits non-zero before listening when ${table} is damaged, naming the file, offset, line and what to do`, async () => {
      const dir = await seeded();
      const journal = join(dir, 'collections', `${table}.journal`);
      const size = (await stat(journal)).size;
      // Damage in the middle: an unreadable line with committed lines after it (not a torn tail).
      const text = await readFile(journal, 'utf8');
      await writeFile(journal, `${text}garbage\n${text}`);

      const r = await serveUntilExit(dir);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('store_corrupt');
      expect(r.stderr).toContain(journal);
      expect(r.stderr).toContain(`at byte ${size} (line ${text.split('\n').length})`);
      expect(r.stderr).toContain(`collections/${table}`);
      expect(r.stderr).toMatch(/a sync cannot rebuild this table: stop taxbridge and restore .* from a backup/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.logs.some((l) => l.msg === 'listening')).toBe(false);
      // Its own lock is released: the folder can be opened once repaired.
      await expect(stat(join(dir, 'LOCK'))).rejects.toMatchObject({ code: 'ENOENT' });
    });
  }

  it('a second serve on a (damaged) folder a running server holds exits with STORE_LOCKED naming it, and the LOCK stays', async () => {
    const dir = await seeded();
    const first = await startServe(dir);
    running.push(first);
    // The folder is damaged while the first server runs (a disk fault): a second start must not touch its LOCK.
    const journal = join(dir, 'collections', 'connections.journal');
    await writeFile(journal, `garbage\n${await readFile(journal, 'utf8')}`);
    const lockBefore = await readFile(join(dir, 'LOCK'), 'utf8');
    const holder = JSON.parse(lockBefore) as { pid: number; host: string };
    expect(holder.pid).toBe(first.child.pid);

    const second = await serveUntilExit(dir);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('store_locked');
    expect(second.stderr).toContain(`taxbridge process ${first.child.pid} on host ${holder.host}`);
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe(lockBefore);
    expect((await request(`${first.url}/healthz`)).statusCode).toBe(200);
    expect(await first.stop()).toBe(0);
    await expect(stat(join(dir, 'LOCK'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a damaged entity table is refused too, with the sync that rebuilds it', async () => {
    const dir = await seeded();
    const snapshotless = join(dir, 'entities', 'conn_1', 'invoices.journal');
    const text = await readFile(snapshotless, 'utf8');
    const tab = text.indexOf('\t');
    // A committed put whose value is not JSON.
    await writeFile(snapshotless, `${text.slice(0, tab + 1)}{"total":1.0.0}\n${text.slice(text.indexOf('\n') + 1)}`);
    const r = await serveUntilExit(dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${snapshotless} is damaged at byte ${Buffer.byteLength(text.slice(0, tab + 1))} (line 1)`);
    expect(r.stderr).toContain('the value of row "inv_1" is not valid JSON');
    expect(r.stderr).toContain('taxbridge sync --connection conn_1 --stream invoices --full');
  });
});

describe('torn journal tails', () => {
  it('serve drops a torn tail with a warning naming the file and bytes, keeps what came before, and appends after it', async () => {
    const dir = await seeded();
    const journal = join(dir, 'collections', 'webhook_events.journal');
    const original = await readFile(journal, 'utf8');
    const before = Buffer.byteLength(original);
    const torn = '{"t":"p","k":"evt_3"}\t{"id":"evt_3"}\n{"t":"p","k":"evt_4"}\t{"id":"ev';
    await appendFile(journal, torn);

    const s = await startServe(dir);
    running.push(s);
    const warning = s.logs.find((l) => l.code === 'STORE_TORN_TAIL');
    expect(warning).toMatchObject({ level: 'warn', file: journal, bytes: Buffer.byteLength(torn), offset: before });
    expect(warning!.msg).toContain(`dropped the torn journal tail of ${journal}: ${Buffer.byteLength(torn)} bytes`);
    expect(await s.stop()).toBe(0);
    // Cut back to the last commit: whatever the server wrote since follows it, not the garbage.
    const after = await readFile(journal, 'utf8');
    expect(after.startsWith(original)).toBe(true);
    expect(after).not.toContain('evt_4');

    const store = await openStore({ dir });
    expect((await store.list<{ id: string }>('webhook_events')).map((e) => e.id).sort()).toEqual(['evt_1', 'evt_2']);
    await store.put('webhook_events', 'evt_5', { id: 'evt_5' });
    await store.close();
    const again = await openStore({ dir, verify: true });
    expect((await again.list<{ id: string }>('webhook_events')).map((e) => e.id).sort()).toEqual(['evt_1', 'evt_2', 'evt_5']);
    await again.close();
  });

  it('the store reports torn tails through onWarning (entity tables included)', async () => {
    const dir = await seeded();
    const journal = join(dir, 'entities', 'conn_1', 'invoices.journal');
    await appendFile(journal, '{"t":"p","k":"inv_2"}\t{"data":');
    const warnings: StoreWarning[] = [];
    const store = await openStore({ dir, verify: true, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([expect.objectContaining({ code: 'STORE_TORN_TAIL', file: journal, bytes: 30 })]);
    expect((await store.listEntities('conn_1', 'invoices')).map((e) => e.external_id)).toEqual(['inv_1']);
    await store.close();
  });
});

describe('every parse failure names the file and offset', () => {
  it('a bad value in a snapshot', async () => {
    const dir = await tempDir();
    let store = await openStore({ dir, compactAfterBytes: 1 });
    await store.put('organizations', 'org_1', { id: 'org_1', name: 'Acme' });
    // Larger than the snapshot so far: compacted, both rows in the snapshot.
    await store.put('organizations', 'org_2', { id: 'org_2', name: 'Beta', note: 'x'.repeat(200) });
    await store.close();
    const snapshot = join(dir, 'collections', 'organizations.jsonl');
    const text = await readFile(snapshot, 'utf8');
    const at = text.indexOf('"Beta"');
    await writeFile(snapshot, `${text.slice(0, at)}Beta"${text.slice(at + 6)}`);
    store = await openStore({ dir });
    // Opened lazily (no verify): the first read fails with the same clear error, not a bare SyntaxError.
    const e = await store.get('organizations', 'org_1').catch((x: unknown) => x);
    await store.close();
    expect(e).toMatchObject({
      code: 'STORE_CORRUPT',
      details: { file: snapshot, line: 3, table: 'collections/organizations', rebuild: 'backup' },
    });
    const line3 = text.split('\n').slice(0, 2).join('\n').length + 1;
    expect((e as { details: { offset: number } }).details.offset).toBe(line3 + text.split('\n')[2]!.indexOf('\t') + 1);
    expect((e as Error).message).toMatch(/is damaged at byte \d+ \(line 3\): the value of row "org_2" is not valid JSON/);
    await expect(openStore({ dir, verify: true })).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    // The refused open released its lock.
    await expect(stat(join(dir, 'LOCK'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a snapshot cut short, and one with a wrong row count', async () => {
    const dir = await tempDir();
    let store = await openStore({ dir, compactAfterBytes: 1 });
    await store.put('sync_runs', 'r1', { id: 'r1' });
    await store.put('sync_runs', 'r2', { id: 'r2', note: 'x'.repeat(200) });
    await store.close();
    const snapshot = join(dir, 'collections', 'sync_runs.jsonl');
    const text = await readFile(snapshot, 'utf8');
    await writeFile(snapshot, text.slice(0, text.lastIndexOf('{"t":"e"')));
    await expect(openStore({ dir, verify: true })).rejects.toMatchObject({
      code: 'STORE_CORRUPT',
      message: expect.stringContaining('no end marker'),
      details: { file: snapshot, rebuild: 'sync' },
    });
    await writeFile(snapshot, text.replace('"n":2', '"n":3'));
    store = await openStore({ dir });
    await expect(store.list('sync_runs')).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining('holds 2 rows, its end marker says 3') });
    await store.close();
  });
});

describe('checksums: a change that still parses is found too', () => {
  /** Three organizations, one commit each, in the journal. */
  async function threeCommits(): Promise<{ dir: string; journal: string; text: string }> {
    const dir = await tempDir();
    const store = await openStore({ dir });
    for (const [id, total] of [['org_1', 1000], ['org_2', 2000], ['org_3', 3000]] as const) await store.put('organizations', id, { id, total });
    await store.close();
    const journal = join(dir, 'collections', 'organizations.journal');
    return { dir, journal, text: await readFile(journal, 'utf8') };
  }

  it('every commit line carries the CRC-32 of its lines', async () => {
    const { text } = await threeCommits();
    const commits = text.split('\n').filter((l) => l.startsWith('{"t":"c"'));
    expect(commits).toHaveLength(3);
    for (const c of commits) expect(JSON.parse(c)).toMatchObject({ t: 'c', c: expect.any(Number) });
  });

  it('a digit changed in a commit with more after it: the table is refused, naming the commit, file and line', async () => {
    const { dir, journal, text } = await threeCommits();
    // Still valid JSON, a different amount: without a checksum it would load as data.
    await writeFile(journal, text.replace('"total":2000', '"total":2900'));
    const e = await openStore({ dir, verify: true }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'STORE_CORRUPT', details: { file: journal, line: 3, table: 'collections/organizations' } });
    expect((e as Error).message).toMatch(/the lines of commit 2 do not match its checksum .*and more lines follow it \(not a torn tail\)/);
    await expect(stat(join(dir, 'LOCK'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('the last commit not matching its checksum is a torn tail: dropped with a warning, the commits before it kept', async () => {
    const { dir, journal, text } = await threeCommits();
    await writeFile(journal, text.replace('"total":3000', '"total":3900'));
    const warnings: StoreWarning[] = [];
    const store = await openStore({ dir, verify: true, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([expect.objectContaining({ code: 'STORE_TORN_TAIL', file: journal, line: 5, message: expect.stringContaining('do not match its checksum') })]);
    expect((await store.list<{ id: string; total: number }>('organizations')).map((o) => [o.id, o.total])).toEqual([['org_1', 1000], ['org_2', 2000]]);
    await store.close();
  });

  it('a digit changed in a snapshot: refused', async () => {
    const dir = await tempDir();
    let store = await openStore({ dir, compactAfterBytes: 1 });
    await store.put('organizations', 'org_1', { id: 'org_1', total: 1000 });
    await store.put('organizations', 'org_2', { id: 'org_2', total: 2000, note: 'x'.repeat(200) });
    await store.close();
    const snapshot = join(dir, 'collections', 'organizations.jsonl');
    const text = await readFile(snapshot, 'utf8');
    expect(JSON.parse(text.trim().split('\n').pop()!)).toMatchObject({ t: 'e', n: 2, c: expect.any(Number) });
    await writeFile(snapshot, text.replace('"total":1000', '"total":1900'));
    store = await openStore({ dir });
    await expect(store.list('organizations')).rejects.toMatchObject({ code: 'STORE_CORRUPT', details: { file: snapshot }, message: expect.stringContaining('do not match the checksum in its end marker') });
    await store.close();
  });

  it('files written before checksums existed (no "c") load as they did', async () => {
    const dir = await tempDir();
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'collections'), { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'collections', 'organizations.jsonl'), '{"t":"s","s":1,"m":{}}\n{"t":"p","k":"org_1"}\t{"id":"org_1","total":1000}\n{"t":"e","n":1}\n', { mode: 0o600 });
    await writeFile(join(dir, 'collections', 'organizations.journal'), '{"t":"p","k":"org_2"}\t{"id":"org_2","total":2000}\n{"t":"c","s":2}\n', { mode: 0o600 });
    const store = await openStore({ dir, verify: true });
    expect((await store.list<{ id: string }>('organizations')).map((o) => o.id).sort()).toEqual(['org_1', 'org_2']);
    // What it writes from now on carries checksums, and reads back.
    await store.put('organizations', 'org_3', { id: 'org_3', total: 3000 });
    await store.close();
    const again = await openStore({ dir, verify: true });
    expect((await again.list<{ id: string }>('organizations')).map((o) => o.id).sort()).toEqual(['org_1', 'org_2', 'org_3']);
    await again.close();
  });
});
