import { createHttpClient, type HttpClient, type PageState } from '../http/index.ts';
import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';
import { compileStream } from './compile.ts';
import { prepareConnection } from './connection.ts';
import { mapCompiled, mappingBindings, type MappedRecord } from './map.ts';
import { readFeed } from './feed.ts';
import { rawPages } from './pages.ts';

export interface ReadPage {
  page: number;
  next?: PageState;
  records: Array<MappedRecord & { raw: unknown }>;
}

/**
 * Pages of a stream mapped and validated but not stored: offline spec tests against a replay server,
 * dry runs. Full read, or changes after `sinceMs` for incremental streams (from the change feed when declared).
 */
export async function* readStream(spec: ConnectorSpec, conn: ConnectionContext, stream: string, opts: { http?: HttpClient; sinceMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<ReadPage> {
  const c = compileStream(spec, stream);
  const ready = prepareConnection(spec, conn);
  const client = opts.http ?? createHttpClient(spec, ready);
  const bindings = mappingBindings(ready);
  try {
    if (opts.sinceMs !== undefined && c.feed) {
      // Incremental runs of a change-feed stream read the feed: one page of the latest change per record.
      const feed = await readFeed(c, client, opts.sinceMs, {}, opts.signal);
      const records: ReadPage['records'] = [];
      for (const ch of feed.changes) {
        const m = await mapCompiled(c, ch.object, { ...bindings, event: ch.event });
        records.push({ ...m, deleted: m.deleted || ch.deleted, raw: ch.object } as ReadPage['records'][number]);
      }
      yield { page: 1, records };
      return;
    }
    const mode = opts.sinceMs !== undefined && c.spec.incremental ? 'incremental' : 'full';
    for await (const page of rawPages(c, client, { mode, sinceMs: opts.sinceMs }, {}, opts.signal)) {
      const records: ReadPage['records'] = [];
      for (const raw of page.records) records.push({ ...(await mapCompiled(c, raw, bindings)), raw });
      yield { page: page.page, next: page.next, records };
    }
  } finally {
    if (!opts.http) await client.close();
  }
}
