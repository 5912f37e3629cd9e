/**
 * Durable tax write-back. `request()` (from an event or the API) evaluates a document and records the
 * decision as a job keyed by (connection, document, decision, tax fingerprint); jobs that must write are run
 * off the request path by an in-process queue, retried with backoff across attempts (the HTTP client also
 * retries 429/5xx within an attempt), and end as applied, unchanged, no_tax, superseded or dead (with the
 * reason). `start()` re-queues what a previous process left pending or running.
 */
import { createHash } from 'node:crypto';
import { errorMessage, isCode, publicCode } from '../errors.ts';
import type { Store } from '../store/types.ts';
import { ConnectionClients, type ResolvedConnection } from '../webhooks/connections.ts';
import type { RecordSync } from '../webhooks/record-sync.ts';
import { JobQueue, retryDelayMs } from '../webhooks/job-queue.ts';
import { silentLog, type LogFn } from '../webhooks/log.ts';
import { errorCode, errorStatus, isPermanentError } from './error-kind.ts';
import { evaluateWriteback, writebackContext, type Evaluation } from './evaluate.ts';
import { FINAL_STATUSES, getJob, jobId, listJobs, saveJob, WRITEBACK_JOBS, type DocumentKind, type JobStatus, type WritebackJobDoc } from './jobs.ts';
import { executeWriteback } from './execute.ts';
import { triggerRefusal } from './triggers.ts';
import type { WritebackTrigger } from '../spec/types.ts';
import type { WritebackTaxEngine } from './tax-engine.ts';
import { ClaimedRuns, type RunResult } from '../coordination/claimed-runs.ts';
import { LOCAL_CLAIMS } from '../coordination/embedded.ts';
import type { DueWhere, JobClaims, QueueSpec } from '../coordination/types.ts';

/**
 * The write-back queue shared by replicas: jobs waiting, jobs left `running` by a replica that died (their
 * claim expired), and retries whose time came.
 */
export const WRITEBACK_QUEUE: QueueSpec = {
  collection: WRITEBACK_JOBS,
  due: (now): DueWhere[] => [{ status: 'pending' }, { status: 'running' }, { status: 'retrying', next_attempt_at: { lte: now } }],
  partition: (d) => partition(d as unknown as WritebackJobDoc),
  orderBy: 'created_at',
};
import { observeWriteback } from '../metrics/hooks.ts';

export interface WritebackServiceOptions {
  store: Store;
  engine: WritebackTaxEngine;
  loadConnection(connectionId: string): Promise<ResolvedConnection | undefined>;
  clients: ConnectionClients;
  /** Reads records the document refers to but the store lacks (its customer). */
  records?: Pick<RecordSync, 'refetch'>;
  /** Attempts per job before it is dead. Default 6. */
  maxAttempts?: number;
  /** Backoff between attempts: first delay and cap. Default 2 s, 10 min. */
  backoff?: { initialMs: number; maxMs: number };
  /** Jobs run at once (one at a time per document). Default 4. */
  concurrency?: number;
  /** false: decisions and jobs are recorded but nothing is sent until a worker runs them. Default true. */
  run?: boolean;
  now?: () => Date;
  log?: LogFn;
  /** Several replicas: jobs run under a claim and due ones are polled for (src/coordination). Default: this process only. */
  claims?: JobClaims;
  pollMs?: number;
}

/** What a write-back request decided, as the calculate_invoice_tax API reports it. */
export interface WritebackOutcome {
  status: JobStatus | 'skipped';
  job_id?: string;
  reason?: string;
  calculation_id?: string;
}

export class WritebackService {
  readonly store: Store;
  private readonly opts: WritebackServiceOptions;
  private readonly queue: JobQueue;
  private readonly inflight = new Map<string, Promise<RunResult>>();
  private readonly claimed: ClaimedRuns;
  private readonly concurrency: number;
  private readonly log: LogFn;
  private readonly maxAttempts: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private running: boolean;

