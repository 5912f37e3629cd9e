/**
 * Processing of inbox events, off the request path: route the stored delivery by the spec, apply it to the
 * stored entities (upsert, refetch, delete, payment status), then ask for a tax write-back when the rule
 * says so. An in-process queue runs events one connection at a time in arrival order; failures are retried
 * with backoff (attempts and the last error recorded on the event) and end as `failed` with the reason.
 * `start()` re-queues events a previous process acknowledged but did not finish.
 */
import { TaxbridgeError, errorMessage, isCode, publicCode } from '../errors.ts';
import type { Store } from '../store/types.ts';
import type { WebhooksSpec } from '../spec/types.ts';
import { errorCode, isPermanentError } from '../writeback/error-kind.ts';
import { writebackKindOf } from '../writeback/evaluate.ts';
import type { WritebackService } from '../writeback/service.ts';
import type { ResolvedConnection } from './connections.ts';
import { getEvent, listEvents, saveEvent, type EventOutcome, type WebhookEventDoc } from './inbox.ts';
import { JobQueue, retryDelayMs } from './job-queue.ts';
import { silentLog, type LogFn } from './log.ts';
import type { RecordChange, RecordSync } from './record-sync.ts';
import { compileRouter, type RoutableDelivery, type RoutedEvent, type WebhookRouter } from './route.ts';
import { own } from '../own.ts';
import { parseWebhookBody } from './body.ts';
import { ClaimedRuns, type RunResult } from '../coordination/claimed-runs.ts';
import { LOCAL_CLAIMS } from '../coordination/embedded.ts';
import type { DueWhere, JobClaims, QueueSpec } from '../coordination/types.ts';

/** The inbox as a queue shared by replicas: events waiting, and retries whose time came. */
export const EVENT_QUEUE: QueueSpec = {
  collection: 'webhook_events',
  due: (now): DueWhere[] => [{ status: 'pending' }, { status: 'retrying', next_attempt_at: { lte: now } }],
  partition: (d) => String(d.connection_id),
  orderBy: 'received_at',
};

export interface EventServiceOptions {
  store: Store;
  loadConnection(connectionId: string): Promise<ResolvedConnection | undefined>;
  records: RecordSync;
  /** Write-back requests for rules with `writeback: true`; without it those rules only update entities. */
  writeback?: WritebackService;
  /** Attempts per event before it is failed. Default 8. */
  maxAttempts?: number;
  /** Default 1 s first retry, capped at 5 min. */
  backoff?: { initialMs: number; maxMs: number };
  /** Connections processed at once (events of one connection run in order). Default 4. */
  concurrency?: number;
  /** false: events are stored and queued but not processed until `start()`. Default true. */
  run?: boolean;
  now?: () => Date;
  log?: LogFn;
  /** Several replicas: events run under a claim and due ones are polled for (src/coordination). Default: this process only. */
  claims?: JobClaims;
  pollMs?: number;
}

const routers = new WeakMap<WebhooksSpec, WebhookRouter>();

export function routerFor(spec: WebhooksSpec): WebhookRouter {
  let r = routers.get(spec);
  if (!r) {
    r = compileRouter(spec);
    routers.set(spec, r);
  }
  return r;
}

/** A stored event as the router reads it: the delivery's body, or (fan-out) the item it was split into. */
export function routableOf(doc: Pick<WebhookEventDoc, 'headers' | 'raw_body' | 'item_index'>, spec: WebhooksSpec): RoutableDelivery {
  if (doc.item_index !== undefined) return { headers: doc.headers, body: undefined, raw: doc.raw_body, item: JSON.parse(doc.raw_body) as unknown, index: doc.item_index };
  return { headers: doc.headers, body: parseWebhookBody(doc.raw_body, spec), raw: doc.raw_body };
}

export class EventService {
  readonly store: Store;
  private readonly opts: EventServiceOptions;
  private readonly queue: JobQueue;
  private readonly log: LogFn;
  private readonly maxAttempts: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly claimed: ClaimedRuns;
  private readonly concurrency: number;

