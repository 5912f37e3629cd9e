/**
 * The ConnectionsClient over a running `taxbridge serve` (its admin API). A sync is started in the server
 * and followed there: the run's progress is polled from GET /admin/connections/:id/syncs/:run until it
 * ends, so the command shows the same live progress and summary as a local sync.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectResult } from '../connections/service.ts';
import type { ConnectionView } from '../connections/view.ts';
import { TaxbridgeError } from '../errors.ts';
import type { SyncRunView } from '../server/sync-runs.ts';
import { adminApiClient } from './admin-api-client.ts';
import type { ConnectionsClient, DetailedConnection, EventRow, JobRow } from './connections-client.ts';

/** How often a followed sync is polled. */
const FOLLOW_INTERVAL_MS = 250;

export function remoteClient(server: string, token: string | undefined, tokenSource?: string): ConnectionsClient {
  const api = adminApiClient(server, token, 120_000, tokenSource);
  const e = encodeURIComponent;
  const query = (o: Record<string, string | undefined>) => {
    const q = new URLSearchParams(Object.entries(o).filter((kv): kv is [string, string] => kv[1] !== undefined)).toString();
    return q ? `?${q}` : '';
  };
  return {
    mode: 'remote',
    where: server,
    async connectorCredentials(connector) {
      const specs = await api<Array<{ name: string; credentials: Array<{ name: string; secret: boolean }> }>>('GET', '/admin/connectors');
      return specs.find((c) => c.name === connector)?.credentials ?? [];
    },
    async organizationMode(id) {
      try {
        return (await api<{ mode: string }>('GET', `/admin/organizations/${e(id)}`)).mode;
      } catch (err) {
        if ((err as { code?: string }).code === 'not_found') return undefined;
        throw err;
      }
    },
    connect: (input) => api<ConnectResult>('POST', '/admin/connections', input),
    update: (id, input) => api<ConnectResult>('PATCH', `/admin/connections/${e(id)}`, input),
    reauthorize: (id) => api<ConnectResult>('POST', `/admin/connections/${e(id)}/reauthorize`),
    list: (f = {}) => api<ConnectionView[]>('GET', `/admin/connections${query({ organization_id: f.organizationId, status: f.status })}`),
    get: (id) => api<DetailedConnection>('GET', `/admin/connections/${e(id)}`),
    disconnect: (id) => api<ConnectionView>('DELETE', `/admin/connections/${e(id)}`),
    events: (f) => api<EventRow[]>('GET', `/admin/events${query({ connection: f.connectionId, status: f.status?.join(','), type: f.type, limit: String(f.limit) })}`),
    replayEvent: (id) => api<EventRow>('POST', `/admin/events/${e(id)}/replay`),
    writebacks: (f) => api<JobRow[]>('GET', `/admin/writebacks${query({ connection: f.connectionId, status: f.status?.join(','), document: f.documentId, limit: String(f.limit) })}`),
    replayWriteback: (id) => api<JobRow>('POST', `/admin/writebacks/${e(id)}/replay`),
    async sync(id, req) {
      const conn = await api<ConnectionView>('GET', `/admin/connections/${e(id)}`);
      const started = await api<{ run_id: string }>('POST', `/admin/connections/${e(id)}/sync`, { ...(req.streams?.length ? { streams: req.streams } : {}), ...(req.full ? { full: true } : {}) });
      const path = `/admin/connections/${e(id)}/syncs/${e(started.run_id)}`;
      let lastProgress = '';
      for (;;) {
        const run = await api<SyncRunView>('GET', path);
        if (run.progress && req.onProgress) {
          const key = JSON.stringify(run.progress);
          if (key !== lastProgress) req.onProgress(run.progress);
          lastProgress = key;
        }
        if (run.status === 'succeeded' || run.status === 'failed') {
          if (!run.summaries?.length && run.error) throw new TaxbridgeError(run.error.code, `the server's sync ${run.id} failed: ${run.error.message}`);
          return { connector: conn.connector, environment: conn.environment, summaries: run.summaries ?? [], run_id: run.id };
        }
        if (run.status === 'stopped') {
          throw new TaxbridgeError('SYNC_STOPPED', `the server's sync ${run.id} stopped before it finished: ${run.error?.message ?? 'the connection was stopped or the server is shutting down'}`, { hint: 'it resumes from its last committed page the next time it runs' });
        }
        try {
          await sleep(FOLLOW_INTERVAL_MS, undefined, { signal: req.signal });
        } catch {
          throw req.signal?.reason ?? new TaxbridgeError('SYNC_INTERRUPTED', 'stopped following');
        }
      }
    },
    async close() {},
  };
}
