import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSpecFile, checkSpecText } from '../src/spec/index.ts';

const fixtures = join(import.meta.dirname, 'fixtures', 'specs');

describe('taxbridge validate: body encodings', () => {
  it('points at bodies that cannot be encoded as declared, unused form rules, and bad vary_by templates', () => {
    const { diagnostics } = checkSpecFile(join(fixtures, 'body-encoding-mistakes.yaml'));
    expect(diagnostics.map((d) => `${d.line}:${d.column} ${d.severity} ${d.code} ${d.path}`)).toEqual([
      '11:60 error LINT_CURSOR_IN_TEXT_BODY streams.things.request.body_encoding',
      '11:72 error LINT_BODY_SHAPE streams.things.request.body',
      '16:47 error LINT_BODY_SHAPE check.request.body',
      '22:65 warning LINT_FORM_UNUSED webhooks.registration.request.form',
      '22:126 error EXPRESSION_SYNTAX webhooks.registration.request.idempotency_key.vary_by',
    ]);
  });

  it('the schema refuses unknown encodings, form rules and idempotency_key shapes', () => {
    const base = readFileSync(join(fixtures, 'valid-minimal.yaml'), 'utf8');
    const spec = base.replace('  retry:\n    max_attempts: 4\n', "  retry:\n    max_attempts: 4\n  body_encoding: xml\n  form: { arrays: sideways }\n  query: { minorversion: '75' }\n");
    const codes = checkSpecText('x.yaml', spec).diagnostics.map((d) => `${d.path} ${d.code}`);
    expect(codes).toContain('http.body_encoding SCHEMA_ENUM');
    expect(codes).toContain('http.form.arrays SCHEMA_ENUM');
    expect(codes.some((c) => c.startsWith('http.query'))).toBe(false);
    const bad = base.replace("      path: /customers\n", "      path: /customers\n      idempotency_key: { version: 1 }\n");
    expect(checkSpecText('y.yaml', bad).diagnostics.map((d) => d.code)).toContain('SCHEMA_UNKNOWN_PROPERTY');
  });

  it('the next_url pagination type validates and its expression is compiled', () => {
    const base = readFileSync(join(fixtures, 'valid-minimal.yaml'), 'utf8');
    const good = base.replace("    pagination: { $ref: '#/definitions/pages' }\n", '    pagination: { type: next_url, next_url: body.nextRecordsUrl }\n');
    expect(checkSpecText('a.yaml', good).diagnostics).toEqual([]);
    const broken = good.replace('next_url: body.nextRecordsUrl', 'next_url: "body.("');
    expect(checkSpecText('b.yaml', broken).diagnostics.map((d) => d.code)).toEqual(['EXPRESSION_SYNTAX']);
  });
});
