/**
 * `taxbridge connect | connections | disconnect` as a user runs them (child processes) against the fakes:
 * Rillet's steps by running connect again, Sequence's tax key, errors on stderr with hints, the data folder
 * held by a server (and the same commands through its admin API).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, startFakeSequence, type FakeRillet, type FakeSequence } from '../fakes/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { startServer } from '../src/server/serve.ts';
import { openStore } from '../src/store/index.ts';
import { createOrganization } from '../src/tax/orgs.ts';
import { CLI } from './helpers/serve-child.ts';

const ROOT = join(import.meta.dirname, '..');
let seq: FakeSequence;
let ril: FakeRillet;
let dataDir: string;
let org: string;
let env: NodeJS.ProcessEnv;

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}, input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...env, ...extraEnv }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

beforeAll(async () => {
  [seq, ril] = await Promise.all([
    startFakeSequence({ clientSecret: `cs_${randomBytes(10).toString('hex')}`, counts: { customers: 3, products: 2, invoices: 2, creditNotes: 0 } }),
    startFakeRillet({ apiKey: `rk_${randomBytes(10).toString('hex')}`, counts: { customers: 3, products: 2, invoices: 2, creditNotes: 0 } }),
  ]);
  dataDir = mkdtempSync(join(tmpdir(), 'tb-cli-'));
  const store = await openStore({ dir: dataDir });
  org = (await createOrganization(store, { name: 'CLI Co', mode: 'test' })).id;
  await store.close();
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TAXBRIDGE_DATA_DIR: dataDir,
    TAXBRIDGE_MASTER_KEY: randomBytes(32).toString('base64'),
    TAXBRIDGE_CONNECTORS_DIR: join(ROOT, 'connectors'),
    TAXBRIDGE_PUBLIC_URL: 'http://127.0.0.1:8999',
  };
}, 30_000);

afterAll(async () => {
  await Promise.all([seq?.close(), ril?.close()]);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('taxbridge connect (CLI)', () => {
  let rilId = '';
  let seqId = '';

  it('Rillet: the first run lists the subsidiaries and the webhook URL', async () => {
    // The API key from standard input: never in argv, so never in `ps`.
    const r = await cli(['connect', 'rillet', '--org', org, '--credential', 'api_key=-', '--base-url', ril.url], {}, `${ril.apiKey}\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Started: Rillet \(sandbox\) for organization org_test_\w+: conn_\w+ \[pending\]/);
    rilId = /conn_[0-9A-Za-z]{16}/.exec(r.stdout)![0];
    expect(r.stdout).toContain('Choices for subsidiary_id:');
    for (const s of ril.data.subsidiaries.values()) expect(r.stdout).toContain(s.id);
    expect(r.stdout).toMatch(/Webhook URL: http:\/\/127\.0\.0\.1:8999\/webhooks\/whk_[0-9A-Za-z]{32}/);
    expect(r.stdout).toContain(`taxbridge connect --connection ${rilId} --setting subsidiary_id=<value>`);
    expect(r.stdout).not.toContain(ril.apiKey);
  });

  it('Rillet: running connect again continues the pending connection', async () => {
    const sub = [...ril.data.subsidiaries.values()][0]!.id;
    const r = await cli(['connect', 'rillet', '--org', org, '--setting', `subsidiary_id=${sub}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Updated: Rillet \\(sandbox\\) for organization ${org}: ${rilId} \\[pending\\]`));
    expect(r.stdout).toContain(`--credential signing_token=-   (paste the value from Rillet, then Ctrl-D; or =@file)`);
    const tokenFile = join(dataDir, '..', `tok-${randomBytes(4).toString('hex')}`);
    writeFileSync(tokenFile, `${ril.signingToken}\n`, { mode: 0o600 });
    const r2 = await cli(['connect', '--connection', rilId, '--credential', `signing_token=@${tokenFile}`]);
    rmSync(tokenFile);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toContain(`[active]`);
    expect(r2.stdout).toContain('backfill starts when `taxbridge serve` runs');
  });

  it('Sequence: bad credentials fail with a clear message; good ones print the tax key once', async () => {
    // The secret from the environment: no warning, nothing in argv.
    const bad = await cli(['connect', 'sequence', '--org', org, '--credential', `client_id=${seq.clientId}`, '--base-url', seq.url], { TAXBRIDGE_CREDENTIAL_CLIENT_SECRET: 'not-it-123' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^taxbridge connect: connection_bad_credentials: Sequence \(sandbox\) rejected the credentials: HTTP 401/);
    expect(bad.stderr).toContain('hint: check Client ID and Client secret');
    expect(bad.stderr).not.toContain('not-it-123');
    const ok = await cli(['connect', 'sequence', '--org', org, '--credential', `client_id=${seq.clientId}`, '--credential', `client_secret=${seq.clientSecret}`, '--base-url', seq.url, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    // An inline secret works but is warned about (client_id is not secret: no warning for it).
    expect(ok.stderr).toContain('warning: --credential client_secret=<value> puts a secret in the process list');
    expect(ok.stderr).toContain('TAXBRIDGE_CREDENTIAL_CLIENT_SECRET');
    expect(ok.stderr).not.toContain('client_id=<value>');
    expect(ok.stderr).not.toContain(seq.clientSecret);
    const out = JSON.parse(ok.stdout);
    seqId = out.connection.id;
    expect(out.connection.status).toBe('active');
    expect(out.tax_api_key).toMatch(/^tb_test_[0-9A-Za-z]{40}$/);
    expect(ok.stdout).not.toContain(seq.clientSecret);
  });

  it('syncs a stored connection by id with its encrypted credentials (taxbridge sync --connection)', async () => {
    const r = await cli(['sync', '--connection', seqId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: true, connector: 'sequence', connection_id: seqId, environment: 'sandbox' });
    const invoices = out.streams.find((s: { stream: string }) => s.stream === 'invoices');
    expect(invoices.records).toBe(seq.data.invoices.size);
    expect(r.stdout + r.stderr).not.toContain(seq.clientSecret);
    const unknown = await cli(['sync', '--connection', 'conn_nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/conn_nope/);
  });

  it('explains usage mistakes', async () => {
    const noOrg = await cli(['connect', 'sequence']);
    expect(noOrg.code).toBe(2);
    expect(noOrg.stderr).toContain('--org <organization id> is required');
    const badPair = await cli(['connect', 'sequence', '--org', org, '--credential', 'client_secret']);
    expect(badPair.stderr).toContain('--credential takes name=value');
    const noKey = await cli(['connections'], { TAXBRIDGE_MASTER_KEY: '' });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('master_key_missing');
    expect(noKey.stderr).toContain('TAXBRIDGE_MASTER_KEY_FILE');
  });

  it('lists and shows connections, then disconnects', async () => {
    const list = await cli(['connections', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((c: { id: string; status: string }) => [c.id, c.status]).sort()).toEqual([[rilId, 'active'], [seqId, 'active']].sort());
    const text = await cli(['connections']);
    expect(text.stdout.split('\n')[0]).toMatch(/^ID\s+CONNECTOR\s+ENV\s+STATUS\s+ORGANIZATION\s+LAST SYNC\s+RECORDS\s+WEBHOOKS\s+WRITE-BACKS$/);
    // The list says what each connection did: Sequence was synced above (when, how many records stored).
    const seqRow = text.stdout.split('\n').find((l) => l.startsWith(seqId))!;
    const [, records] = /active\s+org_\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(\d+)\s+0\s+0$/.exec(seqRow) ?? [];
    expect(Number(records), seqRow).toBeGreaterThanOrEqual(seq.data.invoices.size + seq.data.customers.size);
    expect(text.stdout.split('\n').find((l) => l.startsWith(rilId))).toMatch(/active\s+org_\S+\s+never\s+0\s+0\s+0$/);
    const one = await cli(['connections', rilId]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain('webhook URL: http://127.0.0.1:8999/webhooks/whk_');
    expect(one.stdout).toMatch(/invoices\s+0 stored\s+last sync: never synced/);
    const d = await cli(['disconnect', seqId]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toBe(`Disconnected ${seqId} (Sequence, sandbox).\n`);
    const missing = await cli(['disconnect', 'conn_nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not_found');
  }, 90_000);

  it('while taxbridge serve holds the folder: a hint, or the admin API when a token is given', async () => {
    const token = `adm_${randomBytes(12).toString('hex')}`;
    const config = loadConfig({ data: dataDir, port: '0', connectors: join(ROOT, 'connectors') }, { ...env, TAXBRIDGE_ADMIN_TOKEN: token, TAXBRIDGE_SCHEDULES: 'false', TAXBRIDGE_BACKFILL: 'false' }, ROOT);
    const server = await startServer(config, { writeLog: () => undefined, notice: () => undefined });
    try {
      const locked = await cli(['connections']);
      expect(locked.code).toBe(1);
      expect(locked.stderr).toContain('store_locked');
      expect(locked.stderr).toContain('admin API');
      const viaApi = await cli(['connections', '--json'], { TAXBRIDGE_ADMIN_TOKEN: token, TAXBRIDGE_PORT: String(server.port) });
      expect(viaApi.code, viaApi.stderr).toBe(0);
      expect(JSON.parse(viaApi.stdout).map((c: { id: string }) => c.id)).toContain(rilId);
      const explicit = await cli(['connections', rilId, '--server', server.url, '--admin-token', token]);
      expect(explicit.code, explicit.stderr).toBe(0);
      expect(explicit.stdout).toContain(rilId);
      const wrong = await cli(['connections', '--server', server.url, '--admin-token', 'wrong-token-12345678']);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('unauthorized_access');
    } finally {
      await server.close();
    }
  }, 60_000);
});
