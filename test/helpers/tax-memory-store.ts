/**
 * A tiny in-memory Store for the tax tests (the real one lives in src/store). Writes resolve on the next
 * macrotask, as a group-committing store would, and documents are cloned so callers can't alias them.
 */
import type { ClaimQuery, Collection, EntityWrite, FindPage, FindQuery, Store, StoredEntity, StoreHealth, UpsertResult, Where } from '../../src/store/types.ts';
import { findInDocs } from '../../src/store/query.ts';
import { LocalCoordination } from '../../src/store/embedded-query.ts';

export class MemoryStore implements Store {
  readonly collections = new Map<string, Map<string, unknown>>();
  readonly entities = new Map<string, StoredEntity>();
  writes = 0;
  private readonly local = new LocalCoordination();
  private readonly ticks = new Map<string, string>();

  private coll(name: string): Map<string, unknown> {
    let c = this.collections.get(name);
    if (!c) this.collections.set(name, (c = new Map()));
    return c;
  }

  private tick(): Promise<void> {
    return new Promise((r) => setImmediate(r));
  }

  async commitPage(input: { connectionId: string; stream: string; entity: string; writes: EntityWrite[]; checkpoint?: { id: string; value: Record<string, unknown> } }): Promise<UpsertResult> {
    const res: UpsertResult = { created: 0, updated: 0, unchanged: 0 };
    const now = new Date().toISOString();
    for (const w of input.writes) {
      const k = `${input.connectionId}\u0000${input.stream}\u0000${w.external_id}`;
      const hash = JSON.stringify([w.data, !!w.deleted]);
      const prev = this.entities.get(k);
      if (prev && prev.hash === hash) {
        res.unchanged++;
        continue;
      }
      if (prev) res.updated++;
      else res.created++;
      this.entities.set(k, {
        connection_id: input.connectionId,
        stream: input.stream,
        entity: input.entity,
        external_id: w.external_id,
        data: structuredClone(w.data),
        raw: w.raw,
        hash,
        deleted: !!w.deleted,
        first_seen_at: prev?.first_seen_at ?? now,
        updated_at: now,
      });
    }
    if (input.checkpoint) this.coll('sync_state').set(input.checkpoint.id, structuredClone(input.checkpoint.value));
    await this.tick();
    return res;
  }

  async getEntity(connectionId: string, stream: string, externalId: string): Promise<StoredEntity | undefined> {
    const e = this.entities.get(`${connectionId}\u0000${stream}\u0000${externalId}`);
    return e ? structuredClone(e) : undefined;
  }

  async listEntities(connectionId: string, stream: string, opts?: { includeDeleted?: boolean }): Promise<StoredEntity[]> {
    return [...this.entities.values()].filter((e) => e.connection_id === connectionId && e.stream === stream && (opts?.includeDeleted || !e.deleted)).map((e) => structuredClone(e));
  }

  async markDeleted(connectionId: string, stream: string, externalId: string): Promise<boolean> {
    const e = this.entities.get(`${connectionId}\u0000${stream}\u0000${externalId}`);
    if (!e) return false;
    e.deleted = true;
    return true;
  }

  async countEntities(connectionId: string, stream: string): Promise<{ active: number; deleted: number }> {
    let active = 0;
    let deleted = 0;
    for (const e of this.entities.values()) if (e.connection_id === connectionId && e.stream === stream) e.deleted ? deleted++ : active++;
    return { active, deleted };
  }

  async get<T = Record<string, unknown>>(collection: Collection, id: string): Promise<T | undefined> {
    const d = this.coll(collection).get(id);
    return d === undefined ? undefined : (structuredClone(d) as T);
  }

  async put<T extends object>(collection: Collection, id: string, doc: T): Promise<void> {
    this.coll(collection).set(id, structuredClone(doc));
    this.writes++;
    await this.tick();
  }

