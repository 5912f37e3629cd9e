/**
 * The subset of QuickBooks Online's SQL-like query language the fake answers:
 *   SELECT * | COUNT(*) FROM <Entity> [WHERE <field> <op> <value> [AND ...]]
 *   [ORDERBY <field> [ASC|DESC][, ...]] [STARTPOSITION n] [MAXRESULTS n]
 * with ops = < > <= >= != IN LIKE ('%' wildcards), string / number / true / false values.
 * Keywords and entity names are case-insensitive; `ORDER BY` is accepted too. STARTPOSITION is
 * 1-based; MAXRESULTS defaults to 100 and is capped at 1000 (as Intuit documents).
 */

export type QueryValue = string | number | boolean;

export interface QueryCond {
  field: string;
  op: '=' | '<' | '>' | '<=' | '>=' | '!=' | 'IN' | 'LIKE';
  values: QueryValue[];
}

export interface ParsedQuery {
  count: boolean;
  entity: string;
  where: QueryCond[];
  orderBy: { field: string; desc: boolean }[];
  start: number;
  max: number;
}

export const QUERY_MAX_LENGTH = 10_000;
export const MAXRESULTS_DEFAULT = 100;
export const MAXRESULTS_CAP = 1000;

/** A query the parser refuses: `code` 4000 (parse error) or 4001 (invalid query), as Intuit's faults. */
export class QueryError extends Error {
  constructor(readonly code: '4000' | '4001', message: string) {
    super(message);
    this.name = 'QueryError';
  }
}

type Tok = { t: 'word' | 'str' | 'num' | 'sym'; v: string; at: number };

function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= q.length) throw new QueryError('4000', `QueryParserError: unterminated string starting at position ${at + 1}`);
        const d = q[i]!;
        if (d === '\\' && q[i + 1] === "'") {
          s += "'";
          i += 2;
        } else if (d === "'" && q[i + 1] === "'") {
          s += "'";
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          s += d;
          i++;
        }
      }
      out.push({ t: 'str', v: s, at });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(q[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < q.length && /[0-9.]/.test(q[j]!)) j++;
      out.push({ t: 'num', v: q.slice(i, j), at });
      i = j;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < q.length && /[A-Za-z0-9_.]/.test(q[j]!)) j++;
      out.push({ t: 'word', v: q.slice(i, j), at });
      i = j;
    } else if (c === '<' || c === '>' || c === '!') {
      if (q[i + 1] === '=') {
        out.push({ t: 'sym', v: c + '=', at });
        i += 2;
      } else if (c === '<' && q[i + 1] === '>') {
        out.push({ t: 'sym', v: '!=', at });
        i += 2;
      } else if (c === '!') {
        throw new QueryError('4000', `QueryParserError: unexpected "!" at position ${at + 1}`);
      } else {
        out.push({ t: 'sym', v: c, at });
        i++;
      }
    } else if ('*(),='.includes(c)) {
      out.push({ t: 'sym', v: c, at });
      i++;
    } else {
      throw new QueryError('4000', `QueryParserError: Encountered "${c}" at position ${at + 1}`);
    }
  }
  return out;
}

