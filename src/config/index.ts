/**
 * Configuration of `taxbridge serve` (and of the CLI commands that open the data folder).
 *
 * Sources, strongest first: command-line flags, environment variables, the configuration file, defaults.
 * The file is `--config <path>` (or TAXBRIDGE_CONFIG), else `taxbridge.config.json` in the working directory
 * when it exists. File keys are snake_case; secrets never go in the file (only paths to them).
 *
 * Every file key, its flag, environment variable and default: schemas/config.schema.json (the file is validated
 * against it; README's configuration table is generated from it by scripts/gen-config-reference.ts). Settings only
 * taken from the environment (the secrets: admin token, master key, database URL, ...) are its `x-environment-only`.
 *
 * Without TAXBRIDGE_MASTER_KEY, TAXBRIDGE_MASTER_KEY_FILE, master_key_file or an existing <data>/master.key,
 * `serve` refuses to start (MASTER_KEY_MISSING) unless --init-key / init_key asks it to create the file.
 * The admin token is never written anywhere in clear: only its SHA-256 is stored (`server` collection).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { TaxbridgeError } from '../errors.ts';
import { checkDatabaseUrl, redactUrl } from '../store/postgres/url.ts';
import { packagePath } from '../package-root.ts';
import { parseLogLevel, type LogLevel } from '../log/index.ts';
import { DEFAULT_TAX_API_LIMITS } from '../tax/request-schema.ts';
import { DEFAULT_RETENTION } from '../tax/retention.ts';
import { parseOAuthSection, type OAuthAppFileEntry } from '../connections/oauth-apps.ts';
import { describeAlerts, parseAlertsConfig, type AlertsConfig } from '../alerts/config.ts';
import { knownSecrets } from '../log/index.ts';
import { checkConfigFile } from './schema.ts';

export interface ServeConfig {
  port: number;
  host: string;
  /** Absolute path of the data folder (store files, master.key, admin token hash). */
  dataDir: string;
  /** postgres://... : the store is PostgreSQL (src/store/postgres) instead of the data folder's embedded store. Never logged. */
  databaseUrl?: string;
  databasePoolSize: number;
  databaseStatementTimeoutMs: number;
  /** Base of the URLs given to other systems (webhook URLs), without a trailing slash. */
  publicUrl: string;
  connectorsDir: string;
  logLevel: LogLevel;
  /** From TAXBRIDGE_ADMIN_TOKEN; undefined means: use the stored hash, or generate one at first start. */
  adminToken?: string;
  masterKeyFile?: string;
  /** The master key variables of the environment the configuration was read from (never logged). */
  keyEnv: { TAXBRIDGE_MASTER_KEY?: string; TAXBRIDGE_MASTER_KEY_FILE?: string; TAXBRIDGE_MASTER_KEY_PREVIOUS?: string };
  initKey: boolean;
  shutdownTimeoutMs: number;
  /** Start a full sync of every stream when a connection becomes active. */
  backfill: boolean;
  /** Run the specs' cron schedules for active connections. */
  schedules: boolean;
  /** Replicas on PostgreSQL: visibility timeout of job claims and time-to-live of sync leases (src/coordination). */
  leaseMs: number;
  /** Replicas on PostgreSQL: how often due jobs and syncs left by a dead replica are looked for. */
  pollMs: number;
  taxRateLimitPerSecond: number;
  /** Tax API bounds (src/tax/request-schema.ts): body bytes, line items, nesting depth, free-text length. */
  taxMaxBodyBytes: number;
  taxMaxLineItems: number;
  taxMaxDepth: number;
  taxMaxTextLength: number;
  /** Calculations waiting for the disk before requests get 503 recording_backlog. */
  taxMaxPendingRecords: number;
  /** Retention of recorded calculations (src/tax/retention.ts). */
  taxRetentionDays: number;
  taxRetentionCount: number;
  taxRetentionBytes: number;
  /** allow_insecure_loopback: templated hosts and OAuth endpoints may be plain http on a loopback host. */
  allowInsecureLoopback: boolean;
  /** The configuration file's `oauth` section (no secrets: client_secret_file only). */
  oauth: Record<string, OAuthAppFileEntry>;
  /** The TAXBRIDGE_OAUTH_* variables of the environment the configuration was read from (never logged). */
  oauthEnv: Record<string, string>;
  /** The TAXBRIDGE_WEBHOOK_* variables (app-level webhook secrets of per_connector connectors; never logged). */
  webhookEnv: Record<string, string>;
  /** Serve GET /metrics (src/server/metrics-api.ts). */
  metrics: boolean;
  /** A bearer token that opens /metrics only (besides the admin token). Never logged. */
  metricsToken?: string;
  /** Alert notifications (src/alerts/config.ts). */
  alerts: AlertsConfig;
  /** The configuration file read, if any. */
  configFile?: string;
}

