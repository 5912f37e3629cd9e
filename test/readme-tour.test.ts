/**
 * The README's "Connect a system" tour runs as written: `taxbridge demo --keep` is started as a newcomer
 * would, the env-file line it prints is run, then each command of the README's tour block, extracted from
 * README.md (so the README cannot drift), runs literally in bash from the clone, against the demo's fakes and
 * server. The block is also the demo's own list (src/demo/tour.ts), which it prints with its values.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOUR_COMMANDS, expandTourCommand } from '../src/demo/tour.ts';
import { ensureBuilt } from './helpers/built-package.ts';
import { until } from './helpers/e2e.ts';

const ROOT = join(import.meta.dirname, '..');
const MARKER = '<!-- tour: test/readme-tour.test.ts runs this block';

/** The commands of the README's tour block (the fenced block after the marker). */
function readmeTour(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  expect(at, 'README.md has the tour marker').toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)\n```/.exec(readme.slice(at));
  return block![1]!.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
}

/** One line run by bash in the clone, after the demo's env file, with nothing of ours in its environment. */
function bash(envFile: string, line: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TAXBRIDGE_')));
    const p = spawn('bash', ['-c', `. ${envFile} && ${line}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// `npx taxbridge` runs the package as installed (dist/): built first when missing or stale.
beforeAll(ensureBuilt, 600_000);

let demo: ChildProcess | undefined;
let demoOut = '';
afterAll(() => {
  demo?.kill('SIGKILL');
});

describe('README tour', () => {
  it('is the demo\'s own list of commands', () => {
    expect(readmeTour()).toEqual([...TOUR_COMMANDS]);
  });

  it('runs as written against taxbridge demo --keep', async () => {
    demo = spawn(process.execPath, ['bin/taxbridge.js', 'demo', '--keep'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout!.on('data', (d) => (demoOut += d));
    demo.stderr!.on('data', (d) => (demoOut += d));
    await until(() => (demoOut.includes('Press Ctrl-C to stop.') ? true : undefined), `the demo to be ready (so far:\n${demoOut.slice(-2000)})`, 180_000, 200);

    const envFile = /^ {2}\. (\S+\/tour\.env) /m.exec(demoOut)?.[1];
    expect(envFile, demoOut).toBeDefined();
    expect(statSync(envFile!).mode & 0o777).toBe(0o600);
    const env = Object.fromEntries([...readFileSync(envFile!, 'utf8').matchAll(/^export ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'|'$/g, '')]));
    expect(statSync(env.TOUR_DIR!).mode & 0o777).toBe(0o700);
    // The demo prints the exact commands: the README's, with its values.
    for (const c of TOUR_COMMANDS) expect(demoOut).toContain(`  ${expandTourCommand(c, env)}\n`);
    const logFile = /server log: (\S+), kept after the demo ends/.exec(demoOut)?.[1];
    expect(logFile).toBeDefined();

    const out: string[] = [];
    for (const line of readmeTour()) {
      const r = await bash(envFile!, line);
      expect(r.code, `${line}\n${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stderr, line).not.toMatch(/ENOENT|ENOTFOUND|CLI_USAGE|warning: --credential/);
      out.push(r.stdout);
    }
    const [sequence, rillet1, rillet2, list, sync, events, dead] = out;
    expect(sequence).toMatch(new RegExp(`^Connected: Sequence \\(sandbox\\) for organization ${env.TOUR_ORG}: conn_\\w+ \\[active\\]`));
    expect(sequence).toMatch(/tb_test_[0-9A-Za-z]{40}/);
    expect(rillet1).toMatch(/^Started: Rillet \(sandbox\) .* \[pending\]/);
    expect(rillet1).toContain(env.RILLET_SUBSIDIARY);
    expect(rillet1).toMatch(/Webhook URL: http:\/\/127\.0\.0\.1:\d+\/webhooks\/whk_/);
    expect(rillet2).toMatch(/^Updated: Rillet \(sandbox\) .* \[active\]/);
    // The list: the demo's five connections and the tour's two, each with what its syncs and webhooks did.
    expect(list.split('\n')[0]).toMatch(/^ID\s+CONNECTOR\s+ENV\s+STATUS\s+ORGANIZATION\s+LAST SYNC\s+RECORDS\s+WEBHOOKS\s+WRITE-BACKS$/);
    expect(list.split('\n').filter((l) => l.includes(env.TOUR_ORG!))).toHaveLength(2);
    expect(list.split('\n').find((l) => l.startsWith(env.DEMO_CONNECTION!))).toMatch(/active\s+org_test_\w+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+\s+\d+/);
    expect(sync).toMatch(/^invoices: incremental, \d+ records \(/m);
    expect(events).toMatch(/^ID\s+RECEIVED\s+CONNECTION\s+TYPE\s+STATUS/);
    expect(dead).toBe('No write-back jobs.\n');

    // Ctrl-C ends the demo: the tour folder (credentials, admin token) goes, the server log stays.
    demo.kill('SIGINT');
    await until(() => (demo!.exitCode !== null ? true : undefined), 'the demo to stop', 60_000, 100);
    expect(demo.exitCode).toBe(0);
    expect(existsSync(env.TOUR_DIR!)).toBe(false);
    expect(existsSync(logFile!)).toBe(true);
    rmSync(logFile!, { force: true });
  }, 400_000);
});
