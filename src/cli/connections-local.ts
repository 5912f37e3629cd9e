/**
 * The ConnectionsClient over a data folder opened by this process (no server holds it). The connection
 * service (which needs the master key) is made on first use, so listing events or write-back jobs works
 * without the key; a replay runs a webhook runtime in this process for that one item and stops it after.
 */
import type { ServeConfig } from '../config/index.ts';
import { connectionLookup } from '../connections/lookup.ts';
import { oauthAppsFrom } from '../connections/oauth-apps.ts';
import { ConnectorRegistry } from '../connections/registry.ts';
import { SecretBox, loadKeyring } from '../connections/secrets.ts';
import { ConnectionService } from '../connections/service.ts';
import { connectionStatus } from '../connections/status.ts';
import { TaxbridgeError } from '../errors.ts';
import type { Store } from '../store/types.ts';
import { runSync } from '../sync/index.ts';
import type { Organization } from '../tax/model.ts';
import { ORGS } from '../tax/orgs.ts';
import { loadTaxData } from '../tax/rates/index.ts';
import { eventSummary, getEvent, listEvents } from '../webhooks/inbox.ts';
import { webhookRegistrar } from '../webhooks/registration.ts';
import { createWebhookRuntime, type WebhookRuntime } from '../webhooks/runtime.ts';
import { createCoordinator } from '../coordination/index.ts';
import { getJob, jobSummary, listJobs } from '../writeback/jobs.ts';
import { createWritebackTaxEngine } from '../writeback/tax-engine.ts';
import type { ConnectionsClient } from './connections-client.ts';

export function localClient(config: ServeConfig, store: Store): ConnectionsClient {
  let service: ConnectionService | undefined;
  const connections = (): ConnectionService => {
    if (service) return service;
    const ring = loadKeyring({ dataDir: config.dataDir, keyFile: config.masterKeyFile, env: config.keyEnv });
    service = new ConnectionService({
      store,
      registry: ConnectorRegistry.load(config.connectorsDir),
      box: new SecretBox(ring),
      publicUrl: config.publicUrl,
      oauthApps: oauthAppsFrom(config.oauthEnv, config.oauth),
      allowLoopbackHttp: config.allowInsecureLoopback,
      registrar: webhookRegistrar(store),
    });
    return service;
  };

  /** A runtime for one replay: only what the replay queues runs (no recovery scan of other pending work). */
  const replayRuntime = (): WebhookRuntime => {
    const lookup = connectionLookup(connections());
    const rt = createWebhookRuntime({
      store,
      resolveConnection: lookup.resolveConnection,
      loadConnection: lookup.loadConnection,
      engine: createWritebackTaxEngine({ data: loadTaxData(), organizations: { organization: (id) => store.get<Organization>(ORGS, id) } }),
      // On a database shared with running replicas the replayed job runs under a claim, like theirs (never twice).
      coordinator: createCoordinator(store),
    });
    rt.events.resume();
    rt.writebacks?.resume();
    return rt;
  };

  return {
    mode: 'local',
    where: config.dataDir,
    async connectorCredentials(connector) {
      return connections().registry.find(connector)?.spec.credentials ?? [];
    },
    async organizationMode(id) {
      return (await store.get<Organization>(ORGS, id))?.mode;
    },
    connect: (input) => connections().connect(input),
    update: (id, input) => connections().update(id, input),
    reauthorize: (id) => connections().reauthorize(id),
    async list(filter = {}) {
      const svc = connections();
      return (await svc.list(filter)).map((d) => svc.view(d));
    },
    async get(id) {
      const svc = connections();
      const doc = await svc.get(id);
      const st = await connectionStatus(store, doc, svc.registry.find(doc.connector)?.spec);
      return { ...svc.view(doc), sync: st.streams, webhooks: st.webhooks, writebacks: st.writebacks, errors: st.errors };
    },
    disconnect: (id) => connections().disconnect(id),
    async events(f) {
      return (await listEvents(store, { connectionId: f.connectionId, status: f.status, eventType: f.type, limit: f.limit })).map(eventSummary);
    },
    async replayEvent(id) {
      const rt = replayRuntime();
      try {
        const doc = await rt.events.replay(id);
        if (!doc) throw new TaxbridgeError('not_found', `no webhook event ${id}`, { hint: 'list them with `taxbridge events`' });
        await rt.events.idle();
        if (rt.writebacks) await rt.writebacks.idle();
        return eventSummary((await getEvent(store, id)) ?? doc);
      } finally {
        await rt.stop();
      }
    },
    async writebacks(f) {
      return (await listJobs(store, { connectionId: f.connectionId, status: f.status, documentId: f.documentId, limit: f.limit })).map(jobSummary);
    },
    async replayWriteback(id) {
      const rt = replayRuntime();
      try {
        const job = await rt.writebacks!.replay(id);
        if (!job) throw new TaxbridgeError('not_found', `no write-back job ${id}`, { hint: 'list them with `taxbridge writebacks`' });
        await rt.writebacks!.idle();
        return jobSummary((await getJob(store, id)) ?? job);
      } finally {
        await rt.stop();
      }
    },
    async sync(id, req) {
      const svc = connections();
      const doc = await svc.get(id);
      if (doc.status !== 'active') {
        throw new TaxbridgeError('CONNECTION_NOT_ACTIVE', `connection ${id} is ${doc.status}, not active`, { hint: doc.status === 'pending' ? `finish it with \`taxbridge connect --connection ${id}\`` : 'connect again' });
      }
      const spec = svc.specOf(doc);
      const summaries = await runSync({ spec, conn: svc.context(doc), store, streams: req.streams, full: req.full === true, signal: req.signal, onProgress: req.onProgress });
      return { connector: doc.connector, environment: doc.environment, summaries };
    },
    async close() {
      await store.flush();
      await store.close();
    },
  };
}
