/**
 * What the connection commands (`taxbridge connect | connections | disconnect`) share: the data folder
 * opened locally (configuration, specs, master key, store), or, when `taxbridge serve` holds the folder and
 * an admin token is at hand, the running server's admin API; `name=value` arguments; and printing.
 */
import { readFileSync } from 'node:fs';
import { adminApiClient, configuredServerUrl } from '../cli/admin-api-client.ts';
import { DATA_FOLDER_OPTIONS, DATA_FOLDER_USAGE, type DataFolderValues } from '../cli/data-folder-options.ts';
import { TaxbridgeError } from '../errors.ts';
import { loadConfig, type ConfigFlags, type ServeConfig } from '../config/index.ts';
import { openStore } from '../store/index.ts';
import type { Store } from '../store/types.ts';
import { webhookRegistrar } from '../webhooks/registration.ts';
import { ConnectorRegistry } from './registry.ts';
import { oauthAppsFrom } from './oauth-apps.ts';
import { SecretBox, loadKeyring } from './secrets.ts';
import { ConnectionService, type ConnectResult } from './service.ts';
import type { ConnectionStatusReport } from './status.ts';
import type { ConnectionView } from './view.ts';

/** Options every connection command takes: the data-folder ones, plus where specs live and webhook URLs point. */
export const COMMON_OPTIONS = {
  ...DATA_FOLDER_OPTIONS,
  connectors: { type: 'string' },
  'public-url': { type: 'string' },
} as const;

export const COMMON_USAGE = `${DATA_FOLDER_USAGE}
  --connectors <dir>    connector specs (default ./connectors)
  --public-url <url>    base of webhook URLs (default TAXBRIDGE_PUBLIC_URL or http://<host>:<port>)`;

export interface CommonValues extends DataFolderValues {
  connectors?: string;
  'public-url'?: string;
}

export function configFrom(v: CommonValues, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const flags: ConfigFlags = { data: v.data, config: v.config, connectors: v.connectors, publicUrl: v['public-url'] };
  return loadConfig(flags, env);
}

export interface Local {
  mode: 'local';
  config: ServeConfig;
  store: Store;
  connections: ConnectionService;
  close(): Promise<void>;
}

