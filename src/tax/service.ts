/**
 * TaxService: the tax part's state in one object, shared by the tax API and the admin API of one process.
 *
 * Hot path (calculate_tax): the key is found in an in-memory index (by its public 8-character id, then a
 * constant-time hash compare), the organization's registrations and product codes are pre-indexed maps, the
 * rate data is loaded once by the caller, and the only store work is reading a synced customer when the
 * request names one (connections of the organization cached for a few seconds) and recording the
 * calculation.
 *
 * Recording (every calculation is stored in `tax_calculations`, compact: see ./record.ts). By default
 * (`recordMode: 'background'`) the response does not wait for the disk: the store applies the write to memory
 * at once and makes it durable with the next group commit (one append + fsync shared by all writes of that
 * moment: milliseconds later on a quiet disk; the benchmark saw ~40 ms per append + fsync on a busy shared one,
 * each carrying ~170 calculations). A calculation id the client received is therefore retrievable
 * at once (GET /tax_api/calculations/:id), and after a crash every calculation except those of the last
 * unflushed group commit. Why: a billing system's checkout waits on this call, and making it wait for an
 * fsync bounds throughput by disk latency (measured: ~10x fewer calculations per second on a busy disk,
 * p50 over 100 ms); a calculation is a quote the billing system also keeps on its invoice.
 * Back-pressure: records not yet durable form a bounded queue (`maxPendingRecords`, `maxPendingBytes`);
 * when it is full the request is refused before any work with 503 `recording_backlog` and Retry-After,
 * instead of memory growing with the disk's lag.
 * Once a background write has failed, every later request waits for its own write (so a broken disk turns
 * into 500 internal_server_error answers, never into calculations answered but not recorded).
 * `recordMode: 'durable'` makes every response wait for its write instead.
 *
 * Bounds (src/tax/request-schema.ts, configurable in src/config): nesting depth checked first (iteratively),
 * then lines and string lengths by the validator. A record keeps the result and the request's known fields
 * (./record.ts), never the body text. Records are pruned by age, count and bytes (./retention.ts).
 *
 * Keys' last-used time is kept in memory and written at most once per `lastUsedWriteIntervalMs` (60 s) per
 * key. Admin changes made through this service update the indexes at once; changes made by another process
 * sharing the store are picked up by a refresh every `refreshIntervalMs` (5 s).
 */
import { observeTaxCalculation } from '../metrics/hooks.ts';
import { isStoreUnavailable } from '../store/unavailable.ts';
import { randomFillSync } from 'node:crypto';
import type { Store, StoredEntity } from '../store/types.ts';
import type { TaxData } from './rates/index.ts';
import { buildOrgView, calculate, type CustomerInfo, type EngineResult, type OrgTaxView } from './engine.ts';
import { buildCalculationDoc, calculationDocJson, recordBytes, renderResponseJson, type RecordExtras, type RecordMeta } from './record.ts';
import { isTaxbridgeError } from '../errors.ts';
import { TaxApiError, validationError } from './errors.ts';
import { tooDeepPath } from './depth.ts';
import { DEFAULT_TAX_API_LIMITS, type TaxApiLimits } from './request-schema.ts';
import { CalculationRetention, calculationId, calculationIdTime, type RetentionOptions } from './retention.ts';
import { normalizeCountry, todayUtc } from './geo.ts';
import { API_KEYS, createApiKey, keyIdFromRef, parseApiKey, revokeApiKey, verifyApiKey, type CreateApiKeyInput } from './keys.ts';
import type { ApiKeyDoc, Organization, TaxCalculationDoc } from './model.ts';
import * as orgs from './orgs.ts';
import { RateLimiter, type RateLimitDecision } from './rate-limit.ts';
import { validateCalculateRequest, type NormalizedRequest, type RawAddress } from './calculate-request.ts';
import { applyRounding } from './rounding.ts';
import { decideTaxId, type TaxIdVerifier } from './vat-ids/index.ts';
import type { TaxWarning } from './warnings.ts';
import { MAX_REASON_LENGTH, committed, refundLines, statusOf, voided, type RefundLineInput } from './lifecycle.ts';

export const TAX_CALCULATIONS = 'tax_calculations';

