import { TaxbridgeError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, withConnectionsClient } from '../connections-client.ts';
import { EXIT_CODES_USAGE } from '../shared-flags.ts';


export const usage = `Usage: taxbridge disconnect <connection id> [--json]

The synced data stays in the store; the webhook URL stops answering; the connection's tax API key is
revoked and its credentials are erased.

Options:
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}
`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...CONNECTION_OPTIONS });
  if (positionals.length !== 1) throw new TaxbridgeError('CLI_USAGE', 'give the id of the connection to disconnect', { hint: 'list them with `taxbridge connections`' });
  const view = await withConnectionsClient(values, (client) => client.disconnect(positionals[0]!));
  if (values.json) process.stdout.write(JSON.stringify(view, null, 2) + '\n');
  else {
    process.stdout.write(`Disconnected ${view.id} (${view.connector_title ?? view.connector}, ${view.environment}).\n`);
    if (view.last_error) process.stdout.write(`  warning: ${view.last_error.message}\n`);
  }
  return 0;
}
