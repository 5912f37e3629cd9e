/**
 * One CLI shape: every command lists the shared flags and the exit codes in its help, answers an unknown
 * option with exit 2 in its own words (not Node's parseArgs text), names the refused admin token, and
 * `sync` follows a run in the running server with live progress until it ends.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeSequence, type FakeSequence } from '../fakes/index.ts';
import { COMMANDS, main } from '../src/cli/main.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer, until } from './helpers/e2e.ts';

/** Runs `taxbridge <args>` in this process, capturing what it writes. */
async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('every command', () => {
  it('lists --data, --config and --server and the exit codes in its help', async () => {
    for (const name of Object.keys(COMMANDS)) {
      const r = await cli([name, '--help']);
      expect(r.code, name).toBe(0);
      for (const flag of ['--data <dir>', '--config <file>', '--server <url>']) expect(r.stdout, `${name} ${flag}`).toContain(flag);
      expect(r.stdout, name).toMatch(/Exit codes: 0 done, 1 failed .*, 2 usage error/);
    }
  });

  it('answers an unknown option or a missing value with exit 2 and a message of its own', async () => {
    for (const name of Object.keys(COMMANDS)) {
      const r = await cli([name, '--no-such-flag'], { TAXBRIDGE_ADMIN_TOKEN: undefined });
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr, name).toContain(`taxbridge ${name}: cli_usage: unknown option --no-such-flag`);
      expect(r.stderr, name).not.toMatch(/parseArgs|To specify a positional argument|ERR_PARSE_ARGS/);
    }
    const missing = await cli(['events', '--data']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('option --data needs a value');
    const near = await cli(['connections', '--jsn']);
    expect(near.stderr).toContain('unknown option --jsn');
    const flagValue = await cli(['connections', '--json=yes']);
    expect(flagValue.code).toBe(2);
    expect(flagValue.stderr).toContain('option --json takes no value');
  });
});

describe('through a running server', () => {
  const token = `adm_${randomBytes(16).toString('hex')}`;
  let seq: FakeSequence;
  let server: RunningServer;
  let dataDir: string;
  let connectionId: string;
  const admin = adminClient(() => server.url, token);

  beforeAll(async () => {
    // Slow enough (latency per request) that a sync is seen in progress while it runs.
    seq = await startFakeSequence({ latencyMs: 60, counts: { customers: 6, products: 2, invoices: 12, creditNotes: 1 } });
    dataDir = mkdtempSync(join(tmpdir(), 'tb-cli-shape-'));
    server = await startTestServer(inProcessConfig({ dataDir, env: { TAXBRIDGE_ADMIN_TOKEN: token } }));
    const org = (await admin('POST', '/admin/organizations', { name: 'Shape', mode: 'test' })).json.data.id;
    const c = await admin('POST', '/admin/connections', { connector: 'sequence', organization_id: org, base_url: seq.url, credentials: { client_id: seq.clientId, client_secret: seq.clientSecret } });
    connectionId = c.json.data.connection.id;
    await until(async () => ((await admin('GET', `/admin/connections/${connectionId}`)).json.data.backfill?.status === 'succeeded' ? true : undefined), 'backfill');
  });

  afterAll(async () => {
    await server?.close();
    await seq?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('names the refused admin token and where a right one comes from', async () => {
    const r = await cli(['connections', '--server', server.url], { TAXBRIDGE_ADMIN_TOKEN: `${token}x` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refused the admin token given in TAXBRIDGE_ADMIN_TOKEN`);
    expect(r.stderr).toContain('the admin token is not valid');
    expect(r.stderr).toContain('--new-admin-token');
    expect(r.stderr).not.toContain('send Authorization');
    const flag = await cli(['org', 'list', '--server', server.url, '--admin-token', 'not-the-token-at-all']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain('refused the admin token given in --admin-token');
  });

  it('sync --server follows the server\'s run with progress until it ends, then prints its summary', async () => {
    const r = await cli(['sync', '--connection', connectionId, '--server', server.url, '--full'], { TAXBRIDGE_ADMIN_TOKEN: token });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`following the server's sync of ${connectionId} at ${server.url}`);
    expect(r.stderr).toMatch(/^\w+: page \d+, \d+ records, \d+ records\/s/m);
    expect(r.stdout).toMatch(new RegExp(`^invoices: full, ${seq.data.invoices.size} records \\(`, 'm'));
    expect(r.stdout).toMatch(/^customers: full, \d+ records/m);
    // The same run, as the server recorded it.
    const st = (await admin('GET', `/admin/connections/${connectionId}`)).json.data;
    expect(st.sync.invoices.last_sync).toMatchObject({ status: 'ok', mode: 'full', records: seq.data.invoices.size });

    const json = await cli(['sync', '--connection', connectionId, '--server', server.url, '--stream', 'invoices', '--json'], { TAXBRIDGE_ADMIN_TOKEN: token });
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout);
    expect(out).toMatchObject({ ok: true, connector: 'sequence', connection_id: connectionId, environment: 'sandbox', run_id: expect.stringMatching(/^sync_/) });
    expect(out.streams.map((s: { stream: string }) => s.stream)).toEqual(['invoices']);
    const run = await admin('GET', `/admin/connections/${connectionId}/syncs/${out.run_id}`);
    expect(run.json.data).toMatchObject({ id: out.run_id, status: 'succeeded', streams: ['invoices'], summaries: [expect.objectContaining({ stream: 'invoices', status: 'ok' })] });
    expect((await admin('GET', `/admin/connections/${connectionId}/syncs/sync_nope`)).status).toBe(404);
  });

  it('sync rejects --connector with --server (a stored connection syncs in the server)', async () => {
    const r = await cli(['sync', '--connector', 'connectors/sequence.yaml', '--server', server.url], { TAXBRIDGE_ADMIN_TOKEN: token });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--server needs --connection <id>');
  });
});
