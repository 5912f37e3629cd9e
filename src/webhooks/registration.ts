/**
 * Registering the runtime's webhook URL with a system by API (spec `webhooks.registration`), e.g. Sequence's
 * POST /notifications/policies. The signing secret is generated here (per the credential's `generated` kind)
 * unless the connection already has one, sent in the registration request, and returned for the caller to
 * store (encrypted) on the connection; or, with `registration.secret`, the system creates it and returns it once
 * in the response (Stripe's POST /v1/webhook_endpoints), and it is returned to be stored the same way. The
 * secret never appears in logs or errors.
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
  /** True when the system created the secret and returned it (spec `registration.secret`): the caller must store it. */
  returned?: boolean;
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
  if (reg.secret) {
    // The system creates the secret and returns it (Stripe): nothing to generate or send.
    if (!credName || !spec.credentials?.some((c) => c.name === credName)) throw new TaxbridgeError('WEBHOOK_REGISTRATION_INVALID', `webhooks.registration.secret needs secret_credential naming a declared credential to store the returned secret in`);
  } else if (credName) {
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
    const res = await client.request(reg.request, { webhook: { url: opts.url, ...(secret !== undefined ? { secret } : {}) } });
    let registration_id: string | undefined;
    if (reg.id) {
      const v = await compileExpression(reg.id).evaluate(res.body);
      if (v !== undefined && v !== null && v !== '') registration_id = String(v);
    }
    if (reg.secret) {
      const ctx = { status: res.status, headers: res.headers, body: res.body };
      const v = await compileExpression(reg.secret).evaluate(ctx, ctx);
      if (typeof v !== 'string' || v === '' || v.length > 4096) {
        // The endpoint exists but its secret is lost: remove it, so a retry does not leave an orphan behind.
        if (registration_id && reg.unregister) await client.request(reg.unregister, { webhook: { id: registration_id }, registration_id }).catch(() => undefined);
        throw new TaxbridgeError('WEBHOOK_REGISTRATION_FAILED', `${spec.title} answered the webhook registration without a signing secret at \`${reg.secret}\``, { hint: 'check webhooks.registration.secret against the system\'s response' });
      }
      secret = v;
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
    return { ...(registration_id ? { registration_id } : {}), secret: secret!, ...(credName ? { credential: credName } : {}), generated, ...(reg.secret ? { returned: true } : {}) };
  } finally {
    if (!opts.client) await client.close();
  }
}

/**
 * The connection service's registrar (src/connections WebhookRegistrar) over these functions: a secret the
 * system returned is handed back to be sealed on the connection; the registration record is kept in `store`.
 */
export function webhookRegistrar(store: Store, http?: HttpClientOptions) {
  return {
    async register(spec: ConnectorSpec, conn: ConnectionContext, url: string): Promise<{ registration_id?: string; secret?: { credential: string; value: string } }> {
      const r = await registerWebhook(spec, conn, { url, store, http });
      return { ...(r.registration_id ? { registration_id: r.registration_id } : {}), ...(r.returned && r.credential ? { secret: { credential: r.credential, value: r.secret } } : {}) };
    },
    async unregister(spec: ConnectorSpec, conn: ConnectionContext, id: string | undefined): Promise<void> {
      if (id) await unregisterWebhook(spec, conn, id, { store, http });
    },
  };
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
