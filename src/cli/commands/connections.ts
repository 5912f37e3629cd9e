import { TaxbridgeError } from '../../errors.ts';
import type { ConnectionView } from '../../connections/view.ts';
import { parseCommandArgs } from '../args.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, withConnectionsClient, type DetailedConnection } from '../connections-client.ts';
import { formatConnectionList, formatStatus } from '../connections-format.ts';
import { EXIT_CODES_USAGE } from '../shared-flags.ts';

export const usage = `Usage: taxbridge connections [--org <id>] [--status pending|active|needs_reauthorization|disconnected] [--json]
       taxbridge connections <connection id> [--json]

The list shows each connection's status, last sync, stored records, webhooks received (failed) and
write-backs applied (pending, dead); one connection shows every stream, schedule and recent error.

Options:
  --org <id>         only this organization's connections
  --status <status>  only connections in this status
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}
`;

const STATUSES = ['pending', 'active', 'needs_reauthorization', 'disconnected'];

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...CONNECTION_OPTIONS, org: { type: 'string' }, status: { type: 'string' } });
  if (positionals.length > 1) throw new TaxbridgeError('CLI_USAGE', 'give at most one connection id');
  if (values.status !== undefined && !STATUSES.includes(values.status)) throw new TaxbridgeError('CLI_USAGE', '--status must be pending, active, needs_reauthorization or disconnected');
  const id = positionals[0];
  return withConnectionsClient(values, async (client) => {
    if (id) {
      const detailed = await client.get(id);
      process.stdout.write(values.json ? JSON.stringify(detailed, null, 2) + '\n' : formatStatus(detailed, { streams: detailed.sync, webhooks: detailed.webhooks, writebacks: detailed.writebacks, errors: detailed.errors }));
      return 0;
    }
    const list = await client.list({ organizationId: values.org, status: values.status as ConnectionView['status'] | undefined });
    // The list shows what each connection is doing: its status report, one per connection.
    const detailed: DetailedConnection[] = [];
    for (const c of list) detailed.push(await client.get(c.id));
    process.stdout.write(values.json ? JSON.stringify(detailed, null, 2) + '\n' : formatConnectionList(detailed));
    return 0;
  });
}
