/**
 * `taxbridge serve`: one process with the tax API, the admin API, the webhook receiver, event processing,
 * tax write-back and, per active connection, the backfill and the cron schedules; the embedded store in the
 * data folder.
 *
 * Start: configuration -> connector specs -> store (the folder's lock, private modes, every table verified:
 * a damaged one stops the start) -> master key -> admin token -> tax
 * service -> connections -> workers (resuming what a previous process left) -> HTTP listening -> ready.
 * Stop (SIGTERM/SIGINT, or `close()`): not ready; stop accepting connections; answer 503 to new requests on
 * open ones; wait for requests in flight; stop schedules and syncs (they resume from checkpoints); let the
 * event and write-back workers finish their current job, within the shutdown timeout (what is left runs at
 * the next start); flush and close the store. A second signal or the shutdown timeout forces the remaining
 * connections closed; after a signal the process exits once the store is closed.
 */
import { taxIdVerifierFromEnv } from '../tax/vat-ids/index.ts';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { TaxbridgeError, errorMessage } from '../errors.ts';
import { describeConfig, type ServeConfig } from '../config/index.ts';
import { connectionLookup } from '../connections/lookup.ts';
import type { ConnectionDoc } from '../connections/model.ts';
import { ConnectorRegistry } from '../connections/registry.ts';
import { packagePath } from '../package-root.ts';
import { SecretBox, loadKeyring } from '../connections/secrets.ts';
import { ConnectionService } from '../connections/service.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { openConfiguredStore, type WriteFileOps } from '../store/index.ts';
import { redactUrl } from '../store/postgres/url.ts';
import type { Store } from '../store/types.ts';
import { startScheduler } from '../scheduler/index.ts';
import { runSync } from '../sync/index.ts';
import { loadTaxData } from '../tax/rates/index.ts';
import { TaxService } from '../tax/service.ts';
import type { LogFn } from '../webhooks/log.ts';
import { webhookRegistrar } from '../webhooks/registration.ts';
import { webhookAppSecretsFrom } from '../webhooks/app-secrets.ts';
import { sharedWebhookUrls } from './shared-webhooks.ts';
import { createWebhookRuntime, type WebhookRuntime } from '../webhooks/runtime.ts';
import { createWritebackTaxEngine } from '../writeback/tax-engine.ts';
import { createAdminApiRouter } from './admin-api.ts';
import type { AdminGate } from './admin-bearer.ts';
import { createConsoleRouter } from '../console/router.ts';
import { consoleSessionVerdict } from '../console/session-auth.ts';
import { ConsoleSessions, SESSION_ENDED_TOPIC, type SessionOptions } from '../console/sessions.ts';
import { EventStreams, type EventStreamsOptions } from './event-streams.ts';
import { resolveAdminAuth } from './admin-auth.ts';
import { createApp } from './app.ts';
import { storeCheck } from './health.ts';
import { ConnectionRuntime, type StartSchedules } from './connection-runtime.ts';
import { createConnectionsApiRouter } from './connections-api.ts';
import { createRecordsApiRouter } from './records-api.ts';
import { createTaxAdminApiRouter } from './tax-admin-api.ts';
import { createSpecsApiRouter } from './specs-api.ts';
import { createOAuthAdminRouter, createOAuthCallbackRouter } from './oauth-api.ts';
import { oauthAppsFrom } from '../connections/oauth-apps.ts';
import { createTaxApiRouter } from './tax-api.ts';
import { RefusedDeliveries } from '../webhooks/refused.ts';
import { createInvoiceTaxRouter, createWebhookAdminRouter, createWebhookReceiverRouter } from './webhooks-api.ts';
import { announceChanges, createCoordinator } from '../coordination/index.ts';
import { createMetricsRouter } from './metrics-api.ts';
import { instrumentStore, observeConnectionActive, observeNeedsReauthorization, reportListenerErrors } from '../metrics/index.ts';
import { describeAlerts, startAlerts, type RunningAlerts } from '../alerts/index.ts';