export interface TaxServiceOptions {
  store: Store;
  /** Rate data, loaded once (loadTaxData()). */
  data: TaxData;
  /** Default per-key limit, requests per second (token bucket, burst 2x). Default 100. A key's own rate_limit_per_second wins. */
  rateLimitPerSecond?: number;
  rateLimitBurst?: number;
  /** 'background' (default): respond once the calculation is in the store's memory. 'durable': respond after it is on disk. */
  recordMode?: 'durable' | 'background';
  /**
   * At most this many calculations wait for the disk; beyond, requests get 503 recording_backlog with
   * Retry-After (back-pressure). Default 10,000 (a few seconds of a slow disk at the default rate limit).
   */
  maxPendingRecords?: number;
  /** At most this many bytes of records (approximate JSON) wait for the disk; beyond, 503. Default 64 MiB. */
  maxPendingBytes?: number;
  /** Lines per calculation. Default 1000 (the request schema's maxItems). Same as limits.maxLineItems. */
  maxLines?: number;
  /** Nesting depth, free-text length and line caps (defaults: src/tax/request-schema.ts). */
  limits?: Partial<Omit<TaxApiLimits, 'maxBodyBytes'>>;
  /** Retention of recorded calculations (defaults: src/tax/retention.ts DEFAULT_RETENTION). */
  retention?: Partial<RetentionOptions>;
  lastUsedWriteIntervalMs?: number;
  refreshIntervalMs?: number;
  now?: () => Date;
  /** Customer tax id checks (format, check digits, optional VIES/HMRC); default: format and check digits only. */
  taxIds?: TaxIdVerifier;
  /** Where background failures go (a failed last-used write, a failed background record). Default: stderr. */
  onError?: (message: string, err: unknown) => void;
  /**
   * Runs a read-modify-write of a key document alone across replicas (src/coordination `exclusive`), so a
   * last-used update never writes back a key another replica revoked meanwhile. Default: in process only.
   */
  exclusive?: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

export interface AuthContext {
  key: ApiKeyDoc;
  view: OrgTaxView;
}

interface ConnectionDoc {
  id: string;
  organization_id: string;
  connector?: string;
  environment?: string;
  status?: string;
  streams?: Record<string, string | string[]>;
}

export class TaxService {
  readonly store: Store;
  readonly data: TaxData;
  readonly limiter: RateLimiter;
  readonly maxLines: number;
  readonly maxDepth: number;
  readonly maxTextLength: number;
  readonly retention: CalculationRetention;
  private readonly opts: TaxServiceOptions;
  private readonly clock: () => number;
  private day = { start: 0, end: 0, date: '' };
  private views = new Map<string, OrgTaxView>();
  private keys = new Map<string, ApiKeyDoc>();
  private readonly lastUsed = new Map<string, { at: number; writtenAt: number }>();
  private readonly connCache = new Map<string, { at: number; conns: ConnectionDoc[] }>();
  /**
   * Calculations recorded in the background whose write has not resolved, on a store that does not read its
   * writes at once (PostgreSQL): the stored text as given to putJson (parsed when read), or the document.
   */
  private readonly pending = new Map<string, TaxCalculationDoc | string>();
  /** Records written but not yet durable (both modes): the back-pressure queue. */
  private unsynced = { count: 0, bytes: 0 };
  private readonly inflight = new Set<Promise<unknown>>();
  private lastRefresh = 0;
  private recordFailed = false;
  private refreshing: Promise<void> | undefined;
  /** Documents forgotten while a reload was reading: the reload's copies of them may predate the change. */
  private forgottenDuringReload: Array<[string, string]> | undefined;
  /** Counts forget() calls, so a read that raced with one is not cached. */
  private forgets = 0;

  private constructor(opts: TaxServiceOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.data = opts.data;
    const now = opts.now;
    this.clock = now ? () => now().getTime() : Date.now;
    const rate = opts.rateLimitPerSecond ?? 100;
    this.limiter = new RateLimiter(rate, opts.rateLimitBurst ?? rate * 2);
    this.maxLines = opts.limits?.maxLineItems ?? opts.maxLines ?? DEFAULT_TAX_API_LIMITS.maxLineItems;
    this.maxDepth = opts.limits?.maxDepth ?? DEFAULT_TAX_API_LIMITS.maxDepth;
    this.maxTextLength = opts.limits?.maxTextLength ?? DEFAULT_TAX_API_LIMITS.maxTextLength;
    this.retention = new CalculationRetention(opts.store, TAX_CALCULATIONS, opts.retention ?? {}, this.clock, (m, e) => this.report(m, e));
  }

  static async open(opts: TaxServiceOptions): Promise<TaxService> {
    const s = new TaxService(opts);
    await s.reload();
    s.retention.start();
    return s;
  }

