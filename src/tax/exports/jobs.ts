/**
 * Export jobs (`POST /tax_api/exports` -> job, `GET /tax_api/exports/{id}`), Sphere's shape: the job is
 * built at once (the data is in the store), kept in `tax_exports` so it can be fetched again as JSON or CSV
 * (`/transactions.csv`, `/summary.csv`); at most MAX_EXPORTS_KEPT per organization, the oldest dropped.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '../../store/types.ts';
import type { ExportJob } from '../api-types.generated.ts';
import type { OrgMode, TaxCalculationDoc } from '../model.ts';
import { buildExport, exportFilter, parseExportParams, type ExportParams, type ExportRow, type SummaryRow } from './build.ts';

export const TAX_EXPORTS = 'tax_exports';
export const MAX_EXPORTS_KEPT = 20;

export interface TaxExportDoc {
  id: string;
  organization_id: string;
  mode: OrgMode;
  created_at: string;
  status: 'completed';
  parameters: ExportParams;
  calculations: number;
  summary: SummaryRow[];
  rows: ExportRow[];
}

export interface ExportSource {
  store: Store;
  listCalculations(orgId: string, mode: OrgMode, keep: (d: TaxCalculationDoc) => boolean): Promise<TaxCalculationDoc[]>;
}

export async function createExport(src: ExportSource, org: { id: string; mode: OrgMode }, body: unknown, now = new Date()): Promise<TaxExportDoc> {
  const parameters = parseExportParams(body);
  const docs = await src.listCalculations(org.id, org.mode, exportFilter(parameters));
  const built = buildExport(docs, parameters);
  const doc: TaxExportDoc = {
    id: `exp_${now.getTime().toString(36)}${randomBytes(8).toString('hex')}`,
    organization_id: org.id,
    mode: org.mode,
    created_at: now.toISOString(),
    status: 'completed',
    parameters,
    calculations: built.calculations,
    summary: built.summary,
    rows: built.rows,
  };
  await src.store.put(TAX_EXPORTS, doc.id, doc);
  const kept = await src.store.count(TAX_EXPORTS, { organization_id: org.id });
  if (kept > MAX_EXPORTS_KEPT) {
    const { docs: oldest } = await src.store.find<TaxExportDoc>(TAX_EXPORTS, { where: { organization_id: org.id }, orderBy: { field: 'created_at' }, limit: kept - MAX_EXPORTS_KEPT });
    for (const old of oldest) await src.store.delete(TAX_EXPORTS, old.id);
  }
  return doc;
}

export async function getExport(store: Store, org: { id: string; mode: OrgMode }, id: string): Promise<TaxExportDoc | undefined> {
  if (!/^exp_[a-z0-9]{1,60}$/.test(id)) return undefined;
  const doc = await store.get<TaxExportDoc>(TAX_EXPORTS, id);
  return doc && doc.organization_id === org.id && doc.mode === org.mode ? doc : undefined;
}

/** The job as the API shows it; rows only in JSON format (CSV from the .csv links). */
export function exportView(doc: TaxExportDoc, withRows: boolean): ExportJob {
  return {
    id: doc.id,
    status: doc.status,
    created_at: doc.created_at,
    parameters: doc.parameters,
    calculations: doc.calculations,
    row_count: doc.rows.length,
    summary: doc.summary,
    links: { transactions_csv: `/tax_api/exports/${doc.id}/transactions.csv`, summary_csv: `/tax_api/exports/${doc.id}/summary.csv` },
    ...(withRows ? { transactions: doc.rows } : {}),
  };
}
