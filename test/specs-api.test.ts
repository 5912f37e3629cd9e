/**
 * The spec playground's endpoints over real HTTP: POST /admin/specs/validate answers the diagnostics of
 * `taxbridge validate` (line, column, code, hint) for a text that never touches the disk; GET
 * /admin/connectors/{connector}/spec answers a loaded spec's YAML. Oversized, missing or odd input is a 4xx.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer } from './helpers/e2e.ts';

const TOKEN = 'adm_specs_' + 's'.repeat(30);
const ROOT = join(import.meta.dirname, '..');
let dir: string;
let server: RunningServer;
const admin = adminClient(() => server.url, TOKEN);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tb-specs-'));
  server = await startTestServer(inProcessConfig({ dataDir: dir, env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }));
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the spec playground endpoints', () => {
  it('validates a shipped spec as valid and points at a misspelt key with a hint', async () => {
    const text = readFileSync(join(ROOT, 'connectors', 'rillet.yaml'), 'utf8');
    const ok = await admin('POST', '/admin/specs/validate', { yaml: text });
    expect(ok.status).toBe(200);
    expect(ok.json.data).toMatchObject({ valid: true, errors: 0, connector: { name: 'rillet', streams: expect.arrayContaining(['invoices']) } });
    const lines = text.split('\n');
    const at = lines.findIndex((l) => /^docs_url:/.test(l));
    lines[at] = lines[at]!.replace('docs_url', 'docs_ulr');
    const bad = await admin('POST', '/admin/specs/validate', { yaml: lines.join('\n') });
    expect(bad.json.data.valid).toBe(false);
    expect(bad.json.data.diagnostics).toContainEqual(expect.objectContaining({ line: at + 1, column: 1, code: 'SCHEMA_UNKNOWN_PROPERTY', severity: 'error', hint: expect.stringContaining('docs_url') }));
    expect(JSON.stringify(bad.json)).not.toContain('"file"');
    const syntax = await admin('POST', '/admin/specs/validate', { yaml: 'a: [1, 2\nb: }' });
    expect(syntax.json.data.diagnostics[0].code).toMatch(/^YAML_/);
  });

  it('resolves only local $refs and stays bounded', async () => {
    const r = await admin('POST', '/admin/specs/validate', { yaml: 'spec_version: 1\nname: x\nauth:\n  $ref: /etc/passwd\n' });
    expect(r.status).toBe(200);
    expect(r.json.data.diagnostics).toContainEqual(expect.objectContaining({ code: 'REF_UNSUPPORTED', line: 4 }));
    const bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' + Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`).join('\n');
    const b = await admin('POST', '/admin/specs/validate', { yaml: bomb });
    expect(b.status).toBe(400);
    expect(b.json).toMatchObject({ param: 'yaml', message: expect.stringContaining('aliases') });
    for (const body of [{}, { yaml: 5 }, { yaml: ['a'] }, JSON.parse('{"__proto__": {"yaml": "x"}}')]) {
      const res = await admin('POST', '/admin/specs/validate', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.param).toBe('yaml');
    }
    const big = await admin('POST', '/admin/specs/validate', { yaml: 'x'.repeat(256 * 1024 + 1) });
    expect(big.status).toBe(400);
    const huge = await request(`${server.url}/admin/specs/validate`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ yaml: 'x'.repeat(400 * 1024) }) });
    await huge.body.text();
    expect(huge.statusCode).toBe(413);
  });

  it('answers a loaded spec text, and 404 for anything else', async () => {
    const res = await request(`${server.url}/admin/connectors/sequence/spec`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/yaml/);
    expect(await res.body.text()).toBe(readFileSync(join(ROOT, 'connectors', 'sequence.yaml'), 'utf8'));
    for (const name of ['nope', '__proto__', 'constructor', 'sequence.test', '..%2Fpackage.json']) {
      expect((await admin('GET', `/admin/connectors/${name}/spec`)).status, name).toBe(404);
    }
  });
});
