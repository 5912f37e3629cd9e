/**
 * The tax engine as write-back uses it: calculate for an organization (no API key involved) from a
 * Sphere-shaped request, with the synced customer and the synced products' tax codes of the document's
 * connection. Built on the engine's pure functions; the organization comes from the TaxService's index
 * (kept current by the admin API) or the store.
 */
import { randomUUID } from 'node:crypto';
import { TaxbridgeError } from '../errors.ts';
import { percentToFraction, type Rational } from '../money/index.ts';
import type { CalculateTaxRequest as SphereCalculateRequest } from '../tax/api-types.generated.ts';
import { buildOrgView, calculate, type CustomerInfo, type EngineResult } from '../tax/engine.ts';
import { todayUtc } from '../tax/geo.ts';
import type { Organization, ProductTaxCode } from '../tax/model.ts';
import type { TaxData } from '../tax/rates/index.ts';
import { validateCalculateRequest } from '../tax/calculate-request.ts';

export interface WritebackCalculation {
  calculation_id: string;
  tax_date: string;
  currency: string;
  result: EngineResult;
  /** Share of each line's net amount that is taxable (1 unless a state taxes part of the price), by line index. */
  shares: Rational[];
  organization: Organization;
}

export interface WritebackTaxEngine {
  calculate(input: {
    organizationId: string;
    request: SphereCalculateRequest;
    customer?: CustomerInfo;
    /** Tax codes of the connection's synced products, used where the organization set none. */
    productCodes?: Map<string, string>;
    connectionId: string;
  }): Promise<WritebackCalculation>;
}

export interface OrganizationSource {
  /** The organization, or undefined when it does not exist. */
  organization(id: string): Promise<Organization | undefined>;
}

const ONE: Rational = { n: 1n, d: 1n };

/** A write-back engine over rate data and an organization source (e.g. a TaxService). */
export function createWritebackTaxEngine(opts: { data: TaxData; organizations: OrganizationSource; now?: () => Date }): WritebackTaxEngine {
  return {
    async calculate({ organizationId, request, customer, productCodes, connectionId }) {
      const org = await opts.organizations.organization(organizationId);
      if (!org) throw new TaxbridgeError('WRITEBACK_ORGANIZATION_UNKNOWN', `organization ${organizationId} of connection ${connectionId} does not exist`);
      const req = validateCalculateRequest(request);
      const extra: ProductTaxCode[] = [];
      if (productCodes) {
        const have = new Set(org.product_tax_codes.map((p) => p.product_id));
        const at = new Date(0).toISOString();
        for (const line of req.lines) {
          const code = productCodes.get(line.product_id);
          if (code && !have.has(line.product_id)) {
            extra.push({ product_id: line.product_id, connection_id: connectionId, tax_code: code, updated_at: at });
            have.add(line.product_id);
          }
        }
      }
      // Codes the organization set for products of another connection do not apply here.
      const own = org.product_tax_codes.filter((p) => !p.connection_id || p.connection_id === connectionId);
      const view = buildOrgView({ ...org, product_tax_codes: [...own, ...extra] });
      const taxDate = req.tax_date ?? todayUtc(opts.now?.() ?? new Date());
      const result = calculate({ req, view, data: opts.data, taxDate, customer });
      const shares = result.lines.map((l) => {
        if (l.reason !== 'taxable_basis_reduced' || !l.state) return ONE;
        return percentToFraction(opts.data.usTaxability(l.state, l.taxCode, taxDate).taxable_percent);
      });
      return { calculation_id: `calc_wb_${randomUUID().replace(/-/g, '')}`, tax_date: taxDate, currency: req.currency, result, shares, organization: org };
    },
  };
}
