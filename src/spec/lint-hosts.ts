/**
 * Hosts and OAuth a schema cannot check: a templated `environments.*.base_url` (and OAuth endpoint URL) uses
 * only `{{ settings.<name> }}` of declared settings that each carry a `pattern` (so no connection can be
 * pointed at an arbitrary host), a literal base URL is https, and the settings an OAuth authorization
 * fills in (`settings_from_redirect`, `settings_from_token`) are declared.
 */
import { isLoopbackHost, isTemplatedUrl, urlTemplateSettings } from '../http/base-url.ts';
import { RESERVED_AUTHORIZE_PARAMS } from '../http/oauth2-params.ts';
import type { Diagnostic } from './diagnostics.ts';
import type { ConnectorSpec, SettingSpec } from './types.ts';
import { pointerJoin } from './yaml-source.ts';

type Report = (pointer: string, code: string, message: string, hint?: string, severity?: Diagnostic['severity'], preferKey?: boolean) => void;

export function checkHosts(spec: Partial<ConnectorSpec>, report: Report): void {
  const settings = new Map<string, SettingSpec>();
  for (const s of Array.isArray(spec.settings) ? spec.settings : []) if (s && typeof s.name === 'string') settings.set(s.name, s);
  const urls: Array<{ pointer: string; url: unknown; literalHttps: boolean }> = [];
  for (const [env, e] of Object.entries(spec.environments ?? {})) urls.push({ pointer: `/environments/${env}/base_url`, url: (e as { base_url?: unknown } | undefined)?.base_url, literalHttps: true });
  const auth = spec.auth;
  if (auth?.type === 'oauth2_authorization_code') {
    for (const k of ['authorize_url', 'token_url', 'revoke_url'] as const) urls.push({ pointer: `/auth/${k}`, url: auth[k], literalHttps: true });
  }
  for (const { pointer, url, literalHttps } of urls) {
    if (typeof url !== 'string') continue;
    if (!isTemplatedUrl(url)) {
      if (literalHttps) checkLiteral(url, pointer, report);
      continue;
    }
    const { settings: used, invalid } = urlTemplateSettings(url);
    for (const bad of invalid) report(pointer, 'LINT_HOST_TEMPLATE', `\`{{ ${bad} }}\` in a URL: only \`{{ settings.<name> }}\` may appear in a host template`, 'keep the host choosable by settings only, each with a pattern');
    if (/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])[:/]/.test(url)) {
      report(pointer, 'LINT_URL_INSECURE', 'plain http to a loopback host: used only where the deployment sets allow_insecure_loopback (tests, demos)', 'use the https URL of the system', 'warning');
    } else if (!/^(https:\/\/|\{\{)/.test(url)) report(pointer, 'LINT_HOST_TEMPLATE', `a templated URL must start with https:// or with a setting: ${JSON.stringify(url)}`, 'requests carry credentials: only https is used');
    for (const name of used) {
      const s = settings.get(name);
      if (!s) report(pointer, 'LINT_UNDECLARED_SETTING', `\`settings.${name}\` is used in the URL but no setting \`${name}\` is declared`, 'declare it under `settings:` with a `pattern`');
      else if (!s.pattern) {
        report(pointer, 'LINT_HOST_SETTING_PATTERN', `setting \`${name}\` chooses the host in \`${pointer.slice(1).replace(/\//g, '.')}\` but declares no \`pattern\``, `add a pattern to setting ${name} (e.g. ^[a-z0-9][a-z0-9-]{0,62}$) so a connection cannot point at an arbitrary host`);
      } else if (!validRegex(s.pattern)) {
        report(pointer, 'LINT_HOST_SETTING_PATTERN', `setting \`${name}\` has a pattern that is not a valid regular expression: ${s.pattern}`);
      }
    }
  }
  for (const s of settings.values()) {
    if (s.pattern && !validRegex(s.pattern)) {
      const i = (spec.settings ?? []).indexOf(s);
      report(pointerJoin(pointerJoin('/settings', i), 'pattern'), 'LINT_PATTERN', `setting \`${s.name}\` has a pattern that is not a valid regular expression`, 'JavaScript regular expression syntax, e.g. ^[a-z0-9-]+$');
    }
  }
  if (auth?.type === 'oauth2_authorization_code') {
    for (const k of Object.keys(auth.authorize_params ?? {})) {
      if (RESERVED_AUTHORIZE_PARAMS.has(k)) report(pointerJoin('/auth/authorize_params', k), 'LINT_OAUTH_RESERVED_PARAM', `\`${k}\` is set by taxbridge in every authorization request; this value is ignored`, 'remove it (scopes go in auth.scopes)', 'warning', true);
    }
    for (const key of ['settings_from_redirect', 'settings_from_token'] as const) {
      for (const name of Object.keys(auth[key] ?? {})) {
        if (!settings.has(name)) report(pointerJoin(pointerJoin('/auth', key), name), 'LINT_UNDECLARED_SETTING', `\`auth.${key}\` fills setting \`${name}\`, which is not declared`, 'declare it under `settings:` (with a `pattern` the value must match)', 'error', true);
        else if (!settings.get(name)!.pattern) report(pointerJoin(pointerJoin('/auth', key), name), 'LINT_OAUTH_SETTING_PATTERN', `setting \`${name}\` is filled by the authorization but declares no \`pattern\`: any value the redirect or token response carries would be kept`, 'add a pattern (QuickBooks realm ids: ^\\d{10,19}$)', 'warning', true);
      }
    }
  }
}

function checkLiteral(url: string, pointer: string, report: Report): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    report(pointer, 'LINT_URL', `not an absolute URL: ${JSON.stringify(url)}`, 'for example https://api.example.com/v1');
    return;
  }
  if (u.protocol === 'https:') return;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return;
  report(pointer, 'LINT_URL_INSECURE', `${u.origin} is not https: requests would carry credentials in clear`, 'use the https URL of the system', u.protocol === 'http:' ? 'warning' : 'error');
}

function validRegex(p: string): boolean {
  try {
    new RegExp(p, 'u');
    return true;
  } catch {
    return false;
  }
}
