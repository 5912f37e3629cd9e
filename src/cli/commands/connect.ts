import { setTimeout as sleep } from 'node:timers/promises';
import { TaxbridgeError, publicCode } from '../../errors.ts';
import type { ConnectResult } from '../../connections/service.ts';
import type { EnvironmentName } from '../../spec/types.ts';
import { parseCommandArgs } from '../args.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, withConnectionsClient, type ConnectionsClient } from '../connections-client.ts';
import { formatConnectResult } from '../connections-format.ts';
import { credentialInputs, parseAssignments } from '../credential-inputs.ts';
import { EXIT_CODES_USAGE } from '../shared-flags.ts';


export const usage = `Usage: taxbridge connect <connector> --org <organization id> [options]
       taxbridge connect --connection <id> [--setting k=v] [--credential k=v]
       taxbridge connect --connection <id> --reauthorize [--no-wait]

Checks the credentials with the system ("Test credentials"), stores them encrypted and:
  - Sequence: registers webhooks with a generated secret and prints a tax API key for Sequence (once).
  - Rillet: prints the subsidiaries to choose from and the webhook URL to paste into Rillet; run the
    command again with --setting subsidiary_id=<id> and --credential signing_token=<token>.
  - OAuth systems (QuickBooks): prints an authorization URL to open in a browser (single use, 10 minutes);
    the system redirects to <public URL>/oauth/callback on the running server, which completes the
    connection. The command waits for that (polling the server) unless --no-wait.
A sandbox connection belongs to a test organization, a production one to a live organization.
Running the command again for a pending connection continues it.

Options:
  --org <id>               the organization (sandbox: a test organization)
  --environment <env>      sandbox | production (default: from the organization's mode)
  --credential name=@file  a credential read from a file (repeatable); name=- reads it from standard input;
                           or set TAXBRIDGE_CREDENTIAL_<NAME>. An inline name=value works but is visible
                           in the process list, so secrets given so get a warning
  --setting name=value     a setting (repeatable)
  --base-url <url>         the system's API base URL (a proxy or a fake), instead of the spec's
  --skip-webhooks          activate without webhooks (schedules only)
  --connection <id>        continue or change this connection
  --reauthorize            OAuth: a new consent for --connection (after needs_reauthorization)
  --no-wait                OAuth: print the authorization URL and return without waiting
  --wait-timeout <sec>     OAuth: how long to wait for the consent (default 600)
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}
`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...CONNECTION_OPTIONS,
    org: { type: 'string' },
    environment: { type: 'string' },
    credential: { type: 'string', multiple: true },
    setting: { type: 'string', multiple: true },
    'base-url': { type: 'string' },
    'skip-webhooks': { type: 'boolean' },
    connection: { type: 'string' },
    reauthorize: { type: 'boolean' },
    'no-wait': { type: 'boolean' },
    'wait-timeout': { type: 'string' },
  });
  const waitTimeoutS = values['wait-timeout'] === undefined ? 600 : Number(values['wait-timeout']);
  if (!Number.isInteger(waitTimeoutS) || waitTimeoutS < 1 || waitTimeoutS > 3600) throw new TaxbridgeError('CLI_USAGE', '--wait-timeout must be a whole number of seconds, 1..3600');
  if (values.reauthorize && !values.connection) throw new TaxbridgeError('CLI_USAGE', '--reauthorize needs --connection <id>');
  if (values.reauthorize && (values.credential?.length || values.setting?.length || values['base-url'])) throw new TaxbridgeError('CLI_USAGE', '--reauthorize takes no credentials, settings or base URL');
  const connector = positionals[0];
  if (positionals.length > 1) throw new TaxbridgeError('CLI_USAGE', `unexpected argument ${JSON.stringify(positionals[1])}`, { hint: 'taxbridge connect <connector> --org <id> ...' });
  if (!connector && !values.connection) throw new TaxbridgeError('CLI_USAGE', 'name the connector to connect (e.g. `taxbridge connect sequence --org <id> ...`) or --connection <id> to continue one');
  if (values.environment !== undefined && values.environment !== 'sandbox' && values.environment !== 'production') {
    throw new TaxbridgeError('CLI_USAGE', `--environment must be sandbox or production, got ${JSON.stringify(values.environment)}`);
  }
  if (!values.reauthorize && !values.connection && !values.org) throw new TaxbridgeError('CLI_USAGE', '--org <organization id> is required', { hint: 'list organizations with `taxbridge org list`' });
  const settings = parseAssignments(values.setting, 'setting');
  const env = values.environment as EnvironmentName | undefined;

  return withConnectionsClient(values, async (client) => {
    const declared = await declaredCredentials(client, connector, values.connection);
    const { credentials, warnings } = credentialInputs(values.credential, declared);
    for (const w of warnings) process.stderr.write(`taxbridge connect: warning: ${w}\n`);
    const optional = { ...(values['skip-webhooks'] ? { skip_webhooks: true } : {}), ...(values['base-url'] ? { base_url: values['base-url'] } : {}) };

    let result: ConnectResult;
    let continued = true;
    if (values.reauthorize) {
      result = await client.reauthorize(values.connection!);
    } else {
      // A pending connection of this system for the organization is continued (the wizard's next step).
      const id = values.connection ?? (await pendingConnection(client, values.org!, connector!, env));
      if (id) {
        result = await client.update(id, { credentials, settings, ...optional });
      } else {
        continued = false;
        result = await client.connect({ connector: connector!, organization_id: values.org!, ...(env ? { environment: env } : {}), credentials, settings, ...optional });
      }
    }

    if (values.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else {
      const again = `taxbridge connect --connection ${result.connection.id}`;
      process.stdout.write((continued ? 'Updated: ' : result.connection.status === 'active' ? 'Connected: ' : 'Started: ') + formatConnectResult(result, { command: again }));
    }
    if (!result.authorization_url || values['no-wait']) return 0;
    if (client.mode === 'local') {
      process.stderr.write('taxbridge connect: the consent completes at the running server (GET /oauth/callback): start `taxbridge serve` on this data folder before opening the URL.\n');
      return 0;
    }
    return waitForAuthorization(client, result.connection.id, result.connection.updated_at, waitTimeoutS * 1000, !!values.json);
  });
}

