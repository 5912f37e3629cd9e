/**
 * What the linter says about the new write-back and event-rule constructs: a conflict section without a
 * read, an event asking for write-back of a kind whose trigger leaves out webhook, and duplicate event
 * names (allowed after a rule with `when`, refused after one without).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSpecText } from '../src/spec/index.ts';

const ledger = readFileSync(join(import.meta.dirname, 'fixtures', 'ledger', 'ledger.yaml'), 'utf8');
const codes = (text: string) => checkSpecText('ledger.yaml', text).diagnostics.map((d) => `${d.severity} ${d.code} ${d.line}`);
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('lint: read-then-write, triggers, event rules', () => {
  it('accepts the ledger fixture (one warning: no replay protection)', () => {
    expect(codes(ledger)).toEqual([`warning LINT_NO_REPLAY_PROTECTION ${lineOf(ledger, 'signature:')}`]);
  });

  it('refuses conflict without read', () => {
    const text = ledger.replace(/    read:\n      request: .*\n      save_as:\n        sync_token: body.Invoice.SyncToken\n/, '');
    expect(codes(text)).toContain(`error LINT_CONFLICT_WITHOUT_READ ${lineOf(text, '    conflict:')}`);
  });

  it('warns when an event asks for write-back the trigger does not allow', () => {
    const text = ledger.replace('    stream: invoices\n    when: $isDraft(raw)', '    stream: invoices\n    trigger: [api, sync]\n    when: $isDraft(raw)');
    expect(codes(text)).toContain(`warning LINT_WRITEBACK_TRIGGER ${lineOf(text, 'writeback: true')}`);
  });

  it('refuses an unknown trigger', () => {
    const text = ledger.replace('    stream: invoices\n    when: $isDraft(raw)', '    stream: invoices\n    trigger: [cron]\n    when: $isDraft(raw)');
    expect(codes(text).some((c) => c.startsWith('error SCHEMA_ENUM'))).toBe(true);
  });

  it('allows a name twice after a rule with when, not after one without', () => {
    expect(codes(ledger).filter((c) => c.includes('DUPLICATE'))).toEqual([]);
    const text = ledger.replace("      when: $isDraft(body.object)\n", '');
    const second = text.split('\n').map((l, i) => (l === "    - on: 'invoice.*'" ? i + 1 : 0)).filter(Boolean)[1];
    expect(codes(text)).toContain(`error LINT_DUPLICATE_NAME ${second}`);
  });
});
