/**
 * Sends a write-back through the spec's requests: optionally read the document first and keep fields of the
 * answer (`read.save_as` -> `saved.<name>`), then each request in order (per `for_each` item), each able to
 * keep fields of its own answer for the next. A refused write the spec declares a conflict (`conflict`:
 * statuses, or a condition over the answer such as QuickBooks' 400 Fault 5010) is read again and resent, at
 * most `conflict.max_retries` times; then WRITEBACK_CONFLICT. Used by the job runner and by spec tests, so
 * both send exactly the same sequence.
 */
import { TaxbridgeError } from '../errors.ts';
import { compileExpression } from '../expressions/index.ts';
import { PermanentHttpError, type HttpResponse } from '../http/index.ts';
import type { ConnectorSpec, RequestSpec, SaveAsSpec } from '../spec/types.ts';
import { NO_REQUESTS, templateContext, writebackSkipReason, type WritebackContext } from './plan.ts';

export type SendRequest = (request: RequestSpec, context: Record<string, unknown>) => Promise<HttpResponse>;

export interface SentRequest {
  method: string;
  path: string;
  status: number;
}

export type WritebackExecution = { skip: string } | { sent: SentRequest[]; saved: Record<string, unknown>; conflicts: number };

const DEFAULT_CONFLICT_STATUSES = [409, 412];
const DEFAULT_MAX_RETRIES = 3;

/** The system kept answering a write with a conflict, although the document was read again before each retry. */
export class WritebackConflictError extends TaxbridgeError {
  constructor(system: string, kind: string, request: string, status: number, retries: number) {
    super(
      'WRITEBACK_CONFLICT',
      `${system} still refused ${request} as a conflict (${status}) after the ${kind === 'credit_note' ? 'credit note' : kind} was read again ${retries} time(s) (conflict.max_retries: ${retries})`,
      {
        hint: 'something else keeps changing the document; replay the job once it is quiet (taxbridge writebacks --replay <id>), or raise conflict.max_retries in the spec',
        details: { status, retries },
      },
    );
  }
}

export async function executeWriteback(spec: ConnectorSpec, kind: 'invoice' | 'credit_note', ctx: WritebackContext, send: SendRequest): Promise<WritebackExecution> {
  const skip = await writebackSkipReason(spec, kind, ctx);
  const target = spec.writeback?.[kind];
  if (skip !== undefined || !target) return { skip: skip ?? '' };
  const base = templateContext(spec, ctx);
  const sent: SentRequest[] = [];
  let saved: Record<string, unknown> = { ...(ctx.saved ?? {}) };
  const record = (request: RequestSpec, res: HttpResponse) => sent.push({ method: request.method ?? 'GET', path: pathOf(res.url), status: res.status });

  const read = async () => {
    if (!target.read) return;
    const res = await send(target.read.request, { ...base, saved });
    record(target.read.request, res);
    saved = { ...saved, ...(await keep(target.read.save_as, res)) };
  };

  const conflict = target.conflict;
  const statuses = new Set(conflict?.statuses ?? DEFAULT_CONFLICT_STATUSES);
  const maxRetries = conflict?.max_retries ?? DEFAULT_MAX_RETRIES;
  const isConflict = async (e: unknown): Promise<number | undefined> => {
    if (!target.read || !(e instanceof PermanentHttpError) || typeof e.status !== 'number') return undefined;
    const status = e.status;
    if (statuses.has(status)) return status;
    if (conflict?.when) {
      const answer = { status, body: e.body };
      if ((await compileExpression(conflict.when).evaluate(answer, answer)) === true) return status;
    }
    return undefined;
  };

  await read();
  let conflicts = 0;
  let writes = 0;
  for (const step of target.requests) {
    const here = { ...base, saved };
    const items = step.for_each ? listOf(await compileExpression(step.for_each).evaluate(here, here)) : [undefined];
    for (const item of items) {
      for (;;) {
        const context = { ...base, saved, ...(step.for_each ? { item } : {}) };
        try {
          const res = await send(step.request, context);
          record(step.request, res);
          writes++;
          if (step.save_as) saved = { ...saved, ...(await keep(step.save_as, res)) };
          break;
        } catch (e) {
          const status = await isConflict(e);
          if (status === undefined) throw e;
          if (conflicts >= maxRetries) throw new WritebackConflictError(spec.title, kind, `${step.request.method ?? 'GET'} ${(e as PermanentHttpError).target.path}`, status, maxRetries);
          conflicts++;
          await read();
        }
      }
    }
  }
  if (writes === 0) return { skip: NO_REQUESTS };
  return { sent, saved, conflicts };
}

async function keep(saveAs: SaveAsSpec, res: HttpResponse): Promise<Record<string, unknown>> {
  const answer = { status: res.status, headers: res.headers, body: res.body };
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, source] of Object.entries(saveAs)) out[name] = await compileExpression(source).evaluate(answer, answer);
  return { ...out };
}

function listOf(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

function pathOf(url: string | undefined): string {
  if (!url) return '';
  try {
    return new URL(url, 'http://x').pathname;
  } catch {
    return url;
  }
}