export interface ServeIO {
  /** Where JSON log lines go. Default stdout. */
  writeLog?: (line: string) => void;
  /** Where one-time notices go (the generated admin token). Default stderr. */
  notice?: (text: string) => void;
  /** Generate a new admin token (the old one stops working). */
  newAdminToken?: boolean;
  /** Replaces the cron schedules of connections (default: src/scheduler's node-cron tasks). */
  startSchedules?: StartSchedules;
  /** The store's write-path file operations (tests inject a failing disk). Default node:fs. */
  storeFileOps?: WriteFileOps;
  /** Web console session lifetimes and clock (tests make sessions expire). */
  consoleSessions?: SessionOptions;
  /** Bounds and heartbeat of the admin event streams (tests make heartbeats fast). */
  eventStreams?: EventStreamsOptions;
  /** The built console (default console/dist of the package). */
  consoleDir?: string;
}

export interface RunningServer {
  url: string;
  /** Routes mounted, for the OpenAPI completeness check. */
  routes(): Array<{ method: string; path: string }>;
  port: number;
  log: Logger;
  store: Store;
  connections: ConnectionService;
  runtime: ConnectionRuntime;
  webhooks: WebhookRuntime;
  /** Alert notifications, when alert URLs are configured. */
  alerts?: RunningAlerts;
  /** Graceful stop; resolves when everything is closed. Safe to call twice. */
  close(reason?: string): Promise<void>;
  /** Resolves when the server has stopped (by close() or a signal). */
  closed: Promise<void>;
}

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The webhook parts' log function on top of the structured logger. */
function logFn(log: Logger): LogFn {
  return (level, message, fields) => log[level](message, fields);
}

