#!/usr/bin/env node
// The CLI runs the TypeScript sources through tsx: no build step between `npm ci` and a working binary.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
