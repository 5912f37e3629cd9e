/**
 * `npm run check:package` (also in `npm test`, after the build): the package as a user gets it. Packs this folder
 * (what `npm publish` would upload), installs the tarball globally into a temporary prefix (dependencies only:
 * no tsx, no TypeScript), and from an unrelated empty folder runs what the README runs: `taxbridge --help`,
 * `validate` and `test` on the shipped specs, `serve` until /readyz answers 200, and the whole `demo`.
 * Any failure prints the command, its exit code and output, and exits 1. Needs a current dist/ (`npm run build`).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../src/package-root.ts';

const tmp = mkdtempSync(join(tmpdir(), 'taxbridge-package-'));
const prefix = join(tmp, 'prefix');
const elsewhere = join(tmp, 'elsewhere');
mkdirSync(elsewhere);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const failures: string[] = [];

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: opts.cwd ?? elsewhere, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeout ?? 180_000, maxBuffer: 64 << 20 });
}

function check(what: string, r: SpawnSyncReturns<string>, expect: (r: SpawnSyncReturns<string>) => boolean): void {
  const ok = r.status === 0 && expect(r);
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) failures.push(`${what}: exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n--- stdout\n${r.stdout?.slice(-3000)}\n--- stderr\n${r.stderr?.slice(-3000)}`);
}

/** `taxbridge serve` from the installed package: resolves with /readyz's status once it listens, then stops it. */
function serveReady(bin: string, env: NodeJS.ProcessEnv): Promise<{ status: number; console: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(bin, ['serve', '--data', join(elsewhere, 'data'), '--port', '0', '--init-key'], { cwd: elsewhere, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let result: { status: number; console: number } | undefined;
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGTERM'), 120_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      const entry = l.startsWith('{') ? (JSON.parse(l) as { msg?: string; url?: string }) : {};
      if (entry.msg !== 'listening' || !entry.url) return;
      void Promise.all([fetch(`${entry.url}/readyz`), fetch(`${entry.url}/console`)]).then(
        async ([ready, ui]) => {
          await Promise.all([ready.arrayBuffer(), ui.arrayBuffer()]);
          result = { status: ready.status, console: ui.status };
          child.kill('SIGTERM');
        },
        (e: unknown) => {
          stderr += `\nrequest to ${entry.url} failed: ${String((e as { cause?: unknown }).cause ?? e)}`;
          child.kill('SIGTERM');
        },
      );
    });
    // Resolved at exit: with the answers when they came, else with the exit code (negative) as the status.
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ ...(result ?? { status: -(code ?? 1), console: 0 }), stderr });
    });
  });
}

