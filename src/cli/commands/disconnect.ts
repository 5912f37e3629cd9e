import { TaxbridgeError } from '../../errors.ts';
import { COMMON_OPTIONS, COMMON_USAGE, openConnections } from '../../connections/cli-support.ts';
import type { ConnectionView } from '../../connections/view.ts';
import { parseCommandArgs } from '../args.ts';


export const usage = `Usage: taxbridge disconnect <connection id> [--json]

The synced data stays in the store; the webhook URL stops answering; the connection's tax API key is
revoked and its credentials are erased.

Options:
${COMMON_USAGE}
`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...COMMON_OPTIONS });
  if (positionals.length !== 1) throw new TaxbridgeError('CLI_USAGE', 'give the id of the connection to disconnect', { hint: 'list them with `taxbridge connections`' });
  const id = positionals[0]!;
  const h = await openConnections(values);
  let view: ConnectionView;
  if (h.mode === 'local') {
    try {
      view = await h.connections.disconnect(id);
    } finally {
      await h.close();
    }
  } else {
    view = await h.api<ConnectionView>('DELETE', `/admin/connections/${encodeURIComponent(id)}`);
  }
  if (values.json) process.stdout.write(JSON.stringify(view, null, 2) + '\n');
  else {
    process.stdout.write(`Disconnected ${view.id} (${view.connector_title ?? view.connector}, ${view.environment}).\n`);
    if (view.last_error) process.stdout.write(`  warning: ${view.last_error.message}\n`);
  }
  return 0;
}
