/**
 * `taxbridge test` on an OAuth (authorization code) spec with a templated host: recorded responses need no
 * consent, so requests carry the fixed SPECTEST_ACCESS_TOKEN against the replay server.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSpecTestFile, SPECTEST_ACCESS_TOKEN } from '../src/spectest/run.ts';

describe('spec tests of OAuth connectors', () => {
  it('run offline with a fixed bearer token', async () => {
    const r = await runSpecTestFile(join(import.meta.dirname, 'fixtures', 'specs', 'oauth-code.test.yaml'));
    expect(r.diagnostics).toEqual([]);
    expect(r.cases.map((c) => [c.name, c.ok, c.problems])).toEqual([['carries the test token', true, []]]);
    expect(SPECTEST_ACCESS_TOKEN).toBe('spectest-access-token');
  });
});
