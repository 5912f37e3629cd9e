/**
 * What a spec test sees of a request body: the exact bytes, the Content-Type, and the body decoded the way
 * that type says (JSON, or form fields). Expectations compare one of them: `body` (JSON), `form` (decoded
 * form fields) or `raw_body` (the text exactly); a body sent in another encoding than expected fails.
 */
import { formFields } from '../http/body.ts';
import { diffValues } from './diff.ts';

export interface WireBody {
  /** The body text exactly as received (UTF-8); undefined when there was none. */
  raw_body?: string;
  /** The request's Content-Type header, if any. */
  content_type?: string;
  /** The parsed JSON body (JSON content type, or none and the text parses as JSON); else the text. */
  body?: unknown;
  /** The decoded form fields of an application/x-www-form-urlencoded body, keys as on the wire. */
  form?: Record<string, string | string[]>;
}

type Kind = 'json' | 'form' | 'other';

function kindOf(contentType: string | undefined, text: string): Kind {
  const t = contentType?.split(';', 1)[0]!.trim().toLowerCase();
  if (t === 'application/x-www-form-urlencoded') return 'form';
  if (t === undefined) return parses(text) ? 'json' : 'other';
  return /[/+]json$/.test(t) ? 'json' : 'other';
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function readWireBody(bytes: Buffer, contentType: string | undefined): WireBody {
  if (bytes.length === 0) return contentType ? { content_type: contentType } : {};
  const text = bytes.toString('utf8');
  const out: WireBody = { raw_body: text, ...(contentType ? { content_type: contentType } : {}) };
  const kind = kindOf(contentType, text);
  if (kind === 'form') out.form = formFields(text);
  else if (kind === 'json') {
    try {
      out.body = JSON.parse(text) as unknown;
    } catch {
      out.body = text;
    }
  } else out.body = text;
  return out;
}

/** Problems comparing one expected body field (`body`, `form` or `raw_body`) with what was sent. */
export function diffWireBody(field: 'body' | 'form' | 'raw_body', expected: unknown, seen: WireBody, path: string): string[] {
  const p = `${path}.${field}`;
  const sent = seen.raw_body === undefined ? 'no body' : `${seen.content_type ?? 'no Content-Type'}: ${abbreviate(seen.raw_body)}`;
  switch (field) {
    case 'raw_body': {
      const want = typeof expected === 'string' ? expected : JSON.stringify(expected);
      if (seen.raw_body === want) return [];
      if (seen.raw_body === undefined) return [`${p}: expected ${show(want)}, the request had no body`];
      const at = firstDifference(want, seen.raw_body);
      return [`${p}: differs at character ${at}:`, `    expected ${show(want, at)}`, `    got      ${show(seen.raw_body, at)}`];
    }
    case 'form': {
      if (seen.form === undefined) return [`${p}: expected a form body (application/x-www-form-urlencoded), the request sent ${sent}`];
      return diffValues(formExpectation(expected), seen.form, p);
    }
    case 'body': {
      if (seen.form !== undefined) return [`${p}: expected a JSON body, the request sent ${sent} (compare \`form\` or \`raw_body\` instead)`];
      if (seen.raw_body !== undefined && typeof seen.body === 'string' && typeof expected !== 'string') return [`${p}: expected a JSON body, the request sent ${sent}`];
      return diffValues(expected, seen.body, p);
    }
  }
}

/** YAML numbers and booleans in a form expectation mean their text on the wire. */
function formExpectation(expected: unknown): unknown {
  if (expected === null || typeof expected !== 'object' || Array.isArray(expected)) return expected;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(expected)) {
    const text = Array.isArray(v) ? v.map(scalar) : scalar(v);
    Object.defineProperty(out, k, { value: text, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function scalar(v: unknown): unknown {
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : v === null ? '' : v;
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** A JSON-quoted excerpt around character `at` (whole when short). */
function show(s: string, at = 0): string {
  if (s.length <= 160) return JSON.stringify(s);
  const from = Math.max(0, at - 60);
  return `${from > 0 ? '...' : ''}${JSON.stringify(s.slice(from, from + 120))}${from + 120 < s.length ? '...' : ''}`;
}

function abbreviate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}
