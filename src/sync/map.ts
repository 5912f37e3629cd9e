import { errorMessage } from '../errors.ts';
import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';
import { compileStream, evaluate, type CompiledStream } from './compile.ts';
import { describeSchemaErrors } from './entity-schemas.ts';

export type MappedRecord =
  | { ok: true; external_id: string; data: Record<string, unknown>; deleted: boolean }
  | { ok: false; external_id?: string; deleted: boolean; reason: string; /** The expression's own error, when one failed. */ cause?: unknown };

/** The `$settings`, `$connection` and `$environment` bindings of mappings (never credentials). */
export function mappingBindings(conn: ConnectionContext): Record<string, unknown> {
  return { settings: conn.settings, connection: { id: conn.connection_id, environment: conn.environment }, environment: conn.environment };
}

/** The record's id in the source system (primary_key, default `id`), as a string. */
export async function externalIdOf(c: CompiledStream, raw: unknown): Promise<string | undefined> {
  const v = await evaluate(c.primaryKey, raw);
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Maps one raw record (children attached) and validates it against the entity schema. */
export async function mapCompiled(c: CompiledStream, raw: unknown, bindings: Record<string, unknown>): Promise<MappedRecord> {
  const external_id = await externalIdOf(c, raw);
  let deleted = false;
  try {
    if (c.deletion) deleted = (await evaluate(c.deletion, raw, bindings)) === true;
  } catch (e) {
    return { ok: false, external_id, deleted, reason: `deletion.when failed: ${errorMessage(e)}`, cause: e };
  }
  if (external_id === undefined) return { ok: false, deleted, reason: `the record has no id (primary_key \`${c.primaryKey.source}\`)` };
  let data: unknown;
  try {
    data = await c.mapping.evaluate(raw, bindings);
  } catch (e) {
    return { ok: false, external_id, deleted, reason: `mapping failed: ${errorMessage(e)}`, cause: e };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, external_id, deleted, reason: `mapping gave ${Array.isArray(data) ? 'an array' : data === undefined ? 'nothing' : typeof data}, not an object` };
  }
  if (!c.validate(data)) return { ok: false, external_id, deleted, reason: `${c.entity} ${describeSchemaErrors(c.validate.errors)}` };
  return { ok: true, external_id, data: data as Record<string, unknown>, deleted };
}

/** Pure mapping + validation of one raw record of a stream (`taxbridge map`, spec tests). */
export async function mapRecord(spec: ConnectorSpec, streamName: string, raw: unknown, conn: ConnectionContext): Promise<MappedRecord> {
  return mapCompiled(compileStream(spec, streamName), raw, mappingBindings(conn));
}
