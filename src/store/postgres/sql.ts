import { conditions, decodeCursor, fieldPath, pageLimit, type Condition } from '../query.ts';
import type { FindQuery, Where } from '../types.ts';
import { jsonbText } from './jsonb.ts';

/**
 * Store queries (src/store/query.ts) as SQL over taxbridge_documents, with the same meaning as the embedded
 * store's: equality is JSON equality (`doc #> path = value`), `null` also matches an absent field, ranges
 * and orders compare text in the "C" collation (code points, like JavaScript for every non-surrogate text).
 * Field paths are validated names, so they are written into the SQL as literals (which lets the planner use
 * expression indexes); every value is a parameter.
 */
export class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function pathLiteral(path: readonly string[]): string {
  return `'{${path.join(',')}}'`;
}

/** The text a document sorts by for `field` (matches the expression indexes of schema.ts). */
export function sortExpr(path: readonly string[] | undefined): string {
  return path ? `(coalesce(doc #>> ${pathLiteral(path)}, '') COLLATE "C")` : `''::text`;
}

const json = (v: unknown) => jsonbText(v);

/** SQL conditions (ANDed) for a Where; top-level equalities also as one containment, which the GIN index answers. */
export function whereSql(conds: readonly Condition[], p: Params): string[] {
  const out: string[] = [];
  const contain: Record<string, unknown> = {};
  for (const c of conds) {
    const e = `(doc #> ${pathLiteral(c.path)})`;
    const orNull = `coalesce(${e}, 'null'::jsonb)`;
    const op = c.op;
    switch (op.kind) {
      case 'eq':
        if (op.value === null) out.push(`${orNull} = 'null'::jsonb`);
        else {
          out.push(`${e} = ${p.add(json(op.value))}::jsonb`);
          if (c.path.length === 1) contain[c.path[0]!] = op.value;
        }
        break;
      case 'in': {
        if (op.values.length === 0) {
          out.push('false');
          break;
        }
        out.push(`${orNull} = ANY(${p.add(op.values.map(json))}::jsonb[])`);
        // A short list of non-null values on a top-level field: OR of containments, so the GIN index serves it.
        if (c.path.length === 1 && op.values.length <= 16 && op.values.every((v) => v !== null)) {
          out.push(`(${op.values.map((v) => `doc @> ${p.add(json({ [c.path[0]!]: v }))}::jsonb`).join(' OR ')})`);
        }
        break;
      }
      case 'ne':
        out.push(`${orNull} <> ${p.add(json(op.value))}::jsonb`);
        break;
      case 'range': {
        const t = `(doc #>> ${pathLiteral(c.path)}) COLLATE "C"`;
        out.push(`jsonb_typeof(${e}) = 'string'`);
        if (op.gte !== undefined) out.push(`${t} >= ${p.add(op.gte)}`);
        if (op.gt !== undefined) out.push(`${t} > ${p.add(op.gt)}`);
        if (op.lt !== undefined) out.push(`${t} < ${p.add(op.lt)}`);
        if (op.lte !== undefined) out.push(`${t} <= ${p.add(op.lte)}`);
        break;
      }
    }
  }
  if (Object.keys(contain).length) out.unshift(`doc @> ${p.add(json(contain))}::jsonb`);
  return out;
}

export interface SelectPlan {
  sql: string;
  params: unknown[];
  limit?: number;
}

/**
 * SELECT id, doc, s (the sort text) of a FindQuery, one row more than the page size (to know whether a next
 * page exists). claimNext adds its own conditions (`extra`), a FOR UPDATE suffix and an exact limit.
 */
export function selectSql(collection: string, q: FindQuery, opts: { columns?: string; extra?: (p: Params) => string[]; suffix?: string; limitOverride?: number } = {}): SelectPlan {
  const p = new Params();
  const conds = conditions(q.where);
  const limit = opts.limitOverride ?? pageLimit(q);
  const orderPath = q.orderBy ? fieldPath(q.orderBy.field) : undefined;
  const s = sortExpr(orderPath);
  const desc = q.orderBy?.desc === true;
  const where = [`collection = ${p.add(collection)}`, ...whereSql(conds, p), ...(opts.extra ? opts.extra(p) : [])];
  if (q.after !== undefined) {
    const c = decodeCursor(q.after);
    const v = p.add(c.v);
    const id = p.add(c.id);
    where.push(desc ? `(${s} < ${v} OR (${s} = ${v} AND id < ${id}))` : `(${s} > ${v} OR (${s} = ${v} AND id > ${id}))`);
  }
  const dir = desc ? 'DESC' : 'ASC';
  const sql =
    `SELECT ${opts.columns ?? `id, doc, ${s} AS s`} FROM taxbridge_documents WHERE ${where.join(' AND ')} ORDER BY ${s} ${dir}, id ${dir}` +
    (limit !== undefined ? ` LIMIT ${limit + (opts.limitOverride === undefined ? 1 : 0)}` : '') +
    (opts.suffix ? ` ${opts.suffix}` : '');
  return { sql, params: p.values, limit };
}

/** A COUNT of the documents matching `where`. */
export function countSql(collection: string, where: Where | undefined): { sql: string; params: unknown[] } {
  const p = new Params();
  const conds = [`collection = ${p.add(collection)}`, ...whereSql(conditions(where), p)];
  return { sql: `SELECT count(*)::bigint AS n FROM taxbridge_documents WHERE ${conds.join(' AND ')}`, params: p.values };
}