/** The organization's pending connection of this connector, in the environment asked for or matching its mode. */
async function pendingConnection(client: ConnectionsClient, org: string, connector: string, env: EnvironmentName | undefined): Promise<string | undefined> {
  const pending = await client.list({ organizationId: org, status: 'pending' });
  if (!pending.length) return undefined;
  const mode = env ? undefined : await client.organizationMode(org);
  const want = env ?? (mode === 'live' ? 'production' : 'sandbox');
  return pending.find((c) => c.connector === connector && c.environment === want)?.id;
}

/** Polls the server until the consent completed (active, or the next step), was refused, or the time is up. */
async function waitForAuthorization(client: ConnectionsClient, id: string, since: string, timeoutMs: number, json: boolean): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  if (!json) process.stderr.write('Waiting for the consent in the browser (Ctrl-C to stop waiting; the link stays valid until it expires)...\n');
  for (;;) {
    const c = await client.get(id);
    if (c.authorization && c.authorization.authorized_at >= since && c.next_step?.step !== 'authorize' && c.status !== 'needs_reauthorization') {
      process.stdout.write(json ? JSON.stringify({ connection: c }, null, 2) + '\n' : `Authorized: ${c.connector_title ?? c.connector} ${c.id} [${c.status}]${c.next_step ? `, next: ${c.next_step.step}` : ''}\n`);
      return 0;
    }
    if (c.last_error && /^oauth_/i.test(c.last_error.code) && c.last_error.at >= since) {
      process.stderr.write(`taxbridge connect: ${publicCode(c.last_error.code)}: ${c.last_error.message}\n  hint: taxbridge connect --connection ${c.id} --reauthorize\n`);
      return 1;
    }
    if (c.status === 'disconnected') {
      process.stderr.write(`taxbridge connect: connection ${c.id} was disconnected while waiting\n`);
      return 1;
    }
    if (Date.now() >= deadline) {
      process.stderr.write(`taxbridge connect: no consent within ${Math.round(timeoutMs / 1000)} s; the connection stays ${c.status}. Run again with --reauthorize for a new link.\n`);
      return 1;
    }
    await sleep(1000);
  }
}

/** The credentials the connector declares (to read TAXBRIDGE_CREDENTIAL_<NAME> and to know which are secret). */
async function declaredCredentials(client: ConnectionsClient, connector: string | undefined, connectionId: string | undefined): Promise<Array<{ name: string; secret?: boolean }>> {
  try {
    const name = connector ?? (connectionId ? (await client.get(connectionId)).connector : undefined);
    return name ? await client.connectorCredentials(name) : [];
  } catch {
    // An unknown connector or connection is reported by the connect call itself, with its own message.
    return [];
  }
}
