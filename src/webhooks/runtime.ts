/**
 * The live loop's parts wired together for one process: HTTP clients per connection, entity updates
 * (src/sync), the write-back service and the event service. `taxbridge serve` builds one and mounts the
 * routers of src/server/webhooks-api.ts on it; tests and the benchmark do the same.
 */
import type { HttpClientOptions } from '../http/index.ts';
import type { Store } from '../store/types.ts';
import { WritebackService } from '../writeback/service.ts';
import type { WritebackTaxEngine } from '../writeback/tax-engine.ts';
import { ConnectionClients, type ConnectionLookup } from './connections.ts';
import { EventService } from './event-service.ts';
import { silentLog, type LogFn } from './log.ts';
import type { RecordSync } from './record-sync.ts';
import { createSyncRecords, type FetchOne } from './sync-records.ts';
import type { Coordinator } from '../coordination/types.ts';
import { EVENT_QUEUE } from './event-service.ts';
import { WRITEBACK_QUEUE } from '../writeback/service.ts';

export interface WebhookRuntimeOptions extends ConnectionLookup {
  store: Store;
  /** Tax for write-back (createWritebackTaxEngine); without it rules with `writeback: true` only update entities. */
  engine?: WritebackTaxEngine;
  /** Entity updates; default: src/sync mapping for upserts and `fetchOne` for refetches. */
  records?: RecordSync;
  fetchOne?: FetchOne;
  http?: HttpClientOptions;
  events?: { concurrency?: number; maxAttempts?: number; backoff?: { initialMs: number; maxMs: number } };
  writeback?: { concurrency?: number; maxAttempts?: number; backoff?: { initialMs: number; maxMs: number } };
  log?: LogFn;
  now?: () => Date;
  /** Several replicas on one store: events and jobs are claimed (src/coordination). Default: this process only. */
  coordinator?: Coordinator;
}

export interface WebhookRuntime {
  store: Store;
  clients: ConnectionClients;
  records: RecordSync;
  events: EventService;
  writebacks?: WritebackService;
  resolveConnection: ConnectionLookup['resolveConnection'];
  loadConnection: ConnectionLookup['loadConnection'];
  /** Recovery scans, then processing: returns how many events and jobs were left from before. */
  start(): Promise<{ events: number; writebacks: number }>;
  /** Resolves when no event or job is queued or running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds the runtime; nothing is processed until `start()` (events received before are queued). */
export function createWebhookRuntime(o: WebhookRuntimeOptions): WebhookRuntime {
  const log = o.log ?? silentLog;
  const clients = new ConnectionClients(o.http);
  const records = o.records ?? createSyncRecords({ store: o.store, clients, fetchOne: o.fetchOne });
  const co = o.coordinator;
  const shared = (q: typeof EVENT_QUEUE) => (co ? { claims: co.jobs(q), pollMs: co.pollMs } : {});
  const writebacks = o.engine
    ? new WritebackService({ store: o.store, engine: o.engine, loadConnection: o.loadConnection, clients, records, run: false, log, now: o.now, ...shared(WRITEBACK_QUEUE), ...o.writeback })
    : undefined;
  const events = new EventService({ store: o.store, loadConnection: o.loadConnection, records, writeback: writebacks, run: false, log, now: o.now, ...shared(EVENT_QUEUE), ...o.events });
  return {
    store: o.store,
    clients,
    records,
    events,
    writebacks,
    resolveConnection: o.resolveConnection,
    loadConnection: o.loadConnection,
    async start() {
      const w = writebacks ? await writebacks.start() : 0;
      const e = await events.start();
      if (e || w) log('info', 'resuming work left by the previous run', { events: e, writebacks: w });
      return { events: e, writebacks: w };
    },
    async idle() {
      // Events create jobs and jobs may follow superseded ones: settle until both are quiet.
      for (let i = 0; i < 100; i++) {
        await events.idle();
        if (writebacks) await writebacks.idle();
        if (events.busy() === 0 && (writebacks?.busy() ?? 0) === 0) return;
      }
    },
    async stop() {
      await events.stop();
      await writebacks?.stop();
      await clients.close();
    },
  };
}
