/**
 * Checking what a user gives when connecting against what the spec declares: credential and setting names
 * (a misspelt name is named, with the closest declared one), credential patterns, setting types (the CLI
 * gives strings: "42" and "true" are converted), required values, defaults. Errors are CONNECTION_INPUT
 * TaxbridgeErrors with `details.field` ("credentials.client_secret", "settings.subsidiary_id").
 */
import { authenticationTemplates } from '../webhooks/authentication.ts';
import { fullMatch } from '../http/base-url.ts';
import { TaxbridgeError } from '../errors.ts';
import { closest } from '../spec/suggest.ts';
import type { ConnectorSpec, CredentialSpec, SettingSpec } from '../spec/types.ts';

export function inputError(message: string, field: string, hint?: string): TaxbridgeError {
  return new TaxbridgeError('CONNECTION_INPUT', message, { hint, details: { field } });
}

export const isSecretCredential = (c: CredentialSpec): boolean => c.secret !== false;
export const isRequiredCredential = (c: CredentialSpec): boolean => c.required !== false;

function declared<T extends { name: string }>(list: T[] | undefined, name: string, kind: 'credential' | 'setting', spec: ConnectorSpec): T {
  const hit = list?.find((x) => x.name === name);
  if (hit) return hit;
  const names = (list ?? []).map((x) => x.name);
  const near = closest(name, names);
  throw inputError(
    `${spec.title} has no ${kind} named "${name}"${near ? `; did you mean "${near}"?` : ''}`,
    `${kind === 'credential' ? 'credentials' : 'settings'}.${name}`,
    names.length ? `its ${kind}s: ${names.join(', ')}` : `${spec.title} declares no ${kind}s`,
  );
}

/**
 * Validates given credential values. `null` (or "") asks to remove an optional value: it is returned as
 * null so the caller can drop it. Returns only the names given.
 */
export function parseCredentials(spec: ConnectorSpec, input: unknown): Record<string, string | null> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw inputError('credentials must be an object of name -> value', 'credentials');
  const out: Record<string, string | null> = {};
  for (const [name, raw] of Object.entries(input as Record<string, unknown>)) {
    const c = declared(spec.credentials, name, 'credential', spec);
    const field = `credentials.${name}`;
    if (raw === null || (typeof raw === 'string' && raw.trim() === '')) {
      if (isRequiredCredential(c)) throw inputError(`${c.title} (${name}) is required by ${spec.title} and cannot be empty`, field);
      out[name] = null;
      continue;
    }
    if (typeof raw !== 'string') throw inputError(`${c.title} (${name}) must be a string`, field);
    // Pasted values often carry a trailing newline or space; they are never part of a key.
    const value = raw.trim();
    if (c.pattern && !new RegExp(c.pattern).test(value)) {
      throw inputError(`${c.title} (${name}) does not look right: it must match ${c.pattern}`, field, c.description);
    }
    checkSigningKey(spec, c, value, field);
    out[name] = value;
  }
  return out;
}

function coerceSetting(s: SettingSpec, raw: unknown, spec: ConnectorSpec): string | number | boolean {
  const field = `settings.${s.name}`;
  const type = s.type ?? 'string';
  if (type === 'integer') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isSafeInteger(n)) throw inputError(`${s.title} (${s.name}) must be a whole number, got ${JSON.stringify(raw)}`, field);
    return n;
  }
  if (type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (typeof raw === 'string' && ['true', 'false'].includes(raw.trim().toLowerCase())) return raw.trim().toLowerCase() === 'true';
    throw inputError(`${s.title} (${s.name}) must be true or false, got ${JSON.stringify(raw)}`, field);
  }
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (typeof raw !== 'string' || !raw.trim()) throw inputError(`${s.title} (${s.name}) of ${spec.title} must be a non-empty string`, field);
  return raw.trim();
}

/** Validates given setting values (converted to the declared type). `null` removes an optional setting. */
export function parseSettings(spec: ConnectorSpec, input: unknown): Record<string, string | number | boolean | null> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw inputError('settings must be an object of name -> value', 'settings');
  const out: Record<string, string | number | boolean | null> = {};
  for (const [name, raw] of Object.entries(input as Record<string, unknown>)) {
    const s = declared(spec.settings, name, 'setting', spec);
    if (raw === null) {
      if (s.required) throw inputError(`${s.title} (${name}) is required by ${spec.title} and cannot be removed`, `settings.${name}`);
      out[name] = null;
      continue;
    }
    if (oauthFilled(spec).has(name)) throw inputError(`${s.title} (${name}) is filled in by the ${spec.title} authorization and cannot be set by hand`, `settings.${name}`, 'authorize again (--reauthorize) to change the account');
    const v = coerceSetting(s, raw, spec);
    if (s.pattern && typeof v === 'string' && !fullMatch(s.pattern, v)) throw inputError(`${s.title} (${name}) does not look right: it must match ${s.pattern}`, `settings.${name}`, s.description);
    out[name] = v;
  }
  return out;
}

