/**
 * Product tax codes an organization can assign (as its default or per product):
 *
 * - `saas`: software as a service / digital subscriptions. US: per the state taxability table (Texas 80 %
 *   taxable, California exempt, ...). Elsewhere: standard-rated VAT/GST of the customer's country; Canadian
 *   PST/QST only in provinces that tax digital services.
 * - `general`: general tangible goods. US: taxable at the full rate; elsewhere standard-rated.
 * - `services_nontaxable`: services most US states do not tax (consulting, professional services); outside
 *   the US standard-rated (VAT/GST apply to services).
 * - `exempt`: never taxed anywhere (reason `product_exempt`).
 */
export const TAX_CODES = ['saas', 'general', 'services_nontaxable', 'exempt'] as const;
export type TaxCode = (typeof TAX_CODES)[number];

export function normalizeTaxCode(code: unknown): TaxCode | undefined {
  if (typeof code !== 'string') return undefined;
  const c = code.trim().toLowerCase();
  return (TAX_CODES as readonly string[]).includes(c) ? (c as TaxCode) : undefined;
}
