/**
 * The README's "Connect a system" tour, against `taxbridge demo --keep`: the commands a newcomer types to
 * connect the demo's fake Sequence and Rillet to a second test organization with the CLI, then list, sync
 * and inspect. The demo writes what they need into a private folder (the fakes' credentials one file each,
 * read with name=@file or name=- from standard input, never in argv; an env file with the server, the admin
 * token, the organization and the fakes' URLs) and prints the commands with its values filled in.
 *
 * TOUR_COMMANDS is the one copy of the commands: the README shows them as written here (with the env
 * file's variables), and test/readme-tour.test.ts checks that and runs the README's lines literally.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TOUR_COMMANDS: readonly string[] = [
  'npx taxbridge connect sequence --org "$TOUR_ORG" --environment sandbox --base-url "$SEQUENCE_URL" --credential client_id=@"$TOUR_DIR/sequence_client_id" --credential client_secret=@"$TOUR_DIR/sequence_client_secret"',
  'npx taxbridge connect rillet --org "$TOUR_ORG" --base-url "$RILLET_URL" --credential api_key=- < "$TOUR_DIR/rillet_api_key"',
  'npx taxbridge connect rillet --org "$TOUR_ORG" --setting subsidiary_id="$RILLET_SUBSIDIARY" --credential signing_token=@"$TOUR_DIR/rillet_signing_token"',
  'npx taxbridge connections',
  'npx taxbridge sync --connection "$DEMO_CONNECTION" --stream invoices',
  'npx taxbridge events --connection "$DEMO_CONNECTION" --limit 5',
  'npx taxbridge writebacks --dead',
];

export interface TourInput {
  server: string;
  adminToken: string;
  organizationId: string;
  sequence: { url: string; clientId: string; clientSecret: string };
  rillet: { url: string; apiKey: string; signingToken: string; subsidiaryId: string };
  /** A connection the demo made (Sequence), to sync and inspect. */
  demoConnectionId: string;
}

export interface Tour {
  dir: string;
  envFile: string;
  env: Record<string, string>;
  /** The commands with the env file's values in place of its variables. */
  commands: string[];
  remove(): void;
}

/** Writes the tour's folder (0700; files 0600): one file per credential and tour.env. */
export function writeTour(t: TourInput): Tour {
  const dir = mkdtempSync(join(tmpdir(), 'taxbridge-demo-tour-'));
  chmodSync(dir, 0o700);
  const secret = (name: string, value: string) => writeFileSync(join(dir, name), `${value}\n`, { mode: 0o600 });
  secret('sequence_client_id', t.sequence.clientId);
  secret('sequence_client_secret', t.sequence.clientSecret);
  secret('rillet_api_key', t.rillet.apiKey);
  secret('rillet_signing_token', t.rillet.signingToken);
  const env: Record<string, string> = {
    TAXBRIDGE_SERVER: t.server,
    TAXBRIDGE_ADMIN_TOKEN: t.adminToken,
    TOUR_ORG: t.organizationId,
    TOUR_DIR: dir,
    SEQUENCE_URL: t.sequence.url,
    RILLET_URL: t.rillet.url,
    RILLET_SUBSIDIARY: t.rillet.subsidiaryId,
    DEMO_CONNECTION: t.demoConnectionId,
  };
  const envFile = join(dir, 'tour.env');
  writeFileSync(envFile, Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(''), { mode: 0o600 });
  return { dir, envFile, env, commands: TOUR_COMMANDS.map((c) => expandTourCommand(c, env)), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A command with `"$NAME"` replaced by the value (quoted only when the shell needs it). */
export function expandTourCommand(command: string, env: Record<string, string>): string {
  return command.replace(/"\$([A-Z_]+)([^"]*)"/g, (_, name: string, rest: string) => shellQuote(`${env[name] ?? ''}${rest}`));
}

function shellQuote(v: string): string {
  return /^[A-Za-z0-9_./:@=+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}
