import { TaxbridgeError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, withConnectionsClient } from '../connections-client.ts';
import { formatEvents } from '../inbox-format.ts';
import { EXIT_CODES_USAGE } from '../shared-flags.ts';
import type { EventStatus } from '../../webhooks/inbox.ts';
export const usage = `Usage: taxbridge events [--connection <id>] [--status <status>] [--type <event type>] [--limit <n>] [--json]
       taxbridge events --replay <event id>

Lists the webhook inbox, newest first: when each event arrived, its type, status (pending, retrying,
processed, ignored, failed), attempts, and the outcome (entity created/updated/deleted, write-back decision)
or the last error. --replay processes an event again from its stored body.

Options:
  --connection <id>  only this connection's events
  --status <status>  pending | retrying | processed | ignored | failed (comma-separated for several)
  --type <type>      only this event type, e.g. INVOICE.CREATED
  --limit <n>        at most n events (default 100)
  --replay <id>      process this event again
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}
`;

const STATUSES: EventStatus[] = ['pending', 'retrying', 'processed', 'ignored', 'failed'];

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    { ...CONNECTION_OPTIONS, connection: { type: 'string' }, status: { type: 'string' }, type: { type: 'string' }, limit: { type: 'string' }, replay: { type: 'string' } },
    false,
  );
  const status = values.status?.split(',').map((s) => s.trim()) as EventStatus[] | undefined;
  if (status?.some((s) => !STATUSES.includes(s))) throw new TaxbridgeError('CLI_USAGE', `--status must be one of ${STATUSES.join(', ')}`);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new TaxbridgeError('CLI_USAGE', '--limit must be a positive whole number');
  return withConnectionsClient(values, async (client) => {
    if (values.replay) {
      const row = await client.replayEvent(values.replay);
      process.stdout.write(values.json ? JSON.stringify(row, null, 2) + '\n' : formatEvents([row]));
      return row.status === 'failed' ? 1 : 0;
    }
    const rows = await client.events({ connectionId: values.connection, status, type: values.type, limit });
    process.stdout.write(values.json ? JSON.stringify(rows, null, 2) + '\n' : formatEvents(rows));
    return 0;
  });
}