export const DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  dataDir: './data',
  connectorsDir: './connectors',
  logLevel: 'info' as LogLevel,
  initKey: false,
  shutdownTimeoutMs: 10_000,
  backfill: true,
  schedules: true,
  leaseMs: 30_000,
  pollMs: 1000,
  taxRateLimitPerSecond: 100,
  taxMaxBodyBytes: DEFAULT_TAX_API_LIMITS.maxBodyBytes,
  taxMaxLineItems: DEFAULT_TAX_API_LIMITS.maxLineItems,
  taxMaxDepth: DEFAULT_TAX_API_LIMITS.maxDepth,
  taxMaxTextLength: DEFAULT_TAX_API_LIMITS.maxTextLength,
  taxMaxPendingRecords: 10_000,
  taxRetentionDays: DEFAULT_RETENTION.maxAgeDays,
  taxRetentionCount: DEFAULT_RETENTION.maxCount,
  taxRetentionBytes: DEFAULT_RETENTION.maxBytes,
  configFile: 'taxbridge.config.json',
  databasePoolSize: 10,
  databaseStatementTimeoutMs: 15_000,
  allowInsecureLoopback: false,
  metrics: true,
} as const;

/** A configuration file is a few kilobytes; anything near this is not one. */
const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** Keys a configuration file may contain, and the config field each sets (schemas/config.schema.json describes each). */
export const FILE_KEYS: Record<string, keyof ServeConfig> = {
  port: 'port',
  host: 'host',
  data_dir: 'dataDir',
  public_url: 'publicUrl',
  connectors_dir: 'connectorsDir',
  log_level: 'logLevel',
  master_key_file: 'masterKeyFile',
  init_key: 'initKey',
  shutdown_timeout_ms: 'shutdownTimeoutMs',
  backfill: 'backfill',
  schedules: 'schedules',
  lease_ms: 'leaseMs',
  poll_ms: 'pollMs',
  tax_rate_limit_per_second: 'taxRateLimitPerSecond',
  tax_max_body_bytes: 'taxMaxBodyBytes',
  tax_max_line_items: 'taxMaxLineItems',
  tax_max_depth: 'taxMaxDepth',
  tax_max_text_length: 'taxMaxTextLength',
  tax_max_pending_records: 'taxMaxPendingRecords',
  tax_retention_days: 'taxRetentionDays',
  tax_retention_count: 'taxRetentionCount',
  tax_retention_bytes: 'taxRetentionBytes',
  allow_insecure_loopback: 'allowInsecureLoopback',
  oauth: 'oauth',
  metrics: 'metrics',
  metrics_token_file: 'metricsToken',
  alerts: 'alerts',
  database_pool_size: 'databasePoolSize',
  database_statement_timeout_ms: 'databaseStatementTimeoutMs',
};

/** The tax settings that are positive whole numbers: field, environment variable, file key. */
const TAX_INT_SETTINGS = [
  ['taxMaxBodyBytes', 'TAXBRIDGE_TAX_MAX_BODY_BYTES', 'tax_max_body_bytes'],
  ['taxMaxLineItems', 'TAXBRIDGE_TAX_MAX_LINE_ITEMS', 'tax_max_line_items'],
  ['taxMaxDepth', 'TAXBRIDGE_TAX_MAX_DEPTH', 'tax_max_depth'],
  ['taxMaxTextLength', 'TAXBRIDGE_TAX_MAX_TEXT_LENGTH', 'tax_max_text_length'],
  ['taxMaxPendingRecords', 'TAXBRIDGE_TAX_MAX_PENDING_RECORDS', 'tax_max_pending_records'],
  ['taxRetentionDays', 'TAXBRIDGE_TAX_RETENTION_DAYS', 'tax_retention_days'],
  ['taxRetentionCount', 'TAXBRIDGE_TAX_RETENTION_COUNT', 'tax_retention_count'],
  ['taxRetentionBytes', 'TAXBRIDGE_TAX_RETENTION_BYTES', 'tax_retention_bytes'],
] as const;

