/** Customer VAT/GST ids: format and check digits, optional registry confirmation (VIES, HMRC), status. */
export { parseTaxId, type ParsedTaxId } from './parse.ts';
export { TAX_ID_RULES } from './checksums.ts';
export { HmrcRegistry, ViesRegistry, type RegistryAnswer, type VatRegistry } from './registry.ts';
export { TaxIdVerifier, type TaxIdCheck, type TaxIdStatus, type TaxIdVerifierOptions } from './verifier.ts';
export { decideTaxId, type TaxIdDecision, type TaxIdWarning } from './decide.ts';
export { taxIdVerifierFromEnv } from './from-env.ts';
