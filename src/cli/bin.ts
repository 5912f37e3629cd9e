/**
 * The process entry of the CLI: bin/taxbridge.js runs its compiled form (dist/cli/bin.js); tests and
 * development run this file through tsx (test/helpers/serve-child.ts `CLI`).
 */
import { main } from './main.ts';

// A closed pipe (`taxbridge validate | head`) is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  else throw e;
});
process.exitCode = await main(process.argv.slice(2));
