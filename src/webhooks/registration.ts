/**
 * Registering the runtime's webhook URL with a system by API (spec `webhooks.registration`), e.g. Sequence's
 * POST /notifications/policies. The signing secret is generated here (per the credential's `generated` kind)
 * unless the connection already has one, sent in the registration request, and returned for the caller to
 * store (encrypted) on the connection. The secret never appears in logs or errors.
 */
import { TaxbridgeError } from '../errors.ts';
import { compileExpression } from '../expressions/index.ts';
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../http/index.ts';
import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';
import type { Store } from '../store/types.ts';
import { generateSecret } from './generated-secret.ts';

export const WEBHOOK_REGISTRATIONS = 'webhook_registrations';

export interface WebhookRegistration {
  /** The system's id of the registration (spec `registration.id`), kept to unregister. */
  registration_id?: string;
  /** The signing secret the system will sign with; store it encrypted as `credential`. */
  secret: string;
  /** The credential the secret belongs in (spec `registration.secret_credential`). */
  credential?: string;
  /** True when the secret was generated now (false: the connection's existing one was reused). */
  generated: boolean;
}

export interface RegisterOptions {
  /** The public URL of this connection's receiver: https://host/webhooks/<token>. */
  url: string;
  /** When given, the registration (without the secret) is recorded in `webhook_registrations`. */
  store?: Store;
  http?: HttpClientOptions;
  /** Use this client instead of creating one (its connection must carry the secret credential). */
  client?: HttpClient;
}

export async function registerWebhook(spec: ConnectorSpec, conn: ConnectionContext, opts: RegisterOptions): Promise<WebhookRegistration> {
  const reg = spec.webhooks?.registration;
  if (!reg) {
    throw new TaxbridgeError('WEBHOOK_REGISTRATION_UNSUPPORTED', `the ${spec.name} connector has no webhooks.registration: its webhook URL is entered in ${spec.title} by the user`, {
      hint: 'show the user the webhook URL to paste into the system',
    });
  }
  if (!/^https?:\/\//i.test(opts.url)) throw new TaxbridgeError('WEBHOOK_URL_INVALID', 'the webhook URL must be an absolute http(s) URL');
  const credName = reg.secret_credential;
  let secret: string | undefined;
  let generated = false;
  if (credName) {
    const cred = spec.credentials?.find((c) => c.name === credName);
    if (!cred) throw new TaxbridgeError('WEBHOOK_REGISTRATION_INVALID', `webhooks.registration.secret_credential names "${credName}", which the ${spec.name} spec does not declare`);
    secret = conn.credentials[credName];
    if (!secret) {
      if (!cred.generated) throw new TaxbridgeError('WEBHOOK_REGISTRATION_INVALID', `credential "${credName}" has no value and is not declared with \`generated\``);
      secret = generateSecret(cred.generated);
      generated = true;
    }
  } else {
    secret = generateSecret('whsec');
    generated = true;
  }
  const withSecret: ConnectionContext = credName ? { ...conn, credentials: { ...conn.credentials, [credName]: secret } } : conn;
  const client = opts.client ?? createHttpClient(spec, withSecret, opts.http);
  try {
    const res = await client.request(reg.request, { webhook: { url: opts.url, secret } });
    let registration_id: string | undefined;
    if (reg.id) {
      const v = await compileExpression(reg.id).evaluate(res.body);
      if (v !== undefined && v !== null && v !== '') registration_id = String(v);
    }
    if (opts.store) {
      await opts.store.put(WEBHOOK_REGISTRATIONS, conn.connection_id, {
        id: conn.connection_id,
        connection_id: conn.connection_id,
        connector: spec.name,
        url: opts.url,
        ...(registration_id ? { registration_id } : {}),
        registered_at: new Date().toISOString(),
      });
    }
    return { ...(registration_id ? { registration_id } : {}), secret, ...(credName ? { credential: credName } : {}), generated };
  } finally {
    if (!opts.client) await client.close();
  }
}

/** Removes a registration by API where the spec declares `registration.unregister` (context `webhook.id`). */
export async function unregisterWebhook(spec: ConnectorSpec, conn: ConnectionContext, registrationId: string, opts: { store?: Store; http?: HttpClientOptions } = {}): Promise<boolean> {
  const req = spec.webhooks?.registration?.unregister;
  if (!req) return false;
  const client = createHttpClient(spec, conn, opts.http);
  try {
    await client.request(req, { webhook: { id: registrationId }, registration_id: registrationId });
    if (opts.store) await opts.store.delete(WEBHOOK_REGISTRATIONS, conn.connection_id);
    return true;
  } finally {
    await client.close();
  }
}
