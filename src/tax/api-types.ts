/**
 * Sphere's Tax API on the wire (docs.getsphere.com, "Tax calculation"), as billing systems send and read it:
 * the names the code uses for the types generated from schemas/tax-api/ (./api-types.generated.ts, by
 * scripts/gen-tax-api-types.ts). The schemas are the one definition; nothing here is a second copy.
 */
import type {
  CalculateTaxRequest,
  CalculateTaxRequestAddress,
  CalculateTaxResponse,
  CalculateTaxResponseLine,
  CalculateTaxResponseTaxAmount,
  CalculateTaxResponseTaxabilityReason,
} from './api-types.generated.ts';

export type SphereAddress = NonNullable<CalculateTaxRequestAddress>;
export type SphereCalculateRequest = CalculateTaxRequest;
export type SphereLineItem = CalculateTaxRequest['line_items'][number];
export type TaxabilityReason = CalculateTaxResponseTaxabilityReason;
export type SphereTaxAmount = CalculateTaxResponseTaxAmount;
export type SphereTaxRate = CalculateTaxResponseTaxAmount['tax_rate'];
export type SphereLineResult = CalculateTaxResponseLine;
export type SphereCalculateResponse = CalculateTaxResponse;
