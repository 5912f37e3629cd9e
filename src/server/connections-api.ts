/**
 * The admin API of connections (every route behind the admin token, checked on this router):
 *
 *   GET    /admin/connectors                         the connector specs loaded: credentials, settings, environments
 *   POST   /admin/connections                        {connector, organization_id, environment?, credentials, settings?,
 *                                                     base_url?, skip_webhooks?} -> 201 {data: {connection, choices?,
 *                                                     webhook_url?, tax_api_key? (shown once), messages}}
 *   GET    /admin/connections?organization_id=&status=   list
 *   GET    /admin/connections/:id                    the connection and its status (syncs, counts, webhooks, write-backs, errors)
 *   GET    /admin/connections/:id/status/stream      the same as server-sent events (`event: status` when it changes;
 *                                                     heartbeats; ends on sign-out), see ./event-streams.ts
 *   PATCH  /admin/connections/:id                    {credentials?, settings?, skip_webhooks?, base_url?}: the second step of
 *                                                     a pending connection (Rillet: subsidiary + signing token) or a change
 *   GET    /admin/connections/:id/choices/:setting   the choices of a `choices_from` setting, read now
 *   POST   /admin/connections/:id/sync               {streams?, full?} -> 202: a sync run in the background
 *   GET    /admin/connections/:id/syncs/:run         that run: queued, running (with progress), then its summaries
 *   DELETE /admin/connections/:id                    disconnect
 *
 * Answers are `{"data": ...}`; errors `{"type":"api_error","code","message","param"?,"hint"?}` (./http-errors.ts).
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { TaxbridgeError } from '../errors.ts';
import type { Logger } from '../log/index.ts';
import type { ConnectionDoc } from '../connections/model.ts';
import type { ConnectionService, ConnectInput, UpdateInput } from '../connections/service.ts';
import { connectionStatus } from '../connections/status.ts';
import type { ConnectorSpec } from '../spec/types.ts';
import { adminBody, adminQuery } from './admin-body.ts';
import type { ConnectionsConnectRequest, ConnectionsListQuery, ConnectionsSyncRequest, ConnectionsUpdateRequest } from './admin-api-types.generated.ts';
import { sendError, sendJson } from './http-errors.ts';
import type { AdminCredential } from './admin-bearer.ts';
import { BodyError, isJsonContentType, readJsonBody, readRawBody } from './raw-body.ts';
import type { SyncRunView } from './sync-runs.ts';
import { createAdminRouter } from './routing.ts';
import { own } from '../own.ts';
import { SESSION_STATE } from '../console/session-auth.ts';
import type { EventStreams } from './event-streams.ts';

/** What the API asks of the process running syncs (./connection-runtime.ts). */
export interface SyncRunner {
  /** Starts a run in the background; throws SYNC_ALREADY_RUNNING / CONNECTION_NOT_ACTIVE. */
  syncNow(doc: ConnectionDoc, opts: { streams?: string[]; full?: boolean }): { run_id: string; streams: string[]; full: boolean; started_at: string };
  /** A run started by syncNow, while the server remembers it (./sync-runs.ts). */
  syncRun?(connectionId: string, runId: string): SyncRunView | undefined;
  /** Streams of the connection running now. */
  running(connectionId: string): ReadonlySet<string>;
  /** The connection's cron schedules and their next runs. */
  schedules?(connectionId: string): Record<string, { cron: string; mode?: string; next_run: string | null; schedules?: Array<{ cron: string; mode?: string; timezone?: string; next_run: string | null }> }>;
}

export interface ConnectionsApiOptions {
  connections: ConnectionService;
  /** The admin token, or a check of presented tokens (the server's stored-hash check). */
  adminToken: AdminCredential;
  runner?: SyncRunner;
  /** Serves GET /admin/connections/:id/status/stream (server-sent events). */
  streams?: EventStreams;
  log?: Logger;
  maxBodyBytes?: number;
}

