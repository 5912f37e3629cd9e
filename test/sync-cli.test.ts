import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSequence, type FakeSequence } from '../fakes/index.ts';
import { CLI } from './helpers/serve-child.ts';

let fake: FakeSequence;
let dir: string;
beforeAll(async () => {
  fake = await startFakeSequence({ seed: 8, counts: { customers: 10, products: 4, invoices: 30, creditNotes: 3 } });
  dir = await mkdtemp(join(tmpdir(), 'tb-sync-cli-'));
});
afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...CLI, 'sync', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('taxbridge sync', () => {
  it('prints one summary line per stream, then syncs incrementally; --json prints one object', async () => {
    const base = ['--connector', 'connectors/sequence.yaml', '--base-url', fake.url, '--credential', 'client_id=seq_client', '--data', dir];
    const first = await cli([...base, '--credential', 'client_secret=seq_secret']);
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^invoices: full, 30 records \(30 created, 0 updated, 0 unchanged, 0 failed, 0 deleted\), 1 pages, [\d.]+ s$/);
    // The secret may come from the environment instead of argv.
    const second = await cli([...base, '--stream', 'invoices', '--json'], { TAXBRIDGE_CREDENTIAL_CLIENT_SECRET: 'seq_secret' });
    expect(second.code).toBe(0);
    const out = JSON.parse(second.stdout) as { ok: boolean; connection_id: string; streams: Array<{ stream: string; mode: string; records: number }> };
    expect(out).toMatchObject({ ok: true, connection_id: 'sequence-production', streams: [{ stream: 'invoices', mode: 'incremental', records: 0 }] });
  });

  it('exits 1 with the credential error, and 1 with a usage error naming what is missing', async () => {
    const bad = await cli(['--connector', 'connectors/sequence.yaml', '--base-url', fake.url, '--credential', 'client_id=seq_client', '--credential', 'client_secret=nope1234', '--data', dir, '--connection', 'other']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('customers: full, 0 records');
    expect(bad.stdout).toContain('FAILED: http_bad_credentials: Sequence rejected the credentials of connection "other"');
    expect(bad.stdout).toContain('products: skipped');
    expect(bad.stdout + bad.stderr).not.toContain('nope1234');
    const missing = await cli(['--connector', 'connectors/rillet.yaml', '--base-url', fake.url, '--data', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('connection_incomplete');
    expect(missing.stderr).toContain('--credential api_key=... --setting subsidiary_id=...');
  });
});
