/**
 * Body encodings a schema cannot check: a form body must be an object of fields and a text body a string
 * (when the body is written out literally), form rules only matter where the encoding is form, and a
 * pagination cursor cannot go inside a text body. Requests are found by walking the spec beside the
 * schema (every value whose schema is `$defs/request`), so new places that hold requests are covered.
 */
import type { Diagnostic } from './diagnostics.ts';
import { connectorSchema } from './schemas.ts';
import type { BodyEncodingSpec, ConnectorSpec, RequestSpec } from './types.ts';
import { pointerJoin } from './yaml-source.ts';

type Report = (pointer: string, code: string, message: string, hint?: string, severity?: Diagnostic['severity'], preferKey?: boolean) => void;
type Schema = Record<string, unknown>;

export function checkBodies(spec: Partial<ConnectorSpec>, report: Report): void {
  const fallback: BodyEncodingSpec = spec.http?.body_encoding ?? 'json';
  forEachRequest(spec, (req, pointer, parent) => {
    if (!req || typeof req !== 'object') return;
    const encoding = req.body_encoding ?? fallback;
    if (req.form && encoding !== 'form') report(pointerJoin(pointer, 'form'), 'LINT_FORM_UNUSED', `\`form\` rules have no effect: this request's body is encoded as ${encoding}`, 'add body_encoding: form, or remove `form`', 'warning', true);
    const body = req.body;
    if (body !== undefined) {
      const literal = !(typeof body === 'string' && body.includes('{{'));
      if (encoding === 'form' && literal && (body === null || typeof body !== 'object' || Array.isArray(body))) {
        report(pointerJoin(pointer, 'body'), 'LINT_BODY_SHAPE', 'a form-encoded body must be a mapping of field names to values', 'write body: { field: value, ... } (nested mappings and lists become bracketed keys)');
      }
      if (encoding === 'text' && literal && body !== null && typeof body === 'object') {
        report(pointerJoin(pointer, 'body'), 'LINT_BODY_SHAPE', 'a text body must be a string (a template such as "SELECT * FROM Invoice WHERE ...")', 'write the body as one string, or use body_encoding: json');
      }
    }
    const p = parent?.pagination as { type?: string; in?: string } | undefined;
    if (p?.type === 'cursor' && p.in === 'body' && encoding === 'text') {
      report(pointerJoin(pointer, 'body_encoding'), 'LINT_CURSOR_IN_TEXT_BODY', 'pagination puts its cursor in the body, which a text body cannot hold', 'use body_encoding: json or form, or send the cursor in the query');
    }
  });
}

/** Calls `visit` for every request in the spec, with its JSON pointer and the object holding it. */
function forEachRequest(spec: unknown, visit: (req: RequestSpec, pointer: string, parent: Record<string, unknown> | undefined) => void): void {
  const root = connectorSchema();
  const defs = root.$defs as Record<string, Schema>;
  const deref = (s: Schema): Schema => (typeof s.$ref === 'string' && s.$ref !== '#/$defs/request' ? { ...defs[s.$ref.replace('#/$defs/', '')]!, ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$ref')) } : s);
  const walk = (value: unknown, schema: Schema, pointer: string, parent: Record<string, unknown> | undefined, depth: number): void => {
    if (depth > 40 || value === null || typeof value !== 'object') return;
    if (schema.$ref === '#/$defs/request') return visit(value as RequestSpec, pointer, parent);
    let s = deref(schema);
    for (let i = 0; i < 8 && typeof s.$ref === 'string' && s.$ref !== '#/$defs/request'; i++) s = deref(s);
    if (s.$ref === '#/$defs/request') return visit(value as RequestSpec, pointer, parent);
    if (Array.isArray(s.oneOf)) {
      const tag = (value as Record<string, unknown>).type;
      const branch = (s.oneOf as Schema[]).map(deref).find((b) => (b.properties as Record<string, Schema> | undefined)?.type?.const === tag);
      if (branch) walk(value, branch, pointer, parent, depth + 1);
      return;
    }
    if (Array.isArray(value)) {
      if (s.items) value.forEach((v, i) => walk(v, s.items as Schema, pointerJoin(pointer, i), parent, depth + 1));
      return;
    }
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const [k, v] of Object.entries(obj)) {
      const sub = (Object.hasOwn(props, k) ? props[k] : undefined) ?? (typeof s.additionalProperties === 'object' ? (s.additionalProperties as Schema) : undefined);
      if (sub) walk(v, sub, pointerJoin(pointer, k), obj, depth + 1);
    }
  };
  walk(spec, root, '', undefined, 0);
}
