/**
 * What `taxbridge events` and `taxbridge writebacks` share: listing and formatting inbox events and
 * write-back jobs, and replaying one from the data folder when no server holds it (a runtime in this process
 * with the connections of the folder, the rate data and the HTTP clients, closed after the replay).
 */
import { configFrom, openConnections, type CommonValues, type Remote } from '../connections/cli-support.ts';
import type { ConnectionService } from '../connections/service.ts';
import { openStore } from '../store/index.ts';
import { connectionLookup } from '../connections/lookup.ts';
import type { Store } from '../store/types.ts';
import type { Organization } from '../tax/model.ts';
import { ORGS } from '../tax/orgs.ts';
import { loadTaxData } from '../tax/rates/index.ts';
import { createWritebackTaxEngine } from '../writeback/tax-engine.ts';
import { jobSummary, type WritebackJobDoc } from '../writeback/jobs.ts';
import { eventSummary, type WebhookEventDoc } from './inbox.ts';
import { createWebhookRuntime, type WebhookRuntime } from './runtime.ts';

export type EventRow = ReturnType<typeof eventSummary>;
export type JobRow = ReturnType<typeof jobSummary>;

/**
 * For listings: the data folder's store (no master key needed: nothing secret is read), or the running
 * server's admin API when `--server` is given or `taxbridge serve` holds the folder.
 */
export async function openForListing(v: CommonValues): Promise<{ mode: 'local'; store: Store; close(): Promise<void> } | Remote> {
  if (v.server) return (await openConnections(v)) as Remote;
  const config = configFrom(v);
  try {
    const store = await openStore({ dir: config.dataDir });
    return { mode: 'local', store, close: () => store.close() };
  } catch (e) {
    if ((e as { code?: string }).code !== 'STORE_LOCKED') throw e;
    const h = await openConnections(v);
    if (h.mode === 'local') {
      await h.close();
      throw e;
    }
    return h;
  }
}

/** A runtime over a locally opened data folder, for one replay; `stop()` it afterwards. */
export function localRuntime(store: Store, connections: ConnectionService): WebhookRuntime {
  const lookup = connectionLookup(connections);
  const rt = createWebhookRuntime({
    store,
    resolveConnection: lookup.resolveConnection,
    loadConnection: lookup.loadConnection,
    engine: createWritebackTaxEngine({ data: loadTaxData(), organizations: { organization: (id) => store.get<Organization>(ORGS, id) } }),
  });
  // Only what the replay queues runs: no recovery scan of other pending work.
  rt.events.resume();
  rt.writebacks?.resume();
  return rt;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}

const when = (iso: string | undefined) => (iso ? iso.slice(0, 19).replace('T', ' ') : '-');

export function formatEvents(rows: EventRow[]): string {
  if (!rows.length) return 'No webhook events.\n';
  return table(
    ['ID', 'RECEIVED', 'CONNECTION', 'TYPE', 'STATUS', 'TRIES', 'OUTCOME'],
    rows.map((e) => [
      e.id,
      when(e.received_at),
      e.connection_id,
      e.event_type,
      e.status,
      String(e.attempts),
      e.status === 'failed' || e.status === 'retrying'
        ? `${e.last_error?.code ?? ''}: ${e.last_error?.message ?? ''}`
        : e.outcome
          ? `${e.outcome.action} ${e.outcome.record_id ?? ''} ${e.outcome.result}${e.outcome.writeback ? `; write-back ${e.outcome.writeback.status}${e.outcome.writeback.reason ? ` (${e.outcome.writeback.reason})` : ''}` : ''}`
          : '-',
    ]),
  );
}

export function formatJobs(rows: JobRow[]): string {
  if (!rows.length) return 'No write-back jobs.\n';
  return table(
    ['ID', 'CREATED', 'CONNECTION', 'DOCUMENT', 'STATUS', 'TRIES', 'TAX', 'REASON'],
    rows.map((j) => [
      j.id,
      when(j.created_at),
      j.connection_id,
      `${j.kind} ${j.document_id}`,
      j.status,
      `${j.attempts}/${j.max_attempts}`,
      j.total_tax !== undefined ? `${j.total_tax} ${j.currency ?? ''}`.trim() : '-',
      j.reason ?? (j.last_error ? `${j.last_error.code}: ${j.last_error.message}` : ''),
    ]),
  );
}

export type { WebhookEventDoc, WritebackJobDoc };
