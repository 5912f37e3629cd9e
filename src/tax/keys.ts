/**
 * API keys: `tb_test_…` or `tb_live_…` followed by 40 base62 characters (~238 bits from the CSPRNG). The
 * first 8 of those are the key's public lookup id (doc id `key_<8>`, shown in listings as the prefix
 * "tb_test_AbCd1234"); the store keeps only "sha256:<hex>" of the whole key, compared in constant time.
 * A plain SHA-256 is enough here: the key is random and high-entropy, so there is nothing to brute-force.
 */
import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import { TaxbridgeError } from '../errors.ts';
import type { Store } from '../store/types.ts';
import { randomBase62 } from './ids.ts';
import type { ApiKeyDoc, OrgMode } from './model.ts';
import { getOrganization, invalid, notFound } from './orgs.ts';

export const API_KEYS = 'api_keys';
const LOOKUP_LEN = 8;
const SECRET_LEN = 32;
const KEY_RE = /^tb_(test|live)_([0-9A-Za-z]{8})([0-9A-Za-z]{32})$/;

export interface ParsedKey {
  mode: OrgMode;
  /** Store id of the key document. */
  id: string;
}

/** Recognizes the key format without touching the store; undefined for anything else. */
export function parseApiKey(raw: string): ParsedKey | undefined {
  const m = KEY_RE.exec(raw);
  if (!m) return undefined;
  return { mode: m[1] as OrgMode, id: `key_${m[2]}` };
}

// crypto.hash (Node >= 20.12) is a one-shot digest without the Hash object's overhead.
const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

export function hashApiKey(raw: string): string {
  return `sha256:${oneShot ? oneShot('sha256', raw, 'hex') : createHash('sha256').update(raw).digest('hex')}`;
}

/**
 * A small cache of two generations (each up to `max` entries): lookups hit the newer one, else the older one
 * (and move up); when the newer one is full it becomes the older one. An LRU's bound without its per-hit
 * reordering.
 */
class TwoGenerationCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.young.get(k);
    if (v !== undefined) return v;
    const o = this.old.get(k);
    if (o !== undefined) this.set(k, o);
    return o;
  }
  set(k: string, v: V): void {
    if (this.young.size >= this.max) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(k, v);
  }
}

/**
 * Digests of keys that verified, by the key as presented, and stored hashes as bytes: a billing system sends
 * the same key on every call, and hashing it was ~11 % of a calculation. Bounded (2 x 1,000 keys); only
 * keys that matched their stored hash enter, so random keys cannot fill it. The compare stays constant-time.
 */
const verified = new TwoGenerationCache<Buffer>(1000);
const storedBytes = new TwoGenerationCache<Buffer>(1000);

function digestOf(raw: string): Buffer {
  return Buffer.from(hashApiKey(raw).slice(7), 'hex');
}

function storedDigest(storedHash: string): Buffer | undefined {
  let b = storedBytes.get(storedHash);
  if (b === undefined) {
    if (!/^sha256:[0-9a-f]{64}$/.test(storedHash)) return undefined;
    b = Buffer.from(storedHash.slice(7), 'hex');
    storedBytes.set(storedHash, b);
  }
  return b;
}

/** Constant-time comparison of a presented key with a stored hash. */
export function verifyApiKey(raw: string, storedHash: string): boolean {
  const want = storedDigest(storedHash);
  if (!want) return false;
  const cached = verified.get(raw);
  const got = cached ?? digestOf(raw);
  const ok = timingSafeEqual(got, want);
  if (ok && !cached) verified.set(raw, got);
  return ok;
}

export function generateApiKey(mode: OrgMode): { key: string; id: string; prefix: string; hash: string } {
  const lookup = randomBase62(LOOKUP_LEN);
  const key = `tb_${mode}_${lookup}${randomBase62(SECRET_LEN)}`;
  return { key, id: `key_${lookup}`, prefix: `tb_${mode}_${lookup}`, hash: hashApiKey(key) };
}

export interface CreateApiKeyInput {
  name?: string;
  rate_limit_per_second?: number;
}

/** Creates a key for an organization (same mode as the organization). Returns the key itself: show it once. */
export async function createApiKey(store: Store, orgId: string, input: CreateApiKeyInput = {}): Promise<{ key: string; doc: ApiKeyDoc }> {
  const org = await getOrganization(store, orgId);
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name.length > 200)) throw invalid('name must be a string of at most 200 characters', 'name');
  const rl = input.rate_limit_per_second;
  if (rl !== undefined && (typeof rl !== 'number' || !Number.isFinite(rl) || rl <= 0)) throw invalid('rate_limit_per_second must be a positive number', 'rate_limit_per_second');
  for (let attempt = 0; attempt < 5; attempt++) {
    const g = generateApiKey(org.mode);
    const doc: ApiKeyDoc = {
      id: g.id,
      organization_id: org.id,
      mode: org.mode,
      prefix: g.prefix,
      hash: g.hash,
      ...(input.name ? { name: input.name } : {}),
      created_at: new Date().toISOString(),
      revoked_at: null,
      last_used_at: null,
      ...(rl !== undefined ? { rate_limit_per_second: rl } : {}),
    };
    if (await store.insertIfAbsent(API_KEYS, doc.id, doc)) return { key: g.key, doc };
  }
  throw new TaxbridgeError('conflict', 'could not allocate a unique key id; try again');
}

export async function listApiKeys(store: Store, orgId?: string): Promise<ApiKeyDoc[]> {
  return (await store.find<ApiKeyDoc>(API_KEYS, { ...(orgId ? { where: { organization_id: orgId } } : {}), orderBy: { field: 'created_at' } })).docs;
}

/** Accepts the doc id ("key_AbCd1234") or the visible prefix ("tb_test_AbCd1234"). */
export function keyIdFromRef(ref: string): string {
  const m = /^tb_(?:test|live)_([0-9A-Za-z]{8})/.exec(ref);
  return m ? `key_${m[1]}` : ref;
}

export async function revokeApiKey(store: Store, ref: string): Promise<ApiKeyDoc> {
  const id = keyIdFromRef(ref);
  const doc = await store.get<ApiKeyDoc>(API_KEYS, id);
  if (!doc) throw notFound('API key', ref);
  if (doc.revoked_at) return doc;
  const next = { ...doc, revoked_at: new Date().toISOString() };
  await store.put(API_KEYS, id, next);
  return next;
}

/** A key as listings show it: never the hash. */
export function publicKeyView(k: ApiKeyDoc): Omit<ApiKeyDoc, 'hash'> {
  const { hash: _hash, ...rest } = k;
  return rest;
}
