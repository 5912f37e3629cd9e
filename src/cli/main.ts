import { isCode, isTaxbridgeError, errorMessage, publicCode } from '../errors.ts';
import { own } from '../own.ts';
import { EXIT, EXIT_CODES_USAGE, SHARED_USAGE } from './shared-flags.ts';

/**
 * `taxbridge <command> [args]`. Each command is one module in ./commands/<name>.ts exporting
 * `run(args): Promise<number>` (the exit code) and optionally `usage`. Its one-line summary lives in the
 * table below, so `taxbridge --help` and every command load only the module they need (start time).
 */
export interface CommandModule {
  usage?: string;
  run(args: string[]): Promise<number>;
}

export interface CommandEntry {
  /** One line for `taxbridge --help`. */
  summary: string;
  /** Imported only when this command runs or its `--help` is asked for. */
  load: () => Promise<CommandModule>;
}

/** The commands, in help order. A new command: one module in ./commands/ and one entry here. */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  alerts: {
    summary: 'Alert notifications: send a signed test to every configured alert URL',
    load: () => import('./commands/alerts.ts'),
  },
  connect: {
    summary: 'Connect a system (Sequence, Rillet, ...) to an organization, or continue a pending connection',
    load: () => import('./commands/connect.ts'),
  },
  connections: {
    summary: 'List connections, or show one with its syncs, counts, webhooks, write-backs and errors',
    load: () => import('./commands/connections.ts'),
  },
  demo: {
    summary: 'See the whole product work: fake Sequence and Rillet, connections, backfill, webhooks, tax written back, a live tax call',
    load: () => import('./commands/demo.ts'),
  },
  disconnect: {
    summary: 'Disconnect a connection: stop its schedules and webhooks, revoke its tax key, erase its credentials',
    load: () => import('./commands/disconnect.ts'),
  },
  events: {
    summary: 'List received webhook events and what processing did with them; replay one',
    load: () => import('./commands/events.ts'),
  },
  key: {
    summary: 'Manage tax API keys: create (shown once), list, revoke',
    load: () => import('./commands/key.ts'),
  },
  map: {
    summary: 'Map one raw record through a stream\'s mapping and print the canonical entity',
    load: () => import('./commands/map.ts'),
  },
  org: {
    summary: 'Manage organizations: test or live, origin address, default and per-product tax codes',
    load: () => import('./commands/org.ts'),
  },
  region: {
    summary: 'Manage where an organization collects tax: registrations with tax calculation on or off',
    load: () => import('./commands/region.ts'),
  },
  serve: {
    summary: 'Run the server: tax API, admin API, webhook receiver, syncs and write-back in one process',
    load: () => import('./commands/serve.ts'),
  },
  store: {
    summary: 'Check the data folder offline: every table read and verified (exit 1 on damage)',
    load: () => import('./commands/store.ts'),
  },
  sync: {
    summary: 'Import customers, products, invoices and credit notes from a connected system into the store',
    load: () => import('./commands/sync.ts'),
  },
  tax: {
    summary: 'Tax work: export transactions for filing (taxbridge tax export)',
    load: () => import('./commands/tax.ts'),
  },
  test: {
    summary: 'Run connector spec tests (*.test.yaml) offline against recorded responses',
    load: () => import('./commands/test.ts'),
  },
  validate: {
    summary: 'Check connector specs: YAML syntax, schema, expressions and references (exit 1 on any error)',
    load: () => import('./commands/validate.ts'),
  },
  writebacks: {
    summary: 'List tax write-back jobs (applied, pending, dead letters with their reasons); replay one',
    load: () => import('./commands/writebacks.ts'),
  },
};

function printHelp(): void {
  const lines = ['Usage: taxbridge <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  lines.push('', 'Run `taxbridge <command> --help` for a command\'s options.', '', SHARED_USAGE, '', EXIT_CODES_USAGE);
  process.stdout.write(lines.join('\n') + '\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    printHelp();
    return name ? 0 : 2;
  }
  const entry = own(COMMANDS, name);
  if (!entry) {
    process.stderr.write(`taxbridge: unknown command \`${name}\`. Commands: ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  const mod = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    // Every command lists the shared flags and the exit codes, whether or not its usage text spells them out.
    const usage = (mod.usage ?? `Usage: taxbridge ${name}`).trimEnd();
    const shared = usage.includes('Shared options') ? '' : `\n\n${SHARED_USAGE}`;
    const exits = usage.includes('Exit codes:') ? '' : `\n\n${EXIT_CODES_USAGE}`;
    process.stdout.write(`${entry.summary}\n\n${usage}${shared}${exits}\n`);
    return EXIT.ok;
  }
  try {
    return await mod.run(rest);
  } catch (e) {
    // Users see a code and an actionable message, never a stack trace.
    if (isTaxbridgeError(e)) {
      process.stderr.write(`taxbridge ${name}: ${publicCode(e.code)}: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`);
      // A usage mistake (unknown option, missing or bad value) is exit 2 in every command; any other failure 1.
      return isCode(e.code, 'CLI_USAGE') ? EXIT.usage : EXIT.failure;
    }
    process.stderr.write(`taxbridge ${name}: ${errorMessage(e)}\n`);
    return EXIT.failure;
  }
}