export async function startServer(config: ServeConfig, io: ServeIO = {}): Promise<RunningServer> {
  const version = packageVersion();
  const log = createLogger({ level: config.logLevel, write: io.writeLog });
  const notice = io.notice ?? ((t: string) => void process.stderr.write(t));
  log.info('starting', { version, pid: process.pid, config: describeConfig(config) });

  const publicHost = new URL(config.publicUrl).hostname;
  if (publicHost === '0.0.0.0' || publicHost === '[::]') {
    log.warn('the public URL is not reachable by other systems: webhook URLs given to them would not work', { public_url: config.publicUrl, hint: 'set TAXBRIDGE_PUBLIC_URL to the address systems reach this server at' });
  }

  const registry = ConnectorRegistry.load(config.connectorsDir);
  for (const f of registry.failures) log.error('connector spec not loaded', { path: f.path, code: f.code, error: f.message });
  log.info('connector specs loaded', { connectors: registry.names(), failed: registry.failures.length });

  // The store first: its lock, private modes (master.key in the folder among them) and every table
  // verified, so a damaged table stops the start here, before anything listens.
  const storeLog = log.child({ part: 'store' });
  const opened = Date.now();
  const openedStore = instrumentStore(await openConfiguredStore(config, { verify: true, fileOps: io.storeFileOps, onWarning: ({ message, code, ...fields }) => storeLog.warn(message, { code, ...fields }) }).catch((e: unknown) => {
    storeLog.error(config.databaseUrl ? 'database refused' : 'data folder refused', { error: e });
    throw e;
  }));
  log.info('store verified', { ...(openedStore.kind === 'postgres' ? { store: 'postgres', database: redactUrl(config.databaseUrl!) } : { data_dir: config.dataDir }), ms: Date.now() - opened });
  // Port 0 asks the system for a free port: bind it now, answering 503 until the app is ready, so every URL
  // handed out from here on (webhook, OAuth callback, console origin) names the real port, not ":0".
  let handle: RequestListener = answerStarting;
  const server: Server = createServer((req, res) => handle(req, res));
  if (config.port === 0) {
    await listen(server, config).catch(async (e: unknown) => {
      await openedStore.close();
      throw e;
    });
    config = withBoundPort(config, (server.address() as AddressInfo).port);
  }
  // Replicas sharing the store claim jobs, lease syncs, elect cron ticks and announce cache changes (src/coordination).
  const coordLog = log.child({ part: 'coordination' });
  const coordinator = createCoordinator(openedStore, { leaseMs: config.leaseMs, pollMs: config.pollMs, warn: (m, f) => coordLog.warn(m, f) });
  const store: Store = coordinator.shared ? announceChanges(openedStore, coordinator, (m, f) => coordLog.warn(m, f)) : openedStore;
  const exclusive = coordinator.shared ? <T>(name: string, fn: () => Promise<T>) => coordinator.exclusive(name, fn) : undefined;
  // A start that fails after listening must not leave a half-alive server behind (cleanups run in reverse).
  const cleanups: Array<() => Promise<void>> = [
    async () => {
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  ];
  try {
    // Listening before anything is cached, so no change announced from here on is missed.
    await coordinator.start();
    cleanups.push(() => coordinator.stop());
    if (coordinator.shared) coordLog.info('replica coordination on the shared store', { replica: coordinator.replicaId, lease_ms: coordinator.leaseMs, poll_ms: coordinator.pollMs });
    const ring = loadKeyring({ env: config.keyEnv, dataDir: config.dataDir, initKey: config.initKey, keyFile: config.masterKeyFile });
    if (ring.created) log.warn('master key created: back it up; without it the stored credentials cannot be read', { file: ring.created });
    log.info('master key loaded', { key_id: ring.current.id, source: ring.source });

    const adminAuth = await resolveAdminAuth(store, { envToken: config.adminToken, rotate: io.newAdminToken });
    if (adminAuth.generated) {
      notice(
        `\n  taxbridge admin token (shown once; only its hash is stored):\n\n    ${adminAuth.generated}\n\n` +
          `  Use it as "Authorization: Bearer <token>" on /admin. Set TAXBRIDGE_ADMIN_TOKEN to choose your own,\n` +
          `  or run \`taxbridge serve --new-admin-token\` to replace a lost one.\n\n`,
      );
      log.warn('admin token generated and printed once on stderr', { source: 'stored hash' });
    }

    // The admin routers accept the bearer token or a signed-in web console session (src/console/).
    const consoleSessions = new ConsoleSessions(store, io.consoleSessions);
    // Live status by server-sent events; a sign-out on any replica ends that session's streams.
    const streams = new EventStreams({ sessionAlive: (key) => consoleSessions.alive(key), ...io.eventStreams });
    const unsubscribeSessions = await store.subscribe(SESSION_ENDED_TOPIC, (key) => streams.endSession(key));
    cleanups.push(() => unsubscribeSessions());
    const adminGate: AdminGate = { token: adminAuth.verify, session: consoleSessionVerdict(consoleSessions, { publicUrl: config.publicUrl }) };

    const taxData = loadTaxData();
    const tax = await TaxService.open({
      store,
      data: taxData,
      rateLimitPerSecond: config.taxRateLimitPerSecond,
      limits: { maxLineItems: config.taxMaxLineItems, maxDepth: config.taxMaxDepth, maxTextLength: config.taxMaxTextLength },
      maxPendingRecords: config.taxMaxPendingRecords,
      retention: { maxAgeDays: config.taxRetentionDays, maxCount: config.taxRetentionCount, maxBytes: config.taxRetentionBytes },
      taxIds: taxIdVerifierFromEnv(),
      onError: (m, e) => log.error(m, { error: e }),
      ...(exclusive ? { exclusive } : {}),
    });
    cleanups.push(() => tax.close());
    // A key revoked, an organization or connection changed (here or on another replica): cached copies go.
    coordinator.onChange((topic, id) => tax.forget(topic, id));

    let runtime!: ConnectionRuntime;
    const connections = new ConnectionService({
      store,
      registry,
      box: new SecretBox(ring),
      publicUrl: config.publicUrl,
      log,
      oauthApps: oauthAppsFrom(config.oauthEnv, config.oauth),
      allowLoopbackHttp: config.allowInsecureLoopback,
      ...(exclusive ? { exclusive } : {}),
      registrar: webhookRegistrar(store),
      taxKeys: {
        async create(orgId, name) {
          const r = await tax.createApiKey(orgId, { name });
          return { key: r.key, id: r.doc.id, prefix: r.doc.prefix };
        },
        async revoke(id) {
          await tax.revokeApiKey(id);
        },
      },
      hooks: {
        activated: async (doc: ConnectionDoc) => {
          observeConnectionActive(doc);
          await runtime.activate(doc);
          // Webhook events and write-backs that waited for a re-authorization proceed.
          webhooks.events.resumeConnection(doc.id);
          webhooks.writebacks?.resumeConnection(doc.id);
        },
        changed: (doc: ConnectionDoc) => {
          observeConnectionActive(doc);
          return runtime.changed(doc);
        },
        deactivated: (doc: ConnectionDoc) => runtime.deactivate(doc),
        // Paused only when the system refused the grant (ConnectionService.markNeedsReauthorization).
        paused: (doc: ConnectionDoc) => {
          observeNeedsReauthorization(doc, doc.last_error?.message ?? 'the system refused the authorization');
          return runtime.deactivate(doc);
        },
      },
    });
    const lookup = connectionLookup(connections);

    const webhooks: WebhookRuntime = createWebhookRuntime({
      store,
      resolveConnection: lookup.resolveConnection,
      loadConnection: lookup.loadConnection,
      engine: createWritebackTaxEngine({ data: taxData, organizations: { organization: async (id) => tax.organization(id) ?? (await tax.getOrganization(id).catch(() => undefined)) } }),
      log: logFn(log.child({ part: 'webhooks' })),
      coordinator,
    });
    cleanups.push(() => webhooks.stop());

    // Alerts listen to the operational events the parts raise (src/metrics/events.ts).
    const alertLog = log.child({ part: 'alerts' });
    reportListenerErrors((e) => alertLog.error('alert condition failed', { error: e }));
    const alerts = startAlerts({ config: config.alerts, store, log: logFn(alertLog), userAgent: `taxbridge/${version}` });
    if (alerts) {
      cleanups.push(() => alerts.stop());
      log.info('alerts on', describeAlerts(config.alerts));
    }

    runtime = new ConnectionRuntime({
      connections,
      store,
      runSync,
      client: (doc, spec, conn) => webhooks.clients.get({ spec, conn, organizationId: doc.organization_id }),
      startSchedules: io.startSchedules ?? ((o) => startScheduler({ spec: o.spec, conn: o.conn, run: o.run, logger: o.log, ...(o.ticks ? { ticks: o.ticks } : {}) })),
      log: log.child({ part: 'sync' }),
      backfill: config.backfill,
      schedules: config.schedules,
      writeback: webhooks.writebacks,
      coordinator,
    });
    cleanups.push(() => runtime.stop());

    // Refused webhook deliveries (code, size, address), written at most every 2 s per connection or URL.
    const refused = new RefusedDeliveries(store, { onError: (e) => log.warn('refused webhook deliveries not recorded', { error: e }) });
    let shuttingDown = false;
    let workersRunning = false;
    const app = createApp({
      log,
      version,
      publicUrl: config.publicUrl,
      isShuttingDown: () => shuttingDown,
      readiness: () => ({
        store: storeCheck(store.health(), shuttingDown),
        specs: { ok: registry.names().length > 0, loaded: registry.names(), failed: registry.failures.map((f) => f.path) },
        workers: { ok: workersRunning && !shuttingDown, connections_running: runtime.size },
        ...(shuttingDown ? { shutdown: { ok: false, detail: 'shutting down' } } : {}),
      }),
      publicRouters: [createOAuthCallbackRouter({ connections, adminToken: adminAuth.verify, log: log.child({ part: 'oauth' }) }), createWebhookReceiverRouter({
          store,
          resolveConnection: lookup.resolveConnection,
          events: webhooks.events,
          publicUrl: config.publicUrl,
          connectors: sharedWebhookUrls(registry, lookup, webhookAppSecretsFrom(config.webhookEnv)),
          refused,
          log: logFn(log.child({ part: 'webhooks' })),
        })],
      routers: [
        ...(config.metrics ? [createMetricsRouter({ store, adminToken: adminAuth.verify, metricsToken: config.metricsToken, onError: (e) => log.error('metrics not read', { error: e }) })] : []),
        createConsoleRouter({ sessions: consoleSessions, adminToken: adminAuth.verify, publicUrl: config.publicUrl, dir: io.consoleDir, now: io.consoleSessions?.now }),
        createConnectionsApiRouter({ connections, adminToken: adminGate, runner: runtime, streams, log }),
        createOAuthAdminRouter({ connections, adminToken: adminGate, log }),
        createRecordsApiRouter({ connections, store, adminToken: adminGate, log }),
        createSpecsApiRouter({ registry, adminToken: adminGate, log }),
        createWebhookAdminRouter({ store, adminToken: adminGate, events: webhooks.events, writebacks: webhooks.writebacks, refused, knownConnector: (name) => registry.find(name) !== undefined }),
        createInvoiceTaxRouter({
          service: tax,
          writebacks: webhooks.writebacks!,
          findConnection: lookup.findConnection,
          records: webhooks.records,
          onError: (e) => log.error('calculate_invoice_tax failed', { error: e }),
        }),
        createTaxApiRouter({ service: tax, maxBodyBytes: config.taxMaxBodyBytes, onError: (e, ctx) => log.error('tax API request failed', { path: ctx.path, error: e }) }),
        createTaxAdminApiRouter({ service: tax, adminToken: adminGate, maxBodyBytes: config.taxMaxBodyBytes, onError: (e, ctx) => log.error('admin tax request failed', { path: ctx.path, error: e }) }),
        createAdminApiRouter({ service: tax, adminToken: adminGate, onError: (e, ctx) => log.error('admin API request failed', { path: ctx.path, error: e }) }),
      ],
    });

    handle = app.koa.callback();
    server.keepAliveTimeout = 5_000;
    server.headersTimeout = 10_000;
    // A connect waits for the system's credentials check and choices (up to 30 s each).
    server.requestTimeout = 120_000;
    if (!server.listening) await listen(server, config);
    const port = (server.address() as AddressInfo).port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

    const resumed = await webhooks.start();
    const active = await runtime.start();
    workersRunning = true;
    log.info('listening', { url, public_url: config.publicUrl, data_dir: config.dataDir, connections_active: active, resumed, replica: coordinator.replicaId });

    let closing: Promise<void> | undefined;
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const close = (reason = 'close() called'): Promise<void> => {
      closing ??= (async () => {
        const startedAt = Date.now();
        shuttingDown = true;
        log.info('shutting down', { reason, in_flight: app.inFlight() });
        streams.closeAll();
        await unsubscribeSessions().catch(() => undefined);
        const force = setTimeout(() => {
          log.warn('shutdown timeout: closing remaining connections', { timeout_ms: config.shutdownTimeoutMs, in_flight: app.inFlight() });
          server.closeAllConnections();
        }, config.shutdownTimeoutMs);
        force.unref();
        const serverClosed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        await app.drained();
        // Keep-alive connections that carried the last responses are idle now.
        server.closeIdleConnections();
        // Workers finish their current job, but only within the shutdown timeout: a job waiting for its rate
        // budget (a 60-per-minute window, an hourly one) would hold the exit that long. What is left runs again
        // at the next start: the events and write-back jobs are in the store, syncs resume from checkpoints.
        const deadline = startedAt + config.shutdownTimeoutMs;
        await withinShutdown(deadline, 'syncs', runtime.stop(), log);
        await withinShutdown(deadline, 'webhook and write-back workers', webhooks.stop(), log);
        await tax.close().catch((e) => log.error('closing the tax service failed', { error: e }));
        await coordinator.stop().catch((e) => log.error('stopping replica coordination failed', { error: e }));
        await alerts?.stop().catch((e) => log.error('stopping alerts failed', { error: e }));
        await serverClosed;
        clearTimeout(force);
        await refused.close().catch((e) => log.error('recording refused webhook deliveries failed', { error: e }));
        await store.flush();
        await store.close();
        log.info('stopped', { reason });
        resolveClosed();
      })();
      return closing;
    };
    return { url, port, log, store, connections, runtime, webhooks, ...(alerts ? { alerts } : {}), close, closed, routes: app.routes };
  } catch (e) {
    log.error('start failed', { error: e });
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw e;
  }
}

/** Waits for a part of the shutdown until the deadline; past it, says what is left and goes on. */
async function withinShutdown(deadline: number, what: string, stopping: Promise<void>, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), Math.max(0, deadline - Date.now()));
    timer.unref();
  });
  const outcome = await Promise.race([stopping.then(() => 'done' as const, (e: unknown) => (log.error(`stopping ${what} failed`, { error: e }), 'done' as const)), late]);
  clearTimeout(timer);
  if (outcome === 'late') log.warn(`shutdown timeout: ${what} still running; left to the next start`, { what });
}

