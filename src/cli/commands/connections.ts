import { TaxbridgeError } from '../../errors.ts';
import { COMMON_OPTIONS, COMMON_USAGE, formatConnectionList, formatStatus, openConnections } from '../../connections/cli-support.ts';
import { connectionStatus, type ConnectionStatusReport } from '../../connections/status.ts';
import type { ConnectionView } from '../../connections/view.ts';
import { parseCommandArgs } from '../args.ts';


export const usage = `Usage: taxbridge connections [--org <id>] [--status pending|active|needs_reauthorization|disconnected] [--json]
       taxbridge connections <connection id> [--json]

Options:
  --org <id>         only this organization's connections
  --status <status>  only connections in this status
${COMMON_USAGE}
`;

type Detailed = ConnectionView & { sync: ConnectionStatusReport['streams'] } & Pick<ConnectionStatusReport, 'webhooks' | 'writebacks' | 'errors'>;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...COMMON_OPTIONS, org: { type: 'string' }, status: { type: 'string' } });
  if (positionals.length > 1) throw new TaxbridgeError('CLI_USAGE', 'give at most one connection id');
  if (values.status !== undefined && !['pending', 'active', 'needs_reauthorization', 'disconnected'].includes(values.status)) throw new TaxbridgeError('CLI_USAGE', '--status must be pending, active, needs_reauthorization or disconnected');
  const id = positionals[0];
  const h = await openConnections(values);
  if (id) {
    let detailed: Detailed;
    if (h.mode === 'local') {
      try {
        const doc = await h.connections.get(id);
        const st = await connectionStatus(h.store, doc, h.connections.registry.find(doc.connector)?.spec);
        detailed = { ...h.connections.view(doc), sync: st.streams, webhooks: st.webhooks, writebacks: st.writebacks, errors: st.errors };
      } finally {
        await h.close();
      }
    } else {
      detailed = await h.api<Detailed>('GET', `/admin/connections/${encodeURIComponent(id)}`);
    }
    process.stdout.write(values.json ? JSON.stringify(detailed, null, 2) + '\n' : formatStatus(detailed, { streams: detailed.sync, webhooks: detailed.webhooks, writebacks: detailed.writebacks, errors: detailed.errors }));
    return 0;
  }
  let list: ConnectionView[];
  if (h.mode === 'local') {
    try {
      list = (await h.connections.list({ organizationId: values.org, status: values.status as ConnectionView['status'] | undefined })).map((d) => h.connections.view(d));
    } finally {
      await h.close();
    }
  } else {
    const q = new URLSearchParams({ ...(values.org ? { organization_id: values.org } : {}), ...(values.status ? { status: values.status } : {}) }).toString();
    list = await h.api<ConnectionView[]>('GET', `/admin/connections${q ? `?${q}` : ''}`);
  }
  process.stdout.write(values.json ? JSON.stringify(list, null, 2) + '\n' : formatConnectionList(list));
  return 0;
}