  /** Re-reads organizations and keys from the store into the indexes. */
  async reload(): Promise<void> {
    const forgotten: Array<[string, string]> = [];
    this.forgottenDuringReload = forgotten;
    let orgList: Organization[];
    let keyList: ApiKeyDoc[];
    try {
      [orgList, keyList] = await Promise.all([this.store.list<Organization>(orgs.ORGS), this.store.list<ApiKeyDoc>(API_KEYS)]);
    } finally {
      if (this.forgottenDuringReload === forgotten) this.forgottenDuringReload = undefined;
    }
    const views = new Map<string, OrgTaxView>();
    for (const o of orgList) views.set(o.id, buildOrgView(o));
    const keys = new Map<string, ApiKeyDoc>();
    for (const k of keyList) keys.set(k.id, k);
    this.views = views;
    this.keys = keys;
    // A change announced while we read: what we read may be older than it, so read it again on use.
    for (const [topic, id] of forgotten) this.forget(topic, id);
    this.lastRefresh = Date.now();
  }

  /**
   * Drops a cached document another replica (or this one) changed: the next request reads it from the store.
   * `id` '*' drops the whole collection's cache (notices may have been missed).
   */
  forget(topic: string, id: string): void {
    this.forgets++;
    this.forgottenDuringReload?.push([topic, id]);
    if (topic === API_KEYS) {
      if (id === '*') this.keys = new Map();
      else this.keys.delete(id);
    } else if (topic === orgs.ORGS) {
      if (id === '*') this.views = new Map();
      else this.views.delete(id);
    } else if (topic === 'connections') {
      this.connCache.clear();
    }
  }

  private exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.opts.exclusive ? this.opts.exclusive(name, fn) : fn();
  }

  private maybeRefresh(): void {
    const every = this.opts.refreshIntervalMs ?? 5000;
    if (every <= 0 || this.refreshing || Date.now() - this.lastRefresh < every) return;
    this.lastRefresh = Date.now();
    this.refreshing = this.reload()
      .catch((e) => this.report('refreshing organizations and keys failed', e))
      .finally(() => (this.refreshing = undefined));
  }

