import { TaxbridgeError } from '../../errors.ts';
import { COMMON_OPTIONS, COMMON_USAGE, openConnections } from '../../connections/cli-support.ts';
import { formatJobs, localRuntime, openForListing, type JobRow } from '../../webhooks/cli-runtime.ts';
import { getJob, jobSummary, listJobs, type JobStatus } from '../../writeback/jobs.ts';
import { parseCommandArgs } from '../args.ts';


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
${COMMON_USAGE}
`;

const STATUSES: JobStatus[] = ['pending', 'running', 'retrying', 'applied', 'unchanged', 'no_tax', 'superseded', 'dead'];

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    { ...COMMON_OPTIONS, dead: { type: 'boolean' }, connection: { type: 'string' }, status: { type: 'string' }, document: { type: 'string' }, limit: { type: 'string' }, replay: { type: 'string' } },
    false,
  );
  let status = values.status?.split(',').map((s) => s.trim()) as JobStatus[] | undefined;
  if (status?.some((s) => !STATUSES.includes(s))) throw new TaxbridgeError('CLI_USAGE', `--status must be one of ${STATUSES.join(', ')}`);
  if (values.dead) status = ['dead'];
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new TaxbridgeError('CLI_USAGE', '--limit must be a positive whole number');
  if (values.replay) {
    const h = await openConnections(values);
    let row: JobRow;
    if (h.mode === 'remote') row = await h.api<JobRow>('POST', `/admin/writebacks/${encodeURIComponent(values.replay)}/replay`);
    else {
      const rt = localRuntime(h.store, h.connections);
      try {
        const job = await rt.writebacks!.replay(values.replay);
        if (!job) throw new TaxbridgeError('not_found', `no write-back job ${values.replay}`);
        await rt.writebacks!.idle();
        row = jobSummary((await getJob(h.store, values.replay)) ?? job);
      } finally {
        await rt.stop();
        await h.close();
      }
    }
    process.stdout.write(values.json ? JSON.stringify(row, null, 2) + '\n' : formatJobs([row]));
    return row.status === 'dead' ? 1 : 0;
  }

  const h = await openForListing(values);
  let rows: JobRow[];
  if (h.mode === 'remote') {
    const q = new URLSearchParams({
      ...(values.connection ? { connection: values.connection } : {}),
      ...(status ? { status: status.join(',') } : {}),
      ...(values.document ? { document: values.document } : {}),
      limit: String(limit),
    });
    rows = await h.api<JobRow[]>('GET', `/admin/writebacks?${q}`);
  } else {
    try {
      rows = (await listJobs(h.store, { connectionId: values.connection, status, documentId: values.document, limit })).map(jobSummary);
    } finally {
      await h.close();
    }
  }
  process.stdout.write(values.json ? JSON.stringify(rows, null, 2) + '\n' : formatJobs(rows));
  return 0;
}
