import { TaxbridgeError } from '../../errors.ts';
import { loadConnector, type ConnectionContext, type EnvironmentName } from '../../spec/index.ts';
import { openConfiguredStore } from '../../store/index.ts';
import { runSync, type SyncProgress, type SyncSummary } from '../../sync/index.ts';
import { parseCommandArgs } from '../args.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, configFrom, withConnectionsClient, type SyncRequest } from '../connections-client.ts';
import { credentialInputs, parseAssignments } from '../credential-inputs.ts';
import { EXIT_CODES_USAGE } from '../shared-flags.ts';

export const usage = `Usage: taxbridge sync --connection <id> [--stream <name>] [--full] [--json]
       taxbridge sync --connector <spec.yaml> [options]

The first form syncs a stored connection (made with \`taxbridge connect\`) with its encrypted credentials:
in this process when no server holds the data folder, otherwise in the running server (with --server, or
when \`taxbridge serve\` holds the folder and TAXBRIDGE_ADMIN_TOKEN is set). Either way the command shows
the progress of each stream as pages commit and the summary, and ends when the run ends. Ctrl-C stops a
local sync (it resumes from its last committed page next time) or stops following the server's run.
The second form syncs with credentials given on the command line, without a stored connection (locally).

Options:
  --connection <id>         a stored connection; with --connector: the id the data is stored under
                            (default <connector>-<environment>)
  --stream <name>           sync only this stream (repeat); default all
  --full                    read everything, not only changes since the last run
  --connector <file>        connector spec (e.g. connectors/sequence.yaml)
  --credential name=@file   a credential of the spec (repeat); name=- reads standard input; or env
                            TAXBRIDGE_CREDENTIAL_<NAME> (inline name=value works, with a warning for secrets)
  --setting name=value      a setting of the spec (repeat), e.g. subsidiary_id=sub_123
  --environment <env>       production (default) or sandbox
  --base-url <url>          override the environment's base URL (fakes, proxies)
  --json                    print one JSON object with every stream's summary (no progress)
${CONNECTION_USAGE.replace(/^  --json .*\n/m, '')}

${EXIT_CODES_USAGE} A stream that failed makes the exit code 1; 130 after Ctrl-C.`;

const fmt = (n: number) => n.toLocaleString('en-US');

function progressLine(p: SyncProgress): string {
  const rate = p.elapsed_ms > 0 ? Math.round((p.records * 1000) / p.elapsed_ms) : 0;
  return `${p.stream}: page ${fmt(p.page)}, ${fmt(p.records)} records, ${fmt(rate)} records/s${p.failed ? `, ${fmt(p.failed)} failed` : ''}`;
}

