/**
 * `name=value` arguments of the CLI (--credential, --setting): values from files (`@path`), standard input
 * (`-`) or the environment (TAXBRIDGE_CREDENTIAL_<NAME>), and a warning for secrets given inline.
 */
import { readFileSync } from 'node:fs';
import { TaxbridgeError } from '../errors.ts';

/**
 * `name=value` pairs (repeatable flags). A value `@path` is read from that file and `-` from standard input
 * (at most one per command); a trailing newline is dropped. `inline` names the values given as plain text.
 */
export function parseAssignmentsWithSources(
  list: string[] | undefined,
  flag: string,
  readStdin: () => string = () => readFileSync(0, 'utf8'),
): { values: Record<string, string>; inline: string[] } {
  const values: Record<string, string> = Object.create(null);
  const inline: string[] = [];
  let stdinUsedBy: string | undefined;
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new TaxbridgeError('CLI_USAGE', `--${flag} takes name=value, got ${JSON.stringify(item.length > 40 ? `${item.slice(0, 10)}...` : item.replace(/=.*/, '=...'))}`, { hint: `e.g. --${flag} client_id=abc` });
    const name = item.slice(0, i);
    let value = item.slice(i + 1);
    if (value === '-') {
      if (stdinUsedBy) throw new TaxbridgeError('CLI_USAGE', `--${flag} ${name}=- and ${stdinUsedBy}=- both read standard input; only one value can come from it`, { hint: `read the other from a file: --${flag} ${name}=@file` });
      stdinUsedBy = name;
      value = readStdin().replace(/\r?\n$/, '');
    } else if (value.startsWith('@')) {
      try {
        value = readFileSync(value.slice(1), 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        throw new TaxbridgeError('CLI_USAGE', `--${flag} ${name}=@file: cannot read ${value.slice(1)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    } else {
      inline.push(name);
    }
    values[name] = value;
  }
  return { values: { ...values }, inline };
}

/** `name=value` pairs, values only (see parseAssignmentsWithSources). */
export function parseAssignments(list: string[] | undefined, flag: string): Record<string, string> {
  return parseAssignmentsWithSources(list, flag).values;
}

/** The environment variable that can carry a credential: TAXBRIDGE_CREDENTIAL_<NAME>. */
export const credentialEnvName = (name: string): string => `TAXBRIDGE_CREDENTIAL_${name.toUpperCase()}`;

/**
 * A spec's credentials from the environment (TAXBRIDGE_CREDENTIAL_<NAME>) and --credential flags (which win),
 * with a warning for every secret credential given inline: argv is visible to every user in `ps` and stays in
 * shell history.
 */
export function credentialInputs(
  list: string[] | undefined,
  declared: ReadonlyArray<{ name: string; secret?: boolean }>,
  env: NodeJS.ProcessEnv = process.env,
  readStdin?: () => string,
): { credentials: Record<string, string>; warnings: string[] } {
  const credentials: Record<string, string> = {};
  for (const c of declared) {
    const v = env[credentialEnvName(c.name)];
    if (v) credentials[c.name] = v;
  }
  const flags = parseAssignmentsWithSources(list, 'credential', readStdin);
  Object.assign(credentials, flags.values);
  const secret = new Set(declared.filter((c) => c.secret !== false).map((c) => c.name));
  const warnings = flags.inline
    .filter((n) => secret.has(n) || !declared.some((c) => c.name === n))
    .map((n) => `--credential ${n}=<value> puts a secret in the process list (ps) and shell history; use ${n}=@file, ${n}=- (standard input) or ${credentialEnvName(n)}`);
  return { credentials, warnings };
}
