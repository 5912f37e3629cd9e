import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkSpecFile, checkSpecText, loadConnector, SpecError } from '../src/spec/index.ts';
import { CLI } from './helpers/serve-child.ts';

const run = promisify(execFile);
const fixtures = join(import.meta.dirname, 'fixtures', 'specs');

// Each broken spec differs from valid-minimal.yaml by one mistake an engineer makes; the first
// diagnostic must point at the exact line:column of that mistake with a stable code.
const broken: Array<[string, number, number, string, RegExp?]> = [
  ['01-misspelt-key.yaml', 31, 5, 'SCHEMA_UNKNOWN_PROPERTY', /did you mean `pagination`/],
  ['02-wrong-type.yaml', 18, 19, 'SCHEMA_TYPE'],
  ['03-bad-indentation.yaml', 30, 14, 'YAML_BLOCK_AS_IMPLICIT_KEY'],
  ['04-duplicate-key.yaml', 31, 5, 'YAML_DUPLICATE_KEY'],
  ['05-bad-jsonata-mapping.yaml', 36, 7, 'EXPRESSION_SYNTAX'],
  ['06-unknown-auth-type.yaml', 14, 9, 'SCHEMA_ENUM', /did you mean `bearer`/],
  ['07-bad-cron.yaml', 37, 23, 'LINT_BAD_CRON'],
  ['08-undeclared-credential.yaml', 15, 10, 'LINT_UNDECLARED_CREDENTIAL', /did you mean `api_key`/],
  ['09-missing-records-path.yaml', 26, 3, 'SCHEMA_MISSING_PROPERTY'],
  ['10-unknown-signature-encoding.yaml', 50, 15, 'SCHEMA_ENUM'],
  ['11-ref-missing-target.yaml', 31, 25, 'REF_NOT_FOUND', /available: pages/],
  ['12-ref-cycle.yaml', 21, 11, 'REF_CYCLE'],
  ['13-bad-timezone.yaml', 37, 49, 'LINT_BAD_TIMEZONE'],
  ['14-unknown-stream-in-event.yaml', 57, 15, 'LINT_UNKNOWN_STREAM', /did you mean `invoices`/],
  ['15-unclosed-template.yaml', 43, 35, 'EXPRESSION_SYNTAX'],
  ['16-bad-jsonata-in-template.yaml', 43, 42, 'EXPRESSION_SYNTAX'],
  ['17-unknown-entity.yaml', 27, 13, 'SCHEMA_ENUM', /did you mean `customer`/],
  ['18-missing-auth.yaml', 2, 1, 'SCHEMA_MISSING_PROPERTY'],
  ['19-wrong-spec-version.yaml', 2, 15, 'SCHEMA_CONST'],
  ['20-bad-stream-name.yaml', 38, 3, 'SCHEMA_PATTERN'],
  ['21-duplicate-credential.yaml', 11, 11, 'LINT_DUPLICATE_NAME'],
  ['22-refetch-without-fetch.yaml', 54, 15, 'LINT_REFETCH_WITHOUT_FETCH'],
  ['23-page-size-as-string.yaml', 24, 39, 'SCHEMA_TYPE'],
  ['24-unknown-pagination-type.yaml', 21, 11, 'SCHEMA_ENUM', /did you mean `cursor`/],
  ['25-bad-base-url.yaml', 7, 15, 'LINT_URL'], // a base URL may be a template (not a URI): checked by lint,
  ['26-tab-indentation.yaml', 31, 1, 'YAML_TAB_AS_INDENT'],
  ['27-event-without-id.yaml', 55, 7, 'LINT_EVENT_NO_ID'],
  ['28-missing-basic-password.yaml', 13, 1, 'SCHEMA_MISSING_PROPERTY', /password/],
  ['29-bad-jsonata-records.yaml', 30, 19, 'EXPRESSION_SYNTAX'],
  ['30-unquoted-colon.yaml', 10, 12, 'YAML_BLOCK_AS_IMPLICIT_KEY'],
];

describe('taxbridge validate: broken specs', () => {
  it('the base of every broken fixture is itself clean', () => {
    expect(checkSpecFile(join(fixtures, 'valid-minimal.yaml')).diagnostics).toEqual([]);
  });

  it.each(broken)('%s -> %i:%i %s', (file, line, column, code, text) => {
    const result = checkSpecFile(join(fixtures, 'broken', file), file);
    expect(result.spec).toBeUndefined();
    const first = result.diagnostics[0]!;
    expect({ line: first.line, column: first.column, code: first.code }).toEqual({ line, column, code });
    expect(first.message.length).toBeGreaterThan(10);
    if (text) expect(`${first.message} ${first.hint ?? ''}`).toMatch(text);
  });

  it('reports a misspelt key, a wrong type and broken JSONata together, each at its position', () => {
    const base = readFileSync(join(fixtures, 'valid-minimal.yaml'), 'utf8');
    const text = base
      .replace('    pagination: {', '    paginaton: {')
      .replace('    max_attempts: 4', '    max_attempts: four')
      .replace('        "name": name\n', '        "name": $uppercase(name\n');
    const { diagnostics } = checkSpecText('three.yaml', text);
    expect(diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual(['18:19 SCHEMA_TYPE', '31:5 SCHEMA_UNKNOWN_PROPERTY', '36:7 EXPRESSION_SYNTAX']);
  });

  it('loadConnector throws SpecError carrying every diagnostic', () => {
    expect(() => loadConnector(join(fixtures, 'broken', '01-misspelt-key.yaml'))).toThrow(SpecError);
    try {
      loadConnector(join(fixtures, 'broken', '21-duplicate-credential.yaml'));
    } catch (e) {
      expect((e as SpecError).code).toBe('SPEC_INVALID');
      expect((e as SpecError).diagnostics.length).toBe(2);
    }
  });
});

describe('taxbridge validate: command line', () => {
  it('exits 0 on the shipped connectors', async () => {
    const { stdout } = await run(process.execPath, [...CLI, 'validate', join(import.meta.dirname, '..', 'connectors')]);
    expect(stdout).toMatch(/\d+ spec\(s\) checked: 0 error\(s\)/);
  });

  it('exits 1 and reports all files of a folder, as JSON and as GitHub annotations', async () => {
    const dir = join(fixtures, 'broken');
    const json = await run(process.execPath, [...CLI, 'validate', '--format', 'json', dir]).catch((e) => e);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(false);
    expect(report.files).toBe(broken.length);
    expect(new Set(report.diagnostics.map((d: { file: string }) => d.file)).size).toBe(broken.length);
    const gh = await run(process.execPath, [...CLI, 'validate', '--format', 'github', join(dir, '01-misspelt-key.yaml')]).catch((e) => e);
    expect(gh.code).toBe(1);
    expect(gh.stdout).toMatch(/^::error file=.*01-misspelt-key\.yaml,line=31,col=5,title=SCHEMA_UNKNOWN_PROPERTY::/m);
  });
});
