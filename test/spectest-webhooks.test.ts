/**
 * `taxbridge test` for the webhook constructs: authentication kinds (basic, token in the query, hmac over
 * method + URL), a per_connector URL with the app secret, fan-out events with their tenants and whether the
 * test connection's tenant setting routes them. A wrong expectation about routing fails the case.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSpecTestFile } from '../src/spectest/run.ts';

const specs = join(import.meta.dirname, 'fixtures', 'specs');

describe('spec tests of webhook authentication, tenants and fan-out', () => {
  it.each(['wh-shared-realms', 'wh-basic', 'wh-token', 'wh-hubspot'])('every case of test/fixtures/specs/%s.test.yaml passes', async (name) => {
    const r = await runSpecTestFile(join(specs, `${name}.test.yaml`));
    expect(r.diagnostics).toEqual([]);
    expect(r.cases.filter((c) => !c.ok).map((c) => `${c.name}: ${c.problems.join('; ')}`)).toEqual([]);
  });

  it('fails a case that expects another realm’s event to be routed to the test connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tb-spectest-wh-'));
    try {
      copyFileSync(join(specs, 'wh-shared-realms.yaml'), join(dir, 'wh-shared-realms.yaml'));
      const text = readFileSync(join(specs, 'wh-shared-realms.test.yaml'), 'utf8').replace("tenant: '4620816365251219', routed: false", "tenant: '4620816365251219', routed: true");
      writeFileSync(join(dir, 'x.test.yaml'), text);
      const r = await runSpecTestFile(join(dir, 'x.test.yaml'));
      const failed = r.cases.filter((c) => !c.ok);
      expect(failed.length).toBe(1);
      expect(failed[0]!.problems.join(' ')).toContain('events[2].routed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
