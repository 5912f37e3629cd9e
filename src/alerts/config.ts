/**
 * Alert settings: where notifications go, the signing secret, and the thresholds of the two counted
 * conditions. The URLs and thresholds may be in the configuration file's `alerts` section or the environment;
 * the secret only in the environment or a file (never in the configuration file):
 *
 *   TAXBRIDGE_ALERT_URLS           notification URLs, separated by commas or spaces (replaces alerts.urls)
 *   TAXBRIDGE_ALERT_SECRET         the Standard Webhooks signing secret, whsec_<base64 of 24..64 bytes>;
 *                                  a second one after a space while receivers move to a new secret
 *   TAXBRIDGE_ALERT_SECRET_FILE    a file holding it (alerts.secret_file in the configuration file)
 *   "alerts": { "urls": [...], "secret_file": "...", "signature_failures": 5, "signature_window_seconds": 300,
 *               "queue_age_seconds": 900, "check_interval_seconds": 30, "max_attempts": 8 }
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TaxbridgeError } from '../errors.ts';
import { knownSecrets } from '../log/index.ts';

export interface AlertsConfig {
  /** Notification URLs (http or https). Empty: alerts are off. */
  urls: string[];
  /** whsec_ secrets; each notification is signed with every one (rotation). Never logged. */
  secrets: string[];
  /** Where the secret came from (for the start log). */
  secretFrom?: string;
  /** Refused signatures (or credentials) of one connection within the window that raise an alert. */
  signatureFailures: number;
  signatureWindowSeconds: number;
  /** A queue whose oldest item is older than this raises an alert. */
  queueAgeSeconds: number;
  /** How often the queues and signature windows are checked. */
  checkIntervalSeconds: number;
  /** Attempts per notification and URL (backoff 1 s doubling, at most 5 min apart). */
  maxAttempts: number;
}

export const ALERT_DEFAULTS = {
  signatureFailures: 5,
  signatureWindowSeconds: 300,
  queueAgeSeconds: 900,
  checkIntervalSeconds: 30,
  maxAttempts: 8,
} as const;

const MAX_URLS = 10;
export const SECTION_KEYS: Record<string, keyof typeof ALERT_DEFAULTS | 'urls' | 'secret_file'> = {
  urls: 'urls',
  secret_file: 'secret_file',
  signature_failures: 'signatureFailures',
  signature_window_seconds: 'signatureWindowSeconds',
  queue_age_seconds: 'queueAgeSeconds',
  check_interval_seconds: 'checkIntervalSeconds',
  max_attempts: 'maxAttempts',
};
const LIMITS: Record<keyof typeof ALERT_DEFAULTS, number> = { signatureFailures: 100_000, signatureWindowSeconds: 86_400, queueAgeSeconds: 30 * 86_400, checkIntervalSeconds: 3600, maxAttempts: 20 };

function configError(message: string, hint?: string): TaxbridgeError {
  return new TaxbridgeError('CONFIG_INVALID', message, { hint });
}

/** One notification URL, checked. */
export function parseAlertUrl(v: unknown, source: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048) throw configError(`${source}: a notification URL must be a string of at most 2048 characters`);
  let u: URL;
  try {
    u = new URL(v.trim());
  } catch {
    throw configError(`${source}: ${JSON.stringify(v.slice(0, 100))} is not a URL`, 'for example https://hooks.slack.com/services/...');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw configError(`${source}: notification URLs must be http or https, got ${u.protocol}`);
  if (u.username || u.password) throw configError(`${source}: a notification URL must not carry a user name or password`, 'receivers authenticate notifications by their webhook-signature');
  // A Slack-style URL carries its credential in the path: kept out of logs like any secret.
  knownSecrets.add(u.toString());
  return u.toString();
}

/** whsec_ secrets separated by spaces, each 24..64 bytes once decoded. */
export function parseAlertSecrets(text: string, source: string): string[] {
  const secrets = text.trim().split(/\s+/).filter(Boolean);
  if (secrets.length === 0 || secrets.length > 2) throw configError(`${source} must hold one signing secret (or two while rotating), separated by a space`);
  for (const s of secrets) {
    const bytes = /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(s) ? Buffer.from(s.slice(6), 'base64').length : 0;
    if (bytes < 24 || bytes > 64) throw configError(`${source} must be a Standard Webhooks secret: "whsec_" and the base64 of 24 to 64 random bytes`, 'make one with: echo "whsec_$(openssl rand -base64 32)"');
  }
  for (const s of secrets) knownSecrets.add(s);
  return secrets;
}

