import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectorSchema } from '../src/spec/index.ts';

type Node = Record<string, unknown>;

/** Every object schema (with `properties`) reachable in the connector schema, with its JSON pointer. */
function objectSchemas(node: unknown, at = '#'): Array<[string, Node]> {
  if (!node || typeof node !== 'object') return [];
  const out: Array<[string, Node]> = [];
  const n = node as Node;
  if (n.properties) out.push([at, n]);
  for (const [k, v] of Object.entries(n)) {
    if (Array.isArray(v)) v.forEach((item, i) => out.push(...objectSchemas(item, `${at}/${k}/${i}`)));
    else if (v && typeof v === 'object') out.push(...objectSchemas(v, `${at}/${k}`));
  }
  return out;
}

describe('connector schema', () => {
  const schema = connectorSchema();

  it('describes every property (editors show the descriptions)', () => {
    const missing: string[] = [];
    for (const [at, obj] of objectSchemas(schema)) {
      for (const [name, prop] of Object.entries(obj.properties as Record<string, Node>)) {
        if (typeof prop.description !== 'string' || !prop.description.trim()) {
          // A bare $ref inherits the target's description.
          const ref = prop.$ref as string | undefined;
          const target = ref ? ((schema.$defs as Record<string, Node>)[ref.replace('#/$defs/', '')] ?? {}) : {};
          if (!target.description) missing.push(`${at}/properties/${name}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('closes every object (additionalProperties: false) except the free-form definitions block', () => {
    const open = objectSchemas(schema)
      .filter(([at, obj]) => obj.additionalProperties !== false && !obj.discriminator && at !== '#/properties/definitions' && at !== '#/$defs/definitions')
      .map(([at]) => at);
    expect(open).toEqual([]);
  });

  it('keeps src/spec/types.ts in step with the schema: each stream/request/webhook property is typed', () => {
    const types = readFileSync(join(import.meta.dirname, '..', 'src', 'spec', 'types.ts'), 'utf8');
    const defs = schema.$defs as Record<string, Node>;
    const missing: string[] = [];
    for (const def of ['stream', 'request', 'http', 'retry', 'incremental', 'webhooks', 'webhook_event', 'signature', 'writeback_target', 'credential', 'setting', 'child', 'schedule']) {
      for (const prop of Object.keys(defs[def]!.properties as object)) {
        if (!new RegExp(`\\b${prop}\\??:`).test(types)) missing.push(`${def}.${prop}`);
      }
    }
    for (const prop of Object.keys(schema.properties as object)) if (!new RegExp(`\\b${prop}\\??:`).test(types)) missing.push(prop);
    expect(missing).toEqual([]);
  });
});
