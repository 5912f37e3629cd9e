import type { IncomingHttpHeaders } from 'node:http';

/** What callers see of a response: the body is parsed JSON when the server said JSON, else text. */
export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: unknown;
  /** The URL that answered (query string included; auth query parameters removed). */
  url: string;
  /** Attempts it took, the successful one included. */
  attempts: number;
}

export function flattenHeaders(raw: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

export function isJson(headers: Record<string, string>): boolean {
  const type = headers['content-type'];
  return type !== undefined && /[/+]json\b/i.test(type);
}

/** Parses a JSON body; `{ok:false}` when it does not parse. An empty body is undefined. */
export function parseBody(text: string, headers: Record<string, string>): { ok: true; body: unknown } | { ok: false; reason: string; text: string } {
  if (!isJson(headers)) return { ok: true, body: text };
  if (text.trim() === '') return { ok: true, body: undefined };
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, reason: `invalid JSON (${(e as Error).message})`, text };
  }
}
