import { existsSync } from 'node:fs';
import { findSpecTestFiles } from '../../spec/index.ts';
import { formatFileResult, runSpecTestFile } from '../../spectest/run.ts';
import { parseCommandArgs } from '../args.ts';
import { FILES_ONLY_NOTE } from '../shared-flags.ts';

export const usage = `Usage: taxbridge test [files or folders...] [--json]

Runs every *.test.yaml under the given paths (default: connectors/). Each case serves recorded API
responses from a local replay server and checks the spec's requests, pagination and mappings, webhook
verification and routing, or the write-back requests it produces. Exit 1 when any case fails.
${FILES_ONLY_NOTE}`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean', default: false } });
  const targets = positionals.length ? positionals : ['connectors'];
  const missing = targets.filter((t) => !existsSync(t));
  if (missing.length) {
    process.stderr.write(`taxbridge test: no such file or folder: ${missing.join(', ')}\n`);
    return 2;
  }
  const files = findSpecTestFiles(targets);
  if (files.length === 0) {
    process.stderr.write(`taxbridge test: no spec test files (*.test.yaml) under ${targets.join(', ')}\n`);
    return 1;
  }
  const results = [];
  for (const f of files) {
    const r = await runSpecTestFile(f);
    results.push(r);
    if (!values.json) process.stdout.write(formatFileResult(r) + '\n');
  }
  const cases = results.flatMap((r) => r.cases);
  const failed = cases.filter((c) => !c.ok).length + results.filter((r) => r.diagnostics.length).length;
  const passed = cases.filter((c) => c.ok).length;
  if (values.json) process.stdout.write(JSON.stringify({ ok: failed === 0, passed, failed, files: results }, null, 2) + '\n');
  else process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  return failed ? 1 : 0;
}
