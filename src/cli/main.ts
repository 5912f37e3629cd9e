import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { isTaxbridgeError, errorMessage } from '../errors.ts';

/**
 * `taxbridge <command> [args]`. Each command is one module in ./commands/<name>.ts exporting
 * `summary` (one line for help) and `run(args): Promise<number>` (the exit code), so parts add
 * commands without touching this file.
 */
export interface CommandModule {
  summary: string;
  usage?: string;
  run(args: string[]): Promise<number>;
}

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function loadCommand(name: string): Promise<CommandModule | undefined> {
  if (!/^[a-z][a-z-]*$/.test(name) || !commandNames().includes(name)) return undefined;
  return (await import(join(commandsDir, `${name}.ts`))) as CommandModule;
}

async function printHelp(): Promise<void> {
  const lines = ['Usage: taxbridge <command> [options]', '', 'Commands:'];
  for (const name of commandNames()) {
    const mod = await loadCommand(name);
    lines.push(`  ${name.padEnd(12)} ${mod?.summary ?? ''}`);
  }
  lines.push('', 'Run `taxbridge <command> --help` for a command\'s options.');
  process.stdout.write(lines.join('\n') + '\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await printHelp();
    return name ? 0 : 2;
  }
  const mod = await loadCommand(name);
  if (!mod) {
    process.stderr.write(`taxbridge: unknown command \`${name}\`. Commands: ${commandNames().join(', ')}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${mod.summary}\n\n${mod.usage ?? `Usage: taxbridge ${name}`}\n`);
    return 0;
  }
  try {
    return await mod.run(rest);
  } catch (e) {
    // Users see a code and an actionable message, never a stack trace.
    if (isTaxbridgeError(e)) {
      process.stderr.write(`taxbridge ${name}: ${e.code}: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`);
    } else {
      process.stderr.write(`taxbridge ${name}: ${errorMessage(e)}\n`);
    }
    return 1;
  }
}
