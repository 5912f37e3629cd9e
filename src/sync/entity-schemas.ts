import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { SCHEMAS_DIR } from '../spec/index.ts';

type AddFormats = (ajv: Ajv2020) => void;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

/**
 * Validators of the canonical entity schemas, compiled once per process. Not strict: a stray keyword in an
 * entity schema must not stop imports (schema linting is `taxbridge validate`'s job, not the sync's).
 */
export function entitySchemaValidator(entity: string): ValidateFunction {
  let v = validators.get(entity);
  if (v) return v;
  if (!ajv) {
    ajv = new Ajv2020({ allErrors: true, strict: false, allowUnionTypes: true });
    addFormats(ajv);
    const dir = join(SCHEMAS_DIR, 'entities');
    for (const f of readdirSync(dir)) if (f.endsWith('.schema.json')) ajv.addSchema(JSON.parse(readFileSync(join(dir, f), 'utf8')) as object);
  }
  v = ajv.getSchema(`https://taxbridge.dev/schemas/entities/${entity}.schema.json`);
  if (!v) throw new Error(`no entity schema for ${entity} in ${dir()}`);
  validators.set(entity, v);
  return v;
}

function dir(): string {
  return join(SCHEMAS_DIR, 'entities');
}

/** "lines/0/amount must match pattern ..." for the first few errors. */
export function describeSchemaErrors(errors: ErrorObject[] | null | undefined, max = 3): string {
  if (!errors?.length) return 'does not match its entity schema';
  const parts = errors.slice(0, max).map((e) => {
    let at = e.instancePath.replace(/^\//, '') || '(record)';
    if (e.keyword === 'required') at = `${at === '(record)' ? '' : `${at}/`}${(e.params as { missingProperty: string }).missingProperty}`;
    if (e.keyword === 'additionalProperties') return `${at}: unexpected property ${(e.params as { additionalProperty: string }).additionalProperty}`;
    if (e.keyword === 'required') return `${at} is required`;
    return `${at} ${e.message ?? 'is invalid'}`;
  });
  return parts.join('; ') + (errors.length > max ? ` (+${errors.length - max} more)` : '');
}
