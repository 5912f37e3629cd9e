/**
 * The deployment's app-level webhook secrets (spec `webhooks.url: per_connector`, read in templates as
 * `app.webhook_secret`): one per connector and deployment, like the OAuth client secret, never per connection.
 * Only from the environment or a file:
 *
 *   TAXBRIDGE_WEBHOOK_<NAME>_SECRET            the secret (QuickBooks: the app's verifier token)
 *   TAXBRIDGE_WEBHOOK_<NAME>_SECRET_FILE       a file holding it
 *   TAXBRIDGE_WEBHOOK_<NAME>_SECRET_PREVIOUS   also accepted while the system rolls to the new one
 *
 * Read per delivery (a replaced file is picked up without a restart); never logged.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export type WebhookAppSecrets = (connector: string) => string[];

export const webhookSecretEnvName = (connector: string) => `TAXBRIDGE_WEBHOOK_${connector.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_SECRET`;

export function webhookAppSecretsFrom(env: Record<string, string | undefined>, cwd: string = process.cwd()): WebhookAppSecrets {
  return (connector) => {
    const base = webhookSecretEnvName(connector);
    const out: string[] = [];
    const direct = env[base]?.trim();
    if (direct) out.push(direct);
    else if (env[`${base}_FILE`]?.trim()) {
      try {
        const v = readFileSync(resolve(cwd, env[`${base}_FILE`]!.trim()), 'utf8').trim();
        if (v) out.push(v);
      } catch {
        // No secret: deliveries answer 503 WEBHOOK_SECRET_MISSING, which tells the operator what to set.
      }
    }
    const previous = env[`${base}_PREVIOUS`]?.trim();
    if (previous) out.push(previous);
    return out;
  };
}
