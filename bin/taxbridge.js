#!/usr/bin/env node
// The CLI runs the TypeScript sources through tsx: no build step between `npm ci` and a working binary.
import { register } from 'tsx/esm/api';
register();
// A closed pipe (`taxbridge validate | head`) is not an error worth a stack trace.
process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
