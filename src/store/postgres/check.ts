import { contentHash, stableStringify } from '../hash.ts';
import { MIGRATIONS_TABLE } from './migrate.ts';
import { allMigrations } from './migrations.ts';
import { PostgresStore } from './store.ts';

export interface DatabaseTableReport {
  table: string;
  kind: 'collection' | 'entities';
  rows: number;
  bytes: number;
  status: 'ok' | 'damaged';
  /** Entities whose stored hash does not match their data (changed outside taxbridge, or damaged). */
  bad_hashes?: number;
  first_bad?: string[];
}

export interface DatabaseCheckReport {
  database: string;
  migrations: { applied: string[]; pending: string[]; unknown: string[] };
  tables: DatabaseTableReport[];
  summary: { tables: number; ok: number; damaged: number; rows: number; bytes: number };
}

/**
 * `taxbridge store check` on PostgreSQL: which schema migrations are applied (none are applied by the
 * check), rows and bytes per collection and per (connection, stream), and every entity's hash recomputed
 * from its data, page by page (a mismatch means the row was changed outside taxbridge). Only reads.
 */
export async function checkDatabase(url: string): Promise<DatabaseCheckReport> {
  const store = await PostgresStore.open({ url, migrate: false, poolSize: 2, statementTimeoutMs: 0 });
  try {
    const known = allMigrations().map((m) => m.version);
    const has = await store.pool.query<{ t: string | null }>(`SELECT to_regclass('${MIGRATIONS_TABLE}')::text AS t`);
    const applied = has.rows[0]?.t ? (await store.pool.query<{ version: string }>(`SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`)).rows.map((r) => r.version) : [];
    const report: DatabaseCheckReport = {
      database: store.shown,
      migrations: { applied, pending: known.filter((v) => !applied.includes(v)), unknown: applied.filter((v) => !known.includes(v)) },
      tables: [],
      summary: { tables: 0, ok: 0, damaged: 0, rows: 0, bytes: 0 },
    };
    if (!applied.includes(known[0]!)) return report;
    const counts = await store.tableCounts();
    for (const c of counts.collections) report.tables.push({ table: `collections/${c.collection}`, kind: 'collection', rows: c.rows, bytes: c.bytes, status: 'ok' });
    for (const e of counts.entities) {
      const t: DatabaseTableReport = { table: `entities/${e.connection_id}/${e.stream}`, kind: 'entities', rows: e.rows, bytes: e.bytes, status: 'ok' };
      let bad = 0;
      const first: string[] = [];
      for (let after: string | undefined; ; ) {
        const page = await store.pageEntities(e.connection_id, e.stream, { after, limit: 1000, includeDeleted: true });
        if (!page.length) break;
        for (const x of page) {
          const text = stableStringify(x.data);
          if (contentHash(x.deleted ? `${text}\u0000deleted` : text) !== x.hash) {
            bad++;
            if (first.length < 5) first.push(x.external_id);
          }
        }
        after = page[page.length - 1]!.external_id;
      }
      if (bad) Object.assign(t, { status: 'damaged', bad_hashes: bad, first_bad: first });
      report.tables.push(t);
    }
    for (const t of report.tables) {
      report.summary.tables++;
      report.summary.rows += t.rows;
      report.summary.bytes += t.bytes;
      if (t.status === 'ok') report.summary.ok++;
      else report.summary.damaged++;
    }
    return report;
  } finally {
    await store.close();
  }
}
