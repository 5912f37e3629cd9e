import { basename, dirname } from 'node:path';
import { fromSafeFileName } from './names.ts';

/**
 * What a damaged table file costs and how to get it back: synced entity tables and sync bookkeeping are
 * rebuilt from the upstream systems by a sync; everything else only exists here and needs the backup.
 */
export interface TableAdvice {
  /** "collections/connections" or "entities/<connection>/<stream>". */
  table: string;
  /** `sync`: a sync rebuilds it; `automatic`: taxbridge rebuilds it itself; `backup`: only a backup has it. */
  rebuild: 'sync' | 'automatic' | 'backup';
  /** What the table holds (what is lost without it). */
  lost: string;
  /** What to do, in order. */
  action: string;
}

const COLLECTIONS: Record<string, { rebuild: TableAdvice['rebuild']; lost: string; then?: string }> = {
  organizations: { rebuild: 'backup', lost: 'the organizations (origin addresses, registered regions, tax settings)' },
  api_keys: { rebuild: 'backup', lost: 'the tax API keys (billing systems calling the tax API would be refused)', then: 'create new keys with `taxbridge key create` and give them to the systems' },
  connections: { rebuild: 'backup', lost: 'the connections (encrypted credentials, settings, webhook signing secrets)', then: 'connect every system again with `taxbridge connect`' },
  webhook_events: { rebuild: 'backup', lost: 'the webhook inbox (received events, acknowledged ones not yet processed among them)', then: 're-run a sync of each connection to catch up on what the events carried' },
  writeback_jobs: { rebuild: 'backup', lost: 'the tax write-back jobs (pending retries and dead letters)', then: 'check the invoices of the last days in each system for missing tax' },
  tax_calculations: { rebuild: 'backup', lost: 'the records of past tax calculations (GET /tax_api/calculations/<id>)' },
  webhook_registrations: { rebuild: 'backup', lost: 'the ids of webhooks registered with the systems', then: 'reconnect the systems so their webhooks are registered again' },
  server: { rebuild: 'automatic', lost: 'the admin token hash', then: 'start with `taxbridge serve --new-admin-token` (or set TAXBRIDGE_ADMIN_TOKEN)' },
  sync_state: { rebuild: 'automatic', lost: 'copies of the sync checkpoints', then: 'start the server: the copies are rebuilt from the entity tables as syncs run' },
  console_sessions: { rebuild: 'automatic', lost: 'the web console sign-ins (hashes of session ids)', then: 'sign in to the console again' },
  webhook_refused: { rebuild: 'automatic', lost: 'the record of refused webhook deliveries (counts and the last 100 per connection)', then: 'start the server: new refusals are recorded again' },
  sync_runs: { rebuild: 'sync', lost: 'the history of sync runs (shown by `taxbridge connections`)', then: 'start the server: the next syncs record new runs' },
};

function name(file: string): string {
  const b = basename(file).replace(/\.(jsonl|journal)(\.tmp)?$/, '');
  return fromSafeFileName(b) ?? b;
}

/** The table file's base without extension, for "move both files aside". */
export function tableFiles(file: string): string {
  return file.replace(/\.(jsonl|journal)(\.tmp)?$/, '.{jsonl,journal}');
}

export function adviceFor(file: string): TableAdvice {
  const dir = dirname(file);
  const files = tableFiles(file);
  const aside = `stop taxbridge and move ${files} out of the data folder`;
  if (basename(dirname(dir)) === 'entities') {
    const connection = name(dir);
    const stream = name(file);
    return {
      table: `entities/${connection}/${stream}`,
      rebuild: 'sync',
      lost: `the ${stream} records synced from connection ${connection} and that stream's checkpoint`,
      action: `a sync rebuilds this table: ${aside}, start the server, then run \`taxbridge sync --connection ${connection} --stream ${stream} --full\``,
    };
  }
  const collection = name(file);
  const known = Object.hasOwn(COLLECTIONS, collection) ? COLLECTIONS[collection]! : { rebuild: 'backup' as const, lost: `the documents of the ${collection} collection` };
  const then = known.then ? `; then ${known.then}` : '';
  const action =
    known.rebuild === 'backup'
      ? `a sync cannot rebuild this table: stop taxbridge and restore ${files} (or the whole data folder) from a backup; without a backup, move ${files} aside to start with this table empty, losing what it held${then}`
      : `${aside}${then}`;
  return { table: `collections/${collection}`, rebuild: known.rebuild, lost: known.lost, action };
}
