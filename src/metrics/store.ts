/**
 * Store write latency, for any Store implementation: the write methods are timed until their promise settles
 * (for the embedded store, until the data is on disk). Every other property passes through untouched.
 */
import type { Store } from '../store/types.ts';
import { nameLabel } from './hooks.ts';
import { storeWriteDuration } from './registry.ts';

type WriteOp = 'put' | 'insertIfAbsent' | 'delete' | 'commitPage' | 'markDeleted';
const OPS: Record<WriteOp, string> = { put: 'put', insertIfAbsent: 'insert', delete: 'delete', commitPage: 'commit_page', markDeleted: 'mark_deleted' };

function timed<T>(op: string, collection: string, p: Promise<T>): Promise<T> {
  const end = storeWriteDuration.startTimer({ op, collection });
  p.then(
    () => end({ result: 'ok' }),
    () => end({ result: 'error' }),
  );
  return p;
}

export function instrumentStore<S extends Store>(store: S): S {
  // Methods bound once (a store is read on every request's path).
  const bound = new Map<PropertyKey, { fn: unknown; wrapped: unknown }>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const hit = bound.get(prop);
      if (hit && hit.fn === v) return hit.wrapped;
      const fn = v as (...a: unknown[]) => Promise<unknown>;
      let wrapped: unknown;
      if (typeof prop === 'string' && Object.hasOwn(OPS, prop)) {
        const op = OPS[prop as WriteOp];
        const entities = prop === 'commitPage' || prop === 'markDeleted';
        wrapped = (...args: unknown[]) => timed(op, entities ? 'entities' : nameLabel(String(args[0])), fn.apply(target, args));
      } else {
        wrapped = fn.bind(target);
      }
      bound.set(prop, { fn: v, wrapped });
      return wrapped;
    },
  });
}
