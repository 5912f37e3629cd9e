/**
 * "Test credentials": the spec's `check` request with the connection's credentials, before anything is
 * stored. Failures become errors a person can act on: which credentials were refused, or that the system
 * could not be reached.
 */
import { TaxbridgeError, errorMessage } from '../errors.ts';
import { compileExpression } from '../expressions/index.ts';
import { authCredentialNames } from '../http/auth.ts';
import { BadCredentialsError, HttpError, HttpTimeoutError, TransientHttpError, createHttpClient, type HttpClientOptions } from '../http/index.ts';
import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';
import { own } from '../own.ts';

export interface CheckResult {
  /** False when the spec has no `check` (nothing was tested). */
  checked: boolean;
  status?: number;
}

/** How long a connect waits for the check, retries included. */
export const CHECK_TIMEOUT_MS = 30_000;
/** Attempts of the check request before the system counts as unreachable. */
export const CHECK_ATTEMPTS = 3;

function credentialTitles(spec: ConnectorSpec): string {
  const names = authCredentialNames(spec.auth);
  const titles = names.map((n) => spec.credentials?.find((c) => c.name === n)?.title ?? n);
  return titles.length ? titles.join(' and ') : 'the credentials';
}

export async function testCredentials(spec: ConnectorSpec, conn: ConnectionContext, opts: { http?: HttpClientOptions; timeoutMs?: number } = {}): Promise<CheckResult> {
  if (!spec.check) return { checked: false };
  // A person is waiting: a couple of retries cover a blip, more would only delay the answer.
  const giveUp = new AbortController();
  const where = conn.base_url ?? own(spec.environments, conn.environment)?.base_url ?? '';
  const client = createHttpClient(spec, conn, {
    ...opts.http,
    onRetry: (info) => {
      opts.http?.onRetry?.(info);
      if (info.attempt >= CHECK_ATTEMPTS - 1) {
        giveUp.abort(new TaxbridgeError('CONNECTION_UNREACHABLE', `${spec.title} could not be reached at ${where}: ${info.reason} (${info.attempt} attempts)`, { hint: 'check the base URL and the network, then try again' }));
      }
    },
  });
  try {
    const signal = AbortSignal.any([giveUp.signal, AbortSignal.timeout(opts.timeoutMs ?? CHECK_TIMEOUT_MS)]);
    const res = await client.request(spec.check.request, {}, { signal });
    if (spec.check.success) {
      const ok = await compileExpression(spec.check.success).evaluate({ status: res.status, headers: res.headers, body: res.body });
      if (!ok) {
        throw new TaxbridgeError('CONNECTION_CHECK_FAILED', `${spec.title} answered the credentials check with ${res.status}, but the spec's check.success condition is false`, {
          hint: `check ${credentialTitles(spec)}, and that they have the access the connector needs`,
        });
      }
    }
    return { checked: true, status: res.status };
  } catch (e) {
    throw checkError(spec, conn, e);
  } finally {
    await client.close();
  }
}

function checkError(spec: ConnectorSpec, conn: ConnectionContext, e: unknown): TaxbridgeError {
  if (e instanceof TaxbridgeError && (e.code === 'CONNECTION_CHECK_FAILED' || e.code === 'CONNECTION_UNREACHABLE')) return e;
  const where = conn.base_url ?? own(spec.environments, conn.environment)?.base_url ?? '';
  if (e instanceof BadCredentialsError) {
    return new TaxbridgeError('CONNECTION_BAD_CREDENTIALS', `${spec.title} (${conn.environment}) rejected the credentials: HTTP ${e.status} on ${e.target.method} ${e.target.path}`, {
      hint: `check ${credentialTitles(spec)}${conn.environment === 'sandbox' ? ' (sandbox credentials for a sandbox connection)' : ''}`,
      details: { status: e.status },
      cause: e,
    });
  }
  if (e instanceof HttpTimeoutError || e instanceof TransientHttpError || (e as { name?: string }).name === 'TimeoutError') {
    return new TaxbridgeError('CONNECTION_UNREACHABLE', `${spec.title} could not be reached at ${where}: ${errorMessage(e)}`, {
      hint: 'check the base URL and the network, then try again',
      cause: e,
    });
  }
  if (e instanceof HttpError) {
    return new TaxbridgeError('CONNECTION_CHECK_FAILED', `the credentials check failed: ${e.message}`, { hint: `check ${credentialTitles(spec)} and the environment`, cause: e });
  }
  if (e instanceof TaxbridgeError) return e;
  return new TaxbridgeError('CONNECTION_UNREACHABLE', `${spec.title} could not be reached at ${where}: ${errorMessage(e)}`, { hint: 'check the base URL and the network', cause: e });
}
