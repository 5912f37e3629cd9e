/** How `taxbridge events` and `taxbridge writebacks` print webhook events and write-back jobs. */
import type { EventRow, JobRow } from './connections-client.ts';

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

