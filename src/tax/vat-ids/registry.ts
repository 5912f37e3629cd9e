/**
 * Online confirmation of a VAT id, behind one interface so the tax service does not care which registry
 * answers and tests put a local fake in its place:
 *
 * - VIES (EU member states and XI): the Commission's REST API, `POST {base}/check-vat-number` with
 *   `{countryCode, vatNumber}` -> `{valid, requestIdentifier?, name?, address?}`; errors such as MS_UNAVAILABLE
 *   or TIMEOUT come back as `errorWrappers` / `actionSucceed: false` and mean "unknown", never "invalid".
 * - HMRC "Check a UK VAT number" v2.0 (GB): `GET {base}/organisations/vat/check-vat-number/lookup/{vrn}`
 *   (`/{requesterVrn}` appended when one is configured, which makes HMRC return a consultationNumber); 200 =
 *   registered, 404 = not registered. HMRC wants an OAuth (client credentials) bearer token: pass it as `token`.
 *
 * A registry answers `registered`, `not_registered` or `unavailable` (down, slow, refused, malformed answer):
 * the caller (./verifier.ts) turns `unavailable` into `unverified`, the offline fallback.
 */

export type RegistryAnswer =
  | { status: 'registered'; name?: string; evidence?: string }
  | { status: 'not_registered' }
  | { status: 'unavailable'; reason: string };

export interface VatRegistry {
  /** Which schemes (VIES prefixes: DE, EL, XI; GB) this registry answers for. */
  covers(scheme: string): boolean;
  check(scheme: string, number: string, signal: AbortSignal): Promise<RegistryAnswer>;
}

const VIES_SCHEMES = new Set(['AT', 'BE', 'BG', 'CY', 'CZ', 'DE', 'DK', 'EE', 'EL', 'ES', 'FI', 'FR', 'HR', 'HU', 'IE', 'IT', 'LT', 'LU', 'LV', 'MT', 'NL', 'PL', 'PT', 'RO', 'SE', 'SI', 'SK', 'XI']);
/** Answers are small JSON objects; anything bigger is not a registry answer. */
const MAX_ANSWER_BYTES = 64 * 1024;

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text.length > MAX_ANSWER_BYTES) throw new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
  return JSON.parse(text) as unknown;
}

function short(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() && v.trim() !== '---' ? v.trim().slice(0, 200) : undefined;
}

export class ViesRegistry implements VatRegistry {
  constructor(private readonly baseUrl = 'https://ec.europa.eu/taxation_customs/vies/rest-api') {}

  covers(scheme: string): boolean {
    return VIES_SCHEMES.has(scheme);
  }

  async check(scheme: string, number: string, signal: AbortSignal): Promise<RegistryAnswer> {
    try {
      const res = await fetch(`${this.baseUrl.replace(/\/+$/, '')}/check-vat-number`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ countryCode: scheme, vatNumber: number }),
        signal,
      });
      const body = (await readJson(res)) as Record<string, unknown> | null;
      if (!res.ok || !body || typeof body !== 'object') return { status: 'unavailable', reason: `VIES answered HTTP ${res.status}` };
      const errs = body.errorWrappers;
      if (Array.isArray(errs) && errs.length) {
        const e = errs[0] as { error?: unknown };
        return { status: 'unavailable', reason: `VIES: ${short(e?.error) ?? 'error'}` };
      }
      if (body.valid === true) return { status: 'registered', name: short(body.name), evidence: short(body.requestIdentifier) };
      if (body.valid === false) return { status: 'not_registered' };
      return { status: 'unavailable', reason: 'VIES answered without a valid flag' };
    } catch (e) {
      return { status: 'unavailable', reason: signal.aborted ? 'VIES did not answer in time' : `VIES: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
}

export class HmrcRegistry implements VatRegistry {
  constructor(
    private readonly opts: { baseUrl?: string; token?: string; requesterVrn?: string } = {},
  ) {}

  covers(scheme: string): boolean {
    return scheme === 'GB';
  }

  async check(_scheme: string, number: string, signal: AbortSignal): Promise<RegistryAnswer> {
    const base = (this.opts.baseUrl ?? 'https://api.service.hmrc.gov.uk').replace(/\/+$/, '');
    const vrn = number.slice(0, 9); // branch traders' 12-digit numbers are checked by their 9-digit VRN
    const url = `${base}/organisations/vat/check-vat-number/lookup/${vrn}${this.opts.requesterVrn ? `/${this.opts.requesterVrn}` : ''}`;
    try {
      const headers: Record<string, string> = { accept: 'application/vnd.hmrc.2.0+json' };
      if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
      const res = await fetch(url, { headers, signal });
      if (res.status === 404) {
        await res.body?.cancel();
        return { status: 'not_registered' };
      }
      if (!res.ok) {
        await res.body?.cancel();
        return { status: 'unavailable', reason: `HMRC answered HTTP ${res.status}` };
      }
      const body = (await readJson(res)) as { target?: { name?: unknown }; consultationNumber?: unknown } | null;
      return { status: 'registered', name: short(body?.target?.name), evidence: short(body?.consultationNumber) };
    } catch (e) {
      return { status: 'unavailable', reason: signal.aborted ? 'HMRC did not answer in time' : `HMRC: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
}
