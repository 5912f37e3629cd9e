import pg from 'pg';
import { TaxbridgeError } from '../../errors.ts';
import { contentHash, stableStringify } from '../hash.ts';
import { badJsonText } from '../json-text.ts';
import { GroupWriter, type Batch } from './group-writer.ts';
import { jsonbSafe, jsonbSafeText, jsonbText } from './jsonb.ts';
import { encodeCursor, pageLimit } from '../query.ts';
import type { ClaimQuery, Collection, EntityWrite, FindPage, FindQuery, Store, StoredEntity, StoreHealth, StoreProblem, UpsertResult, Where } from '../types.ts';
import { migrate, type MigrateResult } from './migrate.ts';
import { allMigrations } from './migrations.ts';
import { isUnreachable, openPool, storeError, type PoolOptions } from './pool.ts';
import { countSql, Params, selectSql } from './sql.ts';

/** While the database is unreachable, a `SELECT 1` probes it this often so health recovers without traffic. */
const PROBE_MS = 1_000;
/** The one NOTIFY channel; messages carry their topic. PostgreSQL caps a payload below 8000 bytes. */
const CHANNEL = 'taxbridge';
const MAX_NOTIFY_BYTES = 7_000;
/** Rows per statement when scanning a collection. */
const SCAN_PAGE = 500;

function requireId(kind: string, id: string): void {
  if (typeof id !== 'string' || id === '') throw new TaxbridgeError('STORE_BAD_ID', `${kind} must be a non-empty string`);
}

function checkMs(what: string, owner: string, ms: number): void {
  if (typeof owner !== 'string' || owner === '') throw new TaxbridgeError('STORE_BAD_QUERY', `${what}: owner must be a non-empty string`);
  if (!Number.isInteger(ms) || ms < 1 || ms > 24 * 3600_000) throw new TaxbridgeError('STORE_BAD_QUERY', `${what}: the lease must be 1 ms to 24 h, not ${String(ms)}`);
}

interface EntityRow {
  connection_id: string;
  stream: string;
  entity: string;
  external_id: string;
  data: Record<string, unknown>;
  raw: unknown;
  hash: string;
  deleted: boolean;
  first_seen_at: string;
  updated_at: string;
}

const PREV_COLUMNS = 'external_id, hash, raw_hash, deleted';
const ENTITY_COLUMNS = 'connection_id, stream, entity, external_id, data, raw, hash, deleted, first_seen_at, updated_at';

function toEntity(r: EntityRow): StoredEntity {
  return {
    connection_id: r.connection_id,
    stream: r.stream,
    entity: r.entity,
    external_id: r.external_id,
    data: r.data,
    ...(r.raw === null || r.raw === undefined ? {} : { raw: r.raw }),
    hash: r.hash,
    deleted: r.deleted,
    first_seen_at: r.first_seen_at,
    updated_at: r.updated_at,
  };
}

/** What a page write compares against: stored hash, raw hash, deleted flag. */
interface PrevState {
  h: string;
  r?: string;
  d: boolean;
}

interface PrevRow {
  external_id: string;
  hash: string;
  raw_hash: string | null;
  deleted: boolean;
}

interface HashedWrite {
  external_id: string;
  dataText: string;
  rawText?: string;
  h: string;
  r?: string;
  deleted: boolean;
}

function prevStates(rows: PrevRow[]): Map<string, PrevState> {
  return new Map(rows.map((r) => [r.external_id, { h: r.hash, ...(r.raw_hash === null ? {} : { r: r.raw_hash }), d: r.deleted }]));
}

/** The texts and hashes of one write (the hash covers the deleted flag, like the embedded store's). */
function hashWrite(w: EntityWrite): HashedWrite {
  const deleted = w.deleted === true;
  const dataText = jsonbSafe(stableStringify(w.data), w.data, stableStringify);
  const rawText = w.raw === undefined ? undefined : jsonbText(w.raw);
  return { external_id: w.external_id, dataText, rawText, h: contentHash(deleted ? `${dataText}\u0000deleted` : dataText), r: rawText === undefined ? undefined : contentHash(rawText), deleted };
}

/** One element of the page's JSON array; data and raw are already JSON texts, so they are spliced in as they are. */
function rowJson(x: HashedWrite): string {
  return `{"e":${JSON.stringify(x.external_id)},"d":${x.dataText},${x.rawText === undefined ? '' : `"r":${x.rawText},`}"h":${JSON.stringify(x.h)},${x.r === undefined ? '' : `"rh":${JSON.stringify(x.r)},`}"del":${x.deleted}}`;
}

