/**
 * schemas/config.schema.json: the one description of the configuration file's keys. The loader validates the
 * parsed file against it (ajv, strict), the README's configuration table is generated from it
 * (scripts/gen-config-reference.ts), and editors complete the file through its `$schema` key.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { TaxbridgeError } from '../errors.ts';
import { own } from '../own.ts';
import { createAjv, SCHEMAS_DIR } from '../spec/schemas.ts';

/** The annotations the schema carries besides JSON Schema's own keywords. */
export const CONFIG_SCHEMA_ANNOTATIONS = ['x-flag', 'x-env', 'x-must', 'x-default', 'x-refused', 'x-environment-only', 'x-meta'] as const;

export interface ConfigPropertySchema {
  title?: string;
  description: string;
  default?: unknown;
  type?: string;
  properties?: Record<string, ConfigPropertySchema>;
  additionalProperties?: boolean | ConfigPropertySchema;
  'x-flag'?: string;
  'x-env'?: string;
  'x-must'?: string;
  'x-default'?: string;
  'x-refused'?: Record<string, string>;
  'x-meta'?: boolean;
}

export interface ConfigSchema extends ConfigPropertySchema {
  properties: Record<string, ConfigPropertySchema>;
  'x-environment-only': { title: string; flag?: string; env: string; default: string }[];
}

export const CONFIG_SCHEMA_FILE = join(SCHEMAS_DIR, 'config.schema.json');

let schema: ConfigSchema | undefined;
let validate: ValidateFunction | undefined;

export function configSchema(): ConfigSchema {
  schema ??= JSON.parse(readFileSync(CONFIG_SCHEMA_FILE, 'utf8')) as ConfigSchema;
  return schema;
}

/** The compiled validator (strict ajv, the project's options, the annotations declared as vocabulary). */
export function configValidator(): ValidateFunction {
  if (!validate) {
    const ajv = createAjv();
    ajv.addVocabulary([...CONFIG_SCHEMA_ANNOTATIONS]);
    validate = ajv.compile(configSchema());
  }
  return validate;
}

function configError(message: string, hint?: string): TaxbridgeError {
  return new TaxbridgeError('CONFIG_INVALID', message, { hint });
}

/** JSON pointer segments -> `alerts.urls[0]`-style key path. */
function keyPath(pointer: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

const clip = (v: unknown): string => {
  const s = typeof v === 'object' && v !== null ? (Array.isArray(v) ? 'a list' : 'an object') : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

/** One ajv error as the loader's messages say it: the file, the key, what it must be, and why secrets are refused. */
function describe(e: ErrorObject, file: string): TaxbridgeError {
  const where = keyPath(e.instancePath);
  const parent = e.parentSchema as ConfigPropertySchema | undefined;
  if (e.keyword === 'additionalProperties') {
    const key = String((e.params as { additionalProperty: string }).additionalProperty);
    const refused = parent?.['x-refused'] && own(parent['x-refused'], key);
    const at = where ? `${file}: ${where}` : file;
    if (refused) return configError(`${at}: "${key}" does not belong in a configuration file`, refused);
    return configError(`${at}: unknown key "${key.slice(0, 50)}"`, `known keys: ${Object.keys(parent?.properties ?? {}).join(', ')}`);
  }
  if (e.keyword === 'propertyNames') {
    const name = String((e.params as { propertyName: string }).propertyName);
    return configError(`${file}: ${where}: "${name.slice(0, 50)}" is not a connector name`, 'lower case letters, digits and _, 2 to 40 characters');
  }
  if (e.keyword === 'maxProperties') return configError(`${file}: ${where} has too many entries (${e.message ?? ''})`);
  // A value error: the property's own schema says what it must be (x-must), else ajv's message.
  const must = (e.schemaPath.includes('/items/') ? undefined : parent?.['x-must']) ?? e.message ?? 'valid';
  return configError(`${file}: ${where} must be ${must.replace(/^must be /, '')}, got ${clip(e.data)}`);
}

/** The deepest the file's JSON may nest (it needs 4: oauth.<name>.<key>); checked without recursion. */
export const MAX_CONFIG_DEPTH = 8;

/** The key path of the first value nested deeper than `max`, if any (iterative: a hostile depth cannot overflow the stack). */
function tooDeep(root: unknown, max: number): string | undefined {
  const stack: [unknown, string, number][] = [[root, '', 0]];
  while (stack.length) {
    const [v, at, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return at;
    for (const [k, c] of Object.entries(v)) stack.push([c, Array.isArray(v) ? `${at}[${k}]` : at ? `${at}.${k.slice(0, 50)}` : k.slice(0, 50), depth + 1]);
  }
  return undefined;
}

/** Refuses a parsed configuration file that does not match the schema, naming the file and the key. */
export function checkConfigFile(parsed: unknown, file: string): void {
  const deep = tooDeep(parsed, MAX_CONFIG_DEPTH);
  if (deep !== undefined) throw configError(`${file}: ${deep} nests deeper than ${MAX_CONFIG_DEPTH} levels; no setting does`);
  const v = configValidator();
  if (v(parsed)) return;
  const errors = v.errors ?? [];
  // Key errors (unknown or refused keys) first: they explain the others.
  const first = errors.find((e) => e.keyword === 'additionalProperties') ?? errors.find((e) => e.keyword === 'propertyNames') ?? errors.find((e) => !e.schemaPath.includes('/propertyNames/')) ?? errors[0];
  if (!first) throw configError(`${file} does not match schemas/config.schema.json`);
  throw describe(first, file);
}
