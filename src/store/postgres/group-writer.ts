/**
 * Write-behind grouping of document puts given as JSON text (Store.putJson on PostgreSQL): the puts to one
 * collection that arrive while its batch is in flight wait and go out together as the next batch, one
 * statement. At most one batch per collection is in flight, so writes to one id apply in call order; an id
 * put twice in one batch is written once, with the last text. Every caller's promise settles with its batch:
 * resolved after that statement committed, rejected with its error. A write of the store's own to an id
 * (put, delete) waits for `pending(id)` first, so it never commits before a text queued earlier for that id.
 */

/** Rows and bytes (UTF-16 units of the texts) per statement: bounds one statement's parameters and memory. */
export const MAX_BATCH_ROWS = 1_000;
export const MAX_BATCH_CHARS = 4 * 1024 * 1024;

interface Put {
  id: string;
  text: string;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** One batch as written: ids unique, each with the last text put for it. */
export interface Batch {
  ids: string[];
  texts: string[];
}

export interface GroupWriterOptions {
  /** Writes one batch of `collection` (one statement); its rejection rejects every caller of the batch. */
  write(collection: string, batch: Batch): Promise<void>;
  /**
   * When a batch failed: whether to write its rows one at a time instead (in order), so one caller's bad text
   * (a data error) rejects only that caller. Default: never.
   */
  retrySingly?(e: unknown): boolean;
  /** Called with each collection's drain while it runs, so the store's flush() can wait for it. */
  track(p: Promise<void>): void;
  maxRows?: number;
  maxChars?: number;
}

export class GroupWriter {
  private readonly queues = new Map<string, Put[]>();
  /** Per collection, the promise of the last put of each id not yet settled. */
  private readonly unsettled = new Map<string, Map<string, Promise<void>>>();
  private readonly maxRows: number;
  private readonly maxChars: number;

  constructor(private readonly opts: GroupWriterOptions) {
    this.maxRows = opts.maxRows ?? MAX_BATCH_ROWS;
    this.maxChars = opts.maxChars ?? MAX_BATCH_CHARS;
  }

  put(collection: string, id: string, text: string): Promise<void> {
    const p = this.enqueue(collection, id, text);
    let ids = this.unsettled.get(collection);
    if (!ids) this.unsettled.set(collection, (ids = new Map()));
    ids.set(id, p);
    const forget = (): void => {
      if (ids.get(id) !== p) return;
      ids.delete(id);
      if (ids.size === 0 && this.unsettled.get(collection) === ids) this.unsettled.delete(collection);
    };
    p.then(forget, forget);
    return p;
  }

  /** Settles (never rejects) once every put of `id` queued so far has; undefined when none is waiting. */
  pending(collection: string, id: string): Promise<void> | undefined {
    const p = this.unsettled.get(collection)?.get(id);
    return p?.then(
      () => undefined,
      () => undefined,
    );
  }

  private enqueue(collection: string, id: string, text: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const q = this.queues.get(collection);
      if (q) {
        q.push({ id, text, resolve, reject });
        return;
      }
      const fresh: Put[] = [{ id, text, resolve, reject }];
      this.queues.set(collection, fresh);
      // The first put of an idle collection waits one microtask, so puts issued in the same turn join it.
      this.opts.track(Promise.resolve().then(() => this.drain(collection, fresh)));
    });
  }

  /** Writes the collection's queue batch after batch until it is empty, then forgets it. */
  private async drain(collection: string, q: Put[]): Promise<void> {
    while (q.length) {
      const taken = this.take(q);
      await this.writeBatch(collection, taken);
    }
    this.queues.delete(collection);
  }

  /** The oldest puts of the queue, up to the caps (always at least one). */
  private take(q: Put[]): Put[] {
    let n = 0;
    let chars = 0;
    while (n < q.length && n < this.maxRows) {
      chars += q[n]!.text.length;
      if (n > 0 && chars > this.maxChars) break;
      n++;
    }
    return q.splice(0, n);
  }

  private async writeBatch(collection: string, puts: Put[]): Promise<void> {
    try {
      await this.opts.write(collection, collapse(puts));
    } catch (e) {
      if (puts.length > 1 && this.opts.retrySingly?.(e)) {
        for (const p of puts) {
          try {
            await this.opts.write(collection, { ids: [p.id], texts: [p.text] });
            p.resolve();
          } catch (e1) {
            p.reject(e1);
          }
        }
        return;
      }
      for (const p of puts) p.reject(e);
      return;
    }
    for (const p of puts) p.resolve();
  }
}

/** The batch of `puts` with each id once, holding its last text, in the order of first appearance. */
export function collapse(puts: readonly Put[]): Batch {
  const at = new Map<string, number>();
  const ids: string[] = [];
  const texts: string[] = [];
  for (const p of puts) {
    const i = at.get(p.id);
    if (i === undefined) {
      at.set(p.id, ids.length);
      ids.push(p.id);
      texts.push(p.text);
    } else texts[i] = p.text;
  }
  return { ids, texts };
}