function summaryLine(s: SyncSummary): string {
  const secs = (s.duration_ms / 1000).toFixed(1);
  if (s.status === 'skipped') return `${s.stream}: skipped (${s.error?.message ?? ''})`;
  const counts = `${fmt(s.records)} records (${fmt(s.created)} created, ${fmt(s.updated)} updated, ${fmt(s.unchanged)} unchanged, ${fmt(s.failed)} failed, ${fmt(s.deleted)} deleted)`;
  const base = `${s.stream}: ${s.mode}${s.resumed_from_page ? ` resumed at page ${s.resumed_from_page}` : ''}, ${counts}, ${fmt(s.pages)} pages, ${secs} s`;
  return s.status === 'failed' ? `${base}, FAILED: ${s.error!.code}: ${s.error!.message}` : base;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      connector: { type: 'string' },
      credential: { type: 'string', multiple: true },
      setting: { type: 'string', multiple: true },
      environment: { type: 'string' },
      'base-url': { type: 'string' },
      connection: { type: 'string' },
      stream: { type: 'string', multiple: true },
      full: { type: 'boolean' },
    },
    false,
  );
  const json = values.json === true;
  if (!values.connector && values.connection) {
    const id = values.connection;
    const outcome = await withConnectionsClient(values, (client) =>
      reporting(json, client.mode === 'remote' ? `following the server's sync of ${id} at ${client.where}` : undefined, (req) => client.sync(id, { ...req, streams: values.stream, full: values.full === true })),
    );
    if (outcome === 'interrupted') return 130;
    return report(outcome.summaries, json, { connector: outcome.connector, connection_id: id, environment: outcome.environment, ...(outcome.run_id ? { run_id: outcome.run_id } : {}) });
  }
  if (!values.connector) throw new TaxbridgeError('CLI_USAGE', 'sync needs --connection <id> or --connector <spec.yaml>', { hint: 'taxbridge sync --help' });
  if (values.server) throw new TaxbridgeError('CLI_USAGE', '--connector syncs in this process without a stored connection; --server needs --connection <id>', { hint: 'connect it first (`taxbridge connect`), then `taxbridge sync --connection <id> --server <url>`' });
  const environment = (values.environment ?? 'production') as EnvironmentName;
  if (environment !== 'production' && environment !== 'sandbox') throw new TaxbridgeError('CLI_USAGE', `--environment must be production or sandbox, not "${environment}"`);
  const spec = loadConnector(values.connector);
  const { credentials, warnings } = credentialInputs(values.credential, spec.credentials ?? []);
  for (const w of warnings) process.stderr.write(`taxbridge sync: warning: ${w}\n`);
  const conn: ConnectionContext = {
    connection_id: values.connection ?? `${spec.name}-${environment}`,
    environment,
    base_url: values['base-url'],
    credentials,
    settings: parseAssignments(values.setting, 'setting'),
  };
  const store = await openConfiguredStore(configFrom(values));
  let outcome;
  try {
    outcome = await reporting(json, undefined, async (req) => ({ summaries: await runSync({ spec, conn, store, streams: values.stream, full: values.full === true, ...req }) }));
  } finally {
    await store.close();
  }
  if (outcome === 'interrupted') return 130;
  return report(outcome.summaries, json, { connector: spec.name, connection_id: conn.connection_id, environment: conn.environment });
}

/** How often progress is shown: redrawn on a terminal, a line at most this often otherwise. */
const TTY_REDRAW_MS = 100;
const LINE_EVERY_MS = 1000;

/**
 * Runs a sync with live progress on stderr (a redrawn line on a terminal; otherwise a line per stream and
 * at most one a second) and Ctrl-C handling; 'interrupted' after Ctrl-C.
 */
async function reporting<T>(json: boolean, banner: string | undefined, go: (req: Pick<SyncRequest, 'signal' | 'onProgress'>) => Promise<T>): Promise<T | 'interrupted'> {
  const tty = process.stderr.isTTY === true;
  const abort = new AbortController();
  const onSignal = () => abort.abort(new TaxbridgeError('SYNC_INTERRUPTED', 'interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (banner && !json) process.stderr.write(`${banner}\n`);
  let lastDraw = 0;
  let lastStream = '';
  const onProgress = json
    ? undefined
    : (p: SyncProgress) => {
        const now = Date.now();
        if (p.stream === lastStream && now - lastDraw < (tty ? TTY_REDRAW_MS : LINE_EVERY_MS)) return;
        lastDraw = now;
        lastStream = p.stream;
        process.stderr.write(tty ? `\r\x1b[2K${progressLine(p)}` : `${progressLine(p)}\n`);
      };
  try {
    return await go({ signal: abort.signal, onProgress });
  } catch (e) {
    if (!abort.signal.aborted) throw e;
    if (tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(banner ? 'taxbridge sync: stopped following; the server\'s sync goes on (see `taxbridge connections <id>`)\n' : 'taxbridge sync: interrupted; run the same command again to resume from the last committed page\n');
    return 'interrupted';
  } finally {
    if (tty && !abort.signal.aborted) process.stderr.write('\r\x1b[2K');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function report(summaries: SyncSummary[], json: boolean, head: Record<string, unknown>): number {
  const ok = summaries.every((s) => s.status === 'ok');
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...head, ok, streams: summaries })}\n`);
  } else {
    for (const s of summaries) {
      process.stdout.write(`${summaryLine(s)}\n`);
      if (s.error?.hint && s.status === 'failed') process.stdout.write(`  hint: ${s.error.hint}\n`);
      for (const f of s.failures.slice(0, 5)) process.stdout.write(`  record ${f.external_id ?? '(no id)'} (page ${f.page}): ${f.reason}\n`);
      if (s.failed > 5) process.stdout.write(`  ... ${fmt(s.failed - 5)} more failed records (see sync_runs ${s.id})\n`);
    }
  }
  return ok ? 0 : 1;
}