/**
 * Stops the server on SIGTERM/SIGINT (a second signal forces the exit). A promise rejection nobody handled
 * is logged, not fatal: one failed background task must not take the tax API down.
 */
export function stopOnSignals(s: RunningServer): () => void {
  const onRejection = (reason: unknown) => s.log.error('unhandled promise rejection', { error: reason });
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count > 1) {
      s.log.warn('second signal: exiting now', { signal: sig });
      process.exit(130);
    }
    void s
      .close(sig)
      .catch((e) => {
        s.log.error('shutdown failed', { error: errorMessage(e) });
        process.exitCode = 1;
      })
      // Everything is flushed and closed: a job the timeout left waiting (a budget's timer) must not keep the
      // process alive. A moment first for the last log lines to reach a pipe.
      .finally(() => setTimeout(() => process.exit(), 500).unref());
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('unhandledRejection', onRejection);
  };
}

/** Listen on the configured host and port; a taken port or a refused bind is a typed error. */
function listen(server: Server, config: ServeConfig): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new TaxbridgeError('SERVE_PORT_IN_USE', `port ${config.port} on ${config.host} is already in use`, { hint: 'stop the other process or set TAXBRIDGE_PORT' })
          : new TaxbridgeError('SERVE_LISTEN_FAILED', `cannot listen on ${config.host}:${config.port}: ${e.message}`),
      ),
    );
    server.listen(config.port, config.host, () => resolve());
  });
}

/** The configuration with the port the system chose; a public URL left at its default (port 0) follows it. */
function withBoundPort(config: ServeConfig, port: number): ServeConfig {
  const pub = new URL(config.publicUrl);
  if (pub.port !== '0') return { ...config, port };
  pub.port = String(port);
  return { ...config, port, publicUrl: pub.toString().replace(/\/$/, '') };
}

/** Requests that arrive while the server is still starting (only possible on port 0, bound early). */
function answerStarting(_req: Parameters<RequestListener>[0], res: Parameters<RequestListener>[1]): void {
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
  res.end(JSON.stringify({ type: 'api_error', code: 'starting', message: 'the server is starting; retry shortly' }));
}
