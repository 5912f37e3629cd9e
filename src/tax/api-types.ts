/**
 * Sphere's Tax API on the wire (docs.getsphere.com, "Tax calculation"), as billing systems send and read it.
 * Amounts are integers in the currency's minor units; `percentage` is 6.0 for 6 %.
 */

export interface SphereAddress {
  address1?: string | null;
  address2?: string | null;
  city?: string | null;
  state?: string | null;
  postal_code?: string | null;
  country?: string | null;
}

export interface SphereLineItem {
  /** Echoed back; defaults to product_id. */
  id?: string | number;
  amount: number;
  product_id: string | number;
  discount_amount?: number;
  tax_inclusive?: boolean;
  ship_to?: SphereAddress;
  ship_from?: SphereAddress;
}

export interface SphereCalculateRequest {
  currency: string;
  line_items: SphereLineItem[];
  customer_address?: SphereAddress;
  customer_id?: string | number;
  tax_id?: string;
  tax_exempt?: boolean;
  include_taxability_reason?: boolean;
  ship_from?: SphereAddress;
  /** taxbridge extension: the date whose rates apply (YYYY-MM-DD); default today (UTC). `transaction_date` is an alias. */
  tax_date?: string;
  transaction_date?: string;
}

export type TaxabilityReason =
  | 'standard_rated'
  | 'reduced_rated'
  | 'taxable_basis_reduced'
  | 'product_exempt'
  | 'customer_exempt'
  | 'reverse_charge'
  | 'not_collecting'
  | 'not_subject_to_tax';

export interface SphereTaxRate {
  /** 6.25 for 6.25 %. */
  percentage: number;
  inclusive: boolean;
  display_name: string;
  jurisdiction: string;
  country: string;
  state?: string;
  tax_type: string;
  taxability_reason?: TaxabilityReason;
  /** taxbridge addition: how the rate was found (zip_table, city_table, county_table, sst_boundary, zip5_estimate, state_table, state_only, country_table, province_table). */
  rate_source?: string;
}

export interface SphereTaxAmount {
  amount: number;
  taxable_amount: number;
  tax_rate: SphereTaxRate;
}

export interface SphereLineResult {
  id: string | number;
  tax_amounts: SphereTaxAmount[];
  /**
   * taxbridge addition, present only with include_taxability_reason: why the line is taxed as it is, also when
   * `tax_amounts` is empty (customer_exempt, reverse_charge, not_collecting, product_exempt, not_subject_to_tax).
   */
  taxability_reason?: TaxabilityReason;
}

export interface SphereCalculateResponse {
  message: 'Tax calculated successfully';
  data: {
    lines: SphereLineResult[];
    sphere_tax_calculation_id: string;
    /** taxbridge addition: how the answer falls short of exact (local rates unknown or estimated, territory not taxed). */
    warnings: Array<{ code: string; message: string; param: string; place?: Record<string, string> }>;
    /** taxbridge addition, when a tax id was given: valid (registry-confirmed), invalid_format, not_registered or unverified. */
    tax_id_status?: 'valid' | 'invalid_format' | 'not_registered' | 'unverified';
  };
}
