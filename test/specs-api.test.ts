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

const TRY_SPEC = `spec_version: 1
name: example
title: Example Billing
category: billing
description: For trying mappings.
environments:
  production:
    base_url: https://api.example.com
auth:
  type: bearer
  token: "{{ credentials.api_key }}"
credentials:
  - name: api_key
    title: API key
definitions:
  functions:
    shout: function($s){ $uppercase($s) }
    forever: function($n){ $forever($n + 1) }
streams:
  customers:
    entity: customer
    request:
      path: /customers
    records: $.data
    mapping: |
      {
        "external_id": id,
        "name": $shout(name)
      }
`;

/** The example spec with another mapping for its customers stream. */
const withMapping = (mapping: string) => TRY_SPEC.replace(/    mapping: \|\n[\s\S]*$/, `    mapping: |\n      ${mapping}\n`);

describe('trying a mapping on a pasted record', () => {
  it('answers the canonical record the stream maps, with the spec\'s own functions', async () => {
    const r = await admin('POST', '/admin/specs/try-mapping', { yaml: TRY_SPEC, stream: 'customers', record: { id: 'c_7', name: 'Acme' } });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.data).toEqual({ external_id: 'c_7', deleted: false, record: { external_id: 'c_7', name: 'ACME' } });
  });

  it('names the streams of a shipped spec when the stream is unknown', async () => {
    const text = readFileSync(join(ROOT, 'connectors', 'rillet.yaml'), 'utf8');
    const r = await admin('POST', '/admin/specs/try-mapping', { yaml: text, stream: 'nope', record: {} });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'sync_unknown_stream', param: 'stream', hint: expect.stringContaining('invoices') });
  });

  it('says what is wrong: spec errors, a schema-invalid result, a failing expression and where in it', async () => {
    const invalid = await admin('POST', '/admin/specs/try-mapping', { yaml: TRY_SPEC.replace('    records:', '    recrods:'), stream: 'customers', record: { id: 1 } });
    expect(invalid.status).toBe(422);
    expect(invalid.json).toMatchObject({ code: 'spec_invalid', param: 'yaml', details: { diagnostics: expect.arrayContaining([expect.objectContaining({ code: 'SCHEMA_UNKNOWN_PROPERTY', line: 24 })]) } });
    const noName = await admin('POST', '/admin/specs/try-mapping', { yaml: TRY_SPEC, stream: 'customers', record: { id: 1, name: 'n' } });
    expect(noName.status).toBe(422);
    expect(noName.json).toMatchObject({ code: 'mapping_failed', param: 'record', details: { external_id: '1' } });
    const failing = await admin('POST', '/admin/specs/try-mapping', { yaml: withMapping('{ "external_id": id, "name": $error("no name here") }'), stream: 'customers', record: { id: 1 } });
    expect(failing.status).toBe(422);
    expect(failing.json).toMatchObject({ code: 'mapping_failed', param: 'mapping', message: expect.stringContaining('no name here') });
    const typed = await admin('POST', '/admin/specs/try-mapping', { yaml: withMapping('{ "external_id": id, "name": name & "" , "n": 1 + name }'), stream: 'customers', record: { id: 1, name: 'x' } });
    expect(typed.status).toBe(422);
    expect(typed.json).toMatchObject({ code: 'mapping_failed', param: 'mapping', details: { position: expect.any(Number) } });
  });

  it('stops a never-ending recursion, a huge range and a spec function that loops, within the time box', async () => {
    for (const mapping of ['($f := function(){ $f() }; $f())', '($g := function($n){ 1 + $g($n) }; $g(1))', '{ "external_id": id, "name": $string($count([1..10000000])) }', '{ "external_id": id, "name": $string($forever(0)) }', '{ "external_id": id, "name": $pad("", 10000000) }']) {
      const r = await admin('POST', '/admin/specs/try-mapping', { yaml: withMapping(mapping), stream: 'customers', record: { id: 1, name: 'x' } });
      expect(r.status, mapping).toBe(422);
      expect(r.json, mapping).toMatchObject({ code: 'mapping_failed', param: 'mapping', message: expect.stringMatching(/longer than 1000 ms|deeper than|larger than/) });
    }
    // The server still answers (nothing was left running).
    expect((await admin('POST', '/admin/specs/try-mapping', { yaml: TRY_SPEC, stream: 'customers', record: { id: 'c_2', name: 'b' } })).status).toBe(200);
  });

  it('bounds and checks its input', async () => {
    const deep = JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40));
    const wide = { items: Array.from({ length: 20_000 }, () => 1) };
    for (const [body, param] of [
      [{ yaml: TRY_SPEC, stream: 'customers', record: [1] }, 'record'],
      [{ yaml: TRY_SPEC, stream: 'customers', record: 'x' }, 'record'],
      [{ yaml: TRY_SPEC, stream: 'customers', record: deep }, 'record'],
      [{ yaml: TRY_SPEC, stream: 'customers', record: wide }, 'record'],
      [{ yaml: TRY_SPEC, stream: 5, record: {} }, 'stream'],
      [{ yaml: TRY_SPEC, record: {} }, 'stream'],
      [{ stream: 'customers', record: {} }, 'yaml'],
      [{ yaml: 'x'.repeat(256 * 1024 + 1), stream: 'customers', record: {} }, 'yaml'],
      [JSON.parse('{"yaml": "x", "stream": "customers", "record": {}, "__proto__": {"stream": "customers"}}'), 'yaml'],
    ] as const) {
      const r = await admin('POST', '/admin/specs/try-mapping', body);
      expect(r.status, JSON.stringify(body).slice(0, 200)).toBe(param === 'yaml' && 'yaml' in body && body.yaml === 'x' ? 422 : 400);
      expect(r.json.param).toBe(param);
    }
    for (const name of ['__proto__', 'constructor', 'toString']) {
      const r = await admin('POST', '/admin/specs/try-mapping', { yaml: TRY_SPEC, stream: name, record: { id: 1 } });
      expect(r.status, name).toBe(400);
      expect(r.json.code).toBe('sync_unknown_stream');
    }
    const unauth = await request(`${server.url}/admin/specs/try-mapping`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ yaml: TRY_SPEC, stream: 'customers', record: {} }) });
    await unauth.body.text();
    expect(unauth.statusCode).toBe(401);
  });
});
