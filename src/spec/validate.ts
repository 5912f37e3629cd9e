import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Diagnostic } from './diagnostics.ts';
import { connectorValidator } from './schemas.ts';
import { didYouMean } from './suggest.ts';
import { dottedPath, pointerJoin, positionOf, type SourceDocument } from './yaml-source.ts';

type SchemaNode = { properties?: Record<string, SchemaNode>; description?: string; enum?: unknown[]; const?: unknown; type?: string | string[] };

/** Checks a parsed document against a schema (the connector schema by default); one diagnostic per problem, at its key or value. */
export function validateAgainstSchema(src: SourceDocument, validate: ValidateFunction = connectorValidator()): Diagnostic[] {
  if (validate(src.value)) return [];
  const errors = (validate.errors ?? []) as ErrorObject[];
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  // Wrapper errors (oneOf/anyOf) are noise when a more specific error exists at or below the same path.
  const specific = errors.filter((e) => !['oneOf', 'anyOf', 'if'].includes(e.keyword));
  for (const e of errors) {
    if (['oneOf', 'anyOf', 'if'].includes(e.keyword) && specific.some((s) => s.instancePath.startsWith(e.instancePath))) continue;
    const d = toDiagnostic(src, e);
    if (!d) continue;
    const key = `${d.line}:${d.column}:${d.code}:${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

function toDiagnostic(src: SourceDocument, e: ErrorObject): Diagnostic | undefined {
  const parent = (e.parentSchema ?? {}) as SchemaNode;
  const where = dottedPath(e.instancePath);
  const at = (pointer: string, preferKey = false) => positionOf(src, pointer, preferKey);
  const make = (pointer: string, code: string, message: string, hint?: string, preferKey = false): Diagnostic => {
    const p = at(pointer, preferKey);
    return { file: src.file, line: p.line, column: p.column, code, message, hint, severity: 'error', path: dottedPath(pointer) };
  };
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys(parent.properties ?? {});
      return make(pointerJoin(e.instancePath, key), 'SCHEMA_UNKNOWN_PROPERTY', `unknown property \`${key}\` in ${where === '(root)' ? 'the spec' : `\`${where}\``}`, didYouMean(key, allowed) ?? (allowed.length ? `allowed here: ${allowed.join(', ')}` : undefined), true);
    }
    case 'required': {
      const key = String(params.missingProperty);
      const desc = parent.properties?.[key]?.description;
      return make(e.instancePath, 'SCHEMA_MISSING_PROPERTY', `${where === '(root)' ? 'the spec' : `\`${where}\``} is missing required property \`${key}\``, desc ? `${key}: ${desc}` : undefined, true);
    }
    case 'type': {
      const expected = String(params.type).replace(',', ' or ');
      const got = describe(e.data);
      const hint = expected === 'string' && (typeof e.data === 'number' || typeof e.data === 'boolean') ? `quote it: '${String(e.data)}'` : parent.description;
      return make(e.instancePath, 'SCHEMA_TYPE', `\`${where}\` must be ${article(expected)}, got ${got}`, hint);
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      return make(e.instancePath, 'SCHEMA_ENUM', `\`${where}\` must be one of ${allowed.join(', ')}; got ${describe(e.data)}`, typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined);
    }
    case 'const':
      return make(e.instancePath, 'SCHEMA_CONST', `\`${where}\` must be ${JSON.stringify(params.allowedValue)}; got ${describe(e.data)}`, parent.description);
    case 'discriminator': {
      const tag = String(params.tag);
      const allowed = (parent.properties?.[tag]?.enum ?? []).map(String);
      const value = (e.data as Record<string, unknown> | undefined)?.[tag];
      const pointer = pointerJoin(e.instancePath, tag);
      if (value === undefined) return make(e.instancePath, 'SCHEMA_MISSING_PROPERTY', `\`${where}\` is missing required property \`${tag}\``, `one of: ${allowed.join(', ')}`, true);
      return make(pointer, 'SCHEMA_ENUM', `\`${dottedPath(pointer)}\` must be one of ${allowed.join(', ')}; got ${describe(value)}`, typeof value === 'string' ? didYouMean(value, allowed) : undefined);
    }
    case 'pattern': {
      if (e.propertyName !== undefined) {
        const pointer = pointerJoin(e.instancePath, e.propertyName);
        return make(pointer, 'SCHEMA_PATTERN', `name \`${e.propertyName}\` in \`${where}\` must match ${String(params.pattern)}`, 'use lowercase letters, digits and underscores', true);
      }
      return make(e.instancePath, 'SCHEMA_PATTERN', `\`${where}\` must match ${String(params.pattern)}; got ${describe(e.data)}`, parent.description);
    }
    case 'propertyNames':
      return undefined; // reported by the nested error (`pattern`, `not`) with the property name
    case 'not':
      if (e.propertyName !== undefined) {
        const pointer = pointerJoin(e.instancePath, e.propertyName);
        return make(pointer, 'SCHEMA_NAME', `name \`${e.propertyName}\` is not allowed in \`${where}\``, parent.description, true);
      }
      return make(e.instancePath, 'SCHEMA_INVALID', `\`${where}\` ${e.message ?? 'is invalid'}`, parent.description);
    case 'format':
      return make(e.instancePath, 'SCHEMA_FORMAT', `\`${where}\` must be a valid ${String(params.format)}; got ${describe(e.data)}`, parent.description);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'minLength':
    case 'maxLength':
    case 'minItems':
    case 'maxItems':
    case 'minProperties':
      return make(e.instancePath, 'SCHEMA_RANGE', `\`${where}\` ${e.message ?? 'is out of range'}`, parent.description);
    default:
      return make(e.instancePath, 'SCHEMA_INVALID', `\`${where}\` ${e.message ?? 'is invalid'}`, parent.description);
  }
}

function article(t: string): string {
  return /^(integer|object|array)/.test(t) ? `an ${t}` : `a ${t}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}
