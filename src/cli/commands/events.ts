import { TaxbridgeError } from '../../errors.ts';
import { COMMON_OPTIONS, COMMON_USAGE, openConnections } from '../../connections/cli-support.ts';
import { formatEvents, localRuntime, openForListing, type EventRow } from '../../webhooks/cli-runtime.ts';
import { eventSummary, getEvent, listEvents, type EventStatus } from '../../webhooks/inbox.ts';
import { parseCommandArgs } from '../args.ts';


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
${COMMON_USAGE}
`;

const STATUSES: EventStatus[] = ['pending', 'retrying', 'processed', 'ignored', 'failed'];

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    { ...COMMON_OPTIONS, connection: { type: 'string' }, status: { type: 'string' }, type: { type: 'string' }, limit: { type: 'string' }, replay: { type: 'string' } },
    false,
  );
  const status = values.status?.split(',').map((s) => s.trim()) as EventStatus[] | undefined;
  if (status?.some((s) => !STATUSES.includes(s))) throw new TaxbridgeError('CLI_USAGE', `--status must be one of ${STATUSES.join(', ')}`);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new TaxbridgeError('CLI_USAGE', '--limit must be a positive whole number');
  if (values.replay) {
    const h = await openConnections(values);
    let row: EventRow;
    if (h.mode === 'remote') row = await h.api<EventRow>('POST', `/admin/events/${encodeURIComponent(values.replay)}/replay`);
    else {
      const rt = localRuntime(h.store, h.connections);
      try {
        const doc = await rt.events.replay(values.replay);
        if (!doc) throw new TaxbridgeError('not_found', `no webhook event ${values.replay}`);
        await rt.events.idle();
        if (rt.writebacks) await rt.writebacks.idle();
        row = eventSummary((await getEvent(h.store, values.replay)) ?? doc);
      } finally {
        await rt.stop();
        await h.close();
      }
    }
    process.stdout.write(values.json ? JSON.stringify(row, null, 2) + '\n' : formatEvents([row]));
    return row.status === 'failed' ? 1 : 0;
  }

  const h = await openForListing(values);
  let rows: EventRow[];
  if (h.mode === 'remote') {
    const q = new URLSearchParams({ ...(values.connection ? { connection: values.connection } : {}), ...(values.status ? { status: values.status } : {}), ...(values.type ? { type: values.type } : {}), limit: String(limit) });
    rows = await h.api<EventRow[]>('GET', `/admin/events?${q}`);
  } else {
    try {
      rows = (await listEvents(h.store, { connectionId: values.connection, status, eventType: values.type, limit })).map(eventSummary);
    } finally {
      await h.close();
    }
  }
  process.stdout.write(values.json ? JSON.stringify(rows, null, 2) + '\n' : formatEvents(rows));
  return 0;
}
