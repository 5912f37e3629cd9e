/**
 * One client for every CLI command that acts on connections, webhook events, write-back jobs or syncs
 * (connect, connections, disconnect, events, writebacks, sync), with two adapters: the data folder opened
 * by this process (./connections-local.ts) and a running `taxbridge serve` through its admin API
 * (./connections-remote.ts). Commands are written once against this interface; which adapter they get is
 * decided here, the same way for all of them:
 *
 * - `--server <url>` (or TAXBRIDGE_SERVER): the server (its admin token from --admin-token or
 *   TAXBRIDGE_ADMIN_TOKEN);
 * - otherwise the data folder, unless `taxbridge serve` holds it (STORE_LOCKED): then the server
 *   configured for the folder when an admin token is at hand, else an error saying how to go through it.
 */
import { loadConfig, type ConfigFlags, type ServeConfig } from '../config/index.ts';
import type { ConnectInput, ConnectResult, UpdateInput } from '../connections/service.ts';
import type { ConnectionStatusReport } from '../connections/status.ts';
import type { ConnectionView } from '../connections/view.ts';
import { TaxbridgeError } from '../errors.ts';
import { openConfiguredStore } from '../store/index.ts';
import type { Store } from '../store/types.ts';
import type { SyncProgress, SyncSummary } from '../sync/index.ts';
import type { EventStatus, eventSummary } from '../webhooks/inbox.ts';
import type { JobStatus, jobSummary } from '../writeback/jobs.ts';
import { configuredServerUrl } from './admin-api-client.ts';
import { DATA_FOLDER_OPTIONS, DATA_FOLDER_USAGE, type DataFolderValues } from './data-folder-options.ts';

export type EventRow = ReturnType<typeof eventSummary>;
export type JobRow = ReturnType<typeof jobSummary>;

/** A connection with its status: syncs per stream, counts, webhooks, write-backs and recent errors. */
export type DetailedConnection = ConnectionView & { sync: ConnectionStatusReport['streams'] } & Pick<ConnectionStatusReport, 'webhooks' | 'writebacks' | 'errors'>;

export interface SyncRequest {
  streams?: string[];
  full?: boolean;
  /** Stops the sync (local) or stops following it (the server's run goes on). */
  signal?: AbortSignal;
  onProgress?: (p: SyncProgress) => void;
}

export interface SyncOutcome {
  connector: string;
  environment: string;
  summaries: SyncSummary[];
  /** The run as the server knows it (remote only). */
  run_id?: string;
}

export interface ConnectionsClient {
  readonly mode: 'local' | 'remote';
  /** Where it acts, for messages: the data folder or the server's URL. */
  readonly where: string;
  /** The credentials a connector declares (to read TAXBRIDGE_CREDENTIAL_<NAME> and know which are secret). */
  connectorCredentials(connector: string): Promise<Array<{ name: string; secret?: boolean }>>;
  /** The mode of an organization (test or live), undefined when there is none with this id. */
  organizationMode(id: string): Promise<string | undefined>;
  connect(input: ConnectInput): Promise<ConnectResult>;
  update(id: string, input: UpdateInput): Promise<ConnectResult>;
  reauthorize(id: string): Promise<ConnectResult>;
  list(filter?: { organizationId?: string; status?: ConnectionView['status'] }): Promise<ConnectionView[]>;
  /** One connection with its status. */
  get(id: string): Promise<DetailedConnection>;
  disconnect(id: string): Promise<ConnectionView>;
  events(filter: { connectionId?: string; status?: EventStatus[]; type?: string; limit: number }): Promise<EventRow[]>;
  replayEvent(id: string): Promise<EventRow>;
  writebacks(filter: { connectionId?: string; status?: JobStatus[]; documentId?: string; limit: number }): Promise<JobRow[]>;
  replayWriteback(id: string): Promise<JobRow>;
  /** Syncs a stored connection, reporting progress as pages commit, until the run ends. */
  sync(id: string, req: SyncRequest): Promise<SyncOutcome>;
  close(): Promise<void>;
}

/** Options of the connection commands: the data-folder ones, plus where specs live and webhook URLs point. */
export const CONNECTION_OPTIONS = {
  ...DATA_FOLDER_OPTIONS,
  connectors: { type: 'string' },
  'public-url': { type: 'string' },
} as const;

export const CONNECTION_USAGE = `  --connectors <dir>    connector specs (default ./connectors)
  --public-url <url>    base of webhook URLs (default TAXBRIDGE_PUBLIC_URL or http://<host>:<port>)
${DATA_FOLDER_USAGE}`;

export interface ConnectionValues extends DataFolderValues {
  connectors?: string;
  'public-url'?: string;
}

export function configFrom(v: ConnectionValues, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const flags: ConfigFlags = { data: v.data, config: v.config, databaseUrl: v['database-url'], connectors: v.connectors, publicUrl: v['public-url'] };
  return loadConfig(flags, env);
}

/** The client for these flags (see the module comment for which adapter). */
export async function openConnectionsClient(v: ConnectionValues, env: NodeJS.ProcessEnv = process.env): Promise<ConnectionsClient> {
  const config = configFrom(v, env);
  const token = v['admin-token'] ?? env.TAXBRIDGE_ADMIN_TOKEN;
  const source = v['admin-token'] ? '--admin-token' : 'TAXBRIDGE_ADMIN_TOKEN';
  const { remoteClient } = await import('./connections-remote.ts');
  const server = v.server ?? (env.TAXBRIDGE_SERVER || undefined);
  if (server) return remoteClient(server, token, source);
  let store: Store;
  try {
    store = await openConfiguredStore(config);
  } catch (e) {
    if ((e as { code?: string }).code !== 'STORE_LOCKED') throw e;
    if (token) return remoteClient(configuredServerUrl(config), token, source);
    throw new TaxbridgeError('STORE_LOCKED', (e as Error).message, {
      hint: 'taxbridge serve is using this data folder: go through its admin API (set TAXBRIDGE_ADMIN_TOKEN and run this command again, or pass --server <url> --admin-token <token>), or stop the server first',
    });
  }
  const { localClient } = await import('./connections-local.ts');
  return localClient(config, store);
}

/** Runs `fn` with a client and always closes it. */
export async function withConnectionsClient<T>(v: ConnectionValues, fn: (client: ConnectionsClient) => Promise<T>): Promise<T> {
  const client = await openConnectionsClient(v);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