/** Counts of a page's writes in order against the stored state (same rules as the embedded store). */
function countWrites(writes: HashedWrite[], stored: Map<string, PrevState>): UpsertResult {
  const result = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
  const state = new Map(stored);
  for (const w of writes) {
    const before = state.get(w.external_id);
    if (before && before.h === w.h && before.r === w.r) {
      result.unchanged++;
      continue;
    }
    if (!before) result.created++;
    else if (before.h === w.h) result.unchanged++; // only the raw record changed
    else result.updated++;
    if (w.deleted && !before?.d) result.deleted++;
    state.set(w.external_id, { h: w.h, r: w.r, d: w.deleted });
  }
  return result;
}

/**
 * The stored rows of a list of external ids, as one primary-key probe per id. A plain `external_id = ANY($ids)`
 * is planned from statistics, and a table that grew since its last ANALYZE (a first backfill; autovacuum off
 * or not yet run) looks like it holds a handful of rows per (connection, stream): the planner then scans the
 * whole stream by the key prefix and filters, every page (measured: 37 ms per page at 40,000 invoices, growing
 * linearly). The LIMIT keeps the lateral subquery from being flattened into a join, so each probe is an index
 * scan on the full key whatever the statistics say.
 */
function byIds(columns: string, conn: string, stream: string, ids: string): string {
  return `SELECT e.* FROM unnest(${ids}::text[]) AS k(id) CROSS JOIN LATERAL (SELECT ${columns} FROM taxbridge_entities WHERE connection_id = ${conn} AND stream = ${stream} AND external_id = k.id LIMIT 1) e`;
}

export interface PostgresStoreOptions extends PoolOptions {
  /** Apply pending schema migrations at open (default true; `taxbridge store migrate` and tests may skip). */
  migrate?: boolean;
}

