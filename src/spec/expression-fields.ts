/**
 * Finds every expression and template in a spec by walking its value beside schemas/connector.schema.json
 * (fields whose schema is `$defs/expression`, `$defs/template` or `$defs/template_string`), so the linter
 * and the loader agree on what is an expression without a second list of field names.
 */
import { connectorSchema } from './schemas.ts';
import { pointerJoin } from './yaml-source.ts';

type Schema = Record<string, unknown>;

export interface ExpressionField {
  pointer: string;
  kind: 'expression' | 'template';
  value: unknown;
  /** Replaces the field's value in the spec. */
  set(value: unknown): void;
}

export function forEachExpressionField(spec: unknown, visitField: (f: ExpressionField) => void): void {
  const root = connectorSchema();
  const defs = root.$defs as Record<string, Schema>;
  const deref = (s: Schema): Schema => {
    let cur = s;
    const seen = new Set<string>();
    while (typeof cur.$ref === 'string' && !seen.has(cur.$ref)) {
      seen.add(cur.$ref);
      cur = { ...defs[(cur.$ref as string).replace('#/$defs/', '')]!, ...Object.fromEntries(Object.entries(cur).filter(([k]) => k !== '$ref')) };
    }
    return cur;
  };
  const kindOf = (s: Schema): 'expression' | 'template' | undefined => {
    const r = s.$ref;
    if (r === '#/$defs/expression') return 'expression';
    if (r === '#/$defs/template' || r === '#/$defs/template_string') return 'template';
    return undefined;
  };
  const visit = (value: unknown, schema: Schema, pointer: string, set: (v: unknown) => void) => {
    const kind = kindOf(schema);
    if (kind) return visitField({ pointer, kind, value, set });
    const s = deref(schema);
    if (Array.isArray(s.oneOf)) {
      // Discriminated unions: follow the branch named by `type`.
      const tag = (value as Record<string, unknown> | null)?.type;
      const branch = (s.oneOf as Schema[]).map(deref).find((b) => (b.properties as Record<string, Schema> | undefined)?.type?.const === tag);
      if (branch) visit(value, branch, pointer, set);
      return;
    }
    if (Array.isArray(value)) {
      if (s.items) value.forEach((v, i) => visit(v, s.items as Schema, pointerJoin(pointer, i), (nv) => (value[i] = nv)));
      return;
    }
    if (value && typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const [k, v] of Object.entries(obj)) {
        const sub = (Object.hasOwn(props, k) ? props[k] : undefined) ?? (typeof s.additionalProperties === 'object' ? (s.additionalProperties as Schema) : undefined);
        if (sub) visit(v, sub, pointerJoin(pointer, k), (nv) => Object.defineProperty(obj, k, { value: nv, enumerable: true, writable: true, configurable: true }));
      }
    }
  };
  visit(spec, root, '', () => {});
}
