/**
 * A stored canonical invoice or credit note as a Sphere-shaped tax request: its lines in minor units, the
 * customer's address from the document or else from the synced customer, the customer's tax status, and the
 * tax codes of the synced products. Negative lines (credits written as negative amounts) are sent as their
 * absolute value and flipped back afterwards.
 */
import { TaxbridgeError } from '../errors.ts';
import { minorToJson, normalizeCurrency, parseAmount } from '../money/index.ts';
import type { CalculateTaxRequest as SphereCalculateRequest, CalculateTaxRequestAddress } from '../tax/api-types.generated.ts';

type SphereAddress = NonNullable<CalculateTaxRequestAddress>;
import type { CustomerInfo } from '../tax/engine.ts';
import { normalizeTaxCode } from '../tax/tax-codes.ts';
import type { StoredEntity } from '../store/types.ts';

export interface DocumentTaxRequest {
  request: SphereCalculateRequest;
  customer?: CustomerInfo;
  productCodes: Map<string, string>;
  /** Line ids whose amounts were negative (their tax is negated back). */
  negated: Set<string>;
}

type Rec = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** A synced address in the request's field names, every value text (the request also takes numbers). */
type TextAddress = { [K in keyof SphereAddress]?: string };

function sphereAddress(a: unknown): TextAddress | undefined {
  if (!a || typeof a !== 'object') return undefined;
  const r = a as Rec;
  const out: TextAddress = { address1: str(r.line1), address2: str(r.line2), city: str(r.city), state: str(r.state), postal_code: str(r.postal_code), country: str(r.country) };
  return out.country || out.postal_code || out.state ? out : undefined;
}

export class DocumentTaxError extends TaxbridgeError {}

function minor(v: unknown, currency: string, what: string): bigint {
  if (v === undefined || v === null || v === '') return 0n;
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string') throw new DocumentTaxError('WRITEBACK_DOCUMENT_INVALID', `${what} is not a decimal amount`);
  try {
    return parseAmount(s, currency, 'half_up');
  } catch {
    throw new DocumentTaxError('WRITEBACK_DOCUMENT_INVALID', `${what} ${JSON.stringify(s.slice(0, 40))} is not a decimal amount`);
  }
}

export function customerInfoOf(connectionId: string, e: StoredEntity | undefined): CustomerInfo | undefined {
  if (!e || e.deleted) return undefined;
  const d = e.data as Rec;
  const info: CustomerInfo = { id: e.external_id, connection_id: connectionId };
  const a = sphereAddress(d.address);
  if (a) info.address = { line1: a.address1 ?? undefined, line2: a.address2 ?? undefined, city: a.city ?? undefined, state: a.state ?? undefined, postal_code: a.postal_code ?? undefined, country: a.country ?? undefined };
  if (d.tax_status === 'taxed' || d.tax_status === 'exempt' || d.tax_status === 'reverse_charge') info.tax_status = d.tax_status;
  if (Array.isArray(d.tax_ids)) {
    const ids = d.tax_ids.filter((t): t is { type?: string; value: string } => !!t && typeof t === 'object' && typeof (t as Rec).value === 'string' && (t as { value: string }).value.trim() !== '');
    if (ids.length) info.tax_ids = ids;
  }
  return info;
}

export function documentTaxRequest(input: {
  connectionId: string;
  document: Rec;
  customer?: StoredEntity;
  products: Map<string, StoredEntity>;
}): DocumentTaxRequest {
  const doc = input.document;
  const currency = normalizeCurrency(String(doc.currency ?? ''));
  if (!currency) throw new DocumentTaxError('WRITEBACK_DOCUMENT_INVALID', `document ${String(doc.external_id)} has no valid currency (${JSON.stringify(doc.currency)})`);
  const lines = Array.isArray(doc.lines) ? (doc.lines as Rec[]) : [];
  if (lines.length === 0) throw new DocumentTaxError('WRITEBACK_DOCUMENT_INVALID', `document ${String(doc.external_id)} has no lines`);
  const negated = new Set<string>();
  const productCodes = new Map<string, string>();
  const line_items = lines.map((l, i) => {
    const id = str(l.external_id) ?? String(i);
    // Canonical `amount` is already net of discounts (the taxable base); discount_amount is informational.
    let amount = minor(l.amount, currency, `line ${id} amount`);
    if (amount < 0n) {
      negated.add(id);
      amount = -amount;
    }
    const productId = str(l.product_external_id) ?? `line:${id}`;
    const product = input.products.get(productId);
    const code = product && !product.deleted ? normalizeTaxCode((product.data as Rec).tax_code) : undefined;
    if (code) productCodes.set(productId, code);
    return {
      id,
      amount: minorToJson(amount),
      product_id: productId,
      ...(l.tax_inclusive === true ? { tax_inclusive: true } : {}),
    };
  });
  const customer = customerInfoOf(input.connectionId, input.customer);
  if (customer && doc.customer_tax_status === 'reverse_charge') customer.tax_status = 'reverse_charge';
  const request: SphereCalculateRequest = {
    currency: currency.toLowerCase(),
    line_items,
    include_taxability_reason: true,
    ...(sphereAddress(doc.customer_address) ? { customer_address: sphereAddress(doc.customer_address) } : {}),
    ...(str(doc.customer_external_id) ? { customer_id: str(doc.customer_external_id) } : {}),
    ...(str(doc.customer_tax_id) ? { tax_id: str(doc.customer_tax_id) } : {}),
    ...(doc.customer_tax_status === 'exempt' ? { tax_exempt: true } : {}),
    ...(str(doc.issue_date) ? { tax_date: str(doc.issue_date) } : {}),
  };
  return { request, customer: customer ?? (doc.customer_tax_status === 'reverse_charge' ? { id: String(doc.customer_external_id ?? ''), connection_id: input.connectionId, tax_status: 'reverse_charge' } : undefined), productCodes, negated };
}
