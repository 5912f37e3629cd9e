#!/usr/bin/env node
// The CLI runs the TypeScript sources through tsx: no build step between `npm ci` and a working binary.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/bin.ts');
