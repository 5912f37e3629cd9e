#!/usr/bin/env node
// Node flags: `npm start` and the image run this with --max-semi-space-size=64 (a larger young generation: a busy
// server collects garbage a quarter as often; docs/scale.md). A shebang cannot carry it portably (`env -S` is not
// in BusyBox), so an installed `taxbridge serve` takes it from NODE_OPTIONS=--max-semi-space-size=64 when wanted.
// The installed CLI runs the compiled package (dist/, made by `npm run build`); tests and development run the
// TypeScript sources through tsx instead (`node --import tsx src/cli/bin.ts`, see test/helpers/serve-child.ts).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('taxbridge: the package is not built (no dist/cli/bin.js): run `npm run build` in its folder\n');
  process.exit(1);
}
await import(entry.href);
