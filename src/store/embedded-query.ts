import { TaxbridgeError } from '../errors.ts';
import { IndexedRows, lookupKeys } from './indexes.ts';
import { conditions, holds, pageLimit, pageOfKeyed, sortValue, type Condition } from './query.ts';
import type { ClaimQuery, FindQuery } from './types.ts';

/**
 * Runs a FindQuery over an indexed collection: candidates from the most selective equality index (all ids
 * when the query has none), the other conditions checked on indexed values, sorted by (order value, id),
 * cut at the cursor and the limit. Only the returned documents are parsed (by the caller).
 */
export function findIn(rows: IndexedRows, q: FindQuery, opts: { countOnly?: boolean } = {}): { ids: string[]; next?: string; count: number } {
  const conds = conditions(q.where);
  const limit = pageLimit(q);
  const order = q.orderBy;
  const fields = conds.map((c) => c.field);
  if (order) fields.push(order.field);
  rows.ensure(fields);

  let candidates: Iterable<string> = rows.keys();
  let best: Set<string> | undefined;
  for (const c of conds) {
    if (c.op.kind !== 'eq' && c.op.kind !== 'in') continue;
    const keys = c.op.kind === 'eq' ? lookupKeys(c.op.value) : c.op.values.flatMap(lookupKeys);
    const ids = rows.idsWith(c.field, keys);
    if (!best || ids.size < best.size) best = ids;
  }
  if (best) candidates = best;

  const hits: string[] = [];
  for (const id of candidates) if (passes(rows, conds, id)) hits.push(id);
  if (opts.countOnly) return { ids: [], count: hits.length };

  const desc = order?.desc === true;
  const valueOf = (id: string) => (order ? sortValue(rows.fieldValue(order.field, id)) : '');
  const page = pageOfKeyed(hits.map((id) => ({ v: valueOf(id), id })), q.after, desc, limit);
  return { ids: page.rows.map((k) => k.id), count: page.rows.length, ...(page.next ? { next: page.next } : {}) };
}

function passes(rows: IndexedRows, conds: readonly Condition[], id: string): boolean {
  for (const c of conds) if (!holds(c.op, rows.fieldValue(c.field, id))) return false;
  return true;
}

interface Hold {
  owner: string;
  until: number;
}

function checkLease(what: string, owner: string, ms: number): void {
  if (typeof owner !== 'string' || owner === '') throw new TaxbridgeError('STORE_BAD_QUERY', `${what}: owner must be a non-empty string`);
  if (!Number.isInteger(ms) || ms < 1 || ms > 24 * 3600_000) throw new TaxbridgeError('STORE_BAD_QUERY', `${what}: the lease must be 1 ms to 24 h, not ${String(ms)}`);
}

/**
 * Claims, leases and published messages of the embedded store. One process owns a data folder (lock.ts),
 * so these need no disk: after a restart every claim and lease is free again, as an expired one would be.
 */
export class LocalCoordination {
  private readonly claims = new Map<string, Hold>();
  private readonly leases = new Map<string, Hold>();
  private readonly topics = new Map<string, Set<(m: string) => void>>();

  /** Claims the first id without a live claim held by another owner or the same one. */
  claimFirst(collection: string, ids: readonly string[], q: ClaimQuery): string | undefined {
    checkLease('claimNext', q.owner, q.leaseMs);
    const now = q.now === undefined ? Date.now() : Date.parse(q.now);
    if (!Number.isFinite(now)) throw new TaxbridgeError('STORE_BAD_QUERY', `claimNext: now must be an ISO time, not ${JSON.stringify(q.now)}`);
    for (const id of ids) {
      const key = `${collection}\u0000${id}`;
      const held = this.claims.get(key);
      if (held && held.until > now) continue;
      this.claims.set(key, { owner: q.owner, until: now + q.leaseMs });
      return id;
    }
    return undefined;
  }

  renewClaim(collection: string, id: string, owner: string, leaseMs: number): boolean {
    checkLease('renewClaim', owner, leaseMs);
    const key = `${collection}\u0000${id}`;
    const held = this.claims.get(key);
    if (!held || held.owner !== owner || held.until <= Date.now()) return false;
    held.until = Date.now() + leaseMs;
    return true;
  }

  releaseClaim(collection: string, id: string, owner: string): boolean {
    const key = `${collection}\u0000${id}`;
    const held = this.claims.get(key);
    if (!held || held.owner !== owner) return false;
    this.claims.delete(key);
    return true;
  }

  tryAcquireLease(name: string, owner: string, ttlMs: number): boolean {
    if (typeof name !== 'string' || name === '') throw new TaxbridgeError('STORE_BAD_QUERY', 'a lease needs a non-empty name');
    checkLease(`lease ${name}`, owner, ttlMs);
    const now = Date.now();
    const held = this.leases.get(name);
    if (held && held.owner !== owner && held.until > now) return false;
    this.leases.set(name, { owner, until: now + ttlMs });
    return true;
  }

  releaseLease(name: string, owner: string): boolean {
    const held = this.leases.get(name);
    if (!held || held.owner !== owner) return false;
    this.leases.delete(name);
    return true;
  }

  publish(topic: string, message: string): void {
    for (const fn of [...(this.topics.get(topic) ?? [])]) {
      // A listener's failure is its own: the others still hear the message.
      try {
        fn(message);
      } catch {
        /* ignored on purpose */
      }
    }
  }

  subscribe(topic: string, fn: (m: string) => void): () => Promise<void> {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(fn);
    return async () => {
      set.delete(fn);
    };
  }
}
