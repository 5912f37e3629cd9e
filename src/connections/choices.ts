/**
 * Choices for a setting declared with `choices_from` (Rillet's subsidiary): the records of the named stream,
 * read from the system with the connection's credentials and mapped by the stream's mapping, each turned
 * into `{value, label}` by the setting's expressions (defaults `external_id` and `name`).
 */
import { TaxbridgeError } from '../errors.ts';
import { compileExpression } from '../expressions/index.ts';
import { createHttpClient, type HttpClientOptions } from '../http/index.ts';
import { mapRecord } from '../sync/index.ts';
import type { ConnectionContext, ConnectorSpec, SettingSpec } from '../spec/types.ts';
import { own } from '../own.ts';

export interface Choice {
  value: string | number | boolean;
  label: string;
}

/** At most this many choices are read (a picker with more is no picker). */
export const MAX_CHOICES = 1000;

export async function listChoices(spec: ConnectorSpec, conn: ConnectionContext, setting: SettingSpec, opts: { http?: HttpClientOptions; timeoutMs?: number } = {}): Promise<Choice[]> {
  const from = setting.choices_from;
  if (!from) return [];
  const stream = own(spec.streams, from.stream);
  if (!stream) throw new TaxbridgeError('SPEC_INVALID', `setting ${setting.name} takes its choices from stream "${from.stream}", which ${spec.name} does not define`);
  const valueOf = compileExpression(from.value ?? 'external_id');
  const labelOf = compileExpression(from.label ?? 'name');
  const client = createHttpClient(spec, conn, opts.http);
  const out: Choice[] = [];
  try {
    const signal = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
    for await (const page of client.paginate(stream.request, stream.pagination, stream.records, {}, { signal })) {
      for (const record of page.records) {
        // Mapped and checked as the sync would store it; a record that does not map is no choice.
        const mapped = await mapRecord(spec, from.stream, record, conn);
        if (!mapped.ok || mapped.deleted) continue;
        const value = await valueOf.evaluate(mapped.data);
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
        const label = await labelOf.evaluate(mapped.data);
        out.push({ value, label: typeof label === 'string' && label ? label : String(value) });
        if (out.length >= MAX_CHOICES) return out;
      }
    }
  } finally {
    await client.close();
  }
  return out;
}
