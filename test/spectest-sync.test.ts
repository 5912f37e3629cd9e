/**
 * The sync constructs in spec tests and the validator: a fixture connector with a query-language cursor,
 * an initial value, created[gt] in unix seconds, a change feed, several schedules and deletion by absence
 * validates clean, and its offline cases pass through the real engine against the replay server.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { checkSpecFile, checkSpecText } from '../src/spec/index.ts';
import { runSpecTestFile } from '../src/spectest/run.ts';

const fixtures = join(import.meta.dirname, 'fixtures', 'specs');

describe('sync constructs in validate and spec tests', () => {
  it('the fixture validates without errors or warnings', () => {
    const r = checkSpecFile(join(fixtures, 'feedbooks.yaml'));
    expect(r.diagnostics).toEqual([]);
    expect(r.spec?.streams.customers?.change_feed?.format).toBe('unix_seconds');
  });

  it('its cases pass: initial value and cursor inside a query string, created[gt] omitted then from the feed', async () => {
    const result = await runSpecTestFile(join(fixtures, 'feedbooks.test.yaml'));
    expect(result.diagnostics).toEqual([]);
    expect(result.cases.map((c) => [c.name, c.ok, c.problems])).toEqual(result.cases.map((c) => [c.name, true, []]));
    expect(result.cases).toHaveLength(4);
  });

  it('validate points at sync mistakes: since without incremental, a bad initial, a feed read whole, an incomplete feed, empty deletion', () => {
    const text = readFileSync(join(fixtures, 'feedbooks.yaml'), 'utf8')
      .replace("initial: '2015-01-01T00:00:00Z'", "initial: 'the beginning'")
      .replace("    incremental: { cursor_field: created, format: unix_seconds }\n", '')
      .replace("        query: { type: 'customer.*', 'created[gt]': '{{ incremental.since }}' }\n", '')
      .replace('      object: data.object\n', '')
      .replace('    deletion: { absent_in_full_sync: true }', '    deletion: {}');
    const found = checkSpecText('broken.yaml', text).diagnostics.map((d) => `${d.code} ${d.path} ${d.line}`);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^LINT_BAD_INITIAL streams\.items\.incremental\.initial \d+$/),
        expect.stringMatching(/^LINT_SINCE_WITHOUT_INCREMENTAL streams\.customers\.request \d+$/),
        expect.stringMatching(/^LINT_FEED_WITHOUT_SINCE streams\.customers\.change_feed\.request \d+$/),
        expect.stringMatching(/^SCHEMA_\w+ streams\.customers\.change_feed/),
        expect.stringMatching(/^SCHEMA_\w+ streams\.items\.deletion/),
      ]),
    );
  });
});