export interface Remote {
  mode: 'remote';
  config: ServeConfig;
  api<T = unknown>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

/**
 * The data folder, opened by this process; or the running server's admin API when `--server` is given, or
 * when the folder is held by a running `taxbridge serve` and an admin token is available.
 */
export async function openConnections(v: CommonValues, env: NodeJS.ProcessEnv = process.env): Promise<Local | Remote> {
  const config = configFrom(v, env);
  const token = v['admin-token'] ?? env.TAXBRIDGE_ADMIN_TOKEN;
  if (v.server) return remote(config, v.server, token);
  const registry = ConnectorRegistry.load(config.connectorsDir);
  const ring = loadKeyring({ dataDir: config.dataDir, keyFile: config.masterKeyFile, env: config.keyEnv });
  let store: Store;
  try {
    store = await openStore({ dir: config.dataDir });
  } catch (e) {
    if ((e as { code?: string }).code === 'STORE_LOCKED') {
      if (token) return remote(config, configuredServerUrl(config), token);
      throw new TaxbridgeError('STORE_LOCKED', (e as Error).message, {
        hint: 'taxbridge serve is using this data folder: use its admin API (set TAXBRIDGE_ADMIN_TOKEN and run this command again, or pass --server <url> --admin-token <token>), or stop the server first',
      });
    }
    throw e;
  }
  const connections = new ConnectionService({
    store,
    registry,
    box: new SecretBox(ring),
    publicUrl: config.publicUrl,
    oauthApps: oauthAppsFrom(config.oauthEnv, config.oauth),
    allowLoopbackHttp: config.allowInsecureLoopback,
    registrar: webhookRegistrar(store),
  });
  return {
    mode: 'local',
    config,
    store,
    connections,
    async close() {
      await store.flush();
      await store.close();
    },
  };
}

function remote(config: ServeConfig, server: string, token: string | undefined): Remote {
  return { mode: 'remote', config, api: adminApiClient(server, token, 120_000) };
}

/**
 * `name=value` pairs (repeatable flags). A value `@path` is read from that file and `-` from standard input
 * (at most one per command); a trailing newline is dropped. `inline` names the values given as plain text.
 */
export function parseAssignmentsWithSources(
  list: string[] | undefined,
  flag: string,
  readStdin: () => string = () => readFileSync(0, 'utf8'),
): { values: Record<string, string>; inline: string[] } {
  const values: Record<string, string> = Object.create(null);
  const inline: string[] = [];
  let stdinUsedBy: string | undefined;
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new TaxbridgeError('CLI_USAGE', `--${flag} takes name=value, got ${JSON.stringify(item.length > 40 ? `${item.slice(0, 10)}...` : item.replace(/=.*/, '=...'))}`, { hint: `e.g. --${flag} client_id=abc` });
    const name = item.slice(0, i);
    let value = item.slice(i + 1);
    if (value === '-') {
      if (stdinUsedBy) throw new TaxbridgeError('CLI_USAGE', `--${flag} ${name}=- and ${stdinUsedBy}=- both read standard input; only one value can come from it`, { hint: `read the other from a file: --${flag} ${name}=@file` });
      stdinUsedBy = name;
      value = readStdin().replace(/\r?\n$/, '');
    } else if (value.startsWith('@')) {
      try {
        value = readFileSync(value.slice(1), 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        throw new TaxbridgeError('CLI_USAGE', `--${flag} ${name}=@file: cannot read ${value.slice(1)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    } else {
      inline.push(name);
    }
    values[name] = value;
  }
  return { values: { ...values }, inline };
}

/** `name=value` pairs, values only (see parseAssignmentsWithSources). */
export function parseAssignments(list: string[] | undefined, flag: string): Record<string, string> {
  return parseAssignmentsWithSources(list, flag).values;
}

/** The environment variable that can carry a credential: TAXBRIDGE_CREDENTIAL_<NAME>. */
export const credentialEnvName = (name: string): string => `TAXBRIDGE_CREDENTIAL_${name.toUpperCase()}`;

/**
 * A spec's credentials from the environment (TAXBRIDGE_CREDENTIAL_<NAME>) and --credential flags (which win),
 * with a warning for every secret credential given inline: argv is visible to every user in `ps` and stays in
 * shell history.
 */
export function credentialInputs(
  list: string[] | undefined,
  declared: ReadonlyArray<{ name: string; secret?: boolean }>,
  env: NodeJS.ProcessEnv = process.env,
  readStdin?: () => string,
): { credentials: Record<string, string>; warnings: string[] } {
  const credentials: Record<string, string> = {};
  for (const c of declared) {
    const v = env[credentialEnvName(c.name)];
    if (v) credentials[c.name] = v;
  }
  const flags = parseAssignmentsWithSources(list, 'credential', readStdin);
  Object.assign(credentials, flags.values);
  const secret = new Set(declared.filter((c) => c.secret !== false).map((c) => c.name));
  const warnings = flags.inline
    .filter((n) => secret.has(n) || !declared.some((c) => c.name === n))
    .map((n) => `--credential ${n}=<value> puts a secret in the process list (ps) and shell history; use ${n}=@file, ${n}=- (standard input) or ${credentialEnvName(n)}`);
  return { credentials, warnings };
}

// ------------------------------------------------------------------------------------------- printing

export function formatConnectResult(r: ConnectResult, opts: { command?: string } = {}): string {
  const c = r.connection;
  const lines: string[] = [];
  lines.push(`${c.connector_title ?? c.connector} (${c.environment}) for organization ${c.organization_id}: ${c.id} [${c.status}]`);
  for (const m of r.messages) if (!m.startsWith('Tax API key')) lines.push(`  ${m}`);
  if (r.tax_api_key) {
    lines.push('', `  Tax API key for ${c.connector_title ?? c.connector} (shown once; only its hash is stored):`, `    ${r.tax_api_key}`);
    lines.push(`  Paste it into ${c.connector_title ?? c.connector}'s tax integration and click "Test credentials".`);
  }
  for (const [setting, choices] of Object.entries(r.choices ?? {})) {
    lines.push('', `  Choices for ${setting}:`);
    const w = Math.max(...choices.map((x) => String(x.value).length), 5);
    for (const ch of choices) lines.push(`    ${String(ch.value).padEnd(w)}  ${ch.label}`);
    if (opts.command) lines.push('', `  Then: ${opts.command} --setting ${setting}=<value>`);
  }
  if (r.webhook_url) lines.push('', `  Webhook URL: ${r.webhook_url}`);
  if (c.next_step?.step === 'webhook_secret' && opts.command) lines.push(`  Then: ${opts.command} --credential ${c.next_step.credential}=-   (paste the value from ${c.connector_title ?? c.connector}, then Ctrl-D; or =@file)`);
  return lines.join('\n') + '\n';
}

export function formatConnectionList(list: ConnectionView[]): string {
  if (!list.length) return 'No connections. Make one with `taxbridge connect <connector> --org <organization id> ...`.\n';
  const rows = list.map((c) => [c.id, c.connector, c.environment, c.status + (c.next_step ? ` (${c.next_step.step})` : ''), c.organization_id, c.backfill?.status ?? '-', c.created_at.slice(0, 19).replace('T', ' ')]);
  const head = ['ID', 'CONNECTOR', 'ENV', 'STATUS', 'ORGANIZATION', 'BACKFILL', 'CREATED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}

export function formatStatus(c: ConnectionView, st: Pick<ConnectionStatusReport, 'streams' | 'webhooks' | 'writebacks' | 'errors'>): string {
  const lines: string[] = [];
  lines.push(`${c.id}  ${c.connector_title ?? c.connector} (${c.environment})  [${c.status}]  organization ${c.organization_id}`);
  if (c.next_step) lines.push(`  waiting for: ${c.next_step.step}${'setting' in c.next_step ? ` ${c.next_step.setting}` : ''}${'credential' in c.next_step ? ` ${c.next_step.credential}` : ''}`);
  if (c.webhook_url) lines.push(`  webhook URL: ${c.webhook_url}`);
  if (c.next_step?.step === 'authorize') lines.push(c.next_step.authorization_url ? `  authorize at: ${c.next_step.authorization_url} (until ${c.next_step.expires_at})` : `  authorize again: taxbridge connect --connection ${c.id} --reauthorize`);
  if (c.authorization) lines.push(`  authorized: ${c.authorization.authorized_at}${c.authorization.expires_at ? `; access token expires ${c.authorization.expires_at} (refreshed before)` : ''}${c.authorization.refreshed_at ? `; last refresh ${c.authorization.refreshed_at}` : ''}${c.authorization.refresh_token ? '' : '; no refresh token'}`);
  if (c.backfill) lines.push(`  backfill: ${c.backfill.status}${c.backfill.finished_at ? ` (${c.backfill.finished_at})` : ''}`);
  lines.push('  streams:');
  for (const [name, s] of Object.entries(st.streams)) {
    const last = s.last_sync ? `${s.last_sync.status} ${s.last_sync.finished_at ?? ''} (+${s.last_sync.created ?? 0} ~${s.last_sync.updated ?? 0} !${s.last_sync.failed ?? 0})` : 'never synced';
    lines.push(`    ${name.padEnd(14)} ${String(s.counts.active).padStart(7)} stored${s.counts.deleted ? `, ${s.counts.deleted} deleted` : ''}   last sync: ${last}${s.running ? '  [running]' : ''}`);
    for (const sch of s.schedules ?? (s.schedule ? [s.schedule] : [])) lines.push(`      schedule ${sch.cron}${sch.mode ? ` (${sch.mode})` : ''}, next run ${sch.next_run ?? 'none'}`);
  }
  const w = st.webhooks;
  lines.push(`  webhooks: ${w.mode}${w.skipped ? ' (skipped)' : ''}; ${w.received} received, ${w.pending} pending, ${w.failed} failed${w.last ? `; last ${w.last.event_type} at ${w.last.received_at} (${w.last.status})` : ''}`);
  const b = st.writebacks;
  lines.push(`  write-backs: ${b.applied} applied, ${b.pending} pending, ${b.dead} dead, ${b.no_tax} without tax`);
  if (st.errors.length) {
    lines.push('  recent errors:');
    for (const e of st.errors.slice(0, 5)) lines.push(`    ${e.at} ${e.source} ${e.code}: ${e.message}`);
  }
  return lines.join('\n') + '\n';
}