export function parseQuery(text: string): ParsedQuery {
  if (text.length > QUERY_MAX_LENGTH) throw new QueryError('4000', `QueryParserError: query longer than ${QUERY_MAX_LENGTH} characters`);
  const toks = tokenize(text);
  let p = 0;
  const peek = (): Tok | undefined => toks[p];
  const isKw = (kw: string, k = 0): boolean => toks[p + k]?.t === 'word' && toks[p + k]!.v.toUpperCase() === kw;
  const where = (): string => (peek() ? `"${peek()!.v}" at position ${peek()!.at + 1}` : 'end of query');
  const expectKw = (kw: string): void => {
    if (!isKw(kw)) throw new QueryError('4000', `QueryParserError: expected ${kw}, found ${where()}`);
    p++;
  };
  const expectSym = (s: string): void => {
    if (peek()?.t !== 'sym' || peek()!.v !== s) throw new QueryError('4000', `QueryParserError: expected "${s}", found ${where()}`);
    p++;
  };
  const word = (what: string): string => {
    const t = peek();
    if (t?.t !== 'word') throw new QueryError('4000', `QueryParserError: expected ${what}, found ${where()}`);
    p++;
    return t.v;
  };
  const value = (): QueryValue => {
    const t = peek();
    if (!t) throw new QueryError('4000', 'QueryParserError: expected a value, found end of query');
    p++;
    if (t.t === 'str') return t.v;
    if (t.t === 'num') {
      if (!/^-?\d+(\.\d+)?$/.test(t.v)) throw new QueryError('4000', `QueryParserError: bad number ${t.v}`);
      return Number(t.v);
    }
    if (t.t === 'word' && /^(true|false)$/i.test(t.v)) return t.v.toLowerCase() === 'true';
    throw new QueryError('4000', `QueryParserError: expected a quoted value, a number, true or false, found "${t.v}" at position ${t.at + 1}`);
  };
  const posInt = (kw: string): number => {
    const t = peek();
    if (t?.t !== 'num' || !/^\d+$/.test(t.v)) throw new QueryError('4000', `QueryParserError: ${kw} takes a whole number, found ${where()}`);
    p++;
    const n = Number(t.v);
    if (n < 1 || !Number.isSafeInteger(n)) throw new QueryError('4001', `QueryValidationError: ${kw} must be at least 1, got ${t.v}`);
    return n;
  };

  expectKw('SELECT');
  let count = false;
  if (isKw('COUNT')) {
    p++;
    expectSym('(');
    expectSym('*');
    expectSym(')');
    count = true;
  } else if (peek()?.t === 'sym' && peek()!.v === '*') {
    p++;
  } else {
    throw new QueryError('4000', `QueryParserError: this fake answers SELECT * and SELECT COUNT(*) only, found ${where()}`);
  }
  expectKw('FROM');
  const entity = word('an entity name');
  const conds: QueryCond[] = [];
  if (isKw('WHERE')) {
    p++;
    for (;;) {
      const field = word('a property name');
      const t = peek();
      if (t?.t === 'word' && t.v.toUpperCase() === 'IN') {
        p++;
        expectSym('(');
        const values: QueryValue[] = [value()];
        while (peek()?.t === 'sym' && peek()!.v === ',') {
          p++;
          values.push(value());
        }
        expectSym(')');
        conds.push({ field, op: 'IN', values });
      } else if (t?.t === 'word' && t.v.toUpperCase() === 'LIKE') {
        p++;
        const v = value();
        if (typeof v !== 'string') throw new QueryError('4000', 'QueryParserError: LIKE takes a quoted pattern');
        conds.push({ field, op: 'LIKE', values: [v] });
      } else if (t?.t === 'sym' && ['=', '<', '>', '<=', '>=', '!='].includes(t.v)) {
        p++;
        conds.push({ field, op: t.v as QueryCond['op'], values: [value()] });
      } else {
        throw new QueryError('4000', `QueryParserError: expected an operator (=, <, >, <=, >=, IN, LIKE) after ${field}, found ${where()}`);
      }
      if (isKw('AND')) {
        p++;
        continue;
      }
      if (isKw('OR')) throw new QueryError('4000', 'QueryParserError: OR is not supported (QuickBooks queries combine conditions with AND only)');
      break;
    }
  }
  const orderBy: ParsedQuery['orderBy'] = [];
  if (isKw('ORDERBY') || (isKw('ORDER') && isKw('BY', 1))) {
    p += isKw('ORDERBY') ? 1 : 2;
    for (;;) {
      const field = word('a property to order by');
      let desc = false;
      if (isKw('DESC')) {
        desc = true;
        p++;
      } else if (isKw('ASC')) p++;
      orderBy.push({ field, desc });
      if (peek()?.t === 'sym' && peek()!.v === ',') {
        p++;
        continue;
      }
      break;
    }
  }
  let start = 1;
  let max = MAXRESULTS_DEFAULT;
  for (let k = 0; k < 2; k++) {
    if (isKw('STARTPOSITION')) {
      p++;
      start = posInt('STARTPOSITION');
    } else if (isKw('MAXRESULTS')) {
      p++;
      max = Math.min(posInt('MAXRESULTS'), MAXRESULTS_CAP);
    }
  }
  if (p < toks.length) throw new QueryError('4000', `QueryParserError: Encountered ${where()}; expected WHERE, ORDERBY, STARTPOSITION, MAXRESULTS or the end`);
  return { count, entity, where: conds, orderBy, start, max };
}

// ------------------------------------------------------------------------------------------------
// evaluation

const DATE_RE = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?(Z|[+-]\d{2}:\d{2})?$/i;

/** A query date-time literal in ms; without an offset it is read in the company's offset (inferred). */
export function parseQueryTime(raw: string, defaultOffset: string): number {
  // an unencoded "+05:00" arrives as " 05:00"
  const s = raw.trim().replace(/ (\d{2}:\d{2})$/, '+$1');
  const m = DATE_RE.exec(s);
  if (!m) throw new QueryError('4001', `QueryValidationError: ${JSON.stringify(raw)} is not a date-time such as 2026-01-01T00:00:00-08:00`);
  const iso = `${m[1]}T${m[2] ?? '00:00:00'}${m[3] ?? defaultOffset}`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new QueryError('4001', `QueryValidationError: ${JSON.stringify(raw)} is not a valid date-time`);
  return ms;
}

export type FieldKind = 'string' | 'number' | 'boolean' | 'datetime' | 'date' | 'id' | 'ref';

/** Resolve a property path case-insensitively (the JSON says MetaData, queries say Metadata). */
export function resolveField(fields: Record<string, FieldKind>, name: string): { path: string[]; kind: FieldKind } | undefined {
  const lower = name.toLowerCase();
  for (const [k, kind] of Object.entries(fields)) if (k.toLowerCase() === lower) return { path: k.split('.'), kind };
  return undefined;
}

