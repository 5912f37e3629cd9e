import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runSpecTestFile } from '../src/spectest/run.ts';
import { CLI } from './helpers/serve-child.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

describe('spec tests (taxbridge test)', () => {
  it.each(['sequence', 'rillet'])('every case of connectors/%s.test.yaml passes', async (name) => {
    const result = await runSpecTestFile(join(root, 'connectors', `${name}.test.yaml`));
    expect(result.diagnostics).toEqual([]);
    expect(result.cases.length).toBeGreaterThanOrEqual(8);
    expect(result.cases.filter((c) => !c.ok).map((c) => `${c.name}: ${c.problems.join('; ')}`)).toEqual([]);
  });

  it('fails wrong expectations with a path-by-path diff and lists unrecorded requests', async () => {
    const result = await runSpecTestFile(join(root, 'test', 'fixtures', 'spectest', 'failing.test.yaml'));
    const [stream, webhook] = result.cases;
    expect(stream!.ok).toBe(false);
    expect(stream!.problems).toContain('records[0].address.state: expected "CA", got "TX"');
    expect(stream!.problems.some((p) => p.startsWith('unrecorded request: GET /customers?') && p.includes('after=bmV4dA%3D%3D'))).toBe(true);
    expect(webhook!.ok).toBe(false);
    expect(webhook!.problems).toEqual(['action: expected "upsert", got "refetch"']);
  });

  it('sees the wire: a JSON body where form fields are expected fails, showing what was sent', async () => {
    const result = await runSpecTestFile(join(root, 'test', 'fixtures', 'spectest', 'form-body.test.yaml'));
    const [form, raw] = result.cases;
    expect(form!.ok).toBe(false);
    expect(form!.problems).toEqual([
      'requests[0].headers.content-type: expected "application/x-www-form-urlencoded", got "application/json"',
      'requests[0].form: expected a form body (application/x-www-form-urlencoded), the request sent application/json: {"tax_amounts":[{"amount":"8.25","tax_rate_data":{"percentage":"8.25"}}]}',
    ]);
    expect(raw!.ok).toBe(false);
    expect(raw!.problems[0]).toBe('requests[0].raw_body: differs at character 0:');
    expect(raw!.problems[1]).toContain('expected "tax_amounts%5B0%5D%5Bamount%5D=8.25');
    expect(raw!.problems[2]).toContain('got      "{\\"tax_amounts\\"');
  });

  it('a form body checked as JSON fails, and a differing form field is named with both values', async () => {
    const result = await runSpecTestFile(join(root, 'test', 'fixtures', 'spectest', 'form-expectations.test.yaml'));
    const [asJson, field] = result.cases;
    expect(asJson!.ok).toBe(false);
    expect(asJson!.problems).toHaveLength(1);
    expect(asJson!.problems[0]).toMatch(/^requests\[0\]\.body: expected a JSON body, the request sent application\/x-www-form-urlencoded: description=Tax\+by\+taxbridge&/);
    expect(field!.problems).toEqual(['requests[0].form.tax_amounts[0][amount]: expected "8.00", got "8.25"', 'requests[0].form.tax_amounts[0][tax_rate_data][state]: unexpected "TX"']);
  });

  it('passes exact form bytes, next-URL pages and a form-encoded webhook (test/fixtures/specs/formpay.test.yaml)', async () => {
    const result = await runSpecTestFile(join(root, 'test', 'fixtures', 'specs', 'formpay.test.yaml'));
    expect(result.diagnostics).toEqual([]);
    expect(result.cases.filter((c) => !c.ok).map((c) => `${c.name}: ${c.problems.join('; ')}`)).toEqual([]);
    expect(result.cases).toHaveLength(3);
  });

  it('exits non-zero from the command line when a case fails', async () => {
    const failed = await run(process.execPath, [...CLI, 'test', join(root, 'test', 'fixtures', 'spectest')]).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/0 passed, 6 failed/);
  });
});

describe('taxbridge map', () => {
  it('prints the canonical entity of a raw record', async () => {
    const { stdout } = await run(process.execPath, [...CLI, 'map', join(root, 'connectors', 'sequence.yaml'), 'invoices', join(root, 'test', 'fixtures', 'records', 'sequence-invoice.json')]);
    const out = JSON.parse(stdout);
    expect(out.entity).toBe('invoice');
    expect(out.data).toMatchObject({ external_id: 'inv_1', currency: 'USD', status: 'draft', lines: [{ external_id: 'li_1', amount: '100.00' }] });
  });

  it('explains a record that does not map and exits 1', async () => {
    const failed = await run(process.execPath, [...CLI, 'map', join(root, 'connectors', 'sequence.yaml'), 'invoices', join(root, 'test', 'fixtures', 'spectest', 'failing.test.yaml')]).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/map_bad_record/);
  });
});
