import { credentialInputs, openConnections, parseAssignments } from '../../connections/cli-support.ts';
import { TaxbridgeError } from '../../errors.ts';
import { loadConnector, type ConnectionContext, type ConnectorSpec, type EnvironmentName } from '../../spec/index.ts';
import { openStore } from '../../store/index.ts';
import type { Store } from '../../store/types.ts';
import { runSync, type SyncProgress, type SyncSummary } from '../../sync/index.ts';
import { parseCommandArgs } from '../args.ts';

export const usage = `Usage: taxbridge sync --connection <id> [--stream <name>] [--full] [--json]
       taxbridge sync --connector <spec.yaml> [options]

The first form syncs a stored connection (made with \`taxbridge connect\`) with its encrypted credentials; when
\`taxbridge serve\` holds the data folder, the server runs the sync (set TAXBRIDGE_ADMIN_TOKEN). The second
form syncs with credentials given on the command line, without a stored connection.

Options:
  --connector <file>        connector spec (e.g. connectors/sequence.yaml)
  --credential name=@file   a credential of the spec (repeat); name=- reads standard input; or env
                            TAXBRIDGE_CREDENTIAL_<NAME> (inline name=value works, with a warning for secrets)
  --setting name=value      a setting of the spec (repeat), e.g. subsidiary_id=sub_123
  --environment <env>       production (default) or sandbox
  --base-url <url>          override the environment's base URL (fakes, proxies)
  --connection <id>         a stored connection; with --connector: the id the data is stored under
                            (default <connector>-<environment>)
  --data <dir>              data folder (default ./data)
  --stream <name>           sync only this stream (repeat); default all
  --full                    read everything, not only changes since the last run
  --json                    print one JSON object with every stream's summary

An interrupted sync resumes from its last committed page on the next run. Exit 1 when a stream failed.`;

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
      connector: { type: 'string' },
      credential: { type: 'string', multiple: true },
      setting: { type: 'string', multiple: true },
      environment: { type: 'string' },
      'base-url': { type: 'string' },
      connection: { type: 'string' },
      data: { type: 'string' },
      stream: { type: 'string', multiple: true },
      full: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    false,
  );
  if (!values.connector && values.connection) return syncStoredConnection(values.connection, values);
  if (!values.connector) throw new TaxbridgeError('CLI_USAGE', 'sync needs --connection <id> or --connector <spec.yaml>', { hint: usage });
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
  const store = await openStore({ dir: values.data ?? 'data' });
  return syncAndReport({ spec, conn, store, streams: values.stream, full: values.full === true, json: values.json === true });
}

interface SyncFlags {
  data?: string;
  stream?: string[];
  full?: boolean;
  json?: boolean;
}

/** A stored connection: its spec and decrypted credentials from the data folder, or the running server. */
async function syncStoredConnection(id: string, values: SyncFlags): Promise<number> {
  const opened = await openConnections({ data: values.data });
  if (opened.mode === 'remote') {
    const started = await opened.api<Record<string, unknown>>('POST', `/admin/connections/${encodeURIComponent(id)}/sync`, { ...(values.stream ? { streams: values.stream } : {}), ...(values.full ? { full: true } : {}) });
    if (values.json) process.stdout.write(`${JSON.stringify({ connection_id: id, started_on_server: true, ...started })}\n`);
    else process.stdout.write(`the running server started the sync of ${id}; follow it with \`taxbridge connections ${id}\`\n`);
    return 0;
  }
  try {
    const doc = await opened.connections.get(id);
    if (doc.status !== 'active') throw new TaxbridgeError('CONNECTION_INACTIVE', `connection ${id} is ${doc.status}, not active`, { hint: doc.status === 'pending' ? 'finish it with `taxbridge connect --connection ' + id + '`' : 'connect again' });
    return await syncAndReport({ spec: opened.connections.specOf(doc), conn: opened.connections.context(doc), store: opened.store, streams: values.stream, full: values.full === true, json: values.json === true, keepStoreOpen: true });
  } finally {
    await opened.close();
  }
}

async function syncAndReport(input: { spec: ConnectorSpec; conn: ConnectionContext; store: Store; streams?: string[]; full: boolean; json: boolean; keepStoreOpen?: boolean }): Promise<number> {
  const { spec, conn, store } = input;
  const values = { json: input.json };
  const tty = !input.json && process.stderr.isTTY === true;
  const abort = new AbortController();
  const onSignal = () => abort.abort(new TaxbridgeError('SYNC_INTERRUPTED', 'interrupted; run the same command again to resume from the last committed page'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let lastDraw = 0;
  let summaries: SyncSummary[];
  try {
    summaries = await runSync({
      spec,
      conn,
      store,
      streams: input.streams,
      full: input.full,
      signal: abort.signal,
      onProgress: tty
        ? (p) => {
            const now = Date.now();
            if (now - lastDraw < 100) return;
            lastDraw = now;
            process.stderr.write(`\r\x1b[2K${progressLine(p)}`);
          }
        : undefined,
    });
  } catch (e) {
    if (tty) process.stderr.write('\r\x1b[2K');
    if (abort.signal.aborted) {
      process.stderr.write(`taxbridge sync: ${(abort.signal.reason as Error).message}\n`);
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!input.keepStoreOpen) await store.close();
  }
  if (tty) process.stderr.write('\r\x1b[2K');
  const ok = summaries.every((s) => s.status === 'ok');
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ connector: spec.name, connection_id: conn.connection_id, environment: conn.environment, ok, streams: summaries })}\n`);
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
