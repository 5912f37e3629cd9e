/**
 * The tax API's wire shapes, each written once as JSON Schema under schemas/tax-api/ (calculate_tax request and
 * response, the calculation lifecycle, exports), and what is built from them: the OpenAPI components of
 * /openapi.json (src/server/openapi.ts), compiled ajv validators (tests check every answer against them), and
 * the TypeScript types in ./api-types.generated.ts (scripts/gen-tax-api-types.ts; `npm test` fails on drift).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { packagePath } from '../package-root.ts';

type Json = Record<string, unknown>;
type AddFormats = (ajv: Ajv2020) => void;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

export const TAX_API_SCHEMA_DIR = packagePath('schemas', 'tax-api');

/** The schema files by stem ("calculate_tax_request"), parsed once. */
export const TAX_API_SCHEMAS: ReadonlyMap<string, Readonly<Json>> = new Map(
  readdirSync(TAX_API_SCHEMA_DIR)
    .filter((f) => f.endsWith('.schema.json'))
    .sort()
    .map((f) => [f.slice(0, -'.schema.json'.length), JSON.parse(readFileSync(join(TAX_API_SCHEMA_DIR, f), 'utf8')) as Json]),
);

const pascal = (s: string): string => s.replace(/(^|_)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());

/** The component name of a schema file (its root) or of one of its $defs. */
export function componentName(stem: string, def?: string): string {
  const base = pascal(stem);
  if (!def) return base;
  // Files made only of $defs (lifecycle, export) name their parts after the file: ExportRequest, CalculationLifecycleRefundRequest.
  return `${base}${pascal(def)}`;
}

/** Schema files (by stem) and their $defs as OpenAPI 3.1 components, $refs rewritten to #/components/schemas/... */
function toComponents(files: ReadonlyMap<string, Readonly<Json>>, name: (stem: string, def?: string) => string, where: string): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [stem, schema] of files) {
    const rewrite = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(rewrite);
      if (!v || typeof v !== 'object') return v;
      const o: Json = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') {
          const m = /^(?:([a-z_]+)\.schema\.json)?(?:#\/\$defs\/([a-z_0-9]+))?$/.exec(x);
          if (!m) throw new Error(`${where}/${stem}.schema.json: unsupported $ref ${x}`);
          o[k] = `#/components/schemas/${name(m[1] ?? stem, m[2])}`;
        } else o[k] = rewrite(x);
      }
      return o;
    };
    const { $schema: _s, $id: _i, $defs, ...root } = schema as Json;
    if (root.type !== undefined || root.properties !== undefined) out[name(stem)] = rewrite(root) as Json;
    for (const [d, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) out[name(stem, d)] = rewrite(def) as Json;
  }
  return out;
}

/** The tax API's schema files as OpenAPI components (CalculateTaxRequest, CalculateTaxResponseLine, ExportRequest, ...). */
export function openApiTaxComponents(): Record<string, Json> {
  return toComponents(TAX_API_SCHEMAS, componentName, 'schemas/tax-api');
}

const ENTITY_DIR = packagePath('schemas', 'entities');

/** The stored entities (schemas/entities/, the admin API's organizations, registrations ...) as components named Entity<Name>[<Def>]. */
export function openApiEntityComponents(): Record<string, Json> {
  const files = new Map(
    readdirSync(ENTITY_DIR)
      .filter((f) => f.endsWith('.schema.json'))
      .sort()
      .map((f) => [f.slice(0, -'.schema.json'.length), JSON.parse(readFileSync(join(ENTITY_DIR, f), 'utf8')) as Json] as const),
  );
  return toComponents(files, (stem, def) => `Entity${componentName(stem, def)}`, 'schemas/entities');
}

let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

/** One ajv for the tax API's schemas; errors carry the value and schema at fault (`verbose`) for ./schema-errors.ts. */
function getAjv(): Ajv2020 {
  if (!ajv) {
    ajv = new Ajv2020({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true });
    addFormats(ajv);
    for (const s of TAX_API_SCHEMAS.values()) ajv.addSchema(s as Json);
  }
  return ajv;
}

/**
 * A compiled validator of a variant of a schema file (the same file with other limits, e.g. a configured
 * line-item cap): `variant` says what differs and makes the variant's $id; compiled once per variant.
 */
export function taxApiVariantValidator(stem: string, variant: string, schema: Readonly<Json>): ValidateFunction {
  const key = `${stem}?${variant}`;
  let v = validators.get(key);
  if (!v) {
    v = getAjv().compile({ ...schema, $id: `https://taxbridge.dev/schemas/tax-api/${stem}.schema.json?${variant}` });
    validators.set(key, v);
  }
  return v;
}

/** A compiled validator of a schema file's root or of one of its $defs. */
export function taxApiValidator(stem: string, def?: string): ValidateFunction {
  const key = `${stem}#${def ?? ''}`;
  let v = validators.get(key);
  if (!v) {
    const id = `https://taxbridge.dev/schemas/tax-api/${stem}.schema.json${def ? `#/$defs/${def}` : ''}`;
    v = getAjv().getSchema(id);
    if (!v) throw new Error(`no tax API schema ${id}`);
    validators.set(key, v);
  }
  return v;
}
