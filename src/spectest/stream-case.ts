import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';
import { cursorInstant, mapRecord, readStream } from '../sync/index.ts';
import { diffValues } from './diff.ts';
import type { ReplayServer } from './replay-server.ts';
import { describeError, type SpecTestCase } from './run.ts';

/** Reads a stream through the real engine against the replay server and compares what it maps. */
export async function runStreamCase(spec: ConnectorSpec, conn: ConnectionContext, c: SpecTestCase, _server: ReplayServer): Promise<string[]> {
  const stream = spec.streams[c.stream!];
  if (!stream) return [`${spec.name} has no stream \`${c.stream}\` (streams: ${Object.keys(spec.streams).join(', ')})`];
  const cursorMs = c.full === false && c.cursor !== undefined ? cursorInstant(c.cursor, stream.incremental?.format) : undefined;
  if (c.full === false && cursorMs === undefined) return ['an incremental case (full: false) needs a readable `cursor`'];
  // As a sync would: the cursor minus the lookback of what the incremental run reads (the change feed's or the list's).
  const lookbackSeconds = (stream.change_feed ? stream.change_feed.lookback_seconds : stream.incremental?.lookback_seconds) ?? 0;
  const sinceMs = cursorMs === undefined ? undefined : cursorMs - lookbackSeconds * 1000;
  const records: unknown[] = [];
  const deleted: string[] = [];
  const failures: string[] = [];
  const problems: string[] = [];
  try {
    for await (const page of readStream(spec, conn, c.stream!, { sinceMs })) {
      for (const r of page.records) {
        if (!r.ok) {
          failures.push(`${r.external_id ?? '(no id)'}: ${r.reason}`);
          continue;
        }
        records.push(r.data);
        if (r.deleted) deleted.push(r.external_id);
      }
    }
  } catch (e) {
    // Still compare what was read before the failure: both facts help.
    problems.push(`reading stopped: ${describeError(e)}`);
  }
  const expect = c.expect ?? {};
  if (expect.records) problems.push(...diffValues(expect.records, records, 'records'));
  if (expect.deleted) problems.push(...diffValues(expect.deleted, deleted, 'deleted'));
  const allowed = typeof expect.failures === 'number' ? expect.failures : 0;
  if (failures.length !== allowed) problems.push(`expected ${allowed} record(s) failing their entity schema, got ${failures.length}`, ...failures.map((f) => `  ${f}`));
  return problems;
}

/** The canonical entity a raw record maps to, or the reason it does not (webhook and write-back cases). */
export async function mapRecordForTest(spec: ConnectorSpec, stream: string, raw: unknown, conn: ConnectionContext): Promise<unknown> {
  const m = await mapRecord(spec, stream, raw, conn);
  return m.ok ? m.data : { mapping_failed: m.reason };
}
