/**
 * Decides a customer tax id's status before the engine may reverse-charge on it:
 *
 *   invalid_format  the id fails its country's format or check digits (./checksums.ts): taxed as a consumer
 *   not_registered  well formed, but the registry (VIES / HMRC) says no such registration: taxed as a consumer
 *   valid           well formed and confirmed by the registry (its request identifier kept as evidence)
 *   unverified      well formed, not confirmed: no registry configured for its country, the registry down or
 *                   slower than `timeoutMs` (the offline fallback), or no format rule for the country; the
 *                   organization's `unverified_tax_ids` setting decides (reverse_charge, the default, or tax)
 *
 * Registry answers are cached (registered / not registered for `ttlMs`, 24 h by default; unavailable for
 * `unavailableTtlMs`, 60 s, so a down registry is not asked on every request), at most `maxEntries` ids;
 * concurrent checks of one id share one registry call.
 */
import { parseTaxId } from './parse.ts';
import type { RegistryAnswer, VatRegistry } from './registry.ts';

export type TaxIdStatus = 'valid' | 'invalid_format' | 'not_registered' | 'unverified';

export interface TaxIdCheck {
  status: TaxIdStatus;
  /** The id's scheme country (EL, XI, GB, AU ...). */
  scheme: string;
  /** Why, for a warning: what was wrong or why it could not be confirmed. */
  reason?: string;
  /** The registry's reference of the confirmation (VIES requestIdentifier, HMRC consultationNumber). */
  evidence?: string;
}

export interface TaxIdVerifierOptions {
  registries?: VatRegistry[];
  /** How long one registry call may take before the id counts as unverified. Default 2000 ms. */
  timeoutMs?: number;
  ttlMs?: number;
  unavailableTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Cached {
  until: number;
  answer: RegistryAnswer;
}

export class TaxIdVerifier {
  private readonly registries: VatRegistry[];
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<RegistryAnswer>>();
  private readonly now: () => number;
  /** Registry calls made (not answered from the cache). */
  calls = 0;

  constructor(private readonly opts: TaxIdVerifierOptions = {}) {
    this.registries = opts.registries ?? [];
    this.now = opts.now ?? Date.now;
  }

  /** Format and check digits only, synchronously. */
  static offline(raw: string, customerCountry: string | undefined): TaxIdCheck {
    const p = parseTaxId(raw, customerCountry);
    if (p.wellFormed === false) return { status: 'invalid_format', scheme: p.scheme, reason: `${JSON.stringify(raw.slice(0, 40))} is not a well-formed ${p.scheme} tax id (format or check digits)` };
    if (p.wellFormed === undefined) return { status: 'unverified', scheme: p.scheme, reason: `taxbridge has no format rule for ${p.scheme} tax ids` };
    return { status: 'unverified', scheme: p.scheme, reason: `no registry check is configured for ${p.scheme} tax ids` };
  }

  /** Whether `check` would call (or has cached) a registry for this id; false = `offline` is the whole answer. */
  online(raw: string, customerCountry: string | undefined): boolean {
    if (this.registries.length === 0) return false;
    const p = parseTaxId(raw, customerCountry);
    return p.wellFormed === true && this.registries.some((r) => r.covers(p.scheme));
  }

  async check(raw: string, customerCountry: string | undefined): Promise<TaxIdCheck> {
    const p = parseTaxId(raw, customerCountry);
    const off = TaxIdVerifier.offline(raw, customerCountry);
    if (p.wellFormed !== true) return off;
    const registry = this.registries.find((r) => r.covers(p.scheme));
    if (!registry) return off;
    const answer = await this.ask(registry, p.scheme, p.number);
    if (answer.status === 'registered') return { status: 'valid', scheme: p.scheme, ...(answer.evidence ? { evidence: answer.evidence } : {}) };
    if (answer.status === 'not_registered') return { status: 'not_registered', scheme: p.scheme, reason: `${p.scheme}${p.number} is not a registered VAT number (registry check)` };
    return { status: 'unverified', scheme: p.scheme, reason: answer.reason };
  }

  private ask(registry: VatRegistry, scheme: string, number: string): Promise<RegistryAnswer> {
    const key = `${scheme}:${number}`;
    const t = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > t) return Promise.resolve(hit.answer);
    const running = this.inflight.get(key);
    if (running) return running;
    this.calls++;
    const p = registry
      .check(scheme, number, AbortSignal.timeout(this.opts.timeoutMs ?? 2000))
      .catch((e: unknown): RegistryAnswer => ({ status: 'unavailable', reason: e instanceof Error ? e.message : String(e) }))
      .then((answer) => {
        const ttl = answer.status === 'unavailable' ? (this.opts.unavailableTtlMs ?? 60_000) : (this.opts.ttlMs ?? 86_400_000);
        if (this.cache.size >= (this.opts.maxEntries ?? 10_000)) this.cache.delete(this.cache.keys().next().value!);
        this.cache.delete(key);
        this.cache.set(key, { until: this.now() + ttl, answer });
        return answer;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}
