import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/** The project's JSON Schemas, compiled once per process with one ajv instance. */
export const SCHEMAS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schemas');

type AddFormats = (ajv: Ajv2020) => void;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

let ajv: Ajv2020 | undefined;
let connector: ValidateFunction | undefined;
const entities = new Map<string, ValidateFunction>();

export function getAjv(): Ajv2020 {
  if (ajv) return ajv;
  // verbose: errors carry the failing schema (for "did you mean" over allowed keys and values).
  ajv = new Ajv2020({ allErrors: true, verbose: true, discriminator: true, strict: true, strictRequired: false, allowUnionTypes: true });
  addFormats(ajv);
  for (const f of readdirSync(join(SCHEMAS_DIR, 'entities'))) {
    if (f.endsWith('.schema.json')) ajv.addSchema(readJson(join(SCHEMAS_DIR, 'entities', f)));
  }
  return ajv;
}

export function connectorSchema(): Record<string, unknown> {
  return readJson(join(SCHEMAS_DIR, 'connector.schema.json'));
}

export function connectorValidator(): ValidateFunction {
  connector ??= getAjv().compile(connectorSchema());
  return connector;
}

let specTest: ValidateFunction | undefined;

/** Validator for spec test files (schemas/spec-test.schema.json). */
export function specTestValidator(): ValidateFunction {
  specTest ??= getAjv().compile(readJson(join(SCHEMAS_DIR, 'spec-test.schema.json')));
  return specTest;
}

/** Validator for a canonical entity (schemas/entities/<name>.schema.json). */
export function entityValidator(name: string): ValidateFunction {
  let v = entities.get(name);
  if (!v) {
    const found = getAjv().getSchema(`https://taxbridge.dev/schemas/entities/${name}.schema.json`);
    if (!found) throw new Error(`no entity schema named ${name}`);
    v = found;
    entities.set(name, v);
  }
  return v;
}

export function entityNames(): string[] {
  return readdirSync(join(SCHEMAS_DIR, 'entities'))
    .filter((f) => f.endsWith('.schema.json') && f !== 'common.schema.json')
    .map((f) => f.replace('.schema.json', ''));
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}
