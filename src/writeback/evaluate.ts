/**
 * What a write-back would do for one stored document right now: calculate its tax with the engine, compare
 * with what the document carries, ask the spec (planWriteback) whether and how to write. No side effects
 * besides reading the store.
 */
import type { Store, StoredEntity } from '../store/types.ts';
import type { ConnectorSpec } from '../spec/types.ts';
import type { ResolvedConnection } from '../webhooks/connections.ts';
import { documentCarriesTax } from './carried-tax.ts';
import type { DocumentKind } from './jobs.ts';
import { planWriteback, writebackConnection, type WritebackContext, type WritebackPlan, type WritebackTax } from './plan.ts';
import type { WritebackTaxEngine } from './tax-engine.ts';
import { documentTaxRequest } from './tax-request.ts';
import { isZeroTax, taxFingerprint, toWritebackTax, zeroTaxReason } from './writeback-tax.ts';
import { own } from '../own.ts';

export type Evaluation =
  | { decision: 'missing'; reason: string; /** The document was deleted or voided upstream: tax written before no longer stands. */ gone?: true }
  | { decision: 'error'; error: unknown; entity: StoredEntity }
  | { decision: 'unchanged' | 'no_tax'; reason?: string; tax: WritebackTax; hash: string; entity: StoredEntity }
  | { decision: 'write'; tax: WritebackTax; hash: string; entity: StoredEntity; plan: Extract<WritebackPlan, { requests: unknown }> };

/** The stream whose entities are of `entity` (first declared), for customers and products. */
export function streamOfEntity(spec: ConnectorSpec, entity: string): string | undefined {
  for (const [name, s] of Object.entries(spec.streams)) if (s.entity === entity) return name;
  return undefined;
}

/** The write-back kind whose target stream is `stream`, if the spec writes tax there. */
export function writebackKindOf(spec: ConnectorSpec, stream: string): DocumentKind | undefined {
  if (spec.writeback?.invoice?.stream === stream) return 'invoice';
  if (spec.writeback?.credit_note?.stream === stream) return 'credit_note';
  return undefined;
}

export function writebackContext(c: ResolvedConnection, entity: StoredEntity, tax: WritebackTax, now: string): WritebackContext {
  return { document: entity.data, raw: entity.raw, tax, now, credentials: c.conn.credentials, settings: c.conn.settings, environment: c.conn.environment, connection: writebackConnection(c.conn) };
}

export async function evaluateWriteback(input: {
  store: Store;
  engine: WritebackTaxEngine;
  connection: ResolvedConnection;
  kind: DocumentKind;
  documentId: string;
  now: string;
  /** Reads a record of another stream from the system and stores it (a customer not synced yet). */
  refetch?: (stream: string, id: string) => Promise<unknown>;
}): Promise<Evaluation> {
  const { store, connection: c, kind, documentId } = input;
  const spec = c.spec;
  const target = spec.writeback?.[kind];
  const connId = c.conn.connection_id;
  if (!target) return { decision: 'missing', reason: `the ${spec.name} connector does not write tax onto ${kind === 'invoice' ? 'invoices' : 'credit notes'}` };
  const entity = await store.getEntity(connId, target.stream, documentId);
  if (!entity) return { decision: 'missing', reason: `${kind} ${documentId} is not stored for connection ${connId}` };
  if (entity.deleted) return { decision: 'missing', reason: `${kind} ${documentId} was deleted`, gone: true };
  if ((entity.data as { status?: unknown } | null)?.status === 'void') return { decision: 'missing', reason: `${kind} ${documentId} is void`, gone: true };
  let tax: WritebackTax;
  try {
    const doc = entity.data as Record<string, unknown>;
    const customerStream = streamOfEntity(spec, 'customer');
    const productStream = streamOfEntity(spec, 'product');
    const customerId = typeof doc.customer_external_id === 'string' ? doc.customer_external_id : undefined;
    let customer = customerStream && customerId ? await store.getEntity(connId, customerStream, customerId) : undefined;
    if (customerStream && customerId && !customer && !hasAddress(doc.customer_address) && input.refetch && own(spec.streams, customerStream)?.fetch) {
      // The document names a customer the runtime has not imported yet: read it now for its address.
      await input.refetch(customerStream, customerId);
      customer = await store.getEntity(connId, customerStream, customerId);
    }
    const products = new Map<string, StoredEntity>();
    if (productStream && Array.isArray(doc.lines)) {
      for (const l of doc.lines as Array<Record<string, unknown>>) {
        const pid = l.product_external_id;
        if (typeof pid === 'string' && !products.has(pid)) {
          const p = await store.getEntity(connId, productStream, pid);
          if (p) products.set(pid, p);
        }
      }
    }
    const req = documentTaxRequest({ connectionId: connId, document: doc, customer, products });
    const calc = await input.engine.calculate({ organizationId: c.organizationId, request: req.request, customer: req.customer, productCodes: req.productCodes, connectionId: connId });
    tax = toWritebackTax(calc, req.negated);
  } catch (error) {
    return { decision: 'error', error, entity };
  }
  const hash = taxFingerprint(tax);
  const carried = documentCarriesTax(entity.data, tax);
  if (carried && isZeroTax(tax)) return { decision: 'no_tax', reason: zeroTaxReason(tax), tax, hash, entity };
  if (carried) return { decision: 'unchanged', tax, hash, entity };
  let plan: WritebackPlan;
  try {
    plan = await planWriteback(spec, kind, writebackContext(c, entity, tax, input.now));
  } catch (error) {
    return { decision: 'error', error, entity };
  }
  if ('skip' in plan) return { decision: 'no_tax', reason: plan.skip, tax, hash, entity };
  return { decision: 'write', tax, hash, entity, plan };
}

function hasAddress(a: unknown): boolean {
  return !!a && typeof a === 'object' && typeof (a as Record<string, unknown>).country === 'string';
}
