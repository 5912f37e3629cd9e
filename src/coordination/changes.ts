/**
 * Change notices for cached documents: a store whose writes to the cached collections (API keys,
 * organizations, connections) tell every replica, so a key revoked through one replica stops working on the
 * others within the notice's latency (milliseconds over LISTEN/NOTIFY), not after a cache's refresh interval.
 * The notice follows the durable write; a notice that cannot be sent is logged, and caches still refresh on
 * their own (the tax service re-reads keys every few seconds).
 */
import { errorMessage } from '../errors.ts';
import { CHANGE_TOPICS, type ChangeTopic, type Coordinator } from './types.ts';

interface WritableStore {
  put(collection: string, id: string, doc: object): Promise<void>;
  insertIfAbsent(collection: string, id: string, doc: object): Promise<boolean>;
  delete(collection: string, id: string): Promise<boolean>;
}

const WATCHED = new Set<string>(CHANGE_TOPICS);

/** `store` with its writes to watched collections announced through `coordinator` (a Proxy: everything else is the store's). */
export function announceChanges<S extends WritableStore>(store: S, coordinator: Pick<Coordinator, 'changed'>, warn: (m: string, f?: Record<string, unknown>) => void = () => undefined): S {
  const tell = (collection: string, id: string) => {
    if (!WATCHED.has(collection)) return;
    void coordinator.changed(collection as ChangeTopic, id).catch((e: unknown) => warn('a change notice was not sent; other replicas see the change at their next refresh', { collection, error: errorMessage(e) }));
  };
  const wrapped: Partial<WritableStore> = {
    async put(collection, id, doc) {
      await store.put(collection, id, doc);
      tell(collection, id);
    },
    async insertIfAbsent(collection, id, doc) {
      const inserted = await store.insertIfAbsent(collection, id, doc);
      if (inserted) tell(collection, id);
      return inserted;
    },
    async delete(collection, id) {
      const deleted = await store.delete(collection, id);
      if (deleted) tell(collection, id);
      return deleted;
    },
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && Object.hasOwn(wrapped, prop)) return wrapped[prop as keyof WritableStore];
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
