/**
 * Flags of the CLI commands that work on a data folder, or on the running server that holds it
 * (org, key, region, connect, connections, disconnect, events, writebacks).
 */
export const DATA_FOLDER_OPTIONS = {
  data: { type: 'string' },
  config: { type: 'string' },
  server: { type: 'string' },
  'admin-token': { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const DATA_FOLDER_USAGE = `  --data <dir>          data folder (default ./data, or TAXBRIDGE_DATA_DIR)
  --config <file>       configuration file (default ./taxbridge.config.json when present)
  --server <url>        talk to a running \`taxbridge serve\` through its admin API instead of the data folder
  --admin-token <t>     admin token for --server (default TAXBRIDGE_ADMIN_TOKEN)
  --json                machine-readable output`;

export interface DataFolderValues {
  data?: string;
  config?: string;
  server?: string;
  'admin-token'?: string;
  json?: boolean;
}
