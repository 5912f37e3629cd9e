import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, main } from '../src/cli/main.ts';
import { CLI } from './helpers/serve-child.ts';

const ROOT = join(import.meta.dirname, '..');
const RECORD = join(import.meta.dirname, 'helpers', 'record-imports.mjs');

/** Runs the CLI from source with the import recorder: exit code, stdout and the command modules it loaded. */
function runRecorded(args: string[]): Promise<{ code: number; stdout: string; commands: string[] }> {
  const [importFlag, tsx, entry] = CLI;
  return new Promise((resolve) => {
    execFile(process.execPath, [importFlag!, tsx!, '--import', RECORD, entry!, ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      const commands = [...stderr.matchAll(/^import: .*\/src\/cli\/commands\/([a-z-]+)\.ts$/gm)].map((m) => m[1]!);
      resolve({ code: err ? (err.code as number) : 0, stdout, commands });
    });
  });
}

describe('taxbridge loads only the command it runs', () => {
  it('lists every module of src/cli/commands in the command table, and nothing else', () => {
    const files = readdirSync(join(ROOT, 'src', 'cli', 'commands')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
    expect(Object.keys(COMMANDS).sort()).toEqual(files);
  });

  it('every table entry loads a module with run()', async () => {
    for (const [name, entry] of Object.entries(COMMANDS)) {
      const mod = await entry.load();
      expect(typeof mod.run, name).toBe('function');
      expect(entry.summary.length, name).toBeGreaterThan(10);
    }
  });

  it('`taxbridge --help` prints every summary without loading any command module', async () => {
    const r = await runRecorded(['--help']);
    expect(r.code).toBe(0);
    for (const [name, entry] of Object.entries(COMMANDS)) expect(r.stdout).toContain(`  ${name.padEnd(12)} ${entry.summary}`);
    expect(r.commands).toEqual([]);
  });

  it('`taxbridge validate <spec>` loads the validate module only', async () => {
    const r = await runRecorded(['validate', join(ROOT, 'connectors', 'sequence.yaml')]);
    expect(r.stdout).toMatch(/1 spec\(s\) checked: 0 error\(s\)/);
    expect(r.code).toBe(0);
    expect(r.commands).toEqual(['validate']);
  });

  it('`taxbridge <command> --help` prints the summary and the usage of that command only', async () => {
    const r = await runRecorded(['validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(`${COMMANDS.validate!.summary}\n\nUsage: taxbridge validate`)).toBe(true);
    expect(r.commands).toEqual(['validate']);
  });

  it('an unknown command, or a name of an Object.prototype property, is a usage error (exit 2) naming the commands', async () => {
    const write = process.stderr.write;
    let err = '';
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    try {
      expect(await main(['constructor'])).toBe(2);
      expect(await main(['__proto__'])).toBe(2);
      expect(await main(['valdiate'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(err).toContain('unknown command `valdiate`');
    expect(err).toContain(Object.keys(COMMANDS).join(', '));
  });
});
