#!/usr/bin/env node
// The installed CLI runs the compiled package (dist/, made by `npm run build`); tests and development run the
// TypeScript sources through tsx instead (`node --import tsx src/cli/bin.ts`, see test/helpers/serve-child.ts).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('taxbridge: the package is not built (no dist/cli/bin.js): run `npm run build` in its folder\n');
  process.exit(1);
}
await import(entry.href);
