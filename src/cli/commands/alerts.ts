import { describeAlerts, sendTestAlert } from '../../alerts/index.ts';
import { loadConfig } from '../../config/index.ts';
import { TaxbridgeError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';

export const usage = `Usage: taxbridge alerts test [--config <file>] [--json]

Sends one signed "alert.test" notification to every alert URL of the configuration (the configuration file's
"alerts" section, or TAXBRIDGE_ALERT_URLS and TAXBRIDGE_ALERT_SECRET / TAXBRIDGE_ALERT_SECRET_FILE), as the
server sends real alerts: JSON with a Slack-compatible "text", Standard Webhooks headers (webhook-id,
webhook-timestamp, webhook-signature), retried up to 3 times on network errors, 408, 429 and 5xx.
Prints each URL's result; exit code 0 when every URL accepted it (2xx), 1 otherwise.

Options:
  --json            print the results as JSON

The test is sent from this process with the configuration read here (--config): --data and --server do not
apply to it.
`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } });
  if (positionals[0] !== 'test' || positionals.length > 1) {
    throw new TaxbridgeError('CLI_USAGE', positionals[0] ? `unknown subcommand \`alerts ${positionals.slice(0, 2).join(' ')}\`` : 'give a subcommand: test', { hint: 'see taxbridge alerts --help' });
  }
  const config = loadConfig({ ...(values.config ? { config: values.config } : {}) });
  if (config.alerts.urls.length === 0) {
    throw new TaxbridgeError('ALERTS_NOT_CONFIGURED', 'no alert URL is configured', { hint: 'set TAXBRIDGE_ALERT_URLS and TAXBRIDGE_ALERT_SECRET, or "alerts": {"urls": [...], "secret_file": "..."} in the configuration file' });
  }
  const shown = describeAlerts(config.alerts).urls as string[];
  const results = await sendTestAlert(config.alerts, { backoff: { initialMs: 500, maxMs: 2000 } });
  const ok = results.every((r) => r.ok);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ok, results: results.map((r) => ({ url: shown[config.alerts.urls.indexOf(r.url)], ok: r.ok, attempts: r.attempts, ...(r.status ? { status: r.status } : {}), ...(r.error ? { error: r.error } : {}) })) })}\n`);
  } else {
    for (const r of results) {
      const where = shown[config.alerts.urls.indexOf(r.url)];
      process.stdout.write(r.ok ? `delivered to ${where} (status ${r.status}, attempt ${r.attempts})\n` : `NOT delivered to ${where}: ${r.error ?? 'failed'} (after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'})\n`);
    }
  }
  return ok ? 0 : 1;
}