/** Values given on the command line (undefined = not given). */
export interface ConfigFlags {
  config?: string;
  port?: string;
  host?: string;
  data?: string;
  publicUrl?: string;
  connectors?: string;
  logLevel?: string;
  initKey?: boolean;
  databaseUrl?: string;
}

function configError(message: string, hint?: string): TaxbridgeError {
  return new TaxbridgeError('CONFIG_INVALID', message, { hint });
}

function parsePort(v: unknown, source: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw configError(`${source} must be a port number 0..65535, got ${JSON.stringify(v)}`);
  return n;
}

function parsePositiveInt(v: unknown, source: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n <= 0) throw configError(`${source} must be a positive whole number, got ${JSON.stringify(v)}`);
  return n;
}

function parseBool(v: unknown, source: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off'].includes(s)) return false;
  }
  throw configError(`${source} must be true or false, got ${JSON.stringify(v)}`);
}

function parseUrl(v: unknown, source: string): string {
  if (typeof v !== 'string') throw configError(`${source} must be a URL string`);
  let u: URL;
  try {
    u = new URL(v.trim());
  } catch {
    throw configError(`${source} is not a URL: ${JSON.stringify(v)}`, 'for example https://taxbridge.example.com');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw configError(`${source} must be an http or https URL`);
  return u.toString().replace(/\/+$/, '');
}

function str(v: unknown, source: string): string {
  if (typeof v !== 'string' || !v.trim()) throw configError(`${source} must be a non-empty string`);
  return v.trim();
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_FILE_BYTES) throw configError(`the configuration file ${path} is ${size} bytes; at most ${MAX_CONFIG_FILE_BYTES}`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof TaxbridgeError) throw e;
    throw configError(`cannot read the configuration file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw configError(`the configuration file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw configError(`the configuration file ${path} must hold a JSON object`);
  // Shape, types, unknown keys and refused secrets: the schema says, naming the file and the key.
  checkConfigFile(parsed, path);
  const obj = parsed as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (k !== '$schema' && k !== '$comment' && !Object.hasOwn(FILE_KEYS, k)) throw configError(`${path}: unknown key "${k}"`, `known keys: ${Object.keys(FILE_KEYS).join(', ')}`);
  }
  return obj;
}

