/**
 * JSON Schema -> TypeScript type text, shared by the generators of checked-in types (scripts/gen-api-types.ts,
 * scripts/gen-alert-event-type.ts). Covers the keywords the project's wire schemas use: type (and unions),
 * properties/required, items, enum, const, $ref (named by the caller), allOf, anyOf/oneOf (of typed alternatives:
 * nullable fields), additionalProperties; constraints
 * (lengths, ranges, patterns, formats) stay in the schemas, checked at run time by ajv.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export type Json = Record<string, unknown>;
/** The TypeScript name of a `$ref` target; throw on refs the generator does not support. */
export type RefName = (ref: string) => string;

const PRIMS: Record<string, string> = { string: 'string', integer: 'number', number: 'number', boolean: 'boolean', null: 'null' };

/** A one-line JSDoc from the schema's description, or nothing. */
export function doc(s: Json, indent: string): string {
  const d = typeof s.description === 'string' ? s.description : undefined;
  return d ? `${indent}/** ${d.replace(/\*\//g, '* /').replace(/\n/g, ' ')} */\n` : '';
}

export function typeOf(s: unknown, refName: RefName, indent: string): string {
  if (!s || typeof s !== 'object') return 'unknown';
  const o = s as Json;
  if (typeof o.$ref === 'string') return refName(o.$ref);
  if (o.const !== undefined) return JSON.stringify(o.const);
  if (Array.isArray(o.enum)) return o.enum.map((v) => JSON.stringify(v)).join(' | ');
  const parts: string[] = [];
  const types = o.type === undefined ? (o.properties ? ['object'] : []) : Array.isArray(o.type) ? (o.type as string[]) : [o.type as string];
  for (const t of types) {
    if (t === 'object') parts.push(objectType(o, refName, indent));
    else if (t === 'array') {
      const item = typeOf(o.items, refName, indent);
      parts.push(/[|&]/.test(item) ? `Array<${item}>` : `${item}[]`);
    } else parts.push(PRIMS[t] ?? 'unknown');
  }
  let out = parts.length ? parts.join(' | ') : 'unknown';
  // anyOf/oneOf of typed alternatives ({$ref} or null) is a union; alternatives that only require fields add nothing.
  const alternatives = (Array.isArray(o.anyOf) ? o.anyOf : Array.isArray(o.oneOf) ? o.oneOf : []).map((x) => typeOf(x, refName, indent)).filter((t) => t !== 'unknown');
  if (alternatives.length && !parts.length) out = [...new Set(alternatives)].join(' | ');
  if (Array.isArray(o.allOf)) out = [...o.allOf.map((x) => typeOf(x, refName, indent)), ...(parts.length ? [out] : [])].join(' & ');
  return out;
}

function objectType(o: Json, refName: RefName, indent: string): string {
  const props = (o.properties ?? {}) as Record<string, Json>;
  const required = new Set(Array.isArray(o.required) ? (o.required as string[]) : []);
  const inner = `${indent}  `;
  const lines: string[] = [];
  for (const [k, v] of Object.entries(props)) {
    lines.push(`${doc(v, inner)}${inner}${/^[a-z_][a-z0-9_]*$/i.test(k) ? k : JSON.stringify(k)}${required.has(k) ? '' : '?'}: ${typeOf(v, refName, inner)};`);
  }
  const ap = o.additionalProperties;
  if (ap && typeof ap === 'object') lines.push(`${inner}[key: string]: ${typeOf(ap, refName, inner)};`);
  if (lines.length === 0) return 'Record<string, unknown>';
  return `{\n${lines.join('\n')}\n${indent}}`;
}

/** Writes `text` to `out`, or with --check exits 1 when `out` differs from it (the drift check `npm test` runs). */
export function writeOrCheck(out: string, text: string, staleMessage: string): void {
  if (!process.argv.includes('--check')) {
    writeFileSync(out, text);
    return;
  }
  let cur = '';
  try {
    cur = readFileSync(out, 'utf8');
  } catch {
    /* missing: out of date */
  }
  if (cur !== text) {
    process.stderr.write(`${staleMessage}\n`);
    process.exit(1);
  }
}
