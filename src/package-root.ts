/**
 * The folder holding taxbridge's package.json, schemas/ and connectors/: the parent of src/ when run from the
 * sources (tsx), two levels above dist/src/ when run built (bin/taxbridge.js), wherever the package is installed.
 * Files the runtime reads from outside src/ are found from here, never from the working directory.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`taxbridge: no package.json above ${start}`);
  }
}

export const PACKAGE_ROOT = findRoot(import.meta.dirname);

/** A path inside the package: packagePath('schemas', 'tax-api'). */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
