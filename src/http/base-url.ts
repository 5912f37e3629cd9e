/**
 * Base URLs with a host per connection: `environments.*.base_url` (and the OAuth endpoint URLs) may embed
 * `{{ settings.<name> }}`. Only plain setting paths are allowed (lint), each setting declares a `pattern`
 * (lint), and here every value must match its pattern and the result must be https, so a connection's
 * settings choose a tenant of the system but never another host. Plain http is accepted only to a
 * loopback host, and only when the deployment allows it (tests and the demo).
 */
import { TaxbridgeError } from '../errors.ts';
import type { SettingSpec } from '../spec/types.ts';
import { own } from '../own.ts';

/** `{{ settings.name }}` segments; anything else between braces is refused by lint and here. */
const SEGMENT = /\{\{\s*([^}]*?)\s*\}\}/g;
const SETTING_PATH = /^settings\.([a-z][a-z0-9_]*)$/;

export function isTemplatedUrl(url: string): boolean {
  return url.includes('{{');
}

/** The setting names a templated URL uses, or an error text for a segment that is not a plain setting path. */
export function urlTemplateSettings(url: string): { settings: string[]; invalid: string[] } {
  const settings: string[] = [];
  const invalid: string[] = [];
  for (const m of url.matchAll(SEGMENT)) {
    const hit = SETTING_PATH.exec(m[1]!);
    if (hit) settings.push(hit[1]!);
    else invalid.push(m[1]!);
  }
  return { settings, invalid };
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export interface RenderUrlOptions {
  settings: Record<string, unknown>;
  settingSpecs: readonly SettingSpec[] | undefined;
  /** http:// to 127.0.0.0/8, ::1 or localhost is accepted (deployment switch allow_insecure_loopback). */
  allowLoopbackHttp?: boolean;
  /** What the URL is, for messages ("the Chargebee production base URL"). */
  what: string;
}

function urlError(message: string, hint: string, details: Record<string, unknown> = {}): TaxbridgeError {
  return new TaxbridgeError('CONNECTION_BASE_URL', message, { hint, details });
}

/** Checks that a URL is https (or allowed loopback http) and carries no credentials. */
export function checkSecureUrl(url: string, what: string, allowLoopbackHttp: boolean | undefined): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw urlError(`${what} is not a URL: ${JSON.stringify(url.slice(0, 200))}`, 'check the spec and the settings it uses');
  }
  if (u.username || u.password) throw urlError(`${what} must not carry credentials`, 'give credentials as credentials');
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) {
    if (allowLoopbackHttp) return u;
    throw urlError(`${what} ${u.origin} is plain http, allowed only when the deployment sets allow_insecure_loopback`, 'plain http is accepted only to a loopback host when the deployment sets allow_insecure_loopback (TAXBRIDGE_ALLOW_LOOPBACK_HTTP=true), for tests and demos');
  }
  throw urlError(`${what} ${u.protocol === 'http:' ? u.origin : JSON.stringify(url.slice(0, 200))} must be an https URL`, 'requests carry credentials: only https is used');
}

/**
 * Renders a URL template over the connection's settings. A URL without `{{` is returned unchanged (and
 * unchecked: it is the spec author's literal). Each value must be a string or number matching its
 * setting's `pattern` in full.
 */
export function renderUrlTemplate(template: string, o: RenderUrlOptions): string {
  if (!isTemplatedUrl(template)) return template;
  const out = template.replace(SEGMENT, (_all, inner: string) => {
    const hit = SETTING_PATH.exec(inner);
    if (!hit) throw urlError(`${o.what} uses {{ ${inner} }}; only {{ settings.<name> }} may appear in a URL`, 'see environments.*.base_url in the spec reference');
    const name = hit[1]!;
    const spec = o.settingSpecs?.find((s) => s.name === name);
    if (!spec?.pattern) throw urlError(`${o.what} uses settings.${name}, which declares no pattern`, `declare settings[].pattern for ${name} (taxbridge validate reports this)`);
    const raw = own(o.settings, name) ?? spec.default;
    if (raw === undefined || raw === null || raw === '') throw new TaxbridgeError('CONNECTION_INCOMPLETE', `${o.what} needs settings.${name} (${spec.title}), which the connection has not set`, { hint: `--setting ${name}=...` });
    const value = String(raw);
    if (value.length > 2048 || !fullMatch(spec.pattern, value)) {
      throw urlError(`settings.${name} ${JSON.stringify(value.slice(0, 100))} does not match its pattern ${spec.pattern}`, `give a ${spec.title} of the expected form`, { setting: name });
    }
    return value;
  });
  checkSecureUrl(out, o.what, o.allowLoopbackHttp);
  return out.replace(/\/+$/, '');
}

/** The whole value must match (a pattern without ^ and $ still cannot be satisfied by a prefix). */
export function fullMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u').test(value);
  } catch {
    return false;
  }
}

/** The switch from the environment (TAXBRIDGE_ALLOW_LOOPBACK_HTTP=true), for processes without a config. */
export function loopbackHttpFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes|on)$/i.test(env.TAXBRIDGE_ALLOW_LOOPBACK_HTTP?.trim() ?? '');
}
