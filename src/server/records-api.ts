/**
 * The synced records of a connection on the admin API (what the console's Data pages show; a script can
 * page through them the same way):
 *
 *   GET /admin/connections/{id}/records/{stream}?q=&after=&limit=&deleted=   a page in external id order
 *   GET /admin/connections/{id}/records/{stream}/{record}                     one record (mapped data)
 *
 * `q` filters by a case-insensitive substring of the record's id or mapped data; a search reads at most
 * SCAN_LIMIT records per request and answers `next_after` to continue from, so no request walks a whole
 * large stream. Only the canonical (mapped) record is answered, not the upstream raw one.
 */
import type { Context } from 'koa';
import type { Router } from '@koa/router';
import type { ConnectionService } from '../connections/service.ts';
import type { Logger } from '../log/index.ts';
import type { Store, StoredEntity } from '../store/types.ts';
import { TaxbridgeError } from '../errors.ts';
import type { AdminCredential } from './admin-bearer.ts';
import { sendError, sendJson } from './http-errors.ts';
import { createAdminRouter } from './routing.ts';

export interface RecordsApiOptions {
  connections: ConnectionService;
  store: Store;
  adminToken: AdminCredential;
  log?: Logger;
}

const MAX_LIMIT = 100;
const DEFAULT_LIMIT = 25;
const SCAN_LIMIT = 5_000;
const PAGE = 250;
const MAX_QUERY = 200;
const MAX_ID = 500;

function badInput(message: string, field: string): TaxbridgeError {
  return new TaxbridgeError('invalid_input', message, { details: { field } });
}

function one(v: unknown, field: string, max: number): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badInput(`${field} must be given once`, field);
  if (v.length > max) throw badInput(`${field} is longer than ${max} characters`, field);
  return v;
}

function view(e: StoredEntity): Record<string, unknown> {
  return { external_id: e.external_id, entity: e.entity, stream: e.stream, deleted: e.deleted, first_seen_at: e.first_seen_at, updated_at: e.updated_at, data: e.data };
}

export function createRecordsApiRouter(opts: RecordsApiOptions): Router {
  const router = createAdminRouter(opts.adminToken);

  /** The connection and the stream, when the stream is one of the connection's. */
  const streamOf = async (ctx: Context): Promise<{ connectionId: string; stream: string }> => {
    const doc = await opts.connections.get(String(ctx.params.id));
    const stream = String(ctx.params.stream);
    const streams = Object.values(doc.streams ?? {}).flat();
    if (!streams.includes(stream)) {
      throw new TaxbridgeError('not_found', `connection ${doc.id} has no stream "${stream.slice(0, 100)}"`, { hint: `its streams: ${streams.join(', ') || 'none'}` });
    }
    return { connectionId: doc.id, stream };
  };

  router.get('/connections/:id/records/:stream', async (ctx) => {
    try {
      const { connectionId, stream } = await streamOf(ctx);
      const q = one(ctx.query.q, 'q', MAX_QUERY)?.trim().toLowerCase() ?? '';
      let after = one(ctx.query.after, 'after', MAX_ID) || undefined;
      const limitText = one(ctx.query.limit, 'limit', 6);
      const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw badInput(`limit must be a whole number from 1 to ${MAX_LIMIT}`, 'limit');
      const deletedText = one(ctx.query.deleted, 'deleted', 5);
      if (deletedText !== undefined && deletedText !== 'true' && deletedText !== 'false') throw badInput('deleted must be true or false', 'deleted');
      const includeDeleted = deletedText === 'true';

      let out: StoredEntity[] = [];
      let scanned = 0;
      let more = false;
      if (!q) {
        const page = await opts.store.pageEntities(connectionId, stream, { after, limit: limit + 1, includeDeleted });
        out = page.slice(0, limit);
        scanned = out.length;
        more = page.length > limit;
        after = out.at(-1)?.external_id ?? after;
      } else {
        scan: for (;;) {
          const page = await opts.store.pageEntities(connectionId, stream, { after, limit: PAGE, includeDeleted });
          for (const [i, e] of page.entries()) {
            scanned++;
            after = e.external_id;
            if (e.external_id.toLowerCase().includes(q) || JSON.stringify(e.data).toLowerCase().includes(q)) out.push(e);
            if (out.length === limit || scanned >= SCAN_LIMIT) {
              more = i < page.length - 1 || page.length === PAGE;
              break scan;
            }
          }
          if (page.length < PAGE) break;
        }
      }
      const counts = await opts.store.countEntities(connectionId, stream);
      sendJson(ctx, 200, { data: out.map(view), ...(more && after ? { next_after: after } : {}), scanned, counts });
    } catch (e) {
      sendError(ctx, e, opts.log);
    }
  });

  router.get('/connections/:id/records/:stream/:record', async (ctx) => {
    try {
      const { connectionId, stream } = await streamOf(ctx);
      const id = String(ctx.params.record);
      const e = await opts.store.getEntity(connectionId, stream, id);
      if (!e) throw new TaxbridgeError('not_found', `no ${stream} record ${id.slice(0, 100)} in connection ${connectionId}`);
      sendJson(ctx, 200, { data: view(e) });
    } catch (e) {
      sendError(ctx, e, opts.log);
    }
  });

  return router;
}