function positiveInt(v: unknown, source: string, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n <= 0 || n > max) throw configError(`${source} must be a whole number from 1 to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * The alert settings from the file's `alerts` section (`source` names it in errors) and the environment;
 * `cwd` anchors relative secret file paths.
 */
export function parseAlertsConfig(section: unknown, env: NodeJS.ProcessEnv, source: string, cwd: string): AlertsConfig {
  if (section !== undefined && (typeof section !== 'object' || section === null || Array.isArray(section))) throw configError(`${source} must be an object`);
  const file = (section ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(file)) if (!Object.hasOwn(SECTION_KEYS, k)) throw configError(`${source}: unknown key "${k}"`, `known keys: ${Object.keys(SECTION_KEYS).join(', ')}`);

  let urls: string[] = [];
  if (env.TAXBRIDGE_ALERT_URLS) {
    const parts = env.TAXBRIDGE_ALERT_URLS.split(/[\s,]+/).filter(Boolean);
    if (parts.length > MAX_URLS) throw configError(`TAXBRIDGE_ALERT_URLS holds ${parts.length} URLs; at most ${MAX_URLS}`);
    urls = parts.map((u, i) => parseAlertUrl(u, `TAXBRIDGE_ALERT_URLS[${i}]`));
  } else if (file.urls !== undefined) {
    if (!Array.isArray(file.urls) || file.urls.length > MAX_URLS) throw configError(`${source}.urls must be a list of at most ${MAX_URLS} URLs`);
    urls = file.urls.map((u, i) => parseAlertUrl(u, `${source}.urls[${i}]`));
  }

  let secrets: string[] = [];
  let secretFrom: string | undefined;
  const secretFile = env.TAXBRIDGE_ALERT_SECRET_FILE || (typeof file.secret_file === 'string' ? file.secret_file : undefined);
  if (file.secret_file !== undefined && typeof file.secret_file !== 'string') throw configError(`${source}.secret_file must be a file path`);
  if (env.TAXBRIDGE_ALERT_SECRET) {
    secrets = parseAlertSecrets(env.TAXBRIDGE_ALERT_SECRET, 'TAXBRIDGE_ALERT_SECRET');
    secretFrom = 'TAXBRIDGE_ALERT_SECRET';
  } else if (secretFile) {
    const path = resolve(cwd, secretFile);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw configError(`cannot read the alert secret file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    secrets = parseAlertSecrets(text, `the alert secret file ${path}`);
    secretFrom = path;
  }
  if (urls.length > 0 && secrets.length === 0) {
    throw configError('alert URLs are configured but no signing secret: notifications are always signed', 'set TAXBRIDGE_ALERT_SECRET or TAXBRIDGE_ALERT_SECRET_FILE (alerts.secret_file) to a whsec_ secret: echo "whsec_$(openssl rand -base64 32)"');
  }

  const ENV: Record<keyof typeof ALERT_DEFAULTS, string> = {
    signatureFailures: 'TAXBRIDGE_ALERT_SIGNATURE_FAILURES',
    signatureWindowSeconds: 'TAXBRIDGE_ALERT_SIGNATURE_WINDOW_SECONDS',
    queueAgeSeconds: 'TAXBRIDGE_ALERT_QUEUE_AGE_SECONDS',
    checkIntervalSeconds: 'TAXBRIDGE_ALERT_CHECK_INTERVAL_SECONDS',
    maxAttempts: 'TAXBRIDGE_ALERT_MAX_ATTEMPTS',
  };
  const numbers = { ...ALERT_DEFAULTS } as Record<keyof typeof ALERT_DEFAULTS, number>;
  for (const [fileKey, field] of Object.entries(SECTION_KEYS)) {
    if (field === 'urls' || field === 'secret_file') continue;
    const envName = ENV[field];
    if (env[envName]) numbers[field] = positiveInt(env[envName], envName, LIMITS[field]);
    else if (file[fileKey] !== undefined) numbers[field] = positiveInt(file[fileKey], `${source}.${fileKey}`, LIMITS[field]);
  }
  return { urls, secrets, ...(secretFrom ? { secretFrom } : {}), ...numbers };
}

/** The settings as they may be logged: URLs reduced to their origin (a Slack URL path is a credential). */
export function describeAlerts(c: AlertsConfig): Record<string, unknown> {
  const { secrets: _s, urls, ...rest } = c;
  return { ...rest, urls: urls.map((u) => `${new URL(u).origin}/…`) };
}
