/**
 * One error-code casing (docs/errors.md): whatever a user is shown — an HTTP answer of the tax or admin API, the
 * CLI's stderr, a code stored on a record and shown again — is lower snake_case, and the same failure shows the
 * same code through the CLI as through the API. Real server on 127.0.0.1, the CLI as a child process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCode, publicCode } from '../src/errors.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer } from './helpers/e2e.ts';
import { runCli } from './helpers/serve-child.ts';

const TOKEN = 'adm_codes_' + 'c'.repeat(30);
const ROOT = join(import.meta.dirname, '..');
const PUBLIC = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
let dir: string;
let server: RunningServer;
const admin = adminClient(() => server.url, TOKEN);
const seen: Array<{ via: string; code: string }> = [];

const SPEC = readFileSync(join(ROOT, 'connectors', 'sequence.yaml'), 'utf8');
// A misspelt key: the schema refuses the spec (the spec-playground test's own break).
const BAD_SPEC = SPEC.replace('    records:', '    recrods:');

/** The code in a CLI failure's stderr (`taxbridge <command>: <code>: <message>`). */
function cliCode(stderr: string): string {
  const m = /^taxbridge [a-z-]+: ([^:\s]+): /m.exec(stderr);
  if (!m) throw new Error(`no code in stderr: ${stderr}`);
  return m[1]!;
}

async function viaCli(what: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: string; exit: number | null }> {
  const r = await runCli(args, env);
  const code = cliCode(r.stderr);
  seen.push({ via: `cli ${what}`, code });
  return { code, exit: r.code };
}

function viaApi(what: string, answer: { status: number; json: { code?: string } }): string {
  expect(answer.status, what).toBeGreaterThanOrEqual(400);
  const code = String(answer.json?.code);
  seen.push({ via: `api ${what}`, code });
  return code;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tb-codes-'));
  writeFileSync(join(dir, 'bad.yaml'), BAD_SPEC);
  writeFileSync(join(dir, 'good.yaml'), SPEC);
  writeFileSync(join(dir, 'record.json'), JSON.stringify({ id: 'c_1', name: 'Acme' }));
  server = await startTestServer(inProcessConfig({ dataDir: join(dir, 'data'), env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_SCHEDULES: 'false', TAXBRIDGE_BACKFILL: 'false' } }));
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('error codes users see', () => {
  it('publicCode maps internal codes to lower snake_case, leaves Sphere codes as they are, and isCode matches both spellings', () => {
    expect(publicCode('STORE_LOCKED')).toBe('store_locked');
    expect(publicCode('validation_errors')).toBe('validation_errors');
    expect(publicCode('HTTP_401')).toBe('http_401');
    expect(isCode('connection_needs_reauthorization', 'CONNECTION_NEEDS_REAUTHORIZATION')).toBe(true);
    expect(isCode('CONNECTION_NEEDS_REAUTHORIZATION', 'CONNECTION_NEEDS_REAUTHORIZATION')).toBe(true);
    expect(isCode('oauth_denied', 'CONNECTION_NEEDS_REAUTHORIZATION')).toBe(false);
    expect(isCode(undefined, 'X')).toBe(false);
  });

  it('a bad spec: spec_invalid from `taxbridge map` and from POST /admin/specs/try-mapping', async () => {
    const cli = await viaCli('map bad spec', ['map', join(dir, 'bad.yaml'), 'customers', join(dir, 'record.json')]);
    const api = viaApi('try-mapping bad spec', await admin('POST', '/admin/specs/try-mapping', { yaml: BAD_SPEC, stream: 'customers', record: { id: 'c_1' } }));
    expect(cli).toEqual({ code: 'spec_invalid', exit: 1 });
    expect(api).toBe('spec_invalid');
  });

  it('an unknown stream: the same code from `taxbridge map` and from try-mapping', async () => {
    const cli = await viaCli('map unknown stream', ['map', join(dir, 'good.yaml'), 'nope', join(dir, 'record.json')]);
    const api = viaApi('try-mapping unknown stream', await admin('POST', '/admin/specs/try-mapping', { yaml: SPEC, stream: 'nope', record: {} }));
    expect(cli.code).toBe(api);
    expect(api).toBe('sync_unknown_stream');
  });

  it('a rejected admin token: unauthorized_access from the CLI through --server and from the admin API', async () => {
    const env = { ...process.env, TAXBRIDGE_ADMIN_TOKEN: 'adm_wrong_' + 'w'.repeat(30) };
    const cli = await viaCli('connections, wrong token', ['connections', '--server', server.url], env);
    const res = await request(`${server.url}/admin/connections`, { headers: { authorization: `Bearer adm_wrong_${'w'.repeat(30)}` } });
    const api = viaApi('GET /admin/connections, wrong token', { status: res.statusCode, json: (await res.body.json()) as { code?: string } });
    expect(cli).toEqual({ code: 'unauthorized_access', exit: 1 });
    expect(api).toBe('unauthorized_access');
  });

  it('an unknown connection: the same code through --server as from the admin API', async () => {
    const env = { ...process.env, TAXBRIDGE_ADMIN_TOKEN: TOKEN };
    const remote = await viaCli('connections <unknown> --server', ['connections', 'con_doesnotexist', '--server', server.url], env);
    const api = viaApi('GET /admin/connections/<unknown>', await admin('GET', '/admin/connections/con_doesnotexist'));
    expect(remote.code).toBe(api);
    expect(remote.exit).toBe(1);
  });

  it('a store that cannot be opened (held by the running server): store_locked from the CLI', async () => {
    const cli = await viaCli('connections on a locked data folder', ['connections', '--data', join(dir, 'data')]);
    expect(cli).toEqual({ code: 'store_locked', exit: 1 });
  });

  it('a usage mistake: cli_usage, exit 2', async () => {
    const cli = await viaCli('unknown option', ['connections', '--no-such-option']);
    expect(cli).toEqual({ code: 'cli_usage', exit: 2 });
  });

  it('the tax API keeps Sphere codes (validation_errors, unauthorized_access)', async () => {
    const res = await request(`${server.url}/tax_api/calculate_tax`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk_nope' }, body: '{}' });
    viaApi('calculate_tax, unknown key', { status: res.statusCode, json: (await res.body.json()) as { code?: string } });
    const notFound = await request(`${server.url}/admin/nothing-here`, { headers: { authorization: `Bearer ${TOKEN}` } });
    viaApi('unknown admin route', { status: notFound.statusCode, json: (await notFound.body.json()) as { code?: string } });
  });

  it('every code collected above, from the CLI and the API alike, is lower snake_case', () => {
    expect(seen.length).toBeGreaterThanOrEqual(12);
    expect(seen.filter((s) => !PUBLIC.test(s.code))).toEqual([]);
  });
});