  constructor(opts: EventServiceOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.log = opts.log ?? silentLog;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 8);
    this.backoff = opts.backoff ?? { initialMs: 1000, maxMs: 300_000 };
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.queue = new JobQueue({
      concurrency: this.concurrency,
      handle: async (id) => (await this.claimed.run(id, () => this.process(id))) ?? undefined,
      onCrash: (id, e) => this.log('error', 'event processing crashed', { event: id, error: errorMessage(e) }),
    });
    this.claimed = new ClaimedRuns({
      name: 'webhook events',
      claims: opts.claims ?? LOCAL_CLAIMS,
      pollMs: opts.pollMs ?? 1000,
      room: () => {
        const s = this.queue.size;
        return this.concurrency * 2 - s.queued - s.running;
      },
      enqueue: (id, partition) => this.queue.enqueue(id, partition),
      warn: (m, f) => this.log('warn', m, f),
    });
    if (opts.run === false) this.queue.pause();
  }

  private nowIso(): string {
    return (this.opts.now?.() ?? new Date()).toISOString();
  }

  /** Queues a newly stored event (the receiver calls this after the event is on disk). */
  accept(doc: Pick<WebhookEventDoc, 'id' | 'connection_id'>): void {
    this.queue.enqueue(doc.id, doc.connection_id);
  }

  /** Recovery: queues every event left pending or retrying (oldest first), then processes. */
  async start(): Promise<number> {
    if (this.claimed.polls) {
      // Shared store: open events are claimed by polling (this replica's and, once their claim expired, a dead one's).
      this.queue.resume();
      this.claimed.start();
      return 0;
    }
    const open = await listEvents(this.store, { status: ['pending', 'retrying'] });
    open.reverse();
    for (const e of open) this.queue.enqueue(e.id, e.connection_id, e.status === 'retrying' && e.next_attempt_at ? Date.parse(e.next_attempt_at) : undefined);
    this.queue.resume();
    return open.length;
  }

  async stop(): Promise<void> {
    await this.claimed.stop();
    await this.queue.stop();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Processes what is queued from now on, without a recovery scan (one-off replays). */
  resume(): void {
    this.queue.resume();
  }

  /** Queues the open events of one connection again, oldest first (it was re-authorized: events that waited proceed). */
  resumeConnection(connectionId: string): void {
    void listEvents(this.store, { connectionId, status: ['pending', 'retrying'] })
      .then((open) => {
        for (const e of open.reverse()) this.queue.enqueue(e.id, e.connection_id);
      })
      .catch((e: unknown) => this.log('error', 'webhook events not resumed', { connection_id: connectionId, error: errorMessage(e) }));
  }

  /** Jobs queued or running now (retries scheduled for later excluded). */
  busy(): number {
    const s = this.queue.size;
    return s.queued + s.running;
  }

  /** Operator replay: the event is processed again from its stored body, whatever its status. */
  async replay(id: string): Promise<WebhookEventDoc | undefined> {
    const doc = await getEvent(this.store, id);
    if (!doc) return undefined;
    const reset: WebhookEventDoc = { ...doc, status: 'pending', attempts: 0, next_attempt_at: undefined, last_error: undefined, updated_at: this.nowIso() };
    await saveEvent(this.store, reset);
    this.queue.enqueue(id, doc.connection_id);
    return reset;
  }

  private async process(id: string): Promise<RunResult> {
    let doc = await getEvent(this.store, id);
    if (!doc || (doc.status !== 'pending' && doc.status !== 'retrying')) return {};
    // A failed lookup (the store unreachable) is this attempt's error below, retried like any other.
    let c: ResolvedConnection | undefined;
    let lookupError: unknown;
    try {
      c = await this.opts.loadConnection(doc.connection_id);
    } catch (e) {
      lookupError = e;
    }
    // A connection waiting for re-authorization: the event stays open with no attempt spent (it would only fail
    // fetching or writing upstream) until resumeConnection queues it again; its claim is kept till it expires.
    if (c?.waiting) return { hold: true };
    // The attempt is counted before it runs, so an event that crashes the process cannot loop forever.
    doc = { ...doc, attempts: doc.attempts + 1, updated_at: this.nowIso() };
    await saveEvent(this.store, doc);
    try {
      if (lookupError !== undefined) throw lookupError;
      if (!c) throw new TaxbridgeError('CONNECTION_UNKNOWN', `connection ${doc.connection_id} no longer exists`);
      if (!c.spec.webhooks) throw new TaxbridgeError('WEBHOOK_NOT_CONFIGURED', `the ${c.spec.name} connector has no webhooks section`);
      const routed = await routerFor(c.spec.webhooks).route(routableOf(doc, c.spec.webhooks));
      const outcome = await this.apply(c, routed, doc);
      const status = outcome.action === 'ignore' || outcome.action === 'unmatched' ? 'ignored' : 'processed';
      const now = this.nowIso();
      await saveEvent(this.store, { ...doc, status, outcome, processed_at: now, next_attempt_at: undefined, updated_at: now });
      this.log('info', 'webhook event processed', { event: doc.id, connection_id: doc.connection_id, type: doc.event_type, result: outcome.result, record_id: outcome.record_id, writeback: outcome.writeback?.status });
      return {};
    } catch (e) {
      const now = this.nowIso();
      const last_error = { code: publicCode(errorCode(e)), message: errorMessage(e), at: now };
      if (isCode(last_error.code, 'CONNECTION_NEEDS_REAUTHORIZATION')) {
        // The grant was refused while this event ran: it waits with the connection (attempt given back).
        await saveEvent(this.store, { ...doc, attempts: doc.attempts - 1, status: 'pending', last_error, next_attempt_at: undefined, updated_at: now });
        this.log('warn', 'webhook event waits for the connection to be re-authorized', { event: doc.id, connection_id: doc.connection_id });
        return { hold: true };
      }
      const permanent = isPermanentError(e) || isCode(last_error.code, 'CONNECTION_UNKNOWN') || isCode(last_error.code, 'WEBHOOK_NOT_CONFIGURED');
      if (permanent || doc.attempts >= this.maxAttempts) {
        await saveEvent(this.store, { ...doc, status: 'failed', last_error, next_attempt_at: undefined, updated_at: now });
        this.log('error', 'webhook event failed', { event: doc.id, connection_id: doc.connection_id, type: doc.event_type, code: last_error.code, reason: last_error.message, attempts: doc.attempts });
        return {};
      }
      const retryAt = Date.now() + retryDelayMs(doc.attempts, this.backoff);
      await saveEvent(this.store, { ...doc, status: 'retrying', last_error, next_attempt_at: new Date(retryAt).toISOString(), updated_at: now });
      this.log('warn', 'webhook event failed; retrying', { event: doc.id, code: last_error.code, reason: last_error.message, attempt: doc.attempts });
      return { retryAt };
    }
  }

  private async apply(c: ResolvedConnection, routed: RoutedEvent, doc: WebhookEventDoc): Promise<EventOutcome> {
    const stream = routed.stream;
    const base = { action: routed.action, ...(stream ? { stream } : {}) };
    if (routed.action === 'ignore' || routed.action === 'unmatched' || !stream) return { ...base, result: 'ignored' };
    if (!own(c.spec.streams, stream)) throw new TaxbridgeError('MAPPING_INVALID', `event ${routed.event_type} names stream "${stream}", which the ${c.spec.name} spec does not declare`);
    const connId = c.conn.connection_id;
    let change: RecordChange;
    switch (routed.action) {
      case 'upsert':
        change = await this.opts.records.upsert(c, stream, routed.record);
        break;
      case 'refetch':
        change = await this.opts.records.refetch(c, stream, routed.id!);
        break;
      case 'delete':
        change = { externalId: routed.id!, result: (await this.store.markDeleted(connId, stream, routed.id!)) ? 'deleted' : 'not_found' };
        break;
      case 'payment_status':
        change = await this.updatePaymentStatus(c, stream, routed.id!, routed.payment_status);
        break;
    }
    const outcome: EventOutcome = { ...base, record_id: change.externalId, result: change.result };
    const kind = routed.writeback ? writebackKindOf(c.spec, stream) : undefined;
    if (kind && this.opts.writeback && change.result !== 'deleted' && change.result !== 'not_found' && change.result !== 'stale') {
      const w = await this.opts.writeback.request(c, kind, change.externalId, `event ${doc.id}`, { via: 'webhook' });
      outcome.writeback = { status: w.status, ...(w.job_id ? { job_id: w.job_id } : {}), ...(w.reason ? { reason: w.reason } : {}) };
    }
    // A taxed document deleted upstream: the tax written onto it no longer counts (its jobs become voided).
    const taxedKind = change.result === 'deleted' && this.opts.writeback ? writebackKindOf(c.spec, stream) : undefined;
    if (taxedKind) {
      const w = await this.opts.writeback!.request(c, taxedKind, change.externalId, `event ${doc.id}`);
      if (w.status === 'voided') outcome.writeback = { status: w.status, ...(w.job_id ? { job_id: w.job_id } : {}), ...(w.reason ? { reason: w.reason } : {}) };
    }
    return outcome;
  }

  private async updatePaymentStatus(c: ResolvedConnection, stream: string, id: string, paymentStatus: string | undefined): Promise<RecordChange> {
    const connId = c.conn.connection_id;
    const entity = await this.store.getEntity(connId, stream, id);
    if (!entity) {
      // Not imported yet: read the whole record when the stream can, so the status is not lost.
      if (own(c.spec.streams, stream)?.fetch) return this.opts.records.refetch(c, stream, id);
      return { externalId: id, result: 'not_found' };
    }
    if (paymentStatus === undefined || (entity.data as Record<string, unknown>).payment_status === paymentStatus) return { externalId: id, result: 'unchanged' };
    const r = await this.store.commitPage({
      connectionId: connId,
      stream,
      entity: entity.entity,
      writes: [{ external_id: id, data: { ...entity.data, payment_status: paymentStatus }, raw: entity.raw, deleted: entity.deleted }],
    });
    return { externalId: id, result: r.updated > 0 ? 'updated' : 'unchanged' };
  }
}
