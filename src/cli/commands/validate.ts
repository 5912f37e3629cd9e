import { existsSync } from 'node:fs';
import { checkSpecFile, findSpecFiles, formatGithub, formatText, hasErrors, type Diagnostic } from '../../spec/index.ts';
import { parseCommandArgs } from '../args.ts';
import { FILES_ONLY_NOTE } from '../shared-flags.ts';

export const usage = `Usage: taxbridge validate [files or folders...] [--format text|json|github]

Checks every *.yaml under the given paths (default: connectors/), spec test files excepted.
Each problem is printed as file:line:column CODE message, with a hint when there is a likely fix.
${FILES_ONLY_NOTE}`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { format: { type: 'string', default: 'text' } });
  const format = values.format as string;
  if (!['text', 'json', 'github'].includes(format)) {
    process.stderr.write(`taxbridge validate: --format must be text, json or github (got ${format})\n`);
    return 2;
  }
  const targets = positionals.length ? positionals : ['connectors'];
  const missing = targets.filter((t) => !existsSync(t));
  const files = findSpecFiles(targets.filter((t) => existsSync(t)));
  const results = files.map((f) => checkSpecFile(f));
  const diagnostics: Diagnostic[] = [
    ...missing.map((m) => ({ file: m, line: 1, column: 1, code: 'SPEC_NOT_FOUND', message: 'no such file or folder', severity: 'error' as const })),
    ...results.flatMap((r) => r.diagnostics),
  ];
  if (files.length === 0 && missing.length === 0) diagnostics.push({ file: targets.join(' '), line: 1, column: 1, code: 'SPEC_NONE_FOUND', message: 'no connector specs (*.yaml) found', severity: 'error' });
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  if (format === 'json') {
    process.stdout.write(JSON.stringify({ ok: errors === 0, files: files.length, errors, warnings, diagnostics }, null, 2) + '\n');
  } else if (format === 'github') {
    for (const d of diagnostics) process.stdout.write(formatGithub(d) + '\n');
  } else {
    for (const d of diagnostics) process.stdout.write(formatText(d) + '\n');
    process.stdout.write(`${files.length} spec(s) checked: ${errors} error(s), ${warnings} warning(s)\n`);
  }
  return hasErrors(diagnostics) ? 1 : 0;
}
