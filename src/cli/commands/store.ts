import { resolve } from 'node:path';
import { isTaxbridgeError, TaxbridgeError } from '../../errors.ts';
import { loadConfig } from '../../config/index.ts';
import { checkDataDir, type CheckReport } from '../../store/check.ts';
import { parseCommandArgs } from '../args.ts';


export const usage = `Usage: taxbridge store check [--data <dir>] [--config <file>] [--json]

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
      out.push(`  ${t.error!.code}: ${t.error!.message}`);
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
  let values: { data?: string; config?: string; json?: boolean };
  try {
    const parsed = parseCommandArgs(args, { data: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } });
    values = parsed.values;
    [sub] = parsed.positionals;
    if (sub !== 'check' || parsed.positionals.length > 1) {
      throw new TaxbridgeError('CLI_USAGE', sub === undefined ? 'give a subcommand: taxbridge store check' : `unknown arguments \`${parsed.positionals.join(' ')}\`: the subcommand is \`check\``);
    }
  } catch (e) {
    if (!isTaxbridgeError(e) || e.code !== 'CLI_USAGE') throw e;
    process.stderr.write(`taxbridge store: ${e.code}: ${e.message}\n\n${usage}\n`);
    return 2;
  }
  const dir = resolve(loadConfig({ data: values.data, config: values.config }).dataDir);
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