function get(rec: unknown, path: readonly string[]): unknown {
  let v: unknown = rec;
  for (const k of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

type Cmp = string | number | boolean | undefined;

function comparable(kind: FieldKind, v: unknown, offset: string): Cmp {
  if (v === undefined || v === null) return undefined;
  switch (kind) {
    case 'datetime':
      return typeof v === 'string' ? parseQueryTime(v, offset) : undefined;
    case 'id':
      return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : String(v);
    case 'ref':
      return typeof v === 'object' ? String((v as { value?: unknown }).value) : String(v);
    case 'number':
      return typeof v === 'number' ? v : Number(v);
    case 'boolean':
      return typeof v === 'boolean' ? v : String(v) === 'true';
    default:
      return String(v);
  }
}

function literal(kind: FieldKind, v: QueryValue, field: string, offset: string): Cmp {
  switch (kind) {
    case 'datetime':
      if (typeof v !== 'string') throw new QueryError('4001', `QueryValidationError: ${field} takes a quoted date-time`);
      return parseQueryTime(v, offset);
    case 'id':
      return typeof v === 'number' ? v : /^\d+$/.test(v as string) ? Number(v) : String(v);
    case 'number':
      if (typeof v === 'boolean' || Number.isNaN(Number(v))) throw new QueryError('4001', `QueryValidationError: ${field} takes a number`);
      return Number(v);
    case 'boolean':
      if (typeof v !== 'boolean' && v !== 'true' && v !== 'false') throw new QueryError('4001', `QueryValidationError: ${field} takes true or false`);
      return v === true || v === 'true';
    default:
      return String(v);
  }
}

function cmp(a: Cmp, b: Cmp): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : 1;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** LIKE with '%' wildcards, case-insensitive, matched segment by segment (no regex, so no backtracking blow-up). */
function likeMatch(pattern: string, value: string): boolean {
  const parts = pattern.toLowerCase().split('%');
  const v = value.toLowerCase();
  if (parts.length === 1) return v === parts[0];
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!v.startsWith(first) || v.length < first.length + last.length || !v.endsWith(last)) return false;
  let at = first.length;
  const end = v.length - last.length;
  for (const mid of parts.slice(1, -1)) {
    if (mid === '') continue;
    const i = v.indexOf(mid, at);
    if (i < 0 || i + mid.length > end) return false;
    at = i + mid.length;
  }
  return true;
}

export interface Compiled<V> {
  keep: (rec: V) => boolean;
  compare: (a: V, b: V) => number;
  /** Whether the WHERE names Active (then inactive names are not hidden). */
  mentionsActive: boolean;
}

/** Turn a parsed query into a filter and an order over records of one entity. */
export function compileQuery<V>(q: ParsedQuery, fields: Record<string, FieldKind>, offset: string): Compiled<V> {
  const tests = q.where.map((c) => {
    const f = resolveField(fields, c.field);
    if (!f) throw new QueryError('4001', `QueryValidationError: property '${c.field}' is not queryable on ${q.entity} (this fake knows ${Object.keys(fields).join(', ')})`);
    const lits = c.values.map((v) => literal(f.kind, v, c.field, offset));
    return (rec: V): boolean => {
      const val = comparable(f.kind, get(rec, f.path), offset);
      switch (c.op) {
        case '=': return cmp(val, lits[0]) === 0;
        case '!=': return cmp(val, lits[0]) !== 0;
        case '<': return val !== undefined && cmp(val, lits[0]) < 0;
        case '>': return val !== undefined && cmp(val, lits[0]) > 0;
        case '<=': return val !== undefined && cmp(val, lits[0]) <= 0;
        case '>=': return val !== undefined && cmp(val, lits[0]) >= 0;
        case 'IN': return lits.some((l) => cmp(val, l) === 0);
        case 'LIKE': return val !== undefined && likeMatch(String(c.values[0]), String(val));
      }
    };
  });
  const orders = q.orderBy.map((o) => {
    const f = resolveField(fields, o.field);
    if (!f) throw new QueryError('4001', `QueryValidationError: cannot order ${q.entity} by '${o.field}'`);
    return { f, desc: o.desc };
  });
  const idField = { path: ['Id'], kind: 'id' as FieldKind };
  return {
    keep: (rec) => tests.every((t) => t(rec)),
    compare: (a, b) => {
      for (const o of orders) {
        const d = cmp(comparable(o.f.kind, get(a, o.f.path), offset), comparable(o.f.kind, get(b, o.f.path), offset));
        if (d !== 0) return o.desc ? -d : d;
      }
      return cmp(comparable('id', get(a, idField.path), offset), comparable('id', get(b, idField.path), offset));
    },
    mentionsActive: q.where.some((c) => c.field.toLowerCase() === 'active'),
  };
}
