import { request } from 'undici';
import type { ServeConfig } from '../config/index.ts';
import { TaxbridgeError } from '../errors.ts';

export type AdminApi = <T = unknown>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) => Promise<T>;

/**
 * The admin API of a running `taxbridge serve`, for CLI commands whose data folder the server holds:
 * `{data}` bodies come back unwrapped; error bodies become TaxbridgeErrors with the server's code and hint.
 */
export function adminApiClient(server: string, token: string | undefined, timeoutMs = 30_000, tokenSource = 'TAXBRIDGE_ADMIN_TOKEN'): AdminApi {
  if (!token) throw new TaxbridgeError('CLI_USAGE', '--server needs the admin token', { hint: 'pass --admin-token <token> or set TAXBRIDGE_ADMIN_TOKEN' });
  const base = server.replace(/\/+$/, '');
  return async <T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> => {
    let res;
    try {
      res = await request(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new TaxbridgeError('SERVER_UNREACHABLE', `cannot reach taxbridge serve at ${base}: ${(e as Error).message}`, { hint: 'is it running? pass --server <url>' });
    }
    const text = await res.body.text();
    let json: { data?: T; code?: string; message?: string; hint?: string; param?: string; details?: Record<string, unknown> } | undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.statusCode === 401) {
      // A token was sent: say which one was refused, and where the right one comes from.
      throw new TaxbridgeError('unauthorized_access', `${base} refused the admin token given in ${tokenSource}${json?.message ? ` (${json.message})` : ''}`, {
        hint: 'use the token `taxbridge serve` printed at its first start (or the TAXBRIDGE_ADMIN_TOKEN it runs with); `taxbridge serve --new-admin-token` replaces a lost one',
      });
    }
    if (res.statusCode >= 400) {
      throw new TaxbridgeError(json?.code ?? `HTTP_${res.statusCode}`, json?.message ?? `the server answered ${res.statusCode}`, {
        ...(json?.hint ? { hint: json.hint } : {}),
        ...(json?.param || json?.details ? { details: { ...(json.details ?? {}), ...(json.param ? { field: json.param } : {}) } } : {}),
      });
    }
    return (json?.data ?? json) as T;
  };
}

/** The URL of the server configured for this data folder (used when it holds the folder's lock). */
export function configuredServerUrl(config: Pick<ServeConfig, 'host' | 'port'>): string {
  return `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
}
