/**
 * The data folder is private: a real `taxbridge serve` under umask 000 on a folder that existed with 0755
 * folders and 0644 files (master.key among them) leaves every folder 0700 and every file 0600, warns what it
 * changed, and keeps it so through its writes; a writer under umask 000 (journals, snapshot rewrites, new
 * entity folders, LOCK, a created master key) creates nothing wider.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.ts';
import { ADMIN_TOKEN, serveEnv, startServe } from './helpers/serve-child.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Every entry below `dir` (itself included) with its permission bits, e.g. ["collections/", "0700"]. */
async function modes(dir: string): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  const walk = async (path: string, rel: string) => {
    const s = await lstat(path);
    out.push([s.isDirectory() ? `${rel}/` : rel, (s.mode & 0o777).toString(8).padStart(4, '0')]);
    if (s.isDirectory()) for (const e of await readdir(path)) await walk(join(path, e), rel ? `${rel}/${e}` : e);
  };
  await walk(dir, '');
  return out;
}

function notPrivate(list: Array<[string, string]>): Array<[string, string]> {
  return list.filter(([p, m]) => (p.endsWith('/') ? m !== '0700' : m !== '0600'));
}

async function widen(dir: string): Promise<void> {
  for (const [p] of await modes(dir)) await chmod(join(dir, p), p.endsWith('/') ? 0o755 : 0o644);
}

describe('data folder modes', () => {
  it('serve makes an existing 0755/0644 folder private and keeps it so through its writes, whatever the umask', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tb-modes-'));
    dirs.push(dir);
    const store = await openStore({ dir });
    await store.put('webhook_events', 'evt_1', { id: 'evt_1', status: 'processed' });
    await store.commitPage({ connectionId: 'conn_1', stream: 'invoices', entity: 'invoice', writes: [{ external_id: 'i1', data: {} }] });
    await store.close();
    await writeFile(join(dir, 'master.key'), `${randomBytes(32).toString('base64')}\n`);
    await mkdir(join(dir, 'exports'));
    await writeFile(join(dir, 'exports', 'old.json'), '{}');
    await widen(dir);
    expect(notPrivate(await modes(dir)).length).toBeGreaterThan(5);

    const s = await startServe(dir, { shell: 'umask 000', env: serveEnv({ TAXBRIDGE_MASTER_KEY: '' }) });
    try {
      const warning = s.logs.find((l) => l.code === 'STORE_MODES_TIGHTENED');
      expect(warning?.msg).toMatch(/made the data folder private: \d+ entries were readable by other users/);
      // The key in the folder was tightened before it was read (it is not refused as 0644).
      expect(s.logs.find((l) => l.msg === 'master key loaded')).toMatchObject({ source: `file ${join(dir, 'master.key')}` });
      expect(notPrivate(await modes(dir))).toEqual([]);

      // New tables, journals and folders written by the running server.
      const res = await request(`${s.url}/admin/organizations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Acme', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701' } }),
      });
      expect(res.statusCode, await res.body.text()).toBe(201);
    } finally {
      expect(await s.stop()).toBe(0);
    }
    const after = await modes(dir);
    expect(after.map(([p]) => p)).toContain('collections/organizations.journal');
    expect(notPrivate(after)).toEqual([]);
  });

  it('every write path under umask 000 creates 0700 folders and 0600 files (journals, snapshots, LOCK, master key)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tb-modes-'));
    dirs.push(dir);
    const writer = join(import.meta.dirname, 'fixtures', 'store', 'umask-writer.ts');
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', writer, join(dir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      let err = '';
      p.stdout.on('data', (d) => (text += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`writer exited ${code}: ${err}`))));
    });
    expect(out).toBe('done\n');
    const list = await modes(join(dir, 'data'));
    const names = list.map(([p]) => p);
    // Compaction rewrote the snapshot (temp file + rename) and the journal restarted.
    expect(names).toEqual(expect.arrayContaining(['collections/organizations.jsonl', 'collections/organizations.journal', 'entities/conn_new/', 'entities/conn_new/customers.journal', 'keys/nested/master.key']));
    expect(notPrivate(list)).toEqual([]);
  });
});
