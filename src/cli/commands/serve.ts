import { loadConfig } from '../../config/index.ts';
import { startServer, stopOnSignals } from '../../server/serve.ts';
import { parseCommandArgs } from '../args.ts';


export const usage = `Usage: taxbridge serve [options]

Options (each also settable by environment variable or in taxbridge.config.json):
  --port <n>            TAXBRIDGE_PORT            default 8080
  --host <addr>         TAXBRIDGE_HOST            default 127.0.0.1
  --data <dir>          TAXBRIDGE_DATA_DIR        default ./data
  --database-url <url>  TAXBRIDGE_DATABASE_URL    postgres://user:password@host:5432/db: PostgreSQL instead of the
                                                  data folder's store (several replicas may share it)
  --public-url <url>    TAXBRIDGE_PUBLIC_URL      base of webhook URLs; default http://<host>:<port>
  --connectors <dir>    TAXBRIDGE_CONNECTORS_DIR  default ./connectors
  --log-level <level>   TAXBRIDGE_LOG_LEVEL       debug | info | warn | error | silent; default info
  --config <file>       TAXBRIDGE_CONFIG          default ./taxbridge.config.json when present
  --init-key            create <data>/master.key (mode 0600) when no master key is configured
  --new-admin-token     replace the stored admin token with a new one, printed once

Secrets come from the environment only:
  TAXBRIDGE_ADMIN_TOKEN     the admin API token; when unset, one is generated at first start and printed once
  TAXBRIDGE_MASTER_KEY      base64 of 32 bytes encrypting connection secrets (or TAXBRIDGE_MASTER_KEY_FILE)

At start the data folder is made private (folders 0700, files 0600) and every table in it is read and
verified: a damaged one stops the start (exit 1) naming the file, the byte offset, what is lost and what to
do; \`taxbridge store check\` runs the same check offline. One server per data folder (its LOCK names it).

Logs are JSON lines on stdout. SIGTERM or SIGINT stop the server gracefully.
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      'database-url': { type: 'string' },
      'public-url': { type: 'string' },
      connectors: { type: 'string' },
      'log-level': { type: 'string' },
      config: { type: 'string' },
      'init-key': { type: 'boolean' },
      'new-admin-token': { type: 'boolean' },
    },
    false,
  );
  const config = loadConfig({
    port: values.port,
    host: values.host,
    data: values.data,
    databaseUrl: values['database-url'],
    publicUrl: values['public-url'],
    connectors: values.connectors,
    logLevel: values['log-level'],
    config: values.config,
    initKey: values['init-key'],
  });
  const server = await startServer(config, { newAdminToken: values['new-admin-token'] });
  const detach = stopOnSignals(server);
  await server.closed;
  detach();
  return 0;
}
