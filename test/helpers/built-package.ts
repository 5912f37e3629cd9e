/**
 * For the few tests that run the package as installed (bin/taxbridge.js -> dist/), e.g. the README tour's
 * literal `npx taxbridge ...` lines: builds first when dist/ is missing or older than what it is built from, so a
 * test never runs a stale build. Every other test runs the CLI from the sources (serve-child.ts `CLI`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
/** Written by scripts/build.ts when a build completes. */
export const BUILD_STAMP = join(ROOT, 'dist', '.build-stamp');
const INPUTS = ['src', 'fakes', 'schemas', 'scripts/build.ts', 'scripts/lib', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const e of readdirSync(path, { recursive: true, withFileTypes: true })) if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  return newest;
}

/** True when dist/ was built after the last change to its inputs. */
export function isBuildCurrent(): boolean {
  if (!existsSync(BUILD_STAMP)) return false;
  const built = statSync(BUILD_STAMP).mtimeMs;
  return INPUTS.every((p) => !existsSync(join(ROOT, p)) || newestMtime(join(ROOT, p)) <= built);
}

/** Runs `npm run build` unless dist/ is current; throws with the build's output when it fails. */
export function ensureBuilt(): void {
  if (isBuildCurrent()) return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
}
