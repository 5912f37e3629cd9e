import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The built package itself is exercised by scripts/check-package.ts (npm test runs it after `npm run build`):
// pack, install into a temporary prefix, run from an empty folder. These are the rules that keep it working.
const ROOT = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, any>;

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name).slice(ROOT.length + 1));
}

describe('the package as published', () => {
  it('is publishable: a license with its text, the files a user needs, no private flag', () => {
    expect(pkg.private).toBeUndefined();
    expect(pkg.license).toBe('Apache-2.0');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
    for (const f of ['bin/', 'dist/cli/', 'dist/src/', 'dist/fakes/', 'console/dist/', 'schemas/', 'connectors/', 'LICENSE']) expect(pkg.files).toContain(f);
    expect(pkg.bin.taxbridge).toBe('bin/taxbridge.js');
    expect(readFileSync(join(ROOT, 'bin', 'taxbridge.js'), 'utf8')).toContain('../dist/cli/bin.js');
  });

  it('runs the server with the same V8 flags in npm start, the image and the server benches; a portable shebang', () => {
    // docs/scale.md: a larger young generation (fewer scavenges under load); one value everywhere.
    const flags = '--max-semi-space-size=64';
    expect(readFileSync(join(ROOT, 'bin', 'taxbridge.js'), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(pkg.scripts.start).toContain(`node ${flags} bin/taxbridge.js serve`);
    for (const bench of ['bench:tax', 'bench:webhooks', 'bench:tax-memory', 'bench:sync']) expect(pkg.scripts[bench], bench).toMatch(new RegExp(`^node ${flags} `));
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toContain(`ENTRYPOINT ["node", "${flags}", "bin/taxbridge.js"]`);
  });

  it('needs no TypeScript tooling at run time, and builds before it starts, tests or demos', () => {
    for (const tool of ['tsx', 'typescript', 'vitest']) expect(pkg.dependencies[tool], tool).toBeUndefined();
    for (const script of ['start', 'test', 'demo', 'bench:cli']) expect(pkg.scripts[script], script).toMatch(/^npm run build && /);
    expect(pkg.scripts.prepack).toContain('scripts/build.ts --clean');
  });

  it('src/ finds files outside itself through src/package-root.ts, never relative to a compiled module', () => {
    // Allowed: the root finder; modules that look next to themselves for what the build copies or writes there.
    const allowed = new Set(['src/package-root.ts', 'src/spec/schemas.ts', 'src/tax/rates/index.ts', 'src/tax/places/zip-places.ts']);
    const offenders = filesUnder('src').filter((f) => !allowed.has(f) && /import\.meta\.(url|dirname|filename)/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
    // The one relative data folder is inside src/, which the build copies to dist/src/.
    expect(readFileSync(join(ROOT, 'src', 'tax', 'rates', 'index.ts'), 'utf8')).toContain("new URL('../data/', import.meta.url)");
  });

  it('tests run the CLI from the sources (test/helpers/serve-child.ts CLI), never a possibly stale dist/', () => {
    // Except a test that runs the package as installed: it builds first when dist/ is stale (helpers/built-package.ts).
    const spawnsBin = [...filesUnder('test'), ...filesUnder('fakes')].filter((f) => {
      const text = readFileSync(join(ROOT, f), 'utf8');
      return !['test/helpers/serve-child.ts', 'test/helpers/built-package.ts', 'test/package.test.ts'].includes(f) && /taxbridge\.js|\bBIN\b|npx taxbridge/.test(text) && /(?<![.\w])(spawn|spawnSync|execFile|exec|execSync)\(/.test(text) && !/beforeAll\(ensureBuilt\b/.test(text);
    });
    expect(spawnsBin).toEqual([]);
  });
});
