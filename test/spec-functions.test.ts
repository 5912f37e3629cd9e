/**
 * `definitions.functions`: declared once, callable in mappings, conditions, templates and event rules of the
 * same spec (the ledger fixture's spec tests run them through the real engine on a replay socket), compiled
 * once per spec, reported by the linter at their line, forbidden to shadow built-ins, and private to their
 * spec: two specs may define the same name differently.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileExpression } from '../src/expressions/index.ts';
import { checkSpecText } from '../src/spec/index.ts';
import { runSpecTestFile } from '../src/spectest/run.ts';
import { mapRecord } from '../src/sync/map.ts';

const fixtures = join(import.meta.dirname, 'fixtures');
const minimal = readFileSync(join(fixtures, 'specs', 'valid-minimal.yaml'), 'utf8');
const conn = { connection_id: 'c', environment: 'production' as const, credentials: {}, settings: {} };

/** valid-minimal.yaml with its `definitions` replaced and the invoices mapping set. */
function specText(functions: string, mapping = '{ "external_id": id, "customer_external_id": customer, "currency": "USD", "status": "open", "lines": [] }'): string {
  return minimal
    .replace(/definitions:\n/, `definitions:\n  functions:\n${functions}`)
    .replace(/mapping: '\{ "external_id": id, "customer_external_id": customer, "currency": currency, "status": "open", "lines": \[\] \}'/, `mapping: '${mapping}'`);
}

describe('definitions.functions', () => {
  it('runs in the mapping, the write-back condition and template, and event rules (ledger spec tests)', async () => {
    const result = await runSpecTestFile(join(fixtures, 'ledger', 'ledger.test.yaml'));
    expect(result.diagnostics).toEqual([]);
    expect(result.cases.filter((c) => !c.ok).map((c) => `${c.name}: ${c.problems.join('; ')}`)).toEqual([]);
    expect(result.cases.length).toBe(9);
  });

  it('keeps each spec its own definition of a name', async () => {
    const mapping = '{ "external_id": $tag(id), "customer_external_id": customer, "currency": "USD", "status": "open", "lines": [] }';
    const a = checkSpecText('a.yaml', specText(`    tag: 'function($v){ "A-" & $v }'\n`, mapping).replace('name: acme', 'name: acme_a'));
    const b = checkSpecText('b.yaml', specText(`    tag: 'function($v){ "B-" & $v }'\n`, mapping).replace('name: acme', 'name: acme_b'));
    expect(a.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const ma = await mapRecord(a.spec!, 'invoices', { id: 'inv_1', customer: 'c' }, conn);
    const mb = await mapRecord(b.spec!, 'invoices', { id: 'inv_1', customer: 'c' }, conn);
    expect(ma.ok && ma.data.external_id).toBe('A-inv_1');
    expect(mb.ok && mb.data.external_id).toBe('B-inv_1');
    // Expressions of other specs (and plain ones) do not see them.
    await expect(compileExpression('$tag("x")').evaluate({})).rejects.toMatchObject({ code: 'EXPRESSION_EVALUATION' });
  });

  it('lets functions call each other and the money functions with the spec exponents', async () => {
    const text = specText(`    cents: 'function($v, $c){ $fromMinor($v, $c) }'\n    both: 'function($v){ $cents($v, "usd") & " " & $cents($v, "isk") }'\n  currency_exponents: { ISK: 2 }\n`, '{ "external_id": $both(n), "customer_external_id": customer, "currency": "USD", "status": "open", "lines": [] }');
    const spec = checkSpecText('m.yaml', text).spec!;
    const m = await mapRecord(spec, 'invoices', { id: 'i', n: 1234, customer: 'c' }, conn);
    expect(m.ok && m.data.external_id).toBe('12.34 12.34');
  });

  it('reports a broken function at its line and column, and bad names', () => {
    const text = specText(`    ok: 'function($v){ $v + 1 }'\n    broken: 'function($v){ $v + }'\n    sum: 'function($v){ $v }'\n    plain: '$v + 1'\n`);
    const r = checkSpecText('f.yaml', text);
    expect(r.spec).toBeUndefined();
    const lines = text.split('\n');
    const at = (needle: string) => lines.findIndex((l) => l.includes(needle)) + 1;
    const ds = r.diagnostics.map((d) => ({ line: d.line, code: d.code, message: d.message }));
    expect(ds).toContainEqual({ line: at("broken: '"), code: 'EXPRESSION_SYNTAX', message: expect.stringMatching(/^invalid JSONata in function `broken`/) });
    expect(ds).toContainEqual({ line: at("sum: '"), code: 'LINT_FUNCTION_RESERVED_NAME', message: 'definitions.functions.sum: `$sum` is a JSONata built-in function; choose another name' });
    expect(ds).toContainEqual({ line: at("plain: '"), code: 'LINT_FUNCTION_NOT_A_FUNCTION', message: 'definitions.functions.plain is not a function: write it as `function($v){ ... }`' });
    const broken = r.diagnostics.find((d) => d.code === 'EXPRESSION_SYNTAX')!;
    // The column points inside the function's source, past `function($v){ $v + `.
    expect(broken.column).toBeGreaterThan(lines[at("broken: '") - 1]!.indexOf('$v +'));
  });

  it('refuses the money function names and names that are no JSONata variable', () => {
    const r = checkSpecText('g.yaml', specText(`    toMinor: 'function($v){ $v }'\n    9lives: 'function($v){ $v }'\n`));
    expect(r.diagnostics.map((d) => d.code)).toEqual(expect.arrayContaining(['LINT_FUNCTION_RESERVED_NAME', 'SCHEMA_PATTERN']));
  });
});
