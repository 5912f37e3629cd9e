import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal data always hashes equal whatever order a mapping built it in. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stableStringify(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined || typeof v === 'function') continue;
    parts.push(`${JSON.stringify(k)}:${stableStringify(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Short content hash used to tell updated entities from unchanged ones. */
export function contentHash(text: string): string {
  return createHash('sha1').update(text).digest('base64url');
}
