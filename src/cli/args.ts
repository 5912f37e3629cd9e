import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TaxbridgeError } from '../errors.ts';

/** node:util parseArgs with a usage error (exit code 2 by convention) instead of a raw TypeError. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw new TaxbridgeError('CLI_USAGE', (e as Error).message, { hint: 'run the command with --help to see its options' });
  }
}
