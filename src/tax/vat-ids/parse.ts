/**
 * A customer's tax id as sent (`tax_id`: "DE 136.695.976", "CHE-116.281.710 MWST", "51 824 753 556") into its
 * issuing country and compact number, checked against that country's format and check digits
 * (./checksums.ts). The country comes from the id's own prefix when it has one (EL = Greece, XI = Northern
 * Ireland, CHE = Switzerland), else from the customer's country (AU ABNs and Indian GSTINs carry none).
 */
import { TAX_ID_RULES } from './checksums.ts';

export interface ParsedTaxId {
  /** The id's scheme country as VIES spells it (EL, XI) or ISO alpha-2 (GB, NO, CH, AU, IN ...). */
  scheme: string;
  /** Compact number without the country prefix. */
  number: string;
  /** true: format and check digits hold; false: they do not; undefined: taxbridge has no rule for the country. */
  wellFormed: boolean | undefined;
}

/** ISO country -> VAT prefix where they differ. */
const PREFIX_OF: Record<string, string> = { GR: 'EL' };

export function parseTaxId(raw: string, customerCountry: string | undefined): ParsedTaxId {
  const compact = raw.toUpperCase().replace(/[\s.\-/,:()]/g, '');
  let scheme: string | undefined;
  let number = compact;
  if (compact.startsWith('CHE')) {
    scheme = 'CH';
    number = compact;
  } else {
    const p = compact.slice(0, 2);
    const asPrefix = PREFIX_OF[p] ?? p;
    if (/^[A-Z]{2}$/.test(p) && TAX_ID_RULES.has(asPrefix) && asPrefix !== 'IN' && asPrefix !== 'AU') {
      scheme = asPrefix;
      number = compact.slice(2);
    }
  }
  if (!scheme) {
    const c = customerCountry ? (PREFIX_OF[customerCountry] ?? customerCountry) : undefined;
    scheme = c ?? compact.slice(0, 2);
  }
  const rule = TAX_ID_RULES.get(scheme);
  if (!rule) return { scheme, number, wellFormed: compact.length >= 4 && compact.length <= 40 && /^[A-Z0-9]+$/.test(compact) ? undefined : false };
  return { scheme, number, wellFormed: rule(number) };
}