/**
 * Resolves the configuration. `cwd` anchors relative paths (of the file's values: the file's folder is not
 * used, so a config file and the command line mean the same thing by "./data").
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): ServeConfig {
  const explicit = flags.config ?? env.TAXBRIDGE_CONFIG;
  const filePath = explicit ? resolve(cwd, explicit) : resolve(cwd, DEFAULTS.configFile);
  if (explicit && !existsSync(filePath)) throw configError(`the configuration file ${filePath} does not exist`);
  const file = existsSync(filePath) ? readConfigFile(filePath) : {};
  const f = (key: string): unknown => file[key];
  const pick = <T>(flag: T | undefined, envName: string, fileKey: string): { value: unknown; source: string } | undefined => {
    if (flag !== undefined) return { value: flag, source: `--${fileKey.replace(/_/g, '-')}` };
    if (env[envName] !== undefined && env[envName] !== '') return { value: env[envName], source: envName };
    if (f(fileKey) !== undefined) return { value: f(fileKey), source: `${filePath}: ${fileKey}` };
    return undefined;
  };

  const p = pick(flags.port, 'TAXBRIDGE_PORT', 'port');
  const port = p ? parsePort(p.value, p.source) : DEFAULTS.port;
  const h = pick(flags.host, 'TAXBRIDGE_HOST', 'host');
  const host = h ? str(h.value, h.source) : DEFAULTS.host;
  const d = pick(flags.data, 'TAXBRIDGE_DATA_DIR', 'data_dir');
  const dataDir = resolve(cwd, d ? str(d.value, d.source) : DEFAULTS.dataDir);
  const c = pick(flags.connectors, 'TAXBRIDGE_CONNECTORS_DIR', 'connectors_dir');
  // Unset: ./connectors when the working directory has one, else the specs shipped with the package (any folder works).
  const connectorsDir = c ? resolve(cwd, str(c.value, c.source)) : existsSync(resolve(cwd, DEFAULTS.connectorsDir)) ? resolve(cwd, DEFAULTS.connectorsDir) : packagePath('connectors');
  const l = pick(flags.logLevel, 'TAXBRIDGE_LOG_LEVEL', 'log_level');
  const logLevel = l ? parseLogLevel(String(l.value), l.source) : DEFAULTS.logLevel;
  const u = pick(flags.publicUrl, 'TAXBRIDGE_PUBLIC_URL', 'public_url');
  const publicUrl = u ? parseUrl(u.value, u.source) : `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const k = pick(undefined, 'TAXBRIDGE_MASTER_KEY_FILE', 'master_key_file');
  const masterKeyFile = k ? resolve(cwd, str(k.value, k.source)) : undefined;
  const i = pick(flags.initKey || undefined, 'TAXBRIDGE_INIT_KEY', 'init_key');
  const initKey = i ? parseBool(i.value, i.source) : DEFAULTS.initKey;
  const s = pick(undefined, 'TAXBRIDGE_SHUTDOWN_TIMEOUT_MS', 'shutdown_timeout_ms');
  const shutdownTimeoutMs = s ? parsePositiveInt(s.value, s.source) : DEFAULTS.shutdownTimeoutMs;
  const b = pick(undefined, 'TAXBRIDGE_BACKFILL', 'backfill');
  const backfill = b ? parseBool(b.value, b.source) : DEFAULTS.backfill;
  const sc = pick(undefined, 'TAXBRIDGE_SCHEDULES', 'schedules');
  const schedules = sc ? parseBool(sc.value, sc.source) : DEFAULTS.schedules;
  const le = pick(undefined, 'TAXBRIDGE_LEASE_MS', 'lease_ms');
  const leaseMs = le ? parsePositiveInt(le.value, le.source) : DEFAULTS.leaseMs;
  const po = pick(undefined, 'TAXBRIDGE_POLL_MS', 'poll_ms');
  const pollMs = po ? parsePositiveInt(po.value, po.source) : DEFAULTS.pollMs;
  const r = pick(undefined, 'TAXBRIDGE_TAX_RATE_LIMIT', 'tax_rate_limit_per_second');
  const taxRateLimitPerSecond = r ? parsePositiveInt(r.value, r.source) : DEFAULTS.taxRateLimitPerSecond;
  const taxInts = {} as Record<(typeof TAX_INT_SETTINGS)[number][0], number>;
  for (const [field, envName, fileKey] of TAX_INT_SETTINGS) {
    const v = pick(undefined, envName, fileKey);
    taxInts[field] = v ? parsePositiveInt(v.value, v.source) : DEFAULTS[field];
  }

  const dbFlag = flags.databaseUrl ?? (env.TAXBRIDGE_DATABASE_URL?.trim() || undefined);
  if (dbFlag !== undefined) checkDatabaseUrl(dbFlag);
  const dp = pick(undefined, 'TAXBRIDGE_DATABASE_POOL_SIZE', 'database_pool_size');
  const databasePoolSize = dp ? parsePositiveInt(dp.value, dp.source) : DEFAULTS.databasePoolSize;
  const dt = pick(undefined, 'TAXBRIDGE_DATABASE_STATEMENT_TIMEOUT_MS', 'database_statement_timeout_ms');
  const databaseStatementTimeoutMs = dt ? parsePositiveInt(dt.value, dt.source) : DEFAULTS.databaseStatementTimeoutMs;

  const lb = pick(undefined, 'TAXBRIDGE_ALLOW_LOOPBACK_HTTP', 'allow_insecure_loopback');
  const allowInsecureLoopback = lb ? parseBool(lb.value, lb.source) : DEFAULTS.allowInsecureLoopback;
  const oauth = parseOAuthSection(f('oauth'), `${filePath}: oauth`);

  const me = pick(undefined, 'TAXBRIDGE_METRICS', 'metrics');
  const metrics = me ? parseBool(me.value, me.source) : DEFAULTS.metrics;
  const metricsToken = readMetricsToken(env, pick(undefined, 'TAXBRIDGE_METRICS_TOKEN_FILE', 'metrics_token_file'), cwd);
  const alerts = parseAlertsConfig(f('alerts'), env, `${filePath}: alerts`, cwd);

  const adminToken = env.TAXBRIDGE_ADMIN_TOKEN?.trim() || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw configError('TAXBRIDGE_ADMIN_TOKEN must be at least 16 characters', 'use a long random value, e.g. `openssl rand -base64 32`, or unset it to have one generated');
  }

  return {
    port,
    host,
    dataDir,
    ...(dbFlag !== undefined ? { databaseUrl: dbFlag } : {}),
    databasePoolSize,
    databaseStatementTimeoutMs,
    publicUrl,
    connectorsDir,
    logLevel,
    ...(adminToken ? { adminToken } : {}),
    ...(masterKeyFile ? { masterKeyFile } : {}),
    keyEnv: {
      ...(env.TAXBRIDGE_MASTER_KEY ? { TAXBRIDGE_MASTER_KEY: env.TAXBRIDGE_MASTER_KEY } : {}),
      ...(env.TAXBRIDGE_MASTER_KEY_FILE ? { TAXBRIDGE_MASTER_KEY_FILE: resolve(cwd, env.TAXBRIDGE_MASTER_KEY_FILE) } : {}),
      ...(env.TAXBRIDGE_MASTER_KEY_PREVIOUS ? { TAXBRIDGE_MASTER_KEY_PREVIOUS: env.TAXBRIDGE_MASTER_KEY_PREVIOUS } : {}),
    },
    initKey,
    shutdownTimeoutMs,
    backfill,
    schedules,
    leaseMs,
    pollMs,
    taxRateLimitPerSecond,
    ...taxInts,
    allowInsecureLoopback,
    oauth,
    oauthEnv: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('TAXBRIDGE_OAUTH_') && typeof e[1] === 'string')),
    // App-level webhook secrets (src/webhooks/app-secrets.ts); _FILE paths resolved against cwd.
    webhookEnv: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('TAXBRIDGE_WEBHOOK_') && typeof e[1] === 'string').map(([k, v]) => [k, k.endsWith('_FILE') ? resolve(cwd, v) : v])),
    metrics,
    ...(metricsToken ? { metricsToken } : {}),
    alerts,
    ...(existsSync(filePath) ? { configFile: filePath } : {}),
  };
}

/** TAXBRIDGE_METRICS_TOKEN, or the file TAXBRIDGE_METRICS_TOKEN_FILE / metrics_token_file names (at least 16 characters). */
function readMetricsToken(env: NodeJS.ProcessEnv, file: { value: unknown; source: string } | undefined, cwd: string): string | undefined {
  let token = env.TAXBRIDGE_METRICS_TOKEN?.trim() || undefined;
  let source = 'TAXBRIDGE_METRICS_TOKEN';
  if (!token && file) {
    const path = resolve(cwd, str(file.value, file.source));
    try {
      token = readFileSync(path, 'utf8').trim();
    } catch (e) {
      throw configError(`cannot read the metrics token file ${path} (${file.source}): ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    source = path;
  }
  if (token === undefined) return undefined;
  if (token.length < 16 || /\s/.test(token)) throw configError(`the metrics token (${source}) must be at least 16 characters without spaces`, 'use a long random value, e.g. `openssl rand -base64 32`');
  knownSecrets.add(token);
  return token;
}

/** The configuration as it may be logged or shown: secrets reduced to whether they are set. */
export function describeConfig(c: ServeConfig): Record<string, unknown> {
  const { adminToken, keyEnv, oauthEnv, webhookEnv, metricsToken, alerts, databaseUrl, ...rest } = c;
  return { ...rest, store: databaseUrl ? `postgres ${redactUrl(databaseUrl)}` : 'embedded (data folder)', metrics_auth: metricsToken ? 'admin token or metrics token' : 'admin token', alerts: describeAlerts(alerts), oauth_env: Object.keys(oauthEnv), webhook_env: Object.keys(webhookEnv), master_key_from: keyEnv.TAXBRIDGE_MASTER_KEY ? 'TAXBRIDGE_MASTER_KEY' : (keyEnv.TAXBRIDGE_MASTER_KEY_FILE ?? c.masterKeyFile ?? 'data folder'), admin_auth: adminToken ? 'TAXBRIDGE_ADMIN_TOKEN' : 'stored hash (generated at first start)' };
}
