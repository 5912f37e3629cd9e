import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { TaxbridgeError } from '../../errors.ts';
import { loadConfig } from '../../config/index.ts';
import { openConfiguredStore } from '../../store/index.ts';
import type { Store } from '../../store/types.ts';
import { TAX_CALCULATIONS } from '../../tax/service.ts';
import { ORGS } from '../../tax/orgs.ts';
import type { Organization, TaxCalculationDoc } from '../../tax/model.ts';
import { ROW_COLUMNS, SUMMARY_COLUMNS, toCsv } from '../../tax/exports/build.ts';
import { createExport, exportView, type TaxExportDoc } from '../../tax/exports/jobs.ts';
import { configuredServerUrl } from '../admin-api-client.ts';
import { parseCommandArgs } from '../args.ts';


export const usage = `Usage: taxbridge tax export --org <organization id> --from <YYYY-MM-DD> --to <YYYY-MM-DD>
           [--countries DE,FR] [--statuses committed,refunded] [--period day|month|quarter|year]
           [--format json|csv] [--summary] [--out <file>]

Exports the organization's recorded calculations whose filing date (a credit note's or refund's own date,
else the tax date) is in the range (at most 366 days): one row per line and jurisdiction, and a summary
per period, currency and jurisdiction (taxable, exempt, tax; credit notes and refunds negative, voided
calculations left out unless --statuses asks). --format csv writes the rows, --summary the summary, as CSV;
json (default) writes the export job with both. Amounts are integers in the currency's minor units.

Reads the data folder; while \`taxbridge serve\` holds it, goes through its tax API with a tax API key of the
organization (--api-key or TAXBRIDGE_API_KEY; --server <url> to name the server).

Options:
  --data <dir>          data folder (default ./data, or TAXBRIDGE_DATA_DIR)
  --database-url <url>  PostgreSQL instead of the data folder (default TAXBRIDGE_DATABASE_URL)
  --config <file>       taxbridge.config.json
  --server <url>        the running server (default: the configured listen address)
  --api-key <key>       a tax API key (default TAXBRIDGE_API_KEY), for --server
`;

const OPTIONS = {
  data: { type: 'string' },
  'database-url': { type: 'string' },
  config: { type: 'string' },
  server: { type: 'string' },
  'api-key': { type: 'string' },
  org: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  countries: { type: 'string' },
  statuses: { type: 'string' },
  period: { type: 'string' },
  format: { type: 'string' },
  summary: { type: 'boolean' },
  out: { type: 'string' },
} as const;

const list = (v: string | undefined): string[] | undefined => (v === undefined ? undefined : v.split(',').map((x) => x.trim()).filter(Boolean));

export async function run(args: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, OPTIONS);
  if (positionals[0] !== 'export' || positionals.length > 1) {
    throw new TaxbridgeError('CLI_USAGE', positionals[0] ? `unknown subcommand \`tax ${positionals[0]}\`` : 'give a subcommand: export', { hint: 'see taxbridge tax --help' });
  }
  const body = {
    from: v.from,
    to: v.to,
    ...(v.countries !== undefined ? { countries: list(v.countries) } : {}),
    ...(v.statuses !== undefined ? { statuses: list(v.statuses) } : {}),
    ...(v.period !== undefined ? { period: v.period } : {}),
    format: 'json',
  };
  if (v.format !== undefined && v.format !== 'json' && v.format !== 'csv') throw new TaxbridgeError('CLI_USAGE', '--format must be json or csv');
  const apiKey = v['api-key'] ?? process.env.TAXBRIDGE_API_KEY;
  const config = loadConfig({ data: v.data, config: v.config, databaseUrl: v['database-url'] }, process.env);
  let doc: TaxExportDoc;
  if (v.server) doc = await viaServer(v.server, apiKey, body);
  else {
    let store: Store | undefined;
    try {
      store = await openConfiguredStore(config);
    } catch (e) {
      if ((e as { code?: string }).code !== 'STORE_LOCKED') throw e;
      if (!apiKey) {
        throw new TaxbridgeError('STORE_LOCKED', (e as Error).message, { hint: 'taxbridge serve is using this data folder: pass --api-key (or TAXBRIDGE_API_KEY) to export through its tax API, or stop the server first' });
      }
    }
    if (store) {
      try {
        doc = await locally(store, v.org, body);
      } finally {
        await store.close();
      }
    } else doc = await viaServer(configuredServerUrl(config), apiKey, body);
  }
  const text = v.summary ? toCsv(doc.summary, SUMMARY_COLUMNS) : v.format === 'csv' ? toCsv(doc.rows, ROW_COLUMNS) : `${JSON.stringify(exportView(doc, true), null, 2)}\n`;
  if (v.out) {
    writeFileSync(v.out, text, { mode: 0o600 });
    process.stderr.write(`taxbridge tax export: ${doc.calculations} calculation(s), ${doc.rows.length} row(s), ${doc.summary.length} summary row(s) written to ${v.out}\n`);
  } else process.stdout.write(text);
  return 0;
}

async function locally(store: Store, orgId: string | undefined, body: Record<string, unknown>): Promise<TaxExportDoc> {
  if (!orgId) throw new TaxbridgeError('CLI_USAGE', 'give the organization: --org <organization id>');
  const org = await store.get<Organization>(ORGS, orgId);
  if (!org) throw new TaxbridgeError('not_found', `organization ${JSON.stringify(orgId)} does not exist`);
  try {
    return await createExport(
      { store, listCalculations: async (id, mode, keep) => {
        const docs: TaxCalculationDoc[] = [];
        await store.scan<TaxCalculationDoc>(TAX_CALCULATIONS, (d) => void (keep(d) && docs.push(d)), { where: { organization_id: id, mode } });
        return docs;
      } },
      org,
      body,
    );
  } catch (e) {
    const p = (e as { param?: string }).param;
    if (p) throw new TaxbridgeError('CLI_USAGE', `--${p.replace(/\[\d+\]$/, '')}: ${(e as Error).message}`);
    throw e;
  }
}

async function viaServer(server: string, apiKey: string | undefined, body: Record<string, unknown>): Promise<TaxExportDoc> {
  if (!apiKey) throw new TaxbridgeError('CLI_USAGE', '--server needs a tax API key: --api-key or TAXBRIDGE_API_KEY');
  const res = await request(`${server.replace(/\/+$/, '')}/tax_api/exports`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: JSON.stringify(body) });
  const text = await res.body.text();
  let json: { data?: Record<string, unknown>; message?: string; param?: string } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    /* reported below */
  }
  if (res.statusCode !== 201 || !json.data) throw new TaxbridgeError('TAX_EXPORT_FAILED', `the server answered ${res.statusCode}: ${json.message ?? text.slice(0, 200)}${json.param ? ` (${json.param})` : ''}`);
  const d = json.data;
  return { id: String(d.id), organization_id: '', mode: 'test', created_at: String(d.created_at), status: 'completed', parameters: d.parameters as TaxExportDoc['parameters'], calculations: Number(d.calculations), summary: d.summary as TaxExportDoc['summary'], rows: (d.transactions ?? []) as TaxExportDoc['rows'] };
}