/** Settings an OAuth authorization fills in (auth.settings_from_redirect / settings_from_token). */
export function oauthFilled(spec: ConnectorSpec): Set<string> {
  const a = spec.auth;
  return a.type === 'oauth2_authorization_code' ? new Set([...Object.keys(a.settings_from_redirect ?? {}), ...Object.keys(a.settings_from_token ?? {})]) : new Set();
}

/** Settings with their defaults filled in. */
export function withDefaults(spec: ConnectorSpec, settings: Record<string, unknown>): Record<string, unknown> {
  const out = { ...settings };
  for (const s of spec.settings ?? []) if (out[s.name] === undefined && s.default !== undefined) out[s.name] = s.default;
  return out;
}

/** Required credentials missing from `present` (generated ones are never missing: the runtime makes them). */
export function missingCredentials(spec: ConnectorSpec, present: Record<string, unknown>): CredentialSpec[] {
  return (spec.credentials ?? []).filter((c) => isRequiredCredential(c) && !c.generated && (present[c.name] === undefined || present[c.name] === null || present[c.name] === ''));
}

export function missingSettings(spec: ConnectorSpec, present: Record<string, unknown>): SettingSpec[] {
  return (spec.settings ?? []).filter((s) => s.required && (present[s.name] === undefined || present[s.name] === null || present[s.name] === ''));
}

/** Credential names the webhook signature reads (`credentials.<name>` in `webhooks.signature.secret`), in order. */
export function signatureCredentials(spec: ConnectorSpec): string[] {
  // Every webhook authentication template (hmac secret, basic user/password, token), not only the signature's.
  const secret = spec.webhooks ? Object.values(authenticationTemplates(spec.webhooks)).join(' ') : undefined;
  if (typeof secret !== 'string') return [];
  const names: string[] = [];
  for (const m of secret.matchAll(/credentials\.([a-z][a-z0-9_]*)/g)) {
    const n = m[1]!;
    if (!names.includes(n) && spec.credentials?.some((c) => c.name === n)) names.push(n);
  }
  return names;
}

/**
 * The credential the user must copy from the system for webhooks to verify (Rillet's signing token), when
 * the spec has webhooks that are not registered by API and whose secret the runtime does not generate.
 */
export function userWebhookSecret(spec: ConnectorSpec): CredentialSpec | undefined {
  if (!spec.webhooks || spec.webhooks.registration) return undefined;
  const first = signatureCredentials(spec)[0];
  const c = spec.credentials?.find((x) => x.name === first);
  return c && !c.generated ? c : undefined;
}

/** Credentials the webhook signature uses: changing them needs no new "Test credentials". */
export function isWebhookOnlyCredential(spec: ConnectorSpec, name: string): boolean {
  return signatureCredentials(spec).includes(name) || spec.webhooks?.registration?.secret_credential === name;
}

/**
 * A webhook signing secret the signature scheme would not be able to use (Rillet's token is base64) is
 * refused now, rather than every delivery failing its signature check later.
 */
function checkSigningKey(spec: ConnectorSpec, c: CredentialSpec, value: string, field: string): void {
  if (!signatureCredentials(spec).includes(c.name)) return;
  const sig = spec.webhooks!.signature;
  if (!sig || !authenticationTemplates(spec.webhooks!).secret?.includes(`credentials.${c.name}`)) return;
  const encoding = sig.key_encoding ?? (sig.preset === 'standard_webhooks' ? 'whsec' : 'utf8');
  if (encoding === 'utf8') return;
  const body = encoding === 'whsec' && value.startsWith('whsec_') ? value.slice(6) : value;
  const ok = /^[A-Za-z0-9+/]+={0,2}$/.test(body) && body.length % 4 === 0 && Buffer.from(body, 'base64').length > 0;
  if (!ok) {
    throw inputError(
      `${c.title} (${c.name}) must be ${encoding === 'whsec' ? 'a "whsec_" secret (base64 after the prefix)' : 'base64 text'} as ${spec.title} shows it`,
      field,
      `copy it again from ${spec.title}${c.description ? ` (${c.description})` : ''}`,
    );
  }
}
