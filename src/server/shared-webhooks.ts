/**
 * The receiver's view of connectors with one webhook URL for all their connections (spec
 * `webhooks.url: per_connector`): their webhook section, the deployment's app secret, and the connections a
 * tenant belongs to (matched on the spec's `tenant_setting`).
 */
import type { ConnectorRegistry } from '../connections/registry.ts';
import type { RuntimeLookup } from '../connections/lookup.ts';
import type { WebhookAppSecrets } from '../webhooks/app-secrets.ts';
import type { ConnectorWebhooks } from './webhooks-api.ts';

export function sharedWebhookUrls(registry: Pick<ConnectorRegistry, 'find'>, lookup: Pick<RuntimeLookup, 'connectionsForTenant'>, appSecrets: WebhookAppSecrets): ConnectorWebhooks {
  const specOf = (connector: string) => {
    const wh = registry.find(connector)?.spec.webhooks;
    return wh?.url === 'per_connector' && wh.tenant_setting ? wh : undefined;
  };
  return {
    spec: specOf,
    appSecrets,
    async connectionsFor(connector, tenant) {
      const wh = specOf(connector);
      return wh ? lookup.connectionsForTenant(connector, wh.tenant_setting!, tenant) : [];
    },
  };
}
