import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TaxbridgeError } from '../errors.ts';
import { SHARED_OPTIONS } from './shared-flags.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util parseArgs over the command's options plus the shared ones (./shared-flags.ts), strict. What
 * went wrong becomes a CLI_USAGE error (exit 2) in our own words: Node's texts talk about parseArgs
 * ("place it at the end of the command after '--'") rather than about the command.
 */
export function parseCommandArgs<T extends Options>(args: string[], options: T, allowPositionals = true) {
  return parseWith(args, { ...SHARED_OPTIONS, ...options } as Omit<typeof SHARED_OPTIONS, keyof T> & T, allowPositionals);
}

function parseWith<U extends Options>(args: string[], options: U, allowPositionals: boolean) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw usageError(e as Error & { code?: string }, options);
  }
}

const hint = 'run the command with --help to see its options';

function usageError(e: Error & { code?: string }, options: Options): TaxbridgeError {
  const quoted = /'([^']*)'/.exec(e.message)?.[1] ?? '';
  const flag = quoted.split(' ')[0]!.slice(0, 60);
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const name = flag.replace(/^-+/, '').replace(/=.*/, '');
      const close = Object.keys(options).find((o) => o.startsWith(name) || name.startsWith(o));
      return new TaxbridgeError('CLI_USAGE', `unknown option ${flag}`, { hint: close && name ? `did you mean --${close}? ${hint}` : hint });
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(e.message)
        ? new TaxbridgeError('CLI_USAGE', `option ${flag} takes no value`, { hint })
        : new TaxbridgeError('CLI_USAGE', `option ${flag} needs a value`, { hint: `e.g. ${flag} <value>; ${hint}` });
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new TaxbridgeError('CLI_USAGE', `unexpected argument ${JSON.stringify(quoted.slice(0, 60))}: this command takes options only`, { hint });
    default:
      return new TaxbridgeError('CLI_USAGE', 'the arguments could not be read', { hint });
  }
}
