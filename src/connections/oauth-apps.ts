/**
 * The deployment's OAuth app credentials per connector (auth oauth2_authorization_code): the client id and
 * secret taxbridge is registered with at the system. They belong to the deployment, never to a connection,
 * and like the other secrets come only from the environment or from files:
 *
 *   TAXBRIDGE_OAUTH_<NAME>_CLIENT_ID            the client id (NAME = connector name, upper case)
 *   TAXBRIDGE_OAUTH_<NAME>_CLIENT_SECRET        the secret, or
 *   TAXBRIDGE_OAUTH_<NAME>_CLIENT_SECRET_FILE   a file holding it
 *   configuration file: "oauth": { "<name>": { "client_id": "...", "client_secret_file": "..." } }
 *
 * Optionally the endpoints, for a deployment that talks to a stand-in of the system's authorization server
 * (the demo, end-to-end tests): TAXBRIDGE_OAUTH_<NAME>_AUTHORIZE_URL / _TOKEN_URL / _REVOKE_URL, or
 * authorize_url / token_url / revoke_url in the file's entry. They replace the spec's URLs and must be
 * https (loopback http only with allow_insecure_loopback).
 *
 * Values are read when a connection needs them (so a secret file may be replaced without a restart) and
 * never logged: `describeOAuthApps` says only where each comes from.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TaxbridgeError } from '../errors.ts';
import type { OAuthApp } from '../http/oauth2-code.ts';
import { own } from '../own.ts';

export interface OAuthAppFileEntry {
  client_id?: string;
  client_secret_file?: string;
  authorize_url?: string;
  token_url?: string;
  revoke_url?: string;
}

/** App credentials, and endpoint URLs replacing the spec's when the deployment says so. */
export interface DeploymentOAuthApp extends OAuthApp {
  authorizeUrl?: string;
  tokenUrl?: string;
  revokeUrl?: string;
}

export type OAuthApps = (connector: string, title: string) => DeploymentOAuthApp;

export const FILE_ENTRY_KEYS = ['client_id', 'client_secret_file', 'authorize_url', 'token_url', 'revoke_url'] as const;

const envName = (connector: string) => `TAXBRIDGE_OAUTH_${connector.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** Checks the configuration file's `oauth` section (shape only; no secret may be in it). */
export function parseOAuthSection(v: unknown, source: string): Record<string, OAuthAppFileEntry> {
  if (v === undefined) return {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new TaxbridgeError('CONFIG_INVALID', `${source} must be an object of connector name -> { client_id, client_secret_file }`);
  const out: Record<string, OAuthAppFileEntry> = Object.create(null) as Record<string, OAuthAppFileEntry>;
  for (const [name, e] of Object.entries(v as Record<string, unknown>)) {
    if (!/^[a-z][a-z0-9_]{1,39}$/.test(name)) throw new TaxbridgeError('CONFIG_INVALID', `${source}: "${name.slice(0, 50)}" is not a connector name`);
    if (!e || typeof e !== 'object' || Array.isArray(e)) throw new TaxbridgeError('CONFIG_INVALID', `${source}.${name} must be an object`);
    const entry: OAuthAppFileEntry = {};
    for (const [k, val] of Object.entries(e as Record<string, unknown>)) {
      if (k === 'client_secret') throw new TaxbridgeError('CONFIG_INVALID', `${source}.${name}.client_secret does not belong in a configuration file`, { hint: `use client_secret_file, or ${envName(name)}_CLIENT_SECRET in the environment` });
      if (!(FILE_ENTRY_KEYS as readonly string[]).includes(k)) throw new TaxbridgeError('CONFIG_INVALID', `${source}.${name}: unknown key "${k.slice(0, 50)}"`, { hint: `known keys: ${FILE_ENTRY_KEYS.join(', ')}` });
      if (typeof val !== 'string' || !val.trim() || val.length > 4096) throw new TaxbridgeError('CONFIG_INVALID', `${source}.${name}.${k} must be a non-empty string`);
      entry[k as (typeof FILE_ENTRY_KEYS)[number]] = val.trim();
    }
    out[name] = entry;
  }
  return out;
}

/** App credentials from the environment first, then the configuration file's section. */
export function oauthAppsFrom(env: NodeJS.ProcessEnv, file: Record<string, OAuthAppFileEntry> = {}, cwd: string = process.cwd()): OAuthApps {
  return (connector, title) => {
    const base = envName(connector);
    const entry = own(file, connector);
    const clientId = env[`${base}_CLIENT_ID`]?.trim() || entry?.client_id;
    let clientSecret = env[`${base}_CLIENT_SECRET`]?.trim() || undefined;
    const secretFile = env[`${base}_CLIENT_SECRET_FILE`]?.trim() || entry?.client_secret_file;
    if (!clientSecret && secretFile) {
      try {
        clientSecret = readFileSync(resolve(cwd, secretFile), 'utf8').trim();
      } catch (e) {
        throw new TaxbridgeError('OAUTH_APP_MISSING', `the OAuth client secret file for ${title} cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { hint: `check ${base}_CLIENT_SECRET_FILE` });
      }
    }
    if (!clientId || !clientSecret) {
      throw new TaxbridgeError('OAUTH_APP_MISSING', `${title} connects with OAuth and this deployment has no ${!clientId ? 'client id' : 'client secret'} for it`, {
        hint: `register an app with ${title} (redirect URI <public URL>/oauth/callback) and set ${base}_CLIENT_ID and ${base}_CLIENT_SECRET (or _CLIENT_SECRET_FILE)`,
      });
    }
    const url = (k: 'AUTHORIZE_URL' | 'TOKEN_URL' | 'REVOKE_URL', f: 'authorize_url' | 'token_url' | 'revoke_url') => env[`${base}_${k}`]?.trim() || entry?.[f];
    const authorizeUrl = url('AUTHORIZE_URL', 'authorize_url');
    const tokenUrl = url('TOKEN_URL', 'token_url');
    const revokeUrl = url('REVOKE_URL', 'revoke_url');
    return { clientId, clientSecret, ...(authorizeUrl ? { authorizeUrl } : {}), ...(tokenUrl ? { tokenUrl } : {}), ...(revokeUrl ? { revokeUrl } : {}) };
  };
}