  constructor(opts: WritebackServiceOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.log = opts.log ?? silentLog;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 6);
    this.backoff = opts.backoff ?? { initialMs: 2000, maxMs: 600_000 };
    this.running = opts.run !== false;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.queue = new JobQueue({
      concurrency: this.concurrency,
      handle: (id) => this.run(id),
      onCrash: (id, e) => this.log('error', 'write-back job crashed', { job_id: id, error: errorMessage(e) }),
    });
    this.claimed = new ClaimedRuns({
      name: 'write-back jobs',
      claims: opts.claims ?? LOCAL_CLAIMS,
      pollMs: opts.pollMs ?? 1000,
      room: () => {
        const s = this.queue.size;
        return this.concurrency * 2 - s.queued - s.running;
      },
      enqueue: (id, p) => this.queue.enqueue(id, p),
      warn: (m, f) => this.log('warn', m, f),
    });
    if (!this.running) this.queue.pause();
  }

  private nowIso(): string {
    return (this.opts.now?.() ?? new Date()).toISOString();
  }

  /** Re-queues jobs a previous process left pending, running or waiting for a retry; starts running jobs. */
  async start(): Promise<number> {
    if (this.claimed.polls) {
      // Shared store: open jobs are claimed by polling (a dead replica's once their claim expired).
      this.running = true;
      this.queue.resume();
      this.claimed.start();
      return 0;
    }
    const open = await listJobs(this.store, { status: ['pending', 'running', 'retrying'] });
    for (const j of open.reverse()) this.queue.enqueue(j.id, partition(j), j.status === 'retrying' && j.next_attempt_at ? Date.parse(j.next_attempt_at) : undefined);
    this.running = true;
    this.queue.resume();
    return open.length;
  }

  async stop(): Promise<void> {
    await this.claimed.stop();
    await this.queue.stop();
    await Promise.allSettled([...this.inflight.values()]);
  }

  /** Resolves when no job is queued or running (retries scheduled for later do not count). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Queues the open jobs of one connection again (it was re-authorized: jobs that waited proceed). */
  resumeConnection(connectionId: string): void {
    void listJobs(this.store, { status: ['pending', 'retrying'] })
      .then((open) => {
        for (const j of open.reverse()) if (j.connection_id === connectionId) this.queue.enqueue(j.id, partition(j));
      })
      .catch((e: unknown) => this.log('error', 'write-back jobs not resumed', { connection_id: connectionId, error: errorMessage(e) }));
  }

  /** Processes what is queued from now on, without a recovery scan (one-off replays). */
  resume(): void {
    this.queue.resume();
  }

  /** Jobs queued or running now (retries scheduled for later excluded). */
  busy(): number {
    const s = this.queue.size;
    return s.queued + s.running;
  }

  /**
   * Evaluates a document and records the decision. Writes are queued (and with `wait`, run before this
   * returns); a document already carrying its tax is `unchanged` and leaves no job. With `via`, a kind whose
   * `trigger` list leaves that source out is `skipped` with the reason.
   */
  async request(connection: ResolvedConnection, kind: DocumentKind, documentId: string, trigger: string, opts: { wait?: boolean; via?: WritebackTrigger } = {}): Promise<WritebackOutcome> {
    const refused = opts.via ? triggerRefusal(connection.spec, kind, opts.via) : undefined;
    if (refused) return { status: 'skipped', reason: refused };
    const now = this.nowIso();
    const ev = await evaluateWriteback({ store: this.store, engine: this.opts.engine, connection, kind, documentId, now, refetch: this.refetcher(connection) });
    if (ev.decision === 'missing') return ev.gone ? this.voidWritten(connection.conn.connection_id, kind, documentId, ev.reason, now) : { status: 'skipped', reason: ev.reason };
    if (ev.decision === 'unchanged') return { status: 'unchanged', calculation_id: ev.tax.calculation_id };
    const base = this.newJob(connection, kind, documentId, ev, trigger, now);
    const inserted = await this.store.insertIfAbsent(WRITEBACK_JOBS, base.id, base);
    let job = inserted ? base : ((await getJob(this.store, base.id)) ?? base);
    if (inserted && base.status !== 'pending') observeWriteback(base);
    if (base.status !== 'pending') return outcomeOf(job);
    if (!inserted && (await this.displaced(job))) job = await this.reopen(job, trigger);
    if (opts.wait) {
      // Asked explicitly (API): a job that already applied this tax is sent again, since the document does not carry it.
      if (!inserted && job.status === 'applied') job = await this.reopen(job, trigger);
      let done = (await this.runNow(job.id)) ?? job;
      // The document changed while we looked: follow to the job that took over (once).
      if (done.status === 'superseded' && done.superseded_by) done = (await this.runNow(done.superseded_by)) ?? done;
      return outcomeOf(done);
    }
    if (inserted || job.status === 'pending') this.queue.enqueue(job.id, partition(job));
    return outcomeOf(job);
  }

  /**
   * The document was voided or deleted upstream after tax was written: its applied jobs become `voided` (the
   * tax no longer counts as collected). Idempotent; `skipped` when no tax had been written.
   */
  private async voidWritten(connectionId: string, kind: DocumentKind, documentId: string, reason: string, now: string): Promise<WritebackOutcome> {
    const jobs = await listJobs(this.store, { connectionId, documentId, status: ['applied', 'voided'] });
    const mine = jobs.filter((j) => j.kind === kind);
    if (mine.length === 0) return { status: 'skipped', reason };
    for (const j of mine) if (j.status === 'applied') await saveJob(this.store, { ...j, status: 'voided', reason: `${reason} after its tax was written`, voided_at: now, updated_at: now });
    return { status: 'voided', job_id: mine[0]!.id, reason: `${reason} after its tax was written`, ...(mine[0]!.calculation_id ? { calculation_id: mine[0]!.calculation_id } : {}) };
  }

  private refetcher(c: ResolvedConnection): ((stream: string, id: string) => Promise<unknown>) | undefined {
    const records = this.opts.records;
    return records ? (stream, id) => records.refetch(c, stream, id) : undefined;
  }

  private newJob(c: ResolvedConnection, kind: DocumentKind, documentId: string, ev: Exclude<Evaluation, { decision: 'missing' | 'unchanged' }>, trigger: string, now: string): WritebackJobDoc {
    const common = {
      connection_id: c.conn.connection_id,
      organization_id: c.organizationId,
      connector: c.spec.name,
      kind,
      stream: c.spec.writeback![kind]!.stream,
      document_id: documentId,
      trigger,
      attempts: 0,
      max_attempts: this.maxAttempts,
      created_at: now,
      updated_at: now,
    };
    if (ev.decision === 'error') {
      const code = errorCode(ev.error);
      const message = errorMessage(ev.error);
      const hash = createHash('sha256').update(`${ev.entity.hash}\u0000${code}\u0000${message}`).digest('hex').slice(0, 32);
      return { ...common, id: jobId(common.connection_id, kind, documentId, 'error', hash), tax_hash: hash, status: 'dead', reason: message, last_error: { code: publicCode(code), message, at: now, status: errorStatus(ev.error) } };
    }
    if (ev.decision === 'no_tax') {
      return { ...common, id: jobId(common.connection_id, kind, documentId, `no_tax:${ev.reason ?? ''}`, ev.hash), tax_hash: ev.hash, status: 'no_tax', reason: ev.reason, tax: ev.tax, calculation_id: ev.tax.calculation_id };
    }
    return { ...common, id: jobId(common.connection_id, kind, documentId, 'write', ev.hash), tax_hash: ev.hash, status: 'pending', tax: ev.tax, calculation_id: ev.tax.calculation_id };
  }

  /**
   * Tax A -> B -> A: the job for A is final, yet the evaluation says write, because B was written after it.
   * Such a job runs again (its idempotency key changes with the stored document's version). A final job no
   * later write displaced stays final, so a system whose documents never show the tax cannot loop.
   */
  private async displaced(job: WritebackJobDoc): Promise<boolean> {
    if (job.status === 'superseded') return true;
    if (job.status !== 'applied' && job.status !== 'unchanged') return false;
    const since = job.applied_at ?? job.updated_at;
    const applied = await listJobs(this.store, { connectionId: job.connection_id, documentId: job.document_id, status: 'applied' });
    return applied.some((o) => o.kind === job.kind && o.id !== job.id && (o.applied_at ?? o.updated_at) > since);
  }

  private async reopen(job: WritebackJobDoc, trigger: string): Promise<WritebackJobDoc> {
    const next: WritebackJobDoc = { ...job, status: 'pending', trigger, attempts: 0, next_attempt_at: undefined, last_error: undefined, reason: undefined, updated_at: this.nowIso() };
    await saveJob(this.store, next);
    return next;
  }

  /** Runs a job now (waiting for a run already in progress); a failed attempt is scheduled for retry. */
  async runNow(id: string): Promise<WritebackJobDoc | undefined> {
    const r = await this.run(id);
    if (r === CLAIMED_ELSEWHERE) return this.whenFinal(id);
    if (r.retryAt !== undefined) {
      const job = await getJob(this.store, id);
      if (job) this.queue.enqueue(id, partition(job), r.retryAt);
    }
    return getJob(this.store, id);
  }

  /** Another replica claimed the job first: its outcome, once it has one (or the job as it is after a while). */
  private async whenFinal(id: string, waitMs = 15_000): Promise<WritebackJobDoc | undefined> {
    const end = Date.now() + waitMs;
    for (;;) {
      const job = await getJob(this.store, id);
      if (!job || FINAL_STATUSES.has(job.status) || job.status === 'retrying' || Date.now() > end) return job;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Operator replay of a dead (or any final) job: attempts reset, run again from the current document. */
  async replay(id: string): Promise<WritebackJobDoc | undefined> {
    const job = await getJob(this.store, id);
    if (!job) return undefined;
    if (job.status === 'running' || this.inflight.has(id)) return job;
    await this.reopen(job, 'replay');
    return this.runNow(id);
  }

  private run(id: string): Promise<RunResult> {
    const cur = this.inflight.get(id);
    if (cur) return cur;
    const p = this.claimed
      .run(id, () => this.runOnce(id))
      .then((r) => r ?? CLAIMED_ELSEWHERE)
      .finally(() => this.inflight.delete(id));
    this.inflight.set(id, p);
    return p;
  }

  private async runOnce(id: string): Promise<RunResult> {
    let job = await getJob(this.store, id);
    if (!job || FINAL_STATUSES.has(job.status)) return {};
    const connection = await this.opts.loadConnection(job.connection_id);
    if (!connection) {
      await this.finish(job, 'dead', `connection ${job.connection_id} no longer exists`);
      return {};
    }
    // A connection waiting for re-authorization: the job stays pending (no attempt spent) until resumeConnection;
    // its claim is kept till it expires, so other replicas do not spin on it meanwhile.
    if (connection.waiting) return { hold: true };
    job = { ...job, status: 'running', attempts: job.attempts + 1, updated_at: this.nowIso() };
    await saveJob(this.store, job);
    try {
      const ev = await evaluateWriteback({ store: this.store, engine: this.opts.engine, connection, kind: job.kind, documentId: job.document_id, now: job.created_at, refetch: this.refetcher(connection) });
      switch (ev.decision) {
        case 'missing':
          await this.finish(job, 'no_tax', ev.reason);
          return {};
        case 'error':
          throw ev.error;
        case 'unchanged':
          await this.finish(job, 'unchanged', 'the document already carries this tax');
          return {};
        case 'no_tax':
          await this.finish(job, 'no_tax', ev.reason);
          return {};
        case 'write':
          break;
      }
      if (ev.hash !== job.tax_hash) {
        // The document changed since the job was made: the newer tax is a job of its own.
        const next = this.newJob(connection, job.kind, job.document_id, ev, `superseded ${job.id}`, this.nowIso());
        if (await this.store.insertIfAbsent(WRITEBACK_JOBS, next.id, next)) this.queue.enqueue(next.id, partition(next));
        await this.finish(job, 'superseded', 'the document changed before the tax was written', { superseded_by: next.id });
        return {};
      }
      // Send what the job recorded (same calculation, same timestamp), so every attempt sends identical
      // requests and their idempotency keys match.
      const tax = job.tax ?? ev.tax;
      const client = this.opts.clients.get(connection);
      // One write's scope for derived idempotency keys: stable across this job's attempts, new for a later
      // write of the same content after a different one (the stored document's version moved on).
      const idempotencyScope = `${job.id}@${ev.entity.updated_at}`;
      const done = await executeWriteback(connection.spec, job.kind, writebackContext(connection, ev.entity, tax, job.created_at), (request, context) =>
        client.request(request, context, { idempotencyScope }),
      );
      if ('skip' in done) {
        await this.finish(job, 'no_tax', done.skip);
        return {};
      }
      const sent: WritebackJobDoc['sent'] = done.sent;
      await this.finish(job, 'applied', undefined, { sent, applied_at: this.nowIso() });
      this.log('info', 'tax written back', { job_id: job.id, connection_id: job.connection_id, document_id: job.document_id, total_tax: tax.total_tax, currency: tax.currency, requests: sent.length });
      return {};
    } catch (e) {
      const at = this.nowIso();
      const last_error = { code: publicCode(errorCode(e)), message: errorMessage(e), at, status: errorStatus(e) };
      if (isCode(last_error.code, 'CONNECTION_NEEDS_REAUTHORIZATION')) {
        // Not the job's fault: it waits, attempt not counted, until the connection is authorized again.
        await saveJob(this.store, { ...job, status: 'pending', attempts: job.attempts - 1, last_error, updated_at: at });
        this.log('warn', 'write-back waits for the connection to be re-authorized', { job_id: job.id, connection_id: job.connection_id });
        return {};
      }
      if (isPermanentError(e) || job.attempts >= job.max_attempts) {
        await this.finish(job, 'dead', last_error.message, { last_error });
        this.log('error', 'write-back failed for good', { job_id: job.id, connection_id: job.connection_id, document_id: job.document_id, code: last_error.code, reason: last_error.message, attempts: job.attempts });
        return {};
      }
      const retryAt = Date.now() + retryDelayMs(job.attempts, this.backoff);
      await saveJob(this.store, { ...job, status: 'retrying', last_error, next_attempt_at: new Date(retryAt).toISOString(), updated_at: at });
      observeWriteback({ ...job, status: 'retrying', last_error });
      this.log('warn', 'write-back attempt failed; retrying', { job_id: job.id, code: last_error.code, reason: last_error.message, attempt: job.attempts, retry_at: new Date(retryAt).toISOString() });
      return { retryAt };
    }
  }

  private async finish(job: WritebackJobDoc, status: JobStatus, reason: string | undefined, extra: Partial<WritebackJobDoc> = {}): Promise<void> {
    await saveJob(this.store, { ...job, ...extra, status, reason, next_attempt_at: undefined, updated_at: this.nowIso() });
    observeWriteback({ ...job, ...extra, status });
  }
}

/** run() found the job claimed by another replica: it ran nothing. */
const CLAIMED_ELSEWHERE: RunResult = Object.freeze({});

function partition(j: Pick<WritebackJobDoc, 'connection_id' | 'document_id'>): string {
  return `${j.connection_id}\u0000${j.document_id}`;
}

function outcomeOf(j: WritebackJobDoc): WritebackOutcome {
  return { status: j.status, job_id: j.id, ...(j.reason ? { reason: j.reason } : {}), ...(j.calculation_id ? { calculation_id: j.calculation_id } : {}) };
}
