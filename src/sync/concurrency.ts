/** Runs `fn` over items with at most `limit` calls in flight; results keep the items' order. */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Iterates `source` one item ahead: while the consumer works on item N, item N+1 is already being
 * produced (the next page and its child requests are fetched while this page is mapped and stored).
 */
export async function* readAhead<T>(source: AsyncIterable<T>, onAbandon?: () => void): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined = it.next();
  let finished = false;
  try {
    for (;;) {
      const r: IteratorResult<T> = await pending;
      pending = undefined;
      if (r.done) {
        finished = true;
        return;
      }
      pending = it.next();
      // Rejections surface when awaited above; until then keep them from being "unhandled".
      pending.catch(() => undefined);
      yield r.value;
    }
  } finally {
    // The consumer stopped early (an error, a break): cancel the read-ahead instead of waiting it out.
    if (!finished) onAbandon?.();
    if (pending) await pending.catch(() => undefined);
    await it.return?.();
  }
}

/** Lets timers and I/O callbacks run during long CPU-bound loops (JSONata only yields to microtasks). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
