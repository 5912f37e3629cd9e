import { TaxbridgeError } from '../errors.ts';
import { tablesOnDisk } from './check.ts';
import { TICKS } from './embedded.ts';
import { openStore } from './index.ts';
import type { PostgresStore } from './postgres/store.ts';
import type { StoredEntity } from './types.ts';

/** Rows per statement while copying. */
const BATCH = 500;

export interface CopiedTable {
  table: string;
  rows: number;
  /** Rows the database holds for the table after the copy (equal to `rows` unless it held more before). */
  in_database: number;
}

export interface CopyReport {
  from: string;
  to: string;
  tables: CopiedTable[];
  /** Tables skipped because an earlier run finished them (resume); `--again` copies them anyway. */
  skipped: string[];
  summary: { tables: number; rows: number };
}

/** Where a run records the tables it finished, so an interrupted migrate resumes after them. */
export const COPY_PROGRESS = 'store_migrations_copied';

/**
 * `taxbridge store migrate`: copies every table of a data folder into PostgreSQL, as it is (ids, hashes,
 * times, checkpoints, sealed secrets untouched). Idempotent (upserts by key), resumable (finished tables
 * are recorded in the database and skipped next time), and it opens the folder with its lock, so no
 * server writes to it meanwhile. Claims and leases are not copied: they are held by running processes.
 */
export async function copyToPostgres(o: { from: string; to: PostgresStore; shownTo: string; again?: boolean; onTable?: (t: CopiedTable) => void }): Promise<CopyReport> {
  const found = await tablesOnDisk(o.from);
  if (found.length === 0) throw new TaxbridgeError('STORE_NOT_FOUND', `no tables in ${o.from}`, { hint: 'pass the data folder with --from <dir>' });
  const src = await openStore({ dir: o.from, verify: true });
  const report: CopyReport = { from: o.from, to: o.shownTo, tables: [], skipped: [], summary: { tables: 0, rows: 0 } };
  try {
    for (const t of found) {
      const done = await o.to.get<{ rows: number }>(COPY_PROGRESS, t.table);
      if (done && !o.again) {
        report.skipped.push(t.table);
        continue;
      }
      let rows = 0;
      let inDb = 0;
      if (t.kind === 'collection' && t.collection !== undefined) {
        if (t.collection === COPY_PROGRESS) continue;
        if (t.collection === TICKS) {
          for (const d of await src.list<{ id: string; tick: string }>(TICKS)) {
            await o.to.importTick(d.id, d.tick);
            rows++;
          }
          inDb = rows;
        } else {
          let batch: Array<{ id: string; doc: unknown }> = [];
          const name = t.collection;
          await src.scanEntries(name, async (id, doc) => {
            batch.push({ id, doc });
            rows++;
            if (batch.length >= BATCH) {
              await o.to.importDocuments(name, batch);
              batch = [];
            }
          });
          await o.to.importDocuments(name, batch);
          inDb = await o.to.count(t.collection);
        }
      } else if (t.connection !== undefined && t.stream !== undefined) {
        for (let after: string | undefined; ; ) {
          const page: StoredEntity[] = await src.pageEntities(t.connection, t.stream, { after, limit: BATCH, includeDeleted: true });
          if (!page.length) break;
          await o.to.importEntities(page);
          rows += page.length;
          after = page[page.length - 1]!.external_id;
        }
        for (const [id, value] of Object.entries(await src.streamCheckpoints(t.connection, t.stream))) await o.to.importCheckpoint(t.connection, t.stream, id, value);
        const c = await o.to.countEntities(t.connection, t.stream);
        inDb = c.active + c.deleted;
      } else {
        throw new TaxbridgeError('STORE_COPY_UNKNOWN_TABLE', `${t.table}: its file name is not one this store writes; move it out of the folder or rename it back`);
      }
      await o.to.put(COPY_PROGRESS, t.table, { id: t.table, rows, copied_at: new Date().toISOString() });
      const entry = { table: t.table, rows, in_database: inDb };
      report.tables.push(entry);
      report.summary.tables++;
      report.summary.rows += rows;
      o.onTable?.(entry);
    }
  } finally {
    await src.close();
  }
  return report;
}
