/**
 * What may start a document kind's write-back (`writeback.<kind>.trigger`): a webhook event rule with
 * `writeback: true`, a sync storing a new or changed document, or the system's call to
 * calculate_invoice_tax. Default webhook + api (what the runtime did before the property existed).
 */
import type { ConnectorSpec, WritebackTrigger } from '../spec/types.ts';
import type { DocumentKind } from './jobs.ts';

export const DEFAULT_TRIGGERS: readonly WritebackTrigger[] = ['webhook', 'api'];

export function writebackTriggers(spec: ConnectorSpec, kind: DocumentKind): ReadonlySet<WritebackTrigger> {
  const target = spec.writeback?.[kind];
  if (!target) return new Set();
  return new Set(target.trigger ?? DEFAULT_TRIGGERS);
}

/** Why `via` may not start this write-back (undefined when it may). */
export function triggerRefusal(spec: ConnectorSpec, kind: DocumentKind, via: WritebackTrigger): string | undefined {
  if (!spec.writeback?.[kind]) return undefined;
  const allowed = writebackTriggers(spec, kind);
  if (allowed.has(via)) return undefined;
  return `the ${spec.name} spec does not write ${kind === 'invoice' ? 'invoices' : 'credit notes'} on ${via === 'api' ? 'calculate_invoice_tax calls' : `${via} triggers`} (writeback.${kind}.trigger: [${[...allowed].join(', ')}])`;
}
