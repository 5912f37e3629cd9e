/**
 * The tax id verifier `taxbridge serve` uses, from the environment (registry checks are off unless asked):
 *   TAXBRIDGE_VIES_URL        "default" (the Commission's REST API) or a base URL: confirm EU/XI ids with VIES
 *   TAXBRIDGE_HMRC_URL        "default" (api.service.hmrc.gov.uk) or a base URL: confirm GB ids with HMRC
 *   TAXBRIDGE_HMRC_TOKEN      OAuth bearer token for HMRC (client-credentials grant, obtained by the operator)
 *   TAXBRIDGE_HMRC_REQUESTER_VRN  your own VRN, so HMRC returns a consultation number (evidence)
 *   TAXBRIDGE_TAX_ID_TIMEOUT_MS   per registry call, default 2000 (then: unverified, the offline fallback)
 */
import { TaxbridgeError } from '../../errors.ts';
import { HmrcRegistry, ViesRegistry, type VatRegistry } from './registry.ts';
import { TaxIdVerifier } from './verifier.ts';

function url(v: string, name: string): string | undefined {
  if (v === 'default') return undefined;
  if (!/^https?:\/\/[^\s]+$/.test(v) || v.length > 500) throw new TaxbridgeError('CONFIG_INVALID', `${name} must be "default" or an http(s) URL, got ${JSON.stringify(v.slice(0, 60))}`);
  return v;
}

export function taxIdVerifierFromEnv(env: NodeJS.ProcessEnv = process.env): TaxIdVerifier {
  const registries: VatRegistry[] = [];
  if (env.TAXBRIDGE_VIES_URL) registries.push(new ViesRegistry(url(env.TAXBRIDGE_VIES_URL, 'TAXBRIDGE_VIES_URL')));
  if (env.TAXBRIDGE_HMRC_URL) {
    registries.push(new HmrcRegistry({ baseUrl: url(env.TAXBRIDGE_HMRC_URL, 'TAXBRIDGE_HMRC_URL'), token: env.TAXBRIDGE_HMRC_TOKEN, requesterVrn: env.TAXBRIDGE_HMRC_REQUESTER_VRN }));
  }
  const t = env.TAXBRIDGE_TAX_ID_TIMEOUT_MS;
  const timeoutMs = t === undefined ? 2000 : Number(t);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 50 || timeoutMs > 30_000) throw new TaxbridgeError('CONFIG_INVALID', 'TAXBRIDGE_TAX_ID_TIMEOUT_MS must be an integer between 50 and 30000');
  return new TaxIdVerifier({ registries, timeoutMs });
}
