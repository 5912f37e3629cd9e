/**
 * US territories without a sales tax a seller collects from the buyer: answered explicitly (zero tax,
 * `not_subject_to_tax`, and a warning saying why), never silently. Puerto Rico is not here: its IVU is in
 * us-states.yaml (commonwealth 10.5 %) and us-places.yaml (municipal 1 %).
 */
export interface TerritoryRule {
  name: string;
  /** Why no tax is charged to the buyer. */
  reason: string;
  source: string;
}

export const TERRITORIES_WITHOUT_SALES_TAX: ReadonlyMap<string, TerritoryRule> = new Map([
  ['GU', { name: 'Guam', reason: "Guam has no sales tax; its 5% Business Privilege Tax is a gross receipts tax on the seller, not collected from the buyer", source: 'Guam Department of Revenue and Taxation notice on P.L. 34-87 (shared/research/tax-rules.md §3)' }],
  ['VI', { name: 'U.S. Virgin Islands', reason: 'the U.S. Virgin Islands have no sales tax; the 5% gross receipts tax falls on the seller, not the buyer', source: 'USVI Bureau of Internal Revenue (shared/research/tax-rules.md §3)' }],
]);

/** Territories taxbridge has no tax data for: refused with a clear error rather than guessed. */
export const TERRITORIES_UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['AS', 'American Samoa'],
  ['MP', 'Northern Mariana Islands'],
]);
