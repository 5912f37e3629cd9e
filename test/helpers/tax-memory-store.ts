/**
 * A tiny in-memory Store for the tax tests (the real one lives in src/store). Writes resolve on the next
 * macrotask, as a group-committing store would, and documents are cloned so callers can't alias them.
 */
import type { Collection, EntityWrite, Store, StoredEntity, StoreHealth, UpsertResult } from '../../src/store/types.ts';

export class MemoryStore implements Store {
  readonly collections = new Map<string, Map<string, unknown>>();
  readonly entities = new Map<string, StoredEntity>();
  writes = 0;

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

  async flush(): Promise<void> {
    await this.tick();
  }

  health(): StoreHealth {
    return { ok: true, problems: [] };
  }

  async close(): Promise<void> {}
}