try {
  if (!existsSync(join(PACKAGE_ROOT, 'dist', 'cli', 'bin.js'))) throw new Error('no dist/: run `npm run build` first');
  // The build just ran (npm test runs it first), so pack without running prepack's clean build again.
  const pack = run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: PACKAGE_ROOT });
  check('npm pack', pack, () => true);
  const packed = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = packed[0]!.files.map((f) => f.path);
  const mustShip = ['bin/taxbridge.js', 'dist/cli/bin.js', 'dist/src/spec/validators-connector.precompiled.cjs', 'dist/src/spec/validators.precompiled.cjs', 'dist/src/tax/data/us-states.yaml', 'dist/fakes/index.js', 'console/dist/index.html', 'schemas/connector.schema.json', 'connectors/sequence.yaml', 'LICENSE', 'README.md', 'package.json'];
  const missing = mustShip.filter((f) => !files.includes(f));
  const stray = files.filter((f) => /^(src|test|bench|scripts)\/|\.ts$/.test(f) && !f.endsWith('.d.ts'));
  process.stdout.write(`${missing.length + stray.length ? 'FAIL' : 'ok  '} tarball: ${files.length} files${missing.length ? `, missing ${missing.join(', ')}` : ''}${stray.length ? `, not for users: ${stray.slice(0, 5).join(', ')}` : ''}\n`);
  if (missing.length || stray.length) failures.push(`tarball contents: missing ${missing.join(', ')}; stray ${stray.join(', ')}`);

  const tgz = join(tmp, packed[0]!.filename);
  check('npm install -g <tarball> --prefix <temp>', run(npm, ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tgz], { timeout: 300_000 }), () => true);
  const bin = join(prefix, 'bin', 'taxbridge');
  const installed = join(prefix, 'lib', 'node_modules', 'taxbridge');
  const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` };
  // The development tools (type definitions may come with runtime dependencies, e.g. @types/pg's @types/node).
  const deps = Object.keys((JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { devDependencies: object }).devDependencies).filter((d) => !d.startsWith('@types/'));
  const devInstalled = deps.filter((d) => existsSync(join(installed, 'node_modules', d)));
  process.stdout.write(`${devInstalled.length ? 'FAIL' : 'ok  '} no development tool installed (${deps.join(', ')})\n`);
  if (devInstalled.length) failures.push(`development dependencies installed: ${devInstalled.join(', ')}`);

  check('taxbridge --help (from an empty folder)', run('taxbridge', ['--help'], { env }), (r) => /Commands:/.test(r.stdout) && /validate/.test(r.stdout));
  check('taxbridge validate <shipped connectors>', run('taxbridge', ['validate', join(installed, 'connectors')], { env }), (r) => /0 error\(s\)/.test(r.stdout));
  check('taxbridge test <shipped connectors>', run('taxbridge', ['test', join(installed, 'connectors')], { env }), () => true);
  // The installed CLI uses the validators compiled at build time; its diagnostics must equal the sources' own.
  const broken = join(PACKAGE_ROOT, 'test', 'fixtures', 'specs', 'broken');
  const tsx = pathToFileURL(join(PACKAGE_ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href;
  const fromSource = run(process.execPath, ['--import', tsx, join(PACKAGE_ROOT, 'src', 'cli', 'bin.ts'), 'validate', '--format', 'json', broken]);
  const fromPackage = run('taxbridge', ['validate', '--format', 'json', broken], { env });
  const same = fromSource.status === 1 && fromPackage.status === 1 && fromPackage.stdout === fromSource.stdout && (JSON.parse(fromPackage.stdout) as { errors: number }).errors > 0;
  process.stdout.write(`${same ? 'ok  ' : 'FAIL'} validate on test/fixtures/specs/broken: precompiled validators report what the sources report\n`);
  if (!same) failures.push(`precompiled validators differ: exit ${fromPackage.status} vs ${fromSource.status}\n${fromPackage.stdout.slice(0, 2000)}\n---\n${fromSource.stdout.slice(0, 2000)}${fromPackage.stderr}${fromSource.stderr}`);
  const probe = `import(${JSON.stringify(pathToFileURL(join(installed, 'dist', 'src', 'spec', 'schemas.js')).href)}).then((m) => process.stdout.write(String(m.usingPrecompiledValidators())))`;
  check('the installed package uses the validators compiled at build time', run(process.execPath, ['--input-type=module', '-e', probe]), (r) => r.stdout === 'true');
  const ready = await serveReady(bin, { ...env, TAXBRIDGE_SCHEDULES: 'false', TAXBRIDGE_BACKFILL: 'false' });
  const served = ready.status === 200 && ready.console === 200;
  process.stdout.write(`${served ? 'ok  ' : 'FAIL'} taxbridge serve (connectors default to the shipped ones): /readyz ${ready.status}, /console ${ready.console}\n`);
  if (!served) failures.push(`serve: /readyz ${ready.status}, /console ${ready.console}\n${ready.stderr.slice(-3000)}`);
  check('taxbridge demo', run('taxbridge', ['demo'], { env, timeout: 300_000 }), (r) => r.stdout.length > 0);
} catch (e) {
  failures.push(String(e instanceof Error ? e.stack : e));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (failures.length) {
  process.stderr.write(`\ncheck-package: ${failures.length} failure(s)\n\n${failures.join('\n\n')}\n`);
  process.exit(1);
}
process.stdout.write('check-package: the packed package installs and runs from any folder\n');
