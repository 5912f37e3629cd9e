// Provisional: replaced by the full loader (positions, schema validation, lint) shortly.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { ConnectorSpec } from './types.ts';
export type * from './types.ts';

function resolveRefs(node: unknown, root: Record<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((n) => resolveRefs(n, root));
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o.$ref === 'string') {
      const target = o.$ref.replace(/^#\//, '').split('/').reduce<unknown>((a, k) => (a as Record<string, unknown>)?.[k], root);
      const { $ref: _, ...rest } = o;
      return { ...(resolveRefs(target, root) as object), ...(resolveRefs(rest, root) as object) };
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveRefs(v, root)]));
  }
  return node;
}

export function loadConnector(file: string): ConnectorSpec {
  const raw = parse(readFileSync(file, 'utf8'), { merge: true }) as Record<string, unknown>;
  return resolveRefs(raw, raw) as ConnectorSpec;
}