  private report(message: string, err: unknown): void {
    if (this.opts.onError) this.opts.onError(message, err);
    else process.stderr.write(`taxbridge tax: ${message}: ${err instanceof Error ? err.message : String(err)}\n`);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  // ---------------------------------------------------------------------------------------------- auth

  /** The key's organization when `raw` is a valid, unrevoked key; undefined otherwise. */
  async authenticate(raw: string | undefined): Promise<AuthContext | undefined> {
    this.maybeRefresh();
    if (!raw) return undefined;
    raw = raw.trim();
    const parsed = parseApiKey(raw);
    if (!parsed) return undefined;
    let key = this.keys.get(parsed.id);
    if (!key) {
      // Created elsewhere (another process on a shared store) since the last refresh.
      const gen = this.forgets;
      key = await this.store.get<ApiKeyDoc>(API_KEYS, parsed.id);
      if (!key) return undefined;
      // Not cached when a change was announced during the read (what we read may predate it).
      if (gen === this.forgets) this.keys.set(key.id, key);
    }
    if (!verifyApiKey(raw, key.hash) || key.revoked_at || key.mode !== parsed.mode) return undefined;
    let view = this.views.get(key.organization_id);
    if (!view) {
      const gen = this.forgets;
      const org = await this.store.get<Organization>(orgs.ORGS, key.organization_id);
      if (!org) return undefined;
      view = buildOrgView(org);
      if (gen === this.forgets) this.views.set(org.id, view);
    }
    if (view.org.mode !== key.mode) return undefined; // a test key never reaches a live organization
    this.touch(key);
    return { key, view };
  }

  rateLimit(auth: AuthContext): RateLimitDecision {
    return this.limiter.take(auth.key.id, auth.key.rate_limit_per_second);
  }

  private touch(key: ApiKeyDoc): void {
    const now = this.clock();
    const every = this.opts.lastUsedWriteIntervalMs ?? 60_000;
    const rec = this.lastUsed.get(key.id);
    if (rec && Date.now() - rec.writtenAt < every) {
      rec.at = now;
      return;
    }
    this.lastUsed.set(key.id, { at: now, writtenAt: Date.now() });
    this.track(this.writeLastUsed(key.id, now)).catch((e) => this.report(`recording last use of key ${key.prefix} failed`, e));
  }

  private async writeLastUsed(id: string, at: number): Promise<void> {
    const next = await this.exclusive(`api_key:${id}`, async () => {
      const cur = await this.store.get<ApiKeyDoc>(API_KEYS, id);
      if (!cur) return undefined;
      const n = { ...cur, last_used_at: new Date(at).toISOString() };
      await this.store.put(API_KEYS, id, n);
      return n;
    });
    if (!next) return;
    const mem = this.keys.get(id);
    if (mem) this.keys.set(id, { ...mem, last_used_at: next.last_used_at });
  }

  /** Last use of a key as this process knows it (the store may lag by up to the write interval). */
  lastUsedAt(keyId: string): string | null {
    const rec = this.lastUsed.get(keyId);
    return rec ? new Date(rec.at).toISOString() : (this.keys.get(keyId)?.last_used_at ?? null);
  }

  // ------------------------------------------------------------------------------------- calculation

  private iso = { ms: NaN, text: '' };
  /** The ISO time of a clock reading; calculations under load share milliseconds, so the last one is kept. */
  private isoTime(ms: number): string {
    const c = this.iso;
    if (c.ms !== ms) {
      c.ms = ms;
      c.text = new Date(ms).toISOString();
    }
    return c.text;
  }

  /** Today's UTC date for a clock reading, recomputed only when the day changes. */
  private today(ms: number): string {
    const d = this.day;
    if (ms >= d.start && ms < d.end) return d.date;
    const start = ms - (((ms % 86_400_000) + 86_400_000) % 86_400_000);
    this.day = { start, end: start + 86_400_000, date: todayUtc(new Date(ms)) };
    return this.day.date;
  }

  /**
   * Validates, computes and records one calculation. `body` is the parsed request; `_bodyText` (its text as
   * received) is accepted for callers that have it but never recorded. `json` is the response body text.
   */
  calculate(auth: AuthContext, body: unknown, bodyText?: string): Promise<{ json: string; result: EngineResult }> {
    return observeTaxCalculation(this.calculateOnce(auth, body, bodyText));
  }

  private async calculateOnce(auth: AuthContext, body: unknown, _bodyText?: string): Promise<{ json: string; result: EngineResult }> {
    this.checkBacklog();
    // Before anything recursive sees the body.
    const deep = tooDeepPath(body, this.maxDepth);
    if (deep !== undefined) throw validationError(deep, `${deep} is nested more than ${this.maxDepth} levels deep; a calculate_tax request needs at most 4`);
    let req = validateCalculateRequest(body, { maxLines: this.maxLines, maxTextLength: this.maxTextLength });
    const view = auth.view;
    // A credit note of a recorded invoice is taxed as that invoice was: its date, place and buyer.
    const reference = req.reference_calculation_id !== undefined ? await this.referenceFor(auth, req.reference_calculation_id) : undefined;
    const issueDate = req.tax_date;
    if (reference) req = asOfReference(req, reference);
    let customer: CustomerInfo | undefined;
    if (req.customer_id) customer = await this.findCustomer(view.org, req.customer_id);
    const taxIdDecision = req.tax_id !== undefined || customer?.tax_ids ? await decideTaxId(req, customer, view.org, this.opts.taxIds, reference?.tax_id_status ? { status: reference.tax_id_status, scheme: '', reason: `the status of invoice calculation ${reference.id}'s tax id` } : undefined) : undefined;
    if (taxIdDecision) {
      req = taxIdDecision.req;
      customer = taxIdDecision.customer;
    }
    const now = this.clock();
    const taxDate = reference?.tax_date ?? req.tax_date ?? this.today(now);
    const result = calculate({ req, view, data: this.data, taxDate, customer });
    if (result.lines.length > 1) applyRounding(result, view.org.rounding ?? 'line', this.data, taxDate);
    if (taxIdDecision?.warning) result.warnings.push(taxIdDecision.warning as unknown as TaxWarning);
    const id = calculationId(now, randomHex20());
    const meta: RecordMeta = {
      id,
      organization_id: view.org.id,
      mode: view.org.mode,
      api_key_id: auth.key.id,
      created_at: this.isoTime(now),
      tax_date: taxDate,
      currency: req.currency,
      include_taxability_reason: req.include_taxability_reason,
      request: req.recorded,
    };
    let extras: RecordExtras | undefined;
    if (taxIdDecision) {
      extras = { tax_id_status: taxIdDecision.check.status };
      if (taxIdDecision.check.evidence) extras.tax_id_evidence = taxIdDecision.check.evidence;
    }
    if (reference) extras = { ...extras, kind: 'credit_note', reference_calculation_id: reference.id, issue_date: issueDate ?? this.today(now) };
    let json = renderResponseJson(result, id, req.include_taxability_reason);
    if (extras?.tax_id_status) json = `${json.slice(0, -2)},"tax_id_status":"${extras.tax_id_status}"}}`;
    this.checkBacklog(); // the customer lookup may have waited
    // A store with putJson takes the stored text as built (./record.ts calculationDocJson), any other the
    // document; one that does not read its writes at once has a copy kept here until it is durable (`pending`).
    const store = this.store;
    const text = store.putJson ? calculationDocJson(meta, result, extras) : undefined;
    const doc = text === undefined ? buildCalculationDoc(meta, result, extras) : undefined;
    const size = text !== undefined ? text.length : recordBytes(doc!);
    const u = this.unsynced;
    u.count++;
    u.bytes += size;
    const write = text !== undefined ? store.putJson!(TAX_CALCULATIONS, id, text) : store.put(TAX_CALCULATIONS, id, doc!);
    this.retention.add(id, now, size);
    if (this.opts.recordMode === 'durable' || this.recordFailed) {
      try {
        await write;
      } catch (e) {
        this.report(`recording calculation ${id} failed`, e);
        // A disk that refuses writes passes (as /readyz says): 503 + Retry-After, as the webhook receiver answers.
        if (isStoreUnavailable(e)) throw new TaxApiError(503, 'storage_unavailable', 'the calculation could not be recorded because storage is unavailable; retry shortly', { headers: { 'Retry-After': '5' } });
        throw new TaxApiError(500, 'internal_server_error', 'the calculation could not be recorded; try again');
      } finally {
        this.settled(size);
      }
    } else {
      // A store that reads its writes at once needs no copy here (and the document then dies young instead
      // of surviving garbage collections until its fsync).
      const keep = !store.readsWritesAtOnce;
      if (keep) this.pending.set(id, text ?? doc!);
      write.then(
        () => {
          this.settled(size);
          if (keep) this.pending.delete(id);
        },
        (e) => {
          this.settled(size);
          if (keep) this.pending.delete(id);
          this.recordFailed = true;
          this.report(`recording calculation ${id} failed`, e);
        },
      );
    }
    return { json, result };
  }

  /** A record left the back-pressure queue (durable, or its write failed). */
  private settled(size: number): void {
    this.unsynced.count--;
    this.unsynced.bytes -= size;
  }

  /** Records waiting for the disk: how many and their approximate bytes. */
  backlog(): { count: number; bytes: number } {
    return { ...this.unsynced };
  }

  private checkBacklog(): void {
    const u = this.unsynced;
    const maxCount = this.opts.maxPendingRecords ?? 10_000;
    const maxBytes = this.opts.maxPendingBytes ?? 64 * 1024 * 1024;
    if (u.count < maxCount && u.bytes < maxBytes) return;
    throw new TaxApiError(
      503,
      'recording_backlog',
      `calculations are arriving faster than they can be recorded (${u.count} waiting for the disk); nothing was calculated, retry after 1 s`,
      { headers: { 'Retry-After': '1' }, hint: 'if this persists, the data folder\'s disk is too slow or failing' },
    );
  }

  /** Why a calculation id is not found: pruned by retention (when its id says it is older than what is kept), or unknown. */
  missingCalculationMessage(id: string): string {
    const shown = JSON.stringify(id.slice(0, 100));
    const at = calculationIdTime(id);
    const o = this.retention.options;
    const kept = `calculations are kept ${o.maxAgeDays} days, at most ${o.maxCount} of them (${Math.round(o.maxBytes / 1048576)} MiB)`;
    if (at !== undefined && (at <= this.retention.prunedUpTo || at < this.clock() - o.maxAgeDays * 86_400_000)) {
      return `calculation ${shown} (recorded ${new Date(at).toISOString()}) is no longer kept: ${kept}; use the copy on your invoice`;
    }
    return `no calculation ${shown} for this API key's organization (${kept})`;
  }

  /** A recorded calculation of the key's own organization (never another's, never across test/live). */
  async getCalculation(auth: AuthContext, id: string): Promise<TaxCalculationDoc | undefined> {
    const doc = this.pendingDoc(id) ?? (await this.store.get<TaxCalculationDoc>(TAX_CALCULATIONS, id));
    if (!doc || doc.organization_id !== auth.view.org.id || doc.mode !== auth.view.org.mode) return undefined;
    return doc;
  }

  /** The calculation `id` while its background write is unresolved (a copy of its own when kept as text). */
  private pendingDoc(id: string): TaxCalculationDoc | undefined {
    const p = this.pending.get(id);
    return typeof p === 'string' ? (JSON.parse(p) as TaxCalculationDoc) : p;
  }

  private async referenceFor(auth: AuthContext, id: string): Promise<TaxCalculationDoc> {
    const doc = await this.getCalculation(auth, id);
    if (!doc) throw validationError('reference_calculation_id', `reference_calculation_id: ${this.missingCalculationMessage(id)}`);
    if (statusOf(doc) === 'voided') throw validationError('reference_calculation_id', `reference_calculation_id: calculation ${id} is voided; a credit note needs the invoice's live calculation`);
    if (doc.kind === 'refund' || doc.kind === 'credit_note') throw validationError('reference_calculation_id', `reference_calculation_id: calculation ${id} is a ${doc.kind}, not an invoice`);
    return doc;
  }

  // --------------------------------------------------------------------------------------- lifecycle

  private readonly lifecycleLocks = new Map<string, Promise<unknown>>();

  /** One lifecycle change of a calculation at a time (read-modify-write of its document). */
  private async lifecycle<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.lifecycleLocks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.lifecycleLocks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.lifecycleLocks.get(id) === tail) this.lifecycleLocks.delete(id);
    }
  }

  private async save(doc: TaxCalculationDoc): Promise<TaxCalculationDoc> {
    // A put never overtakes the calculation's own putJson still queued (the stores order writes per id).
    await this.store.put(TAX_CALCULATIONS, doc.id, doc);
    if (this.pending.has(doc.id)) this.pending.set(doc.id, doc);
    return doc;
  }

  private async mustGet(auth: AuthContext, id: string): Promise<TaxCalculationDoc> {
    const doc = await this.getCalculation(auth, id);
    if (!doc) throw new TaxApiError(404, 'not_found', this.missingCalculationMessage(id));
    return doc;
  }

  /** The invoice was finalized: the calculation counts as collected. Idempotent. */
  commitCalculation(auth: AuthContext, id: string): Promise<TaxCalculationDoc> {
    return this.lifecycle(id, async () => {
      const doc = await this.mustGet(auth, id);
      const next = committed(doc, new Date(this.clock()).toISOString());
      return next === doc ? doc : this.save(next);
    });
  }

  /** The invoice was voided or deleted: the calculation no longer counts. Idempotent. */
  voidCalculation(auth: AuthContext, id: string, reason?: string): Promise<TaxCalculationDoc> {
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH)) {
      throw validationError('reason', `reason must be a string of at most ${MAX_REASON_LENGTH} characters`);
    }
    return this.lifecycle(id, async () => {
      const doc = await this.mustGet(auth, id);
      const next = voided(doc, new Date(this.clock()).toISOString(), reason);
      if (next === doc) return doc;
      await this.save(next);
      // A voided refund gives its amounts back to the original.
      if (doc.kind === 'refund' && doc.reference_calculation_id) {
        const orig = await this.getCalculation(auth, doc.reference_calculation_id);
        if (orig) await this.save({ ...orig, status: 'committed', refund_ids: (orig.refund_ids ?? []).filter((r) => r !== id) });
      }
      return next;
    });
  }

  /** An exact inverse (full, or partial by line) at the original rates, recorded as a committed refund calculation. */
  refundCalculation(auth: AuthContext, id: string, lines: RefundLineInput[] | undefined): Promise<{ refund: TaxCalculationDoc; original: TaxCalculationDoc }> {
    return this.lifecycle(id, async () => {
      const original = await this.mustGet(auth, id);
      const refunds: TaxCalculationDoc[] = [];
      for (const r of original.refund_ids ?? []) {
        const d = await this.getCalculation(auth, r);
        if (d) refunds.push(d);
      }
      const made = refundLines(original, refunds, lines);
      const now = this.clock();
      const at = new Date(now).toISOString();
      const rid = calculationId(now, randomHex20());
      let total = 0;
      for (const l of made.lines) total += l[5];
      const refund: TaxCalculationDoc = {
        id: rid,
        organization_id: original.organization_id,
        mode: original.mode,
        api_key_id: auth.key.id,
        created_at: at,
        tax_date: original.tax_date,
        issue_date: at.slice(0, 10),
        currency: original.currency,
        ...(original.customer_country ? { customer_country: original.customer_country } : {}),
        ...(original.customer_state ? { customer_state: original.customer_state } : {}),
        tax_total: total,
        include_taxability_reason: original.include_taxability_reason,
        jurisdictions: original.jurisdictions,
        lines: made.lines,
        request: { currency: original.currency.toLowerCase(), line_items: [] },
        status: 'committed',
        committed_at: at,
        kind: 'refund',
        reference_calculation_id: original.id,
        refund_line_index: made.index,
      };
      await this.store.put(TAX_CALCULATIONS, rid, refund);
      this.retention.add(rid, now, recordBytes(refund));
      const next: TaxCalculationDoc = { ...original, refund_ids: [...(original.refund_ids ?? []), rid], ...(made.full ? { status: 'refunded' as const } : {}) };
      await this.save(next);
      return { refund, original: next };
    });
  }

  /** The organization's recorded calculations matching `keep` (exports). */
  async listCalculations(orgId: string, mode: Organization['mode'], keep: (d: TaxCalculationDoc) => boolean): Promise<TaxCalculationDoc[]> {
    const docs: TaxCalculationDoc[] = [];
    await this.store.scan<TaxCalculationDoc>(TAX_CALCULATIONS, (d) => void (keep(d) && docs.push(d)), { where: { organization_id: orgId, mode } });
    const seen = new Set(docs.map((d) => d.id));
    for (const id of this.pending.keys()) {
      if (seen.has(id)) continue;
      const d = this.pendingDoc(id)!;
      if (d.organization_id === orgId && d.mode === mode && keep(d)) docs.push(d);
    }
    return docs;
  }

  private async connectionsFor(org: Organization): Promise<ConnectionDoc[]> {
    const hit = this.connCache.get(org.id);
    if (hit && Date.now() - hit.at < (this.opts.refreshIntervalMs ?? 5000)) return hit.conns;
    const wantEnv = org.mode === 'test' ? 'sandbox' : 'production';
    const { docs: conns } = await this.store.find<ConnectionDoc>('connections', {
      // A disconnected system's customers no longer speak for the organization.
      where: { organization_id: org.id, status: { ne: 'disconnected' }, environment: { in: [null, wantEnv] } },
    });
    this.connCache.set(org.id, { at: Date.now(), conns });
    return conns;
  }

  /** A synced customer of one of the organization's connections, by its id in the billing system. */
  async findCustomer(org: Organization, customerId: string): Promise<CustomerInfo | undefined> {
    for (const conn of await this.connectionsFor(org)) {
      const s = conn.streams?.customer;
      const streams = s === undefined ? ['customers'] : Array.isArray(s) ? s : [s];
      for (const stream of streams) {
        const e = await this.store.getEntity(conn.id, stream, customerId);
        if (e && !e.deleted) return customerInfo(conn.id, e);
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------------ admin

  private setOrg(org: Organization): Organization {
    this.views.set(org.id, buildOrgView(org));
    return org;
  }

  organization(id: string): Organization | undefined {
    return this.views.get(id)?.org;
  }

  listOrganizations(): Promise<Organization[]> {
    return orgs.listOrganizations(this.store);
  }

  async getOrganization(id: string): Promise<Organization> {
    return this.setOrg(await orgs.getOrganization(this.store, id));
  }

  async createOrganization(input: orgs.CreateOrganizationInput): Promise<Organization> {
    return this.setOrg(await orgs.createOrganization(this.store, input));
  }

  async updateOrganization(id: string, patch: orgs.UpdateOrganizationInput): Promise<Organization> {
    return this.setOrg(await orgs.updateOrganization(this.store, id, patch));
  }

  async addRegistration(orgId: string, input: orgs.RegistrationInput) {
    const r = await orgs.addRegistration(this.store, orgId, input);
    this.setOrg(r.org);
    return r;
  }

  async updateRegistration(orgId: string, ref: string, patch: { tax_calculation?: boolean; effective_from?: string }) {
    const r = await orgs.updateRegistration(this.store, orgId, ref, patch);
    this.setOrg(r.org);
    return r;
  }

  async removeRegistration(orgId: string, ref: string): Promise<Organization> {
    return this.setOrg(await orgs.removeRegistration(this.store, orgId, ref));
  }

  async setProductTaxCode(orgId: string, input: orgs.ProductTaxCodeInput) {
    const r = await orgs.setProductTaxCode(this.store, orgId, input);
    this.setOrg(r.org);
    return r;
  }

  async removeProductTaxCode(orgId: string, productId: string, connectionId?: string): Promise<Organization> {
    return this.setOrg(await orgs.removeProductTaxCode(this.store, orgId, productId, connectionId));
  }

  async createApiKey(orgId: string, input: CreateApiKeyInput = {}): Promise<{ key: string; doc: ApiKeyDoc }> {
    const r = await createApiKey(this.store, orgId, input);
    this.keys.set(r.doc.id, r.doc);
    return r;
  }

  async revokeApiKey(ref: string): Promise<ApiKeyDoc> {
    const doc = await this.exclusive(`api_key:${keyIdFromRef(ref)}`, () => revokeApiKey(this.store, ref));
    this.keys.set(doc.id, doc);
    return doc;
  }

  async getApiKey(ref: string): Promise<ApiKeyDoc | undefined> {
    return this.store.get<ApiKeyDoc>(API_KEYS, keyIdFromRef(ref));
  }

  async listApiKeys(orgId?: string): Promise<ApiKeyDoc[]> {
    const { docs } = await this.store.find<ApiKeyDoc>(API_KEYS, { ...(orgId ? { where: { organization_id: orgId } } : {}), orderBy: { field: 'created_at' } });
    return docs.map((k) => ({ ...k, last_used_at: this.lastUsedAt(k.id) ?? k.last_used_at ?? null }));
  }

  /** Waits for background writes (last-used times, calculations recorded in the background). */
  async flush(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    await this.store.flush();
  }

  /** Writes pending last-used times and waits for background writes. Does not close the store. */
  async close(): Promise<void> {
    await this.retention.close();
    await this.flush();
    for (const [id, rec] of this.lastUsed) {
      const k = this.keys.get(id);
      if (k && k.last_used_at !== new Date(rec.at).toISOString()) await this.writeLastUsed(id, rec.at).catch((e) => this.report('recording last use failed', e));
    }
  }
}

/** The request as its referenced invoice was: date, addresses and buyer (tax id, exemption, synced customer). */
function asOfReference(req: NormalizedRequest, ref: TaxCalculationDoc): NormalizedRequest {
  const r = typeof ref.request === 'string' ? undefined : ref.request;
  const addr = (a: { address1?: string; address2?: string; city?: string; state?: string; postal_code?: string; country?: string } | undefined): RawAddress | undefined =>
    a ? { line1: a.address1, line2: a.address2, city: a.city, state: a.state, postal_code: a.postal_code, country: a.country } : undefined;
  return {
    ...req,
    tax_date: ref.tax_date,
    customer_address: addr(r?.customer_address) ?? req.customer_address,
    ship_from: addr(r?.ship_from) ?? req.ship_from,
    customer_id: r?.customer_id !== undefined ? String(r.customer_id) : req.customer_id,
    tax_id: r ? r.tax_id : req.tax_id,
    tax_exempt: r ? r.tax_exempt === true : req.tax_exempt,
  };
}

/**
 * 10 random bytes as hex for calculation ids, from a pool refilled 4 KiB at a time: one CSPRNG call per ~400
 * calculations instead of one each (measured: randomFillSync was ~1 % of a calculation on the bench).
 */
const POOL = Buffer.alloc(4000);
let poolAt = POOL.length;
function randomHex20(): string {
  if (poolAt + 10 > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const hex = POOL.toString('hex', poolAt, poolAt + 10);
  poolAt += 10;
  return hex;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

function customerInfo(connectionId: string, e: StoredEntity): CustomerInfo {
  const d = e.data as Record<string, unknown>;
  const info: CustomerInfo = { id: e.external_id, connection_id: connectionId };
  const a = d.address as Record<string, unknown> | undefined | null;
  if (a && typeof a === 'object') {
    const addr: RawAddress = {
      line1: str(a.line1),
      line2: str(a.line2),
      city: str(a.city),
      state: str(a.state),
      postal_code: str(a.postal_code),
      country: str(a.country) ? (normalizeCountry(a.country) ?? str(a.country)) : undefined,
    };
    if (addr.country || addr.postal_code || addr.state) info.address = addr;
  }
  if (d.tax_status === 'taxed' || d.tax_status === 'exempt' || d.tax_status === 'reverse_charge') info.tax_status = d.tax_status;
  if (Array.isArray(d.tax_ids)) {
    const ids = d.tax_ids.filter((t): t is { type?: string; value: string } => !!t && typeof t === 'object' && typeof (t as { value?: unknown }).value === 'string' && !!(t as { value: string }).value.trim());
    if (ids.length) info.tax_ids = ids;
  }
  return info;
}
