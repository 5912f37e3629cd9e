/**
 * `npm run build`: the package as installed runs it (bin/taxbridge.js -> dist/cli/bin.js, the bundle of dist/src/).
 *   1. tsc -p tsconfig.build.json: src/ and fakes/ (the demo's stand-ins) to dist/, `.ts` imports rewritten to `.js`;
 *   2. the files under src/ that are not TypeScript (src/tax/data/*.yaml ...) copied next to their modules in dist/src/;
 *   3. the connector, spec-test and entity validators compiled once here, as minified ajv standalone code
 *      (dist/src/spec/validators-connector.precompiled.cjs for the connector schema alone, validators.precompiled.cjs for
 *      the others; tagged with the schemas' hash, src/spec/schemas.ts uses them when current);
 *   4. dist/src/cli/bin.js bundled with esbuild into dist/cli/ (scripts/lib/bundle-cli.ts): what bin/taxbridge.js runs.
 * `--clean` first removes dist/ (what `npm pack` does, so no module deleted from src/ is shipped).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { transformSync } from 'esbuild';
import { createAjv, entityExportName, entityNames, PRECOMPILED_FILES, precompiledSources, SCHEMAS_DIR } from '../src/spec/schemas.ts';
import { PACKAGE_ROOT } from '../src/package-root.ts';
import { bundleCli } from './lib/bundle-cli.ts';

const DIST = join(PACKAGE_ROOT, 'dist');
// A CommonJS module: its function is `default` under NodeNext typing, the namespace itself or `.default` at run time.
type Standalone = typeof standaloneModule.default;
const standaloneCode = ((standaloneModule as unknown as { default?: Standalone }).default ?? standaloneModule) as Standalone;

function compile(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(PACKAGE_ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.status})`);
}

function copyAssets(): number {
  const src = join(PACKAGE_ROOT, 'src');
  let copied = 0;
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
    const from = join(entry.parentPath, entry.name);
    cpSync(from, join(DIST, relative(PACKAGE_ROOT, from)));
    copied += 1;
  }
  return copied;
}

/** One standalone module for `refs` (export name -> schema $id), minified: its parse is part of the CLI's start. */
function standaloneFile(ajv: ReturnType<typeof createAjv>, refs: Record<string, string>, file: string): string {
  const code = `${standaloneCode(ajv, refs)}\nexports.sourceHash = ${JSON.stringify(precompiledSources().hash)};\n`;
  const out = join(DIST, 'src', 'spec', file);
  writeFileSync(out, transformSync(code, { loader: 'js', format: 'cjs', platform: 'node', target: 'node20', minify: true, legalComments: 'none' }).code);
  return relative(PACKAGE_ROOT, out);
}

function precompileValidators(): string[] {
  const json = (f: string) => JSON.parse(readFileSync(join(SCHEMAS_DIR, f), 'utf8')) as { $id: string };
  const connector = json('connector.schema.json');
  const specTest = json('spec-test.schema.json');
  const refs: Record<string, string> = { specTest: specTest.$id };
  for (const name of entityNames()) refs[entityExportName(name)] = `https://taxbridge.dev/schemas/entities/${name}.schema.json`;
  return [
    standaloneFile(createAjv({ code: { source: true } }).addSchema(connector), { connector: connector.$id }, PRECOMPILED_FILES.connector),
    standaloneFile(createAjv({ code: { source: true } }).addSchema(connector).addSchema(specTest), refs, PRECOMPILED_FILES.others),
  ];
}

if (process.argv.includes('--clean')) rmSync(DIST, { recursive: true, force: true });
const t0 = performance.now();
compile();
const assets = copyAssets();
const validators = precompileValidators();
const bundle = relative(PACKAGE_ROOT, await bundleCli(DIST));
// Tests that run the built package rebuild when any input is newer than this (test/helpers/built-package.ts).
writeFileSync(join(DIST, '.build-stamp'), `${new Date().toISOString()}\n`);
process.stdout.write(`build: dist/ compiled, ${assets} data file(s) copied, ${validators.join(' and ')} written, CLI bundled into ${bundle} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
