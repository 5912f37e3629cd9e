/**
 * A connection as the admin API and the CLI show it: every credential reduced to whether it is set, except
 * those the spec declares `secret: false` (a client id), whose value is shown. Sealed values never leave.
 */
import type { ConnectorSpec } from '../spec/types.ts';
import type { ConnectionDoc } from './model.ts';
import { isSealed } from './secrets.ts';

export interface CredentialView {
  set: boolean;
  /** Only for credentials declared `secret: false`. */
  value?: string;
  title?: string;
}

/** An OAuth connection's authorization as shown: never a token, only when and what. */
export interface AuthorizationView {
  authorized_at: string;
  refreshed_at?: string;
  /** When the access token expires (it is refreshed before). */
  expires_at?: string;
  scope?: string;
  refresh_token: boolean;
}

export type ConnectionView = Omit<ConnectionDoc, 'credentials' | 'webhook_token' | 'oauth'> & {
  connector_title?: string;
  credentials: Record<string, CredentialView>;
  /** Where the system sends webhooks; absent once disconnected and for connectors without webhooks. */
  webhook_url?: string;
  /** auth oauth2_authorization_code: the stored authorization. */
  authorization?: AuthorizationView;
};

export function authorizationView(o: ConnectionDoc['oauth']): AuthorizationView | undefined {
  if (!o) return undefined;
  return { authorized_at: o.authorized_at, ...(o.refreshed_at ? { refreshed_at: o.refreshed_at } : {}), ...(o.expires_at ? { expires_at: o.expires_at } : {}), ...(o.scope !== undefined ? { scope: o.scope } : {}), refresh_token: o.refresh_token !== undefined };
}

export function connectionView(doc: ConnectionDoc, spec: ConnectorSpec | undefined, webhookUrl: string | undefined): ConnectionView {
  const { credentials, webhook_token: _t, oauth, ...rest } = doc;
  const out: Record<string, CredentialView> = {};
  const names = new Set([...(spec?.credentials ?? []).map((c) => c.name), ...Object.keys(credentials)]);
  for (const name of names) {
    const c = spec?.credentials?.find((x) => x.name === name);
    const v = credentials[name];
    const view: CredentialView = { set: v !== undefined && v !== '' };
    if (c?.title) view.title = c.title;
    if (c && c.secret === false && v !== undefined && !isSealed(v)) view.value = v;
    out[name] = view;
  }
  const authorization = authorizationView(oauth);
  return { ...rest, ...(spec ? { connector_title: spec.title } : {}), credentials: out, ...(webhookUrl && (!spec || spec.webhooks) ? { webhook_url: webhookUrl } : {}), ...(authorization ? { authorization } : {}) };
}
