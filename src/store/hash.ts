import { createHash } from 'node:crypto';

/**
 * The value with object keys in sorted order (objects copied only where needed), so equal data serializes
 * equal whatever order a mapping built it in. Native JSON.stringify over this copy is ~2x faster than a
 * hand-written sorted serializer.
 */
function canonical(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      sorted = false;
      break;
    }
  }
  if (sorted && keys.every((k) => o[k] === null || typeof o[k] !== 'object')) return o;
  if (!sorted) keys.sort();
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = canonical(o[k]);
  return out;
}

/** JSON with object keys sorted: equal data always gives equal text (and hash). */
export function stableStringify(value: unknown): string {
  return JSON.stringify(canonical(value)) ?? 'null';
}

/** Short content hash used to tell updated entities from unchanged ones. */
export function contentHash(text: string): string {
  return createHash('sha1').update(text).digest('base64url');
}
