import { readFileSync } from 'node:fs';
import { TaxbridgeError } from '../../errors.ts';
import { loadConnector } from '../../spec/index.ts';
import { mapRecord } from '../../sync/index.ts';
import { parseCommandArgs } from '../args.ts';
import { FILES_ONLY_NOTE } from '../shared-flags.ts';
import { own } from '../../own.ts';

export const usage = `Usage: taxbridge map <connector.yaml> <stream> <record.json | -> [--setting k=v ...] [--raw-output]

Reads one record as the system's API returns it (children attached, e.g. "lines"), applies the stream's
JSONata mapping and validates the result against its entity schema. Exit 1 when it does not map.
${FILES_ONLY_NOTE}`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { setting: { type: 'string', multiple: true } });
  const [specPath, stream, recordPath] = positionals;
  if (!specPath || !stream || !recordPath) throw new TaxbridgeError('CLI_USAGE', 'map needs a connector spec, a stream name and a record file', { hint: usage });
  const spec = loadConnector(specPath);
  if (!own(spec.streams, stream)) throw new TaxbridgeError('SYNC_UNKNOWN_STREAM', `${spec.name} has no stream \`${stream}\``, { hint: `streams: ${Object.keys(spec.streams).join(', ')}` });
  const text = recordPath === '-' ? readFileSync(0, 'utf8') : readFileSync(recordPath, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TaxbridgeError('MAP_BAD_RECORD', `${recordPath} is not JSON: ${(e as Error).message}`);
  }
  const settings = Object.fromEntries((values.setting ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const result = await mapRecord(spec, stream, raw, { connection_id: 'map', environment: 'production', credentials: {}, settings });
  if (!result.ok) {
    process.stderr.write(`taxbridge map: record ${result.external_id ?? '(no id)'} does not map: ${result.reason}\n`);
    return 1;
  }
  process.stdout.write(JSON.stringify({ external_id: result.external_id, deleted: result.deleted, entity: spec.streams[stream]!.entity, data: result.data }, null, 2) + '\n');
  return 0;
}
