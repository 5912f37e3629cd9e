/**
 * The flags every command accepts and lists: where the data folder is (--data), the configuration file
 * (--config) and a running `taxbridge serve` to go through instead of the folder (--server, with its admin
 * token). parseCommandArgs (./args.ts) adds them to each command's own options, so no command can forget
 * one; commands that read only files say in their usage that these do not apply to them.
 */
export const SHARED_OPTIONS = {
  data: { type: 'string' },
  'database-url': { type: 'string' },
  config: { type: 'string' },
  server: { type: 'string' },
  'admin-token': { type: 'string' },
} as const;

export const SHARED_USAGE = `Shared options (every command):
  --data <dir>          data folder (default ./data, or TAXBRIDGE_DATA_DIR)
  --database-url <url>  PostgreSQL instead of the data folder's store (default TAXBRIDGE_DATABASE_URL)
  --config <file>       configuration file (default ./taxbridge.config.json when present, or TAXBRIDGE_CONFIG)
  --server <url>        go through a running \`taxbridge serve\` (its admin API) instead of the data folder
                        (default TAXBRIDGE_SERVER)
  --admin-token <t>     admin token for --server (default TAXBRIDGE_ADMIN_TOKEN)`;

export interface SharedValues {
  data?: string;
  'database-url'?: string;
  config?: string;
  server?: string;
  'admin-token'?: string;
}

/** Exit codes of every command (README "Exit codes"). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export const EXIT_CODES_USAGE = `Exit codes: 0 done, 1 failed (the message says what and why, with a snake_case code as the API's; see docs/errors.md), 2 usage error (unknown option, bad value).`;

/** The usage text of a command that works on files only: the shared flags are accepted and do nothing. */
export const FILES_ONLY_NOTE = 'This command reads only the files it is given: --data, --config and --server do not apply to it.';
