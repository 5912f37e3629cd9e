/**
 * Connections as the webhook receiver, event processing and write-back ask for them (src/webhooks'
 * ConnectionLookup): by webhook URL token, by id, or by organization and connector, each resolved to the
 * loaded spec and a context with the credentials opened. Disconnected connections resolve to nothing.
 */
import type { ResolvedConnection, ConnectionLookup } from '../webhooks/connections.ts';
import type { Organization } from '../tax/model.ts';
import { CONNECTIONS, type ConnectionDoc } from './model.ts';
import type { ConnectionService } from './service.ts';

export interface RuntimeLookup extends ConnectionLookup {
  /** The organization's live connection of a connector, in the environment matching its mode. */
  findConnection(organizationId: string, connector: string): Promise<ResolvedConnection | undefined>;
  /**
   * The connector's connections that receive events for `tenant` on its shared webhook URL: active (or
   * waiting for re-authorization, whose events wait too) and whose `setting` is exactly `tenant`.
   */
  connectionsForTenant(connector: string, setting: string, tenant: string): Promise<ResolvedConnection[]>;
}

export function connectionLookup(svc: ConnectionService): RuntimeLookup {
  const resolve = (doc: ConnectionDoc | undefined): ResolvedConnection | undefined => {
    if (!doc || doc.status === 'disconnected') return undefined;
    const loaded = svc.registry.find(doc.connector);
    if (!loaded) return undefined;
    return { spec: loaded.spec, conn: svc.context(doc), organizationId: doc.organization_id, ...(doc.status === 'needs_reauthorization' ? { waiting: doc.last_error?.message ?? 'the connection needs re-authorization' } : {}) };
  };
  return {
    async resolveConnection(token) {
      return resolve(await svc.byWebhookToken(token));
    },
    async loadConnection(id) {
      return resolve(await svc.store.get<ConnectionDoc>(CONNECTIONS, id));
    },
    async connectionsForTenant(connector, setting, tenant) {
      // Narrowed by index (connector, status); the setting is compared as text (a number or a string upstream).
      const { docs } = await svc.store.find<ConnectionDoc>(CONNECTIONS, { where: { connector, status: { in: ['active', 'needs_reauthorization'] } } });
      return docs
        .filter((c) => Object.hasOwn(c.settings, setting) && String(c.settings[setting]) === tenant)
        .map(resolve)
        .filter((c): c is ResolvedConnection => c !== undefined);
    },
    async findConnection(organizationId, connector) {
      const org = await svc.store.get<Organization>('organizations', organizationId);
      if (!org) return undefined;
      const env = org.mode === 'test' ? 'sandbox' : 'production';
      const { docs } = await svc.store.find<ConnectionDoc>(CONNECTIONS, { where: { organization_id: organizationId, connector, environment: env, status: 'active' }, orderBy: { field: 'created_at', desc: true }, limit: 1 });
      return resolve(docs[0]);
    },
  };
}
