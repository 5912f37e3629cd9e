import { createHash } from 'node:crypto';
import type { Store, Where } from '../store/types.ts';
import type { WritebackTax } from './plan.ts';

/**
 * Write-back jobs, durable in the store's `writeback_jobs` collection. A job's id is derived from
 * (connection, document kind, document, decision, tax fingerprint), so the same computed tax for the same
 * document is one job however many events ask for it: a repeated event or a retry writes nothing twice.
 * Schema: schemas/entities/writeback_job.schema.json.
 */

export const WRITEBACK_JOBS = 'writeback_jobs';

export type DocumentKind = 'invoice' | 'credit_note';

/**
 * pending: waiting to run; running: being sent; retrying: failed, next attempt scheduled; applied: tax
 * written; unchanged: the document already carried the tax; no_tax: nothing to write (with the reason);
 * superseded: the document changed before the job ran (a newer job took over); dead: failed for good.
 */
/** voided: tax was applied, then the document was voided or deleted upstream; the tax no longer counts as collected. */
export type JobStatus = 'pending' | 'running' | 'retrying' | 'applied' | 'unchanged' | 'no_tax' | 'superseded' | 'dead' | 'voided';

export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['applied', 'unchanged', 'no_tax', 'superseded', 'dead', 'voided']);

export interface JobError {
  code: string;
  message: string;
  at: string;
  status?: number;
}

export interface WritebackJobDoc {
  id: string;
  connection_id: string;
  organization_id: string;
  connector: string;
  kind: DocumentKind;
  stream: string;
  document_id: string;
  /** Fingerprint of the tax to write (taxFingerprint). */
  tax_hash: string;
  status: JobStatus;
  reason?: string;
  /** What asked for it: an event id, "api", "replay". */
  trigger: string;
  tax?: WritebackTax;
  calculation_id?: string;
  attempts: number;
  max_attempts: number;
  next_attempt_at?: string;
  last_error?: JobError;
  /** Requests sent by the last successful run: method, path, status. */
  sent?: Array<{ method: string; path: string; status: number }>;
  superseded_by?: string;
  /** When a voided job's document was voided or deleted upstream. */
  voided_at?: string;
  created_at: string;
  updated_at: string;
  applied_at?: string;
}

export function jobId(connectionId: string, kind: DocumentKind, documentId: string, decision: string, taxHash: string): string {
  const h = createHash('sha256');
  for (const part of [connectionId, kind, documentId, decision, taxHash]) h.update(part).update('\u0000');
  return `wb_${h.digest('base64url').slice(0, 32)}`;
}

export function getJob(store: Store, id: string): Promise<WritebackJobDoc | undefined> {
  return store.get<WritebackJobDoc>(WRITEBACK_JOBS, id);
}

export async function saveJob(store: Store, job: WritebackJobDoc): Promise<void> {
  await store.put(WRITEBACK_JOBS, job.id, job);
}

export interface JobFilter {
  connectionId?: string;
  status?: JobStatus | JobStatus[];
  documentId?: string;
  limit?: number;
}

/** Jobs, newest first. */
export async function listJobs(store: Store, f: JobFilter = {}): Promise<WritebackJobDoc[]> {
  const where: Where = {};
  if (f.connectionId !== undefined) where.connection_id = f.connectionId;
  if (f.status !== undefined) where.status = { in: Array.isArray(f.status) ? f.status : [f.status] };
  if (f.documentId !== undefined) where.document_id = f.documentId;
  const { docs } = await store.find<WritebackJobDoc>(WRITEBACK_JOBS, { where, orderBy: { field: 'created_at', desc: true }, ...(f.limit !== undefined ? { limit: f.limit } : {}) });
  return docs;
}

/** A job without the tax detail, for listings. */
export function jobSummary(j: WritebackJobDoc): Omit<WritebackJobDoc, 'tax'> & { total_tax?: string; currency?: string } {
  const { tax, ...rest } = j;
  return { ...rest, ...(tax ? { total_tax: tax.total_tax, currency: tax.currency } : {}) };
}