/** A backfill or a stream's sync is running: the status stream reads more often. */
function isBusy(s: unknown): boolean {
  const v = s as { backfill?: { status?: string }; sync?: Record<string, { running?: boolean }> };
  return v.backfill?.status === 'running' || v.backfill?.status === 'pending' || Object.values(v.sync ?? {}).some((x) => x.running === true);
}

function badInput(message: string, field?: string): TaxbridgeError {
  return new TaxbridgeError('invalid_input', message, field ? { details: { field } } : {});
}

export function connectorSummary(spec: ConnectorSpec, path: string): Record<string, unknown> {
  return {
    name: spec.name,
    title: spec.title,
    ...(spec.category ? { category: spec.category } : {}),
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.docs_url ? { docs_url: spec.docs_url } : {}),
    spec_path: path,
    environments: Object.keys(spec.environments),
    auth: spec.auth.type,
    credentials: (spec.credentials ?? []).map((c) => ({ name: c.name, title: c.title, secret: c.secret !== false, required: c.required !== false, ...(c.generated ? { generated: true } : {}), ...(c.description ? { description: c.description } : {}) })),
    settings: (spec.settings ?? []).map((s) => ({ name: s.name, title: s.title, type: s.type ?? 'string', required: !!s.required, ...(s.default !== undefined ? { default: s.default } : {}), ...(s.choices_from ? { choices: true } : {}), ...(s.pattern ? { pattern: s.pattern } : {}), ...(s.description ? { description: s.description } : {}) })),
    streams: Object.fromEntries(Object.entries(spec.streams).map(([n, s]) => [n, { entity: s.entity, ...(s.schedule ? { schedule: s.schedule.cron } : {}) }])),
    webhooks: !spec.webhooks ? 'none' : spec.webhooks.registration ? 'registered by API' : 'URL pasted by the user',
    writeback: Object.keys(spec.writeback ?? {}),
    calls_tax_api: spec.calls_tax_api === true,
  };
}