  async insertIfAbsent<T extends object>(collection: Collection, id: string, doc: T): Promise<boolean> {
    const c = this.coll(collection);
    if (c.has(id)) return false;
    c.set(id, structuredClone(doc));
    this.writes++;
    await this.tick();
    return true;
  }

  async delete(collection: Collection, id: string): Promise<boolean> {
    return this.coll(collection).delete(id);
  }

  async list<T = Record<string, unknown>>(collection: Collection, filter?: (doc: T) => boolean): Promise<T[]> {
    const out: T[] = [];
    for (const d of this.coll(collection).values()) {
      const c = structuredClone(d) as T;
      if (!filter || filter(c)) out.push(c);
    }
    return out;
  }

  async find<T = Record<string, unknown>>(collection: Collection, query: FindQuery = {}): Promise<FindPage<T>> {
    const { docs, next } = findInDocs([...this.coll(collection)] as Array<[string, T]>, query);
    return { docs: docs.map((d) => structuredClone(d)), ...(next ? { next } : {}) };
  }

  async count(collection: Collection, where?: Where): Promise<number> {
    return findInDocs([...this.coll(collection)], { where }).count;
  }

  async scan<T = Record<string, unknown>>(collection: Collection, fn: (doc: T) => void | Promise<void>, opts: { where?: Where } = {}): Promise<number> {
    const { docs } = findInDocs([...this.coll(collection)] as Array<[string, T]>, { where: opts.where });
    for (const d of docs) await fn(structuredClone(d));
    return docs.length;
  }

  async claimNext<T = Record<string, unknown>>(collection: Collection, query: ClaimQuery): Promise<T | undefined> {
    const entries = [...this.coll(collection)];
    const ids = findInDocs(entries.map(([id, d]) => [id, { ...(d as object), __id: id }]), { where: query.where, orderBy: query.orderBy }).docs.map((d) => d.__id);
    const id = this.local.claimFirst(collection, ids, query);
    return id === undefined ? undefined : ((await this.get<T>(collection, id)) as T);
  }

  async renewClaim(collection: Collection, id: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.local.renewClaim(collection, id, owner, leaseMs);
  }

  async releaseClaim(collection: Collection, id: string, owner: string): Promise<boolean> {
    return this.local.releaseClaim(collection, id, owner);
  }

  async tryAcquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.local.tryAcquireLease(name, owner, ttlMs);
  }

  async releaseLease(name: string, owner: string): Promise<boolean> {
    return this.local.releaseLease(name, owner);
  }

  async claimTick(schedule: string, tick: string): Promise<boolean> {
    const last = this.ticks.get(schedule);
    if (last !== undefined && last >= tick) return false;
    this.ticks.set(schedule, tick);
    return true;
  }

  async publish(topic: string, message: string): Promise<void> {
    this.local.publish(topic, message);
  }

  async subscribe(topic: string, fn: (message: string) => void): Promise<() => Promise<void>> {
    return this.local.subscribe(topic, fn);
  }

  async pageEntities(connectionId: string, stream: string, opts: { after?: string; limit: number; includeDeleted?: boolean }): Promise<StoredEntity[]> {
    const all = await this.listEntities(connectionId, stream, opts);
    return all
      .filter((e) => opts.after === undefined || e.external_id > opts.after)
      .sort((a, b) => (a.external_id < b.external_id ? -1 : 1))
      .slice(0, opts.limit);
  }

  async entityStates(connectionId: string, stream: string, externalIds: string[]): Promise<Map<string, { hash: string; deleted: boolean }>> {
    const out = new Map<string, { hash: string; deleted: boolean }>();
    for (const id of externalIds) {
      const e = this.entities.get(`${connectionId}\u0000${stream}\u0000${id}`);
      if (e) out.set(id, { hash: e.hash, deleted: e.deleted });
    }
    return out;
  }

  async flush(): Promise<void> {
    await this.tick();
  }

  health(): StoreHealth {
    return { ok: true, problems: [] };
  }

  async close(): Promise<void> {}
}
