import { TaxbridgeError } from '../errors.ts';
import type { BodyEncodingSpec, FormStyleSpec } from '../spec/types.ts';

/**
 * Request body encodings. JSON is the default; `form` writes application/x-www-form-urlencoded with
 * bracketed keys for nesting (what Stripe and Chargebee take), `text` sends a rendered string as is.
 */
export type BodyEncoding = BodyEncodingSpec;

/**
 * How nested values become form keys. arrays: indexed `a[0][b]=x` / `a[0]=x` (default), index_last
 * `a[b][0]=x` / `a[0]=x`, brackets `a[][b]=x` / `a[]=x`, repeat `a=x&a=y` (scalars only). nulls: omit (default)
 * or empty (`a=`). empty_strings: keep (default) or omit. empty_arrays: omit (default) or empty (`a=`).
 * booleans: true_false (default) or one_zero.
 */
export type FormStyle = FormStyleSpec;

export const CONTENT_TYPES: Record<BodyEncoding, string> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
  text: 'text/plain; charset=utf-8',
};

/** Deeper than this is a runaway template, not an API body. */
const MAX_DEPTH = 32;

export class BodyEncodingError extends TaxbridgeError {
  constructor(message: string, hint?: string) {
    super('HTTP_BODY_ENCODING', message, { hint });
  }
}

/** Serializes a rendered body value; undefined stays undefined (no body). */
export function encodeBody(value: unknown, encoding: BodyEncoding, style: FormStyle = {}): string | undefined {
  if (value === undefined) return undefined;
  switch (encoding) {
    case 'json':
      return JSON.stringify(value);
    case 'text':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
      throw new BodyEncodingError(`a text body must render to a string, got ${describe(value)}`, 'build the text with a template such as "{{ $string(...) }}", or use body_encoding: json');
    case 'form':
      return formEncode(value, style);
  }
}

/** The form pairs of a rendered body, before percent-encoding (in document order). */
export function formPairs(value: unknown, style: FormStyle = {}): Array<[string, string]> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BodyEncodingError(`a form body must render to an object of fields, got ${describe(value)}`, 'write body: as a mapping of field names, e.g. { description: "{{ document.number }}" }');
  }
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(value)) addValue(out, k, v, style, 1);
  return out;
}

/** application/x-www-form-urlencoded per the WHATWG URL standard (space as +, brackets percent-encoded). */
export function formEncode(value: unknown, style: FormStyle = {}): string {
  return new URLSearchParams(formPairs(value, style)).toString();
}

function addValue(out: Array<[string, string]>, key: string, v: unknown, style: FormStyle, depth: number): void {
  if (depth > MAX_DEPTH) throw new BodyEncodingError(`the form body nests deeper than ${MAX_DEPTH} levels at ${key.slice(0, 120)}`);
  if (v === undefined) return;
  if (v === null) {
    if (style.nulls === 'empty') out.push([key, '']);
    return;
  }
  if (Array.isArray(v)) {
    addArray(out, key, v, style, depth);
    return;
  }
  if (typeof v === 'object') {
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) addValue(out, `${key}[${k}]`, child, style, depth + 1);
    return;
  }
  if (typeof v === 'boolean') {
    out.push([key, style.booleans === 'one_zero' ? (v ? '1' : '0') : String(v)]);
    return;
  }
  const text = typeof v === 'string' ? v : String(v);
  if (text === '' && style.empty_strings === 'omit') return;
  out.push([key, text]);
}

function addArray(out: Array<[string, string]>, key: string, items: unknown[], style: FormStyle, depth: number): void {
  const present = items.filter((i) => i !== undefined);
  if (present.length === 0) {
    if (style.empty_arrays === 'empty') out.push([key, '']);
    return;
  }
  const arrays = style.arrays ?? 'indexed';
  present.forEach((item, i) => {
    const isObject = item !== null && typeof item === 'object' && !Array.isArray(item);
    switch (arrays) {
      case 'indexed':
        addValue(out, `${key}[${i}]`, item, style, depth + 1);
        break;
      case 'brackets':
        addValue(out, `${key}[]`, item, style, depth + 1);
        break;
      case 'repeat':
        if (item !== null && typeof item === 'object') throw new BodyEncodingError(`form arrays: repeat cannot encode the objects or arrays inside ${key.slice(0, 120)}`, 'use arrays: indexed, index_last or brackets');
        addValue(out, key, item, style, depth + 1);
        break;
      case 'index_last':
        // Chargebee: each field of element i is `key[field][i]`; deeper nesting continues after the index.
        if (isObject) for (const [k, child] of Object.entries(item as Record<string, unknown>)) addValue(out, `${key}[${k}][${i}]`, child, style, depth + 1);
        else addValue(out, `${key}[${i}]`, item, style, depth + 1);
        break;
    }
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** Limits on what a decoded form may hold (bodies come from outside). */
const MAX_PAIRS = 10_000;

/**
 * Decodes a form body into one nested object: `a[b][c]=x` -> {a:{b:{c:"x"}}}, `a[]=x` appends, a key
 * repeated without brackets collects a list, and an object whose keys are exactly 0..n-1 becomes an array
 * (`a[0][b]=x` -> {a:[{b:"x"}]}). Values stay strings. Keys never reach a prototype.
 */
export function formDecode(text: string): Record<string, unknown> {
  const params = new URLSearchParams(text);
  const root: Node = new Map();
  let n = 0;
  for (const [key, value] of params) {
    if (++n > MAX_PAIRS) throw new BodyEncodingError(`the form body has more than ${MAX_PAIRS} fields`);
    const path = keyPath(key);
    let node = root;
    for (let i = 0; i < path.length - 1; i++) {
      const seg = path[i] === '' ? String(node.size) : path[i]!;
      let next = node.get(seg);
      if (!(next instanceof Map)) {
        next = new Map();
        node.set(seg, next);
      }
      node = next;
    }
    const last = path[path.length - 1]!;
    if (last === '') node.set(String(node.size), value);
    else if (!node.has(last)) node.set(last, value);
    else {
      const prev = node.get(last);
      if (Array.isArray(prev)) prev.push(value);
      else if (typeof prev === 'string') node.set(last, [prev, value]);
    }
  }
  return toPlain(root) as Record<string, unknown>;
}

type Node = Map<string, Node | string | string[]>;

/** `a[b][0]` -> ["a","b","0"]; a key with unbalanced brackets is one plain name. */
function keyPath(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0 || !key.endsWith(']')) return [key];
  const head = key.slice(0, open);
  const rest = key.slice(open);
  const segs: string[] = [];
  const re = /\[([^\[\]]*)\]/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(rest))) {
    segs.push(m[1]!);
    at = re.lastIndex;
    if (segs.length > MAX_DEPTH) return [key];
  }
  return at === rest.length ? [head, ...segs] : [key];
}

function toPlain(node: Node | string | string[]): unknown {
  if (!(node instanceof Map)) return node;
  const keys = [...node.keys()];
  if (keys.length > 0 && keys.every((k, i) => k === String(i))) return keys.map((k) => toPlain(node.get(k)!));
  const out: Record<string, unknown> = {};
  // defineProperty: a "__proto__" field becomes an own property, never the object's prototype.
  for (const k of keys) Object.defineProperty(out, k, { value: toPlain(node.get(k)!), enumerable: true, writable: true, configurable: true });
  return out;
}

/** The decoded pairs as one flat map (`{"a[0][b]": "x"}`); a repeated key collects a list. */
export function formFields(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    if (!Object.hasOwn(out, k)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else {
      const prev = out[k]!;
      out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  }
  return out;
}
