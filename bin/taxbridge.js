#!/usr/bin/env -S node --max-semi-space-size=64
// The flag: a young generation of up to 64 MB per semi-space (V8's default is 16), so a busy server collects
// garbage a quarter as often; it only grows under allocation pressure. Kept the same in package.json `start`,
// the Dockerfile and the server benches (test/package.test.ts). docs/scale.md says what it buys and costs.
// The installed CLI runs the compiled package (dist/, made by `npm run build`); tests and development run the
// TypeScript sources through tsx instead (`node --import tsx src/cli/bin.ts`, see test/helpers/serve-child.ts).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('taxbridge: the package is not built (no dist/cli/bin.js): run `npm run build` in its folder\n');
  process.exit(1);
}
await import(entry.href);
