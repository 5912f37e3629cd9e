/**
 * What a calculation makes of the customer's tax id (the request's `tax_id`, else a synced customer's
 * tax_ids) before the engine sees it: the engine reverse-charges on any tax id it is given, so an id that
 * must not count is taken away here, with a warning saying why.
 *
 *   valid                        kept (reverse charge where the engine's rules say so)
 *   unverified                   kept under the organization's `unverified_tax_ids: reverse_charge` (default),
 *                                removed under `tax`; a `tax_id_unverified` warning either way
 *   invalid_format / not_registered  removed (taxed as a consumer), warning `tax_id_invalid`
 *
 * A synced customer whose tax_status is `reverse_charge` is an explicit choice in the billing system and
 * stays so.
 */
import type { CustomerInfo } from '../engine.ts';
import type { Organization } from '../model.ts';
import { normalizeCountry } from '../geo.ts';
import type { NormalizedRequest } from '../calculate-request.ts';
import { TaxIdVerifier, type TaxIdCheck } from './verifier.ts';

export interface TaxIdWarning {
  code: 'tax_id_invalid' | 'tax_id_unverified';
  message: string;
  param: string;
}

export interface TaxIdDecision {
  req: NormalizedRequest;
  customer: CustomerInfo | undefined;
  check: TaxIdCheck;
  warning?: TaxIdWarning;
}

/** undefined when there is no tax id to decide on (the common case: no work at all). */
export async function decideTaxId(
  req: NormalizedRequest,
  customer: CustomerInfo | undefined,
  org: Organization,
  verifier: TaxIdVerifier | undefined,
  /** A status decided before (a credit note takes its invoice's buyer status as it was). */
  known?: TaxIdCheck,
): Promise<TaxIdDecision | undefined> {
  const raw = req.tax_id ?? customer?.tax_ids?.[0]?.value;
  if (raw === undefined) return undefined;
  const param = req.tax_id !== undefined ? 'tax_id' : `customer ${customer!.id} tax_ids[0]`;
  const country = normalizeCountry(req.customer_address?.country ?? customer?.address?.country ?? '') ?? undefined;
  const check = known ?? (verifier ? await verifier.check(raw, country) : TaxIdVerifier.offline(raw, country));
  const shown = JSON.stringify(raw.slice(0, 40));
  const drop = (): Pick<TaxIdDecision, 'req' | 'customer'> => ({
    req: { ...req, tax_id: undefined },
    customer: customer ? { ...customer, tax_ids: undefined } : undefined,
  });
  if (check.status === 'valid') return { req, customer, check };
  if (check.status === 'unverified') {
    const trust = (org.unverified_tax_ids ?? 'reverse_charge') === 'reverse_charge';
    const warning: TaxIdWarning = {
      code: 'tax_id_unverified',
      message: `tax id ${shown} is well formed but not confirmed (${check.reason ?? 'no registry answer'}); ${trust ? 'treated as a business (the organization trusts unverified tax ids)' : 'taxed as a consumer (the organization taxes unverified tax ids)'}`,
      param,
    };
    return trust ? { req, customer, check, warning } : { ...drop(), check, warning };
  }
  return {
    ...drop(),
    check,
    warning: { code: 'tax_id_invalid', message: `${check.reason ?? `tax id ${shown} is not valid`}: taxed as a consumer, no reverse charge`, param },
  };
}
