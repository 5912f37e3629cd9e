import { TaxbridgeError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, withConnectionsClient } from '../connections-client.ts';
import { formatJobs } from '../inbox-format.ts';
import { EXIT_CODES_USAGE } from '../shared-flags.ts';
import type { JobStatus } from '../../writeback/jobs.ts';
export const usage = `Usage: taxbridge writebacks [--dead] [--connection <id>] [--status <status>] [--document <id>] [--limit <n>] [--json]
       taxbridge writebacks --replay <job id>

Each job writes one computed tax onto one invoice or credit note. Statuses: pending, running, retrying,
applied, unchanged (the document already carried it), no_tax (nothing to write; the reason says why),
superseded (the document changed first), dead (failed for good; the reason says why; replayable).

Options:
  --dead              only dead letters (same as --status dead)
  --connection <id>   only this connection's jobs
  --status <status>   comma-separated statuses
  --document <id>     only jobs for this document (its id in the system)
  --limit <n>         at most n jobs (default 100)
  --replay <id>       run this job again from the current document
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}
`;

const STATUSES: JobStatus[] = ['pending', 'running', 'retrying', 'applied', 'unchanged', 'no_tax', 'superseded', 'dead'];

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    { ...CONNECTION_OPTIONS, dead: { type: 'boolean' }, connection: { type: 'string' }, status: { type: 'string' }, document: { type: 'string' }, limit: { type: 'string' }, replay: { type: 'string' } },
    false,
  );
  let status = values.status?.split(',').map((s) => s.trim()) as JobStatus[] | undefined;
  if (status?.some((s) => !STATUSES.includes(s))) throw new TaxbridgeError('CLI_USAGE', `--status must be one of ${STATUSES.join(', ')}`);
  if (values.dead) status = ['dead'];
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new TaxbridgeError('CLI_USAGE', '--limit must be a positive whole number');
  return withConnectionsClient(values, async (client) => {
    if (values.replay) {
      const row = await client.replayWriteback(values.replay);
      process.stdout.write(values.json ? JSON.stringify(row, null, 2) + '\n' : formatJobs([row]));
      return row.status === 'dead' ? 1 : 0;
    }
    const rows = await client.writebacks({ connectionId: values.connection, status, documentId: values.document, limit });
    process.stdout.write(values.json ? JSON.stringify(rows, null, 2) + '\n' : formatJobs(rows));
    return 0;
  });
}
