import { SHARED_OPTIONS, SHARED_USAGE, type SharedValues } from './shared-flags.ts';

/**
 * Flags of the CLI commands that work on a data folder, or on the running server that holds it
 * (org, key, region, connect, connections, disconnect, events, writebacks, sync): the shared ones and --json.
 */
export const DATA_FOLDER_OPTIONS = {
  ...SHARED_OPTIONS,
  json: { type: 'boolean' },
} as const;

export const DATA_FOLDER_USAGE = `  --json                machine-readable output

${SHARED_USAGE}`;

export interface DataFolderValues extends SharedValues {
  json?: boolean;
}