/**
 * The store on PostgreSQL, for several replicas sharing one database. Documents of all collections live in
 * one JSONB table (queried through a GIN index and expression indexes, see schema.ts), entities in a table
 * keyed by (connection, stream, external id). Every write is one autocommitted statement or one transaction,
 * so a promise resolves after COMMIT: a webhook acknowledged after insertIfAbsent is durable, a page and
 * its checkpoint commit together. Documents arrive sealed (credentials, tokens, secrets are sealed by the
 * parts with the master key before they reach any store), so nothing secret is stored in clear.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private problem?: StoreProblem;
  private probe?: NodeJS.Timeout;
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private listener?: Promise<pg.Client>;
  private readonly topics = new Map<string, Set<(m: string) => void>>();
  private relisten?: NodeJS.Timeout;
  /** putJson's batches (see group-writer.ts); a batch's statement runs as a write, so flush() waits for it. */
  private readonly groups = new GroupWriter({
    write: (collection, batch) => this.writeBatch(collection, batch),
    // A data error (class 22: a text that is not JSON) is one caller's: the others' rows are written alone.
    retrySingly: (e) => String((e as TaxbridgeError).details?.code ?? '').startsWith('22'),
    track: (p) => this.track(p),
  });

  private constructor(
    readonly pool: pg.Pool,
    private readonly url: string,
    /** The URL without its password. */
    readonly shown: string,
    readonly migrations: MigrateResult | undefined,
  ) {}

  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const { pool, shown } = await openPool(opts);
    try {
      const result = opts.migrate === false ? undefined : await migrate(pool, allMigrations()).catch((e: unknown) => Promise.reject(storeError(e, opts.url, 'migrating the schema')));
      return new PostgresStore(pool, opts.url, shown, result);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
  }

  // ------------------------------------------------------------------------------------------ plumbing

  /** Runs one database operation: errors become typed store errors; unreachable ones mark the store unhealthy. */
  private async run<T>(doing: string, fn: () => Promise<T>, write = false): Promise<T> {
    if (this.closed) throw new TaxbridgeError('STORE_CLOSED', 'the store is closed');
    const p = fn();
    if (write) this.track(p);
    try {
      const out = await p;
      if (this.problem) this.setProblem(undefined);
      return out;
    } catch (e) {
      const err = storeError(e, this.url, doing);
      if (isUnreachable(err)) this.setProblem({ table: 'database', code: String(err.details?.code ?? 'UNREACHABLE'), message: err.message, since: this.problem?.since ?? new Date().toISOString() });
      throw err;
    }
  }

  private query<R extends pg.QueryResultRow = Record<string, unknown>>(doing: string, sql: string, params: unknown[] = [], write = false): Promise<pg.QueryResult<R>> {
    return this.run(doing, () => this.pool.query<R>(sql, params), write);
  }

  /** flush() waits for `p`. */
  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    p.then(
      () => this.inflight.delete(p),
      () => this.inflight.delete(p),
    );
  }

  /** A transaction on one connection: COMMIT when fn resolves, ROLLBACK when it throws. */
  private transaction<T>(doing: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.run(
      doing,
      async () => {
        const c = await this.pool.connect();
        try {
          await c.query('BEGIN');
          const out = await fn(c);
          await c.query('COMMIT');
          return out;
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        } finally {
          c.release();
        }
      },
      true,
    );
  }

  private setProblem(p: StoreProblem | undefined): void {
    this.problem = p;
    if (p && !this.probe && !this.closed) {
      const tick = () => {
        this.probe = setTimeout(() => {
          this.pool.query('SELECT 1').then(
            () => {
              this.probe = undefined;
              this.problem = undefined;
            },
            () => {
              if (!this.closed) tick();
              else this.probe = undefined;
            },
          );
        }, PROBE_MS);
        this.probe.unref();
      };
      tick();
    }
  }

  health(): StoreHealth {
    if (!this.problem) return { ok: true, problems: [] };
    return { ok: false, detail: `cannot reach the database (${this.problem.code}): ${this.problem.message}`, problems: [{ ...this.problem }] };
  }

  async flush(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    clearTimeout(this.probe);
    clearTimeout(this.relisten);
    const l = this.listener;
    this.listener = undefined;
    if (l) await l.then((c) => c.end()).catch(() => undefined);
    await this.pool.end();
  }

  // ----------------------------------------------------------------------------------------- documents

  async get<T = Record<string, unknown>>(collection: Collection, id: string): Promise<T | undefined> {
    const r = await this.query<{ doc: T }>(`reading ${collection}`, 'SELECT doc FROM taxbridge_documents WHERE collection = $1 AND id = $2', [collection, id]);
    return r.rows[0]?.doc;
  }

  async put<T extends object>(collection: Collection, id: string, doc: T): Promise<void> {
    requireId('collection', collection);
    requireId('id', id);
    await this.groups.pending(collection, id); // a text queued earlier for this id commits first
    await this.query(
      `writing ${collection}`,
      'INSERT INTO taxbridge_documents (collection, id, doc) VALUES ($1, $2, $3::jsonb) ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc, updated_at = now()',
      [collection, id, jsonbText(doc)],
      true,
    );
  }

  /**
   * put() of documents given as JSON text, grouped: puts to one collection that arrive while its batch is in
   * flight go out together as the next batch, one INSERT of up to 1,000 rows (./group-writer.ts). Each
   * promise resolves after its batch committed. The text must be one object on one line (as the embedded
   * store requires); a NUL is stored as put() stores it (./jsonb.ts).
   */
  putJson(collection: Collection, id: string, json: string): Promise<void> {
    if (this.closed) return Promise.reject(new TaxbridgeError('STORE_CLOSED', 'the store is closed'));
    let text: string;
    try {
      requireId('collection', collection);
      requireId('id', id);
      const bad = badJsonText(collection, json);
      if (bad) throw bad;
    } catch (e) {
      return Promise.reject(e);
    }
    try {
      text = jsonbSafeText(json);
    } catch {
      // Only a text holding a NUL escape is parsed here; any other that is not JSON fails at the server (22P02).
      return Promise.reject(badJsonText(collection, '')!);
    }
    return this.groups.put(collection, id, text);
  }

  private async writeBatch(collection: string, b: Batch): Promise<void> {
    await this.query(
      `writing ${b.ids.length} documents to ${collection}`,
      'INSERT INTO taxbridge_documents (collection, id, doc) SELECT $1, k.id, k.doc::jsonb FROM unnest($2::text[], $3::text[]) AS k(id, doc) ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc, updated_at = now()',
      [collection, b.ids, b.texts],
      true,
    );
  }

  async insertIfAbsent<T extends object>(collection: Collection, id: string, doc: T): Promise<boolean> {
    requireId('collection', collection);
    requireId('id', id);
    await this.groups.pending(collection, id);
    // Autocommit: resolves after COMMIT. A concurrent insert of the same id waits for that one to commit or
    // abort (unique index), so false always means "stored durably by someone".
    const r = await this.query(`writing ${collection}`, 'INSERT INTO taxbridge_documents (collection, id, doc) VALUES ($1, $2, $3::jsonb) ON CONFLICT (collection, id) DO NOTHING RETURNING 1', [collection, id, jsonbText(doc)], true);
    return r.rowCount === 1;
  }

  async delete(collection: Collection, id: string): Promise<boolean> {
    await this.groups.pending(collection, id);
    const r = await this.query(`deleting from ${collection}`, 'DELETE FROM taxbridge_documents WHERE collection = $1 AND id = $2', [collection, id], true);
    return (r.rowCount ?? 0) > 0;
  }

  async list<T = Record<string, unknown>>(collection: Collection, filter?: (doc: T) => boolean): Promise<T[]> {
    const out: T[] = [];
    await this.scan<T>(collection, (d) => {
      if (!filter || filter(d)) out.push(d);
    });
    return out;
  }

  async find<T = Record<string, unknown>>(collection: Collection, query: FindQuery = {}): Promise<FindPage<T>> {
    const plan = selectSql(collection, query);
    const r = await this.query<{ id: string; doc: T; s: string }>(`querying ${collection}`, plan.sql, plan.params);
    const rows = r.rows;
    const more = plan.limit !== undefined && rows.length > plan.limit;
    if (more) rows.length = plan.limit!;
    const last = rows[rows.length - 1];
    return { docs: rows.map((x) => x.doc), ...(more && last ? { next: encodeCursor({ v: last.s, id: last.id }) } : {}) };
  }

  async count(collection: Collection, where?: Where): Promise<number> {
    const { sql, params } = countSql(collection, where);
    const r = await this.query<{ n: string }>(`counting ${collection}`, sql, params);
    return Number(r.rows[0]!.n);
  }

  async scan<T = Record<string, unknown>>(collection: Collection, fn: (doc: T) => void | Promise<void>, opts: { where?: Where; pageSize?: number } = {}): Promise<number> {
    let n = 0;
    let after: string | undefined;
    do {
      const page = await this.find<T>(collection, { where: opts.where, limit: opts.pageSize ?? SCAN_PAGE, after });
      for (const d of page.docs) {
        await fn(d);
        n++;
      }
      after = page.next;
    } while (after);
    return n;
  }

  // ------------------------------------------------------------------------------------ claims, leases

  async claimNext<T = Record<string, unknown>>(collection: Collection, q: ClaimQuery): Promise<T | undefined> {
    checkMs('claimNext', q.owner, q.leaseMs);
    if (q.now !== undefined && !Number.isFinite(Date.parse(q.now))) throw new TaxbridgeError('STORE_BAD_QUERY', `claimNext: now must be an ISO time, not ${JSON.stringify(q.now)}`);
    let nowParam = '';
    let ownerParam = '';
    let msParam = '';
    const plan = selectSql(collection, { where: q.where, orderBy: q.orderBy }, {
      columns: 'collection, id',
      limitOverride: 1,
      suffix: 'FOR UPDATE SKIP LOCKED',
      extra: (p) => {
        nowParam = q.now === undefined ? 'clock_timestamp()' : `${p.add(q.now)}::timestamptz`;
        ownerParam = p.add(q.owner);
        msParam = p.add(q.leaseMs);
        return [`(claim_until IS NULL OR claim_until <= ${nowParam})`];
      },
    });
    const sql =
      `WITH c AS (${plan.sql}) UPDATE taxbridge_documents d SET claim_owner = ${ownerParam}, claim_until = ${nowParam} + make_interval(secs => ${msParam}::double precision / 1000) ` +
      'FROM c WHERE d.collection = c.collection AND d.id = c.id RETURNING d.doc';
    const r = await this.query<{ doc: T }>(`claiming from ${collection}`, sql, plan.params, true);
    return r.rows[0]?.doc;
  }

  async renewClaim(collection: Collection, id: string, owner: string, leaseMs: number): Promise<boolean> {
    checkMs('renewClaim', owner, leaseMs);
    const r = await this.query(
      `renewing a claim in ${collection}`,
      'UPDATE taxbridge_documents SET claim_until = clock_timestamp() + make_interval(secs => $4::double precision / 1000) WHERE collection = $1 AND id = $2 AND claim_owner = $3 AND claim_until > clock_timestamp()',
      [collection, id, owner, leaseMs],
      true,
    );
    return r.rowCount === 1;
  }

  async releaseClaim(collection: Collection, id: string, owner: string): Promise<boolean> {
    const r = await this.query(`releasing a claim in ${collection}`, 'UPDATE taxbridge_documents SET claim_owner = NULL, claim_until = NULL WHERE collection = $1 AND id = $2 AND claim_owner = $3', [collection, id, owner], true);
    return r.rowCount === 1;
  }

  async tryAcquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    if (typeof name !== 'string' || name === '') throw new TaxbridgeError('STORE_BAD_QUERY', 'a lease needs a non-empty name');
    checkMs(`lease ${name}`, owner, ttlMs);
    // One statement: take a free or expired lease, or renew one's own; the database clock decides expiry.
    const r = await this.query(
      `taking lease ${name}`,
      `INSERT INTO taxbridge_leases (name, owner, until) VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3::double precision / 1000))
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
       WHERE taxbridge_leases.owner = excluded.owner OR taxbridge_leases.until <= clock_timestamp()
       RETURNING 1`,
      [name, owner, ttlMs],
      true,
    );
    return r.rowCount === 1;
  }

  async releaseLease(name: string, owner: string): Promise<boolean> {
    const r = await this.query(`releasing lease ${name}`, 'DELETE FROM taxbridge_leases WHERE name = $1 AND owner = $2', [name, owner], true);
    return r.rowCount === 1;
  }

  async claimTick(schedule: string, tick: string): Promise<boolean> {
    requireId('schedule', schedule);
    requireId('tick', tick);
    const r = await this.query(
      `claiming tick ${tick} of ${schedule}`,
      `INSERT INTO taxbridge_ticks (schedule, tick) VALUES ($1, $2)
       ON CONFLICT (schedule) DO UPDATE SET tick = excluded.tick, claimed_at = now() WHERE taxbridge_ticks.tick < excluded.tick
       RETURNING 1`,
      [schedule, tick],
      true,
    );
    return r.rowCount === 1;
  }

  // ------------------------------------------------------------------------------------ notifications

  async publish(topic: string, message: string): Promise<void> {
    const payload = JSON.stringify({ t: topic, m: message });
    if (Buffer.byteLength(payload) > MAX_NOTIFY_BYTES) throw new TaxbridgeError('STORE_BAD_QUERY', `a published message is at most ${MAX_NOTIFY_BYTES} bytes (topic ${topic})`);
    await this.query(`publishing on ${topic}`, 'SELECT pg_notify($1, $2)', [CHANNEL, payload]);
  }

  async subscribe(topic: string, fn: (message: string) => void): Promise<() => Promise<void>> {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(fn);
    await this.listen();
    return async () => {
      set.delete(fn);
    };
  }

  /** One connection outside the pool holds LISTEN; if it drops, it reconnects (messages meanwhile are missed). */
  private listen(): Promise<pg.Client> {
    this.listener ??= (async () => {
      const c = new pg.Client({ connectionString: this.url, application_name: 'taxbridge-listen' });
      c.on('notification', (n) => {
        if (n.channel !== CHANNEL || !n.payload) return;
        let msg: { t?: unknown; m?: unknown };
        try {
          msg = JSON.parse(n.payload) as { t?: unknown; m?: unknown };
        } catch {
          return;
        }
        if (typeof msg.t !== 'string' || typeof msg.m !== 'string') return;
        for (const f of [...(this.topics.get(msg.t) ?? [])]) {
          try {
            f(msg.m);
          } catch {
            /* a listener's failure stays its own */
          }
        }
      });
      const lost = () => {
        if (this.closed) return;
        this.listener = undefined;
        this.relisten = setTimeout(() => void this.listen().catch(() => undefined), PROBE_MS);
        this.relisten.unref();
      };
      c.on('error', lost);
      c.on('end', lost);
      try {
        await c.connect();
        await c.query(`LISTEN ${CHANNEL}`);
      } catch (e) {
        c.removeListener('end', lost);
        await c.end().catch(() => undefined);
        this.listener = undefined;
        throw storeError(e, this.url, 'listening for changes');
      }
      return c;
    })();
    return this.listener;
  }

  // ------------------------------------------------------------------------------------ bulk import

  /** Upserts documents as they are (store migrate): one statement per batch, idempotent. */
  async importDocuments(collection: Collection, docs: Array<{ id: string; doc: unknown }>): Promise<void> {
    if (!docs.length) return;
    await this.query(
      `importing ${collection}`,
      `INSERT INTO taxbridge_documents (collection, id, doc) SELECT $1, x.id, x.doc::jsonb FROM unnest($2::text[], $3::text[]) AS x(id, doc)
       ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc, updated_at = now()`,
      [collection, docs.map((d) => d.id), docs.map((d) => jsonbText(d.doc))],
      true,
    );
  }

  /** Upserts entities keeping their hashes and times (store migrate), in one statement. */
  async importEntities(entities: StoredEntity[]): Promise<void> {
    if (!entities.length) return;
    const col = <T>(f: (e: StoredEntity) => T) => entities.map(f);
    await this.query(
      'importing entities',
      `INSERT INTO taxbridge_entities (connection_id, stream, external_id, entity, data, raw, hash, raw_hash, deleted, first_seen_at, updated_at)
       SELECT x.c, x.s, x.e, x.en, x.d::jsonb, x.r::jsonb, x.h, x.rh, x.del, x.f, x.u
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[], $10::text[], $11::text[]) AS x(c, s, e, en, d, r, h, rh, del, f, u)
       ON CONFLICT (connection_id, stream, external_id) DO UPDATE SET entity = excluded.entity, data = excluded.data, raw = excluded.raw, hash = excluded.hash,
         raw_hash = excluded.raw_hash, deleted = excluded.deleted, first_seen_at = excluded.first_seen_at, updated_at = excluded.updated_at`,
      [
        col((e) => e.connection_id),
        col((e) => e.stream),
        col((e) => e.external_id),
        col((e) => e.entity),
        col((e) => jsonbText(e.data)),
        col((e) => (e.raw === undefined ? null : jsonbText(e.raw))),
        col((e) => e.hash),
        col((e) => (e.raw === undefined ? null : contentHash(jsonbText(e.raw)))),
        col((e) => e.deleted),
        col((e) => e.first_seen_at),
        col((e) => e.updated_at),
      ],
      true,
    );
  }

  async importCheckpoint(connectionId: string, stream: string, id: string, value: Record<string, unknown>): Promise<void> {
    await this.query(
      'importing a checkpoint',
      'INSERT INTO taxbridge_checkpoints (connection_id, stream, id, value) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (connection_id, stream, id) DO UPDATE SET value = excluded.value',
      [connectionId, stream, id, jsonbText(value)],
      true,
    );
  }

  /** Records a schedule's last claimed tick (store migrate), never moving it back. */
  async importTick(schedule: string, tick: string): Promise<void> {
    await this.query(
      'importing a tick',
      'INSERT INTO taxbridge_ticks (schedule, tick) VALUES ($1, $2) ON CONFLICT (schedule) DO UPDATE SET tick = excluded.tick WHERE taxbridge_ticks.tick < excluded.tick',
      [schedule, tick],
      true,
    );
  }

  /** Rows per collection and per (connection, stream), for `store check` and `store migrate`. */
  async tableCounts(): Promise<{ collections: Array<{ collection: string; rows: number; bytes: number }>; entities: Array<{ connection_id: string; stream: string; rows: number; deleted: number; bytes: number }> }> {
    const c = await this.query<{ collection: string; rows: string; bytes: string }>('counting documents', 'SELECT collection, count(*) AS rows, coalesce(sum(pg_column_size(doc)), 0) AS bytes FROM taxbridge_documents GROUP BY collection ORDER BY collection');
    const e = await this.query<{ connection_id: string; stream: string; rows: string; deleted: string; bytes: string }>(
      'counting entities',
      'SELECT connection_id, stream, count(*) AS rows, count(*) FILTER (WHERE deleted) AS deleted, coalesce(sum(pg_column_size(data) + coalesce(pg_column_size(raw), 0)), 0) AS bytes FROM taxbridge_entities GROUP BY connection_id, stream ORDER BY connection_id, stream',
    );
    return {
      collections: c.rows.map((r) => ({ collection: r.collection, rows: Number(r.rows), bytes: Number(r.bytes) })),
      entities: e.rows.map((r) => ({ connection_id: r.connection_id, stream: r.stream, rows: Number(r.rows), deleted: Number(r.deleted), bytes: Number(r.bytes) })),
    };
  }

  // ------------------------------------------------------------------------------------------ entities

  /**
   * Two round trips whatever the page size: (1) the stored hashes of the page's ids, so unchanged records are
   * not even sent; (2) one statement that upserts the changed rows and saves the checkpoint and its
   * sync_state copy. A single statement is one transaction: the page and its checkpoint commit together. The
   * counts come from the state that statement itself saw (a CTE reads the rows before its upsert, same
   * snapshot), so a record someone else (a webhook) wrote between the two is still counted right; the upsert
   * skips rows whose hashes already match, so such a record is never rewritten with identical content. Two
   * writers inserting the same new id at the same instant may both count it created (as with the earlier
   * SELECT ... FOR UPDATE, which cannot lock a row that does not exist yet); the stored row is the later one.
   */
  async commitPage(input: { connectionId: string; stream: string; entity: string; writes: EntityWrite[]; checkpoint?: { id: string; value: Record<string, unknown> } }): Promise<UpsertResult> {
    requireId('connection id', input.connectionId);
    requireId('stream', input.stream);
    for (const w of input.writes) requireId('external_id', w.external_id);
    const now = new Date().toISOString();
    const hashed = input.writes.map((w) => hashWrite(w));
    const doing = `writing entities/${input.connectionId}/${input.stream}`;
    const ids = [...new Set(input.writes.map((w) => w.external_id))];
    const seen = ids.length ? await this.entityHashes(doing, input.connectionId, input.stream, ids) : new Map<string, PrevState>();
    // What to send: the last write of each id that differs from what is stored (or from an earlier write of it).
    const send = new Map<string, HashedWrite>();
    const state = new Map(seen);
    for (const w of hashed) {
      const before = state.get(w.external_id);
      if (before && before.h === w.h && before.r === w.r) continue;
      send.set(w.external_id, w);
      state.set(w.external_id, { h: w.h, r: w.r, d: w.deleted });
    }
    const written = send.size || input.checkpoint ? await this.writePage(doing, input, [...send.values()], now) : new Map<string, PrevState>();
    // Rows the statement wrote are counted against what it saw; the others were unchanged against the first read.
    const prev = new Map(seen);
    for (const id of send.keys()) {
      const w = written.get(id);
      if (w) prev.set(id, w);
      else prev.delete(id);
    }
    return countWrites(hashed, prev);
  }

  /** Stored hash, raw hash and deleted flag of these ids. */
  private async entityHashes(doing: string, connectionId: string, stream: string, ids: string[]): Promise<Map<string, PrevState>> {
    const r = await this.query<PrevRow>(doing, byIds(PREV_COLUMNS, '$1', '$2', '$3'), [connectionId, stream, ids]);
    return prevStates(r.rows);
  }

  /**
   * The one statement of a page: rows as one JSON array (no per-element array escaping; data and raw are
   * parsed once, as jsonb), upsert, checkpoint and sync_state copy. Returns the stored state of the sent ids
   * as the statement saw it before writing.
   */
  private async writePage(doing: string, input: { connectionId: string; stream: string; entity: string; checkpoint?: { id: string; value: Record<string, unknown> } }, rows: HashedWrite[], now: string): Promise<Map<string, PrevState>> {
    const p = new Params();
    const conn = p.add(input.connectionId);
    const stream = p.add(input.stream);
    const ctes: string[] = [];
    let select = 'SELECT NULL::text AS external_id, NULL::text AS hash, NULL::text AS raw_hash, NULL::boolean AS deleted WHERE false';
    if (rows.length) {
      const ids = p.add(rows.map((x) => x.external_id));
      const json = p.add(`[${rows.map(rowJson).join(',')}]`);
      const at = p.add(now);
      const entity = p.add(input.entity);
      ctes.push(
        `x AS (SELECT * FROM jsonb_to_recordset(${json}::jsonb) AS x(e text, d jsonb, r jsonb, h text, rh text, del boolean))`,
        `prev AS (${byIds(PREV_COLUMNS, conn, stream, ids)})`,
        `ins AS (INSERT INTO taxbridge_entities (connection_id, stream, external_id, entity, data, raw, hash, raw_hash, deleted, first_seen_at, updated_at)
           SELECT ${conn}, ${stream}, x.e, ${entity}, x.d, x.r, x.h, x.rh, x.del, ${at}, ${at} FROM x
           ON CONFLICT (connection_id, stream, external_id) DO UPDATE SET entity = excluded.entity, data = excluded.data, raw = excluded.raw, hash = excluded.hash,
             raw_hash = excluded.raw_hash, deleted = excluded.deleted, updated_at = excluded.updated_at
           WHERE (taxbridge_entities.hash, taxbridge_entities.raw_hash) IS DISTINCT FROM (excluded.hash, excluded.raw_hash))`,
      );
      select = 'SELECT external_id, hash, raw_hash, deleted FROM prev';
    }
    if (input.checkpoint) {
      const id = p.add(input.checkpoint.id);
      const value = p.add(jsonbText(input.checkpoint.value));
      ctes.push(
        `cp AS (INSERT INTO taxbridge_checkpoints (connection_id, stream, id, value) VALUES (${conn}, ${stream}, ${id}, ${value}::jsonb) ON CONFLICT (connection_id, stream, id) DO UPDATE SET value = excluded.value)`,
        // The sync_state copy commits in the same statement: it never lags here.
        `sd AS (INSERT INTO taxbridge_documents (collection, id, doc) VALUES ('sync_state', ${id}, ${value}::jsonb) ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc, updated_at = now())`,
      );
    }
    const r = await this.query<PrevRow>(doing, `WITH ${ctes.join(',\n')}\n${select}`, p.values, true);
    return prevStates(r.rows);
  }

  async getCheckpoint(connectionId: string, stream: string, id: string): Promise<Record<string, unknown> | undefined> {
    const r = await this.query<{ value: Record<string, unknown> }>('reading a checkpoint', 'SELECT value FROM taxbridge_checkpoints WHERE connection_id = $1 AND stream = $2 AND id = $3', [connectionId, stream, id]);
    return r.rows[0]?.value;
  }

  async getEntity(connectionId: string, stream: string, externalId: string): Promise<StoredEntity | undefined> {
    const r = await this.query<EntityRow>('reading an entity', `SELECT ${ENTITY_COLUMNS} FROM taxbridge_entities WHERE connection_id = $1 AND stream = $2 AND external_id = $3`, [connectionId, stream, externalId]);
    return r.rows[0] ? toEntity(r.rows[0]) : undefined;
  }

  async listEntities(connectionId: string, stream: string, opts: { includeDeleted?: boolean } = {}): Promise<StoredEntity[]> {
    const out: StoredEntity[] = [];
    for (let after: string | undefined; ; ) {
      const page = await this.pageEntities(connectionId, stream, { after, limit: 1000, includeDeleted: opts.includeDeleted });
      out.push(...page);
      if (page.length < 1000) return out;
      after = page[page.length - 1]!.external_id;
    }
  }

  async pageEntities(connectionId: string, stream: string, opts: { after?: string; limit: number; includeDeleted?: boolean }): Promise<StoredEntity[]> {
    const limit = pageLimit({ limit: Math.max(1, opts.limit) })!;
    const r = await this.query<EntityRow>(
      'reading entities',
      // `after` only when given: an `($3 IS NULL OR external_id > $3)` cannot bound the index scan, so every
      // page would read the stream from its start.
      `SELECT ${ENTITY_COLUMNS} FROM taxbridge_entities WHERE connection_id = $1 AND stream = $2 ${opts.after === undefined ? '' : 'AND external_id > $3'} ${opts.includeDeleted ? '' : 'AND NOT deleted'} ORDER BY external_id LIMIT ${limit}`,
      opts.after === undefined ? [connectionId, stream] : [connectionId, stream, opts.after],
    );
    return r.rows.map(toEntity);
  }

  async entityStates(connectionId: string, stream: string, externalIds: string[]): Promise<Map<string, { hash: string; deleted: boolean }>> {
    const out = new Map<string, { hash: string; deleted: boolean }>();
    if (!externalIds.length) return out;
    const r = await this.query<{ external_id: string; hash: string; deleted: boolean }>(
      'reading entity hashes',
      byIds('external_id, hash, deleted', '$1', '$2', '$3'),
      [connectionId, stream, externalIds],
    );
    for (const row of r.rows) out.set(row.external_id, { hash: row.hash, deleted: row.deleted });
    return out;
  }

  async markDeleted(connectionId: string, stream: string, externalId: string): Promise<boolean> {
    return this.transaction('marking an entity deleted', async (c) => {
      const r = await c.query<{ data: Record<string, unknown>; deleted: boolean }>('SELECT data, deleted FROM taxbridge_entities WHERE connection_id = $1 AND stream = $2 AND external_id = $3 FOR UPDATE', [connectionId, stream, externalId]);
      const row = r.rows[0];
      if (!row) return false;
      if (row.deleted) return true;
      const hash = contentHash(`${stableStringify(row.data)}\u0000deleted`);
      await c.query('UPDATE taxbridge_entities SET deleted = true, hash = $4, updated_at = $5 WHERE connection_id = $1 AND stream = $2 AND external_id = $3', [connectionId, stream, externalId, hash, new Date().toISOString()]);
      return true;
    });
  }

  async countEntities(connectionId: string, stream: string): Promise<{ active: number; deleted: number }> {
    const r = await this.query<{ active: string; deleted: string }>(
      'counting entities',
      'SELECT count(*) FILTER (WHERE NOT deleted) AS active, count(*) FILTER (WHERE deleted) AS deleted FROM taxbridge_entities WHERE connection_id = $1 AND stream = $2',
      [connectionId, stream],
    );
    return { active: Number(r.rows[0]!.active), deleted: Number(r.rows[0]!.deleted) };
  }
}

