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

export type ConnectionView = Omit<ConnectionDoc, 'credentials' | 'webhook_token'> & {
  connector_title?: string;
  credentials: Record<string, CredentialView>;
  /** Where the system sends webhooks; absent once disconnected. */
  webhook_url?: string;
};

export function connectionView(doc: ConnectionDoc, spec: ConnectorSpec | undefined, webhookUrl: string | undefined): ConnectionView {
  const { credentials, webhook_token: _t, ...rest } = doc;
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
  return { ...rest, ...(spec ? { connector_title: spec.title } : {}), credentials: out, ...(webhookUrl ? { webhook_url: webhookUrl } : {}) };
}
