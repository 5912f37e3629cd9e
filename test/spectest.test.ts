import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runSpecTestFile } from '../src/spectest/run.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'taxbridge.js');

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

  it('exits non-zero from the command line when a case fails', async () => {
    const failed = await run('node', [bin, 'test', join(root, 'test', 'fixtures', 'spectest')]).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/0 passed, 2 failed/);
  });
});

describe('taxbridge map', () => {
  it('prints the canonical entity of a raw record', async () => {
    const { stdout } = await run('node', [bin, 'map', join(root, 'connectors', 'sequence.yaml'), 'invoices', join(root, 'test', 'fixtures', 'records', 'sequence-invoice.json')]);
    const out = JSON.parse(stdout);
    expect(out.entity).toBe('invoice');
    expect(out.data).toMatchObject({ external_id: 'inv_1', currency: 'USD', status: 'draft', lines: [{ external_id: 'li_1', amount: '100.00' }] });
  });

  it('explains a record that does not map and exits 1', async () => {
    const failed = await run('node', [bin, 'map', join(root, 'connectors', 'sequence.yaml'), 'invoices', join(root, 'test', 'fixtures', 'spectest', 'failing.test.yaml')]).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/MAP_BAD_RECORD/);
  });
});
