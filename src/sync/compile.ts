import type { ValidateFunction } from 'ajv/dist/2020.js';
import { TaxbridgeError } from '../errors.ts';
import { compileExpression, type Expression } from '../expressions/index.ts';
import type { ChangeFeedSpec, ChildSpec, ConnectorSpec, StreamSpec } from '../spec/types.ts';
import { requestUsesSince } from './since.ts';
import { entitySchemaValidator } from './entity-schemas.ts';
import { own } from '../own.ts';

/** Everything a stream evaluates per record, compiled once per stream spec object. */
export interface CompiledStream {
  name: string;
  spec: StreamSpec;
  entity: string;
  primaryKey: Expression;
  mapping: Expression;
  deletion?: Expression;
  cursor?: Expression;
  children: Array<{ spec: ChildSpec; when?: Expression }>;
  fetchRecord?: Expression;
  validate: ValidateFunction;
  /** The list request renders `incremental.since` itself, so the API filters (no filtering after reading). */
  sinceInRequest: boolean;
  /** The stream's change feed (incremental runs read it), compiled. */
  feed?: CompiledFeed;
}

export interface CompiledFeed {
  spec: ChangeFeedSpec;
  eventId: Expression;
  eventTime: Expression;
  object: Expression;
  deleteWhen?: Expression;
  when?: Expression;
}



const cache = new WeakMap<StreamSpec, CompiledStream>();

export function streamSpec(spec: ConnectorSpec, name: string): StreamSpec {
  const s = own(spec.streams, name);
  if (!s) {
    throw new TaxbridgeError('SYNC_UNKNOWN_STREAM', `${spec.title} has no stream "${name}"`, { hint: `streams: ${Object.keys(spec.streams).join(', ')}` });
  }
  return s;
}

/** `compile` replaces the cached compiler (the playground compiles untrusted expressions uncached and guarded). */
export function compileStream(spec: ConnectorSpec, name: string, compile: (source: string) => Expression = compileExpression): CompiledStream {
  const s = streamSpec(spec, name);
  const cached = compile === compileExpression;
  let c = cached ? cache.get(s) : undefined;
  if (c) return c;
  c = {
    name,
    spec: s,
    entity: s.entity,
    primaryKey: compile(s.primary_key ?? 'id'),
    mapping: compile(s.mapping),
    deletion: s.deletion?.when ? compile(s.deletion.when) : undefined,
    cursor: s.incremental ? compile(s.incremental.cursor_field) : undefined,
    children: (s.children ?? []).map((child) => ({ spec: child, when: child.when ? compile(child.when) : undefined })),
    fetchRecord: s.fetch?.record ? compile(s.fetch.record) : undefined,
    validate: entitySchemaValidator(s.entity),
    sinceInRequest: requestUsesSince(s.request),
    feed: s.change_feed
      ? {
          spec: s.change_feed,
          eventId: compile(s.change_feed.event_id ?? 'id'),
          eventTime: compile(s.change_feed.event_time),
          object: compile(s.change_feed.object),
          deleteWhen: s.change_feed.delete_when ? compile(s.change_feed.delete_when) : undefined,
          when: s.change_feed.when ? compile(s.change_feed.when) : undefined,
        }
      : undefined,
  };
  if (cached) cache.set(s, c);
  return c;
}

/** Evaluates with the plain-path fast path when the expression is one. */
export async function evaluate(expr: Expression, input: unknown, bindings?: Record<string, unknown>): Promise<unknown> {
  const fast = expr.readSync(input, bindings);
  return fast ? fast.value : expr.evaluate(input, bindings);
}
