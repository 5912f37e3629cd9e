import { resolve } from 'node:path';
import { isTaxbridgeError, TaxbridgeError, publicCode } from '../../errors.ts';
import { loadConfig } from '../../config/index.ts';
import { checkDataDir, type CheckReport } from '../../store/check.ts';
import { checkDatabase, type DatabaseCheckReport } from '../../store/postgres/check.ts';
import { checkDatabaseUrl } from '../../store/postgres/url.ts';
import { parseCommandArgs } from '../args.ts';


export const usage = `Usage: taxbridge store check [--data <dir> | --database-url <url>] [--config <file>] [--json]
       taxbridge store migrate --from <data folder> --to <database url> [--again] [--json]

check on PostgreSQL (--database-url or TAXBRIDGE_DATABASE_URL): the schema migrations applied and pending,
rows and bytes per collection and per (connection, stream), and every synced record's hash recomputed from
its data. Nothing is written.

migrate copies every table of a data folder into PostgreSQL (documents, synced records with their hashes
and times, checkpoints, cron ticks; secrets stay sealed by the master key, so serve on the database with
the same TAXBRIDGE_MASTER_KEY). Stop the server first (it takes the folder's lock). Idempotent: it upserts
by key; resumable: tables finished by an earlier run are skipped (--again copies them anyway). It prints
the rows copied and the rows the database holds per table.

check on a data folder:

Reads the snapshot and journal of every table (collections/ and entities/) and prints, per table, its rows,
bytes on disk and status: ok, torn_tail (an interrupted last write; the next start drops it with a warning)
or DAMAGED, with the file, the byte offset and line, what is lost and what to do. Nothing is written: it can
run while a server holds the folder (it then says it read a live folder).

Options:
  --data <dir>      data folder (default ./data, or TAXBRIDGE_DATA_DIR)
  --config <file>   configuration file (default ./taxbridge.config.json when present)
  --json            the report as one JSON object

Exit status: 0 every table readable (torn tails are warnings), 1 a table is damaged or unreadable, 2 usage.`;

function holderText(holder: unknown): string {
  if (holder && typeof holder === 'object') {
    const h = holder as { pid?: unknown; host?: unknown; started_at?: unknown };
    return `taxbridge process ${String(h.pid)} on host ${String(h.host)}, since ${String(h.started_at)}`;
  }
  return `process ${String(holder)}`;
}

function formatReport(r: CheckReport): string {
  const out: string[] = [`Checking ${r.data_dir} (read only: nothing is changed)`];
  if (r.live) {
    out.push(
      `note: a LOCK is present (${holderText(r.live.holder)}): this read a live folder; figures may lag the server's latest writes and a torn tail may be a write in progress`,
    );
  }
  if (r.tables.length === 0) out.push('no tables (an empty or new data folder)');
  else {
    const width = Math.max(5, ...r.tables.map((t) => t.table.length));
    out.push(`${'table'.padEnd(width)}  ${'rows'.padStart(9)}  ${'bytes'.padStart(12)}  status`);
    for (const t of r.tables) {
      const status = t.status === 'damaged' ? 'DAMAGED' : t.status === 'unreadable' ? 'UNREADABLE' : t.status === 'torn_tail' ? `torn tail (${t.torn_bytes} bytes)` : 'ok';
      out.push(`${t.table.padEnd(width)}  ${(t.rows === undefined ? '-' : String(t.rows)).padStart(9)}  ${String(t.bytes).padStart(12)}  ${status}`);
    }
  }
  const damaged = r.tables.filter((t) => t.error);
  if (damaged.length) {
    out.push('', 'damage:');
    for (const t of damaged) {
      out.push(`  ${publicCode(t.error!.code)}: ${t.error!.message}`);
      if (t.error!.hint) out.push(`    what to do: ${t.error!.hint}`);
    }
  }
  const warnings = r.tables.flatMap((t) => [...(t.warnings ?? []), ...(t.loose_modes ?? []).map((m) => `${m.file} has mode ${m.mode} (readable by other users); the next start makes it 0600`)]);
  if (warnings.length) out.push('', 'warnings:', ...warnings.map((w) => `  ${w}`));
  const s = r.summary;
  out.push('', `${s.tables} table(s), ${s.rows} row(s), ${s.bytes} bytes: ${s.ok} ok, ${s.torn_tail} with a torn tail, ${s.damaged} damaged`);
  return out.join('\n') + '\n';
}

