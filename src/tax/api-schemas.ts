/**
 * The tax API's wire shapes, each written once as JSON Schema under schemas/tax-api/ (calculate_tax request and
 * response, the calculation lifecycle, exports), as src/wire-schemas.ts loads them: their validators (tests
 * check every answer against them) and the TypeScript types in ./api-types.generated.ts.
 */
import type { ValidateFunction } from 'ajv';
import { WIRE_SCHEMAS, wireValidator, wireVariantValidator, type Json } from '../wire-schemas.ts';

/** The schema files by stem ("calculate_tax_request"), parsed once. */
export const TAX_API_SCHEMAS: ReadonlyMap<string, Readonly<Json>> = WIRE_SCHEMAS['tax-api'];

/** A variant of a schema file with other limits (a configured line-item cap), compiled once per variant. */
export function taxApiVariantValidator(stem: string, variant: string, schema: Readonly<Json>): ValidateFunction {
  return wireVariantValidator('tax-api', stem, variant, schema);
}

/** A compiled validator of a schema file's root or of one of its $defs. */
export function taxApiValidator(stem: string, def?: string): ValidateFunction {
  return wireValidator('tax-api', stem, def);
}