export function createConnectionsApiRouter(opts: ConnectionsApiOptions): Router {
  const { connections } = opts;
  const maxBody = opts.maxBodyBytes ?? 256 * 1024;
  const router = createAdminRouter(opts.adminToken);

  const handle = (fn: (ctx: Context) => Promise<void>) => async (ctx: Context) => {
    try {
      await fn(ctx);
    } catch (e) {
      sendError(ctx, e, opts.log);
    }
  };
  /** A body that may be absent (no bytes at all): {} then. */
  const optionalBody = async (ctx: Context): Promise<unknown> => {
    const raw = await readRawBody(ctx.req, maxBody);
    if (raw.length === 0) return {};
    const ct = ctx.get('content-type');
    if (ct && !isJsonContentType(ct)) throw new BodyError(415, 'unsupported_media_type', `Content-Type must be application/json, got ${JSON.stringify(ct.slice(0, 100))}`);
    let b: unknown;
    try {
      b = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new BodyError(400, 'body_invalid', `the request body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
    }
    return b;
  };

  router.get(
    '/connectors',
    handle(async (ctx) => {
      sendJson(ctx, 200, { data: connections.registry.list().map((c) => connectorSummary(c.spec, c.relativePath)), failures: connections.registry.failures.map((f) => ({ path: f.path, code: f.code, message: f.message.split('\n')[0] })) });
    }),
  );

  router.post(
    '/connections',
    handle(async (ctx) => {
      const b = adminBody<ConnectionsConnectRequest>('connections', 'connect_request', await readJsonBody(ctx.req, maxBody));
      const r = await connections.connect(b as ConnectInput);
      sendJson(ctx, 201, { data: r, ...(r.tax_api_key ? { message: 'Store the tax API key now: it is shown only once.' } : {}) });
    }),
  );

  router.get(
    '/connections',
    handle(async (ctx) => {
      const { organization_id, status } = adminQuery<ConnectionsListQuery>('connections', 'list_query', ctx.query);
      const list = await connections.list({ organizationId: organization_id, status });
      sendJson(ctx, 200, { data: list.map((d) => connections.view(d)) });
    }),
  );

  /** GET /admin/connections/:id's answer: the connection and its status. */
  const statusOf = async (id: string) => {
    const doc = await connections.get(id);
    const report = await connectionStatus(connections.store, doc, connections.registry.find(doc.connector)?.spec, opts.runner?.running(doc.id));
    for (const [stream, schedule] of Object.entries(opts.runner?.schedules?.(doc.id) ?? {})) {
      const st = own(report.streams, stream);
      if (!st) continue;
      st.schedule = { cron: schedule.cron, ...(schedule.mode ? { mode: schedule.mode } : {}), next_run: schedule.next_run };
      if (schedule.schedules) st.schedules = schedule.schedules;
    }
    return { ...connections.view(doc), sync: report.streams, webhooks: report.webhooks, writebacks: report.writebacks, errors: report.errors };
  };

  router.get(
    '/connections/:id',
    handle(async (ctx) => {
      sendJson(ctx, 200, { data: await statusOf(String(ctx.params.id)) });
    }),
  );

  router.get(
    '/connections/:id/status/stream',
    handle(async (ctx) => {
      if (!opts.streams) throw new TaxbridgeError('STREAMS_UNAVAILABLE', 'event streams are not served by this process', { hint: 'poll GET /admin/connections/{id}' });
      const id = String(ctx.params.id);
      const first = await statusOf(id);
      const session = ctx.state[SESSION_STATE] as string | undefined;
      opts.streams.serve(ctx, { owner: session ? `session:${session}` : 'bearer', read: () => statusOf(id), intervalMs: (s) => (isBusy(s) ? 500 : 1000) }, first);
    }),
  );

  router.patch(
    '/connections/:id',
    handle(async (ctx) => {
      const b = adminBody<ConnectionsUpdateRequest>('connections', 'update_request', await readJsonBody(ctx.req, maxBody));
      sendJson(ctx, 200, { data: await connections.update(String(ctx.params.id), b as UpdateInput) });
    }),
  );

  router.get(
    '/connections/:id/choices/:setting',
    handle(async (ctx) => {
      sendJson(ctx, 200, { data: await connections.choices(String(ctx.params.id), String(ctx.params.setting)) });
    }),
  );

  router.post(
    '/connections/:id/sync',
    handle(async (ctx) => {
      const b = adminBody<ConnectionsSyncRequest>('connections', 'sync_request', await optionalBody(ctx));
      const doc = await connections.get(String(ctx.params.id));
      const spec = connections.specOf(doc);
      for (const s of b.streams ?? []) {
        if (!own(spec.streams, s)) throw badInput(`${spec.title} has no stream "${s}"; its streams: ${Object.keys(spec.streams).join(', ')}`, 'streams');
      }
      if (!opts.runner) throw new TaxbridgeError('CONNECTION_NOT_ACTIVE', 'this process does not run syncs');
      const started = opts.runner.syncNow(doc, { streams: b.streams, full: b.full });
      sendJson(ctx, 202, { data: { connection_id: doc.id, ...started }, message: `sync started; follow it with GET /admin/connections/${doc.id}/syncs/${started.run_id}` });
    }),
  );

  router.get(
    '/connections/:id/syncs/:run',
    handle(async (ctx) => {
      const doc = await connections.get(String(ctx.params.id));
      const run = opts.runner?.syncRun?.(doc.id, String(ctx.params.run));
      if (!run) throw new TaxbridgeError('not_found', `no sync run ${String(ctx.params.run).slice(0, 100)} of connection ${doc.id} (the server remembers its last runs per connection until it restarts)`, { hint: `the connection's streams and their last runs: GET /admin/connections/${doc.id}` });
      sendJson(ctx, 200, { data: run });
    }),
  );

  router.delete(
    '/connections/:id',
    handle(async (ctx) => {
      sendJson(ctx, 200, { data: await connections.disconnect(String(ctx.params.id)) });
    }),
  );

  return router;
}