export async function run(args: string[]): Promise<number> {
  let sub: string | undefined;
  let values: { data?: string; config?: string; json?: boolean; 'database-url'?: string; from?: string; to?: string; again?: boolean };
  try {
    const parsed = parseCommandArgs(args, { data: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' }, again: { type: 'boolean' } });
    values = parsed.values;
    [sub] = parsed.positionals;
    if ((sub !== 'check' && sub !== 'migrate') || parsed.positionals.length > 1) {
      throw new TaxbridgeError('CLI_USAGE', sub === undefined ? 'give a subcommand: taxbridge store check | migrate' : `unknown arguments \`${parsed.positionals.join(' ')}\`: the subcommands are \`check\` and \`migrate\``);
    }
    if (sub === 'migrate' && (!values.from || !values.to)) throw new TaxbridgeError('CLI_USAGE', 'store migrate needs --from <data folder> and --to <database url>');
    if (sub === 'migrate') checkDatabaseUrl(values.to!);
  } catch (e) {
    if (!isTaxbridgeError(e) || e.code !== 'CLI_USAGE') throw e;
    process.stderr.write(`taxbridge store: ${publicCode(e.code)}: ${e.message}\n\n${usage}\n`);
    return 2;
  }
  if (sub === 'migrate') return migrate(resolve(values.from!), values.to!, values);
  const config = loadConfig({ data: values.data, config: values.config, databaseUrl: values['database-url'] });
  if (config.databaseUrl) {
    const r = await checkDatabase(config.databaseUrl);
    process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : formatDatabaseReport(r));
    return r.summary.damaged > 0 || r.migrations.pending.length > 0 ? 1 : 0;
  }
  const dir = resolve(config.dataDir);
  let report: CheckReport;
  try {
    report = await checkDataDir(dir);
  } catch (e) {
    if (isTaxbridgeError(e) && e.code === 'STORE_NOT_FOUND') {
      process.stderr.write(`taxbridge store check: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`);
      return 2;
    }
    throw e;
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.summary.damaged > 0 ? 1 : 0;
}

function formatDatabaseReport(r: DatabaseCheckReport): string {
  const out = [`Checking ${r.database} (read only: nothing is changed)`];
  const m = r.migrations;
  out.push(`schema: ${m.applied.length} migration(s) applied${m.pending.length ? `, PENDING: ${m.pending.join(', ')} (taxbridge serve applies them at start)` : ''}${m.unknown.length ? `, unknown to this version: ${m.unknown.join(', ')}` : ''}`);
  if (r.tables.length === 0) out.push('no tables with rows');
  else {
    const width = Math.max(5, ...r.tables.map((t) => t.table.length));
    out.push(`${'table'.padEnd(width)}  ${'rows'.padStart(9)}  ${'bytes'.padStart(12)}  status`);
    for (const t of r.tables) out.push(`${t.table.padEnd(width)}  ${String(t.rows).padStart(9)}  ${String(t.bytes).padStart(12)}  ${t.status === 'ok' ? 'ok' : `DAMAGED: ${t.bad_hashes} record(s) whose hash does not match their data (first: ${(t.first_bad ?? []).join(', ')}); a full sync of the stream rewrites them`}`);
  }
  const s = r.summary;
  out.push('', `${s.tables} table(s), ${s.rows} row(s), ${s.bytes} bytes: ${s.ok} ok, ${s.damaged} damaged`);
  return out.join('\n') + '\n';
}

async function migrate(from: string, to: string, values: { json?: boolean; again?: boolean }): Promise<number> {
  const { PostgresStore } = await import('../../store/postgres/store.ts');
  const { copyToPostgres } = await import('../../store/copy.ts');
  const { redactUrl } = await import('../../store/postgres/url.ts');
  const shown = redactUrl(to);
  const target = await PostgresStore.open({ url: to });
  try {
    if (!values.json) process.stdout.write(`Copying ${from} into ${shown}${target.migrations?.applied.length ? ` (schema migrations applied: ${target.migrations.applied.join(', ')})` : ''}\n`);
    const report = await copyToPostgres({
      from,
      to: target,
      shownTo: shown,
      again: values.again,
      onTable: (t) => {
        if (!values.json) process.stdout.write(`  ${t.table}: ${t.rows} row(s) copied, ${t.in_database} in the database\n`);
      },
    });
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      if (report.skipped.length) process.stdout.write(`  skipped ${report.skipped.length} table(s) an earlier run finished (--again copies them anyway)\n`);
      process.stdout.write(`${report.summary.tables} table(s), ${report.summary.rows} row(s) copied. Serve on the database with TAXBRIDGE_DATABASE_URL and the same master key.\n`);
    }
    return 0;
  } finally {
    await target.close();
  }
}
