import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { Diagnostic } from './diagnostics.ts';
import { didYouMean } from './suggest.ts';

export interface Position {
  line: number;
  column: number;
  /** Offset of the node in the file, and whether it is a block scalar (for positions inside expressions). */
  offset: number;
  kind?: 'plain' | 'quoted' | 'block';
}

/** A YAML file turned into a plain value, with the position of every value and key by JSON pointer. */
export interface SourceDocument {
  file: string;
  text: string;
  value: unknown;
  /** JSON pointer (as in ajv's instancePath) -> where the value starts. */
  valuePositions: Map<string, Position>;
  /** JSON pointer of a property -> where its key starts. */
  keyPositions: Map<string, Position>;
  diagnostics: Diagnostic[];
}

const YAML_HINTS: Record<string, string> = {
  DUPLICATE_KEY: 'each key may appear once in a mapping: remove or rename one of them',
  BAD_INDENT: 'indent nested keys with spaces so they line up with their siblings',
  TAB_AS_INDENT: 'YAML indentation must use spaces, not tabs',
  BLOCK_AS_IMPLICIT_KEY: 'quote a value containing ": " (description: "a: b"), or check that the next line is not indented deeper than its siblings',
  MISSING_CHAR: 'a bracket or quote is not closed',
  UNEXPECTED_TOKEN: 'quote values that start with [ { * & ! | > % @ or a backtick',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line: check that this line is indented like its siblings',
  BAD_ALIAS: 'an alias (*name) must refer to an anchor (&name) defined earlier in the file',
};

export const pointerJoin = (base: string, key: string | number) => `${base}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** Parses YAML with positions, reporting syntax errors, and resolves aliases, `<<` merges and local `$ref`s. */
export function parseSource(file: string, text: string): SourceDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: true });
  const out: SourceDocument = { file, text, value: undefined, valuePositions: new Map(), keyPositions: new Map(), diagnostics: [] };
  const pos = (offset: number, kind?: Position['kind']): Position => {
    const lp = lineCounter.linePos(offset);
    return { line: lp.line, column: lp.col, offset, kind };
  };
  for (const e of doc.errors) {
    const lp = e.linePos?.[0] ?? { line: 1, col: 1 };
    out.diagnostics.push({
      file,
      line: lp.line,
      column: lp.col,
      code: `YAML_${e.code}`,
      message: firstLine(e.message),
      hint: YAML_HINTS[e.code],
      severity: 'error',
    });
  }
  if (doc.errors.length > 0) return out;
  const walker = new Walker(doc, out, pos);
  out.value = doc.contents ? walker.walk(doc.contents as Node, '', []) : undefined;
  return out;
}

function firstLine(msg: string): string {
  return msg.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

class Walker {
  constructor(
    private doc: Document,
    private out: SourceDocument,
    private pos: (offset: number, kind?: Position['kind']) => Position,
  ) {}

  walk(node: Node | null | undefined, pointer: string, stack: Array<Node | string>): unknown {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(this.doc) as Node | undefined;
      if (!target) return null;
      if (stack.includes(target)) {
        this.error(node.range?.[0] ?? 0, 'YAML_ALIAS_CYCLE', `alias *${node.source} refers to a node that contains it`, 'an alias cannot refer to its own parent');
        return null;
      }
      return this.walk(target, pointer, [...stack, target]);
    }
    const start = node.range?.[0] ?? 0;
    if (isScalar(node)) {
      const kind: Position['kind'] = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED' ? 'block' : node.type === 'PLAIN' ? 'plain' : 'quoted';
      this.out.valuePositions.set(pointer, this.pos(start, kind));
      return node.value;
    }
    this.out.valuePositions.set(pointer, this.pos(start));
    if (isSeq(node)) return node.items.map((item, i) => this.walk(item as Node, pointerJoin(pointer, i), stack));
    if (isMap(node)) return this.walkMap(node.items as Pair[], pointer, stack);
    return null;
  }

  private walkMap(items: Pair[], pointer: string, stack: Array<Node | string>): Record<string, unknown> {
    const obj: Record<string, unknown> = {};
    let ref: { value: string; offset: number } | undefined;
    const merges: Node[] = [];
    for (const pair of items) {
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      if (isScalar(keyNode) && (keyNode.source === '<<' || key === '<<')) {
        merges.push(pair.value as Node);
        continue;
      }
      if (key === '$ref' && isScalar(pair.value)) {
        ref = { value: String(pair.value.value), offset: (pair.value as Node).range?.[0] ?? 0 };
        continue;
      }
      const child = pointerJoin(pointer, key);
      this.out.keyPositions.set(child, this.pos(keyNode?.range?.[0] ?? 0));
      setOwn(obj, key, this.walk(pair.value as Node, child, stack));
    }
    // `$ref` and `<<` fill in what the map does not say itself (siblings override, as in Airbyte's $ref).
    const base: Record<string, unknown> = {};
    if (ref) for (const [k, val] of Object.entries(this.resolveRef(ref, pointer, stack))) setOwn(base, k, val);
    for (const m of merges) {
      const sources = isSeq(m) ? (m.items as Node[]) : [m];
      for (const s of sources) {
        const v = this.walk(s, pointer, stack);
        if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, val] of Object.entries(v)) if (!Object.hasOwn(base, k)) setOwn(base, k, val);
      }
    }
    if (!Object.keys(base).length) return obj;
    for (const [k, val] of Object.entries(obj)) setOwn(base, k, val);
    return base;
  }

  private resolveRef(ref: { value: string; offset: number }, pointer: string, stack: Array<Node | string>): Record<string, unknown> {
    if (!ref.value.startsWith('#/')) {
      this.error(ref.offset, 'REF_UNSUPPORTED', `$ref \`${ref.value}\` is not a local reference`, "refer to a fragment in this file, e.g. '#/definitions/pagination'");
      return {};
    }
    if (stack.includes(ref.value)) {
      const chain = [...stack.filter((s): s is string => typeof s === 'string'), ref.value].join(' -> ');
      this.error(ref.offset, 'REF_CYCLE', `$ref cycle: ${chain}`, 'a fragment cannot refer to itself, directly or through others');
      return {};
    }
    const segments = ref.value.slice(2).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let node: Node | null | undefined = this.doc.contents as Node;
    for (let i = 0; i < segments.length; i++) {
      if (isAlias(node)) node = node.resolve(this.doc) as Node;
      const seg = segments[i]!;
      let next: Node | undefined;
      if (isMap(node)) next = node.get(seg, true) as Node | undefined;
      else if (isSeq(node)) next = node.get(Number(seg), true) as Node | undefined;
      if (next === undefined) {
        const siblings = isMap(node) ? (node.items as Pair[]).map((p) => String(isScalar(p.key) ? p.key.value : p.key)) : [];
        const where = segments.slice(0, i).join('/') || 'the document root';
        this.error(ref.offset, 'REF_NOT_FOUND', `$ref \`${ref.value}\` points at nothing: \`${seg}\` is not in ${where}`, didYouMean(seg, siblings) ?? (siblings.length ? `available: ${siblings.join(', ')}` : undefined));
        return {};
      }
      node = next;
    }
    const v = this.walk(node, pointer, [...stack, ref.value]);
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      this.error(ref.offset, 'REF_NOT_OBJECT', `$ref \`${ref.value}\` must point at a mapping`, undefined);
      return {};
    }
    return v as Record<string, unknown>;
  }

  private error(offset: number, code: string, message: string, hint: string | undefined) {
    const p = this.pos(offset);
    this.out.diagnostics.push({ file: this.out.file, line: p.line, column: p.column, code, message, hint, severity: 'error' });
  }
}

/** Position for a pointer, falling back to the closest ancestor that has one. */
export function positionOf(src: SourceDocument, pointer: string, preferKey = false): Position {
  let p = pointer;
  for (;;) {
    const hit = preferKey ? (src.keyPositions.get(p) ?? src.valuePositions.get(p)) : (src.valuePositions.get(p) ?? src.keyPositions.get(p));
    if (hit) return hit;
    if (p === '') return { line: 1, column: 1, offset: 0 };
    p = p.slice(0, p.lastIndexOf('/'));
  }
}

/** `/streams/customers/pagination` -> `streams.customers.pagination`. */
export function dottedPath(pointer: string): string {
  if (!pointer) return '(root)';
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`))
    .join('');
}

/**
 * Line and column of a character inside a scalar's value (for errors inside expressions).
 * Exact for plain and block scalars; for quoted scalars exact unless escapes precede the offset.
 */
export function positionInside(src: SourceDocument, at: Position, charOffset: number): { line: number; column: number } {
  const value = src.text;
  if (at.kind === 'block') {
    // Content starts on the line after the `|` / `>` header, at the block's indentation.
    let i = value.indexOf('\n', at.offset) + 1;
    let line = at.line + 1;
    while (i < value.length && /^[ \t]*\r?\n/.test(value.slice(i, value.indexOf('\n', i) + 1))) {
      i = value.indexOf('\n', i) + 1;
      line++;
    }
    const indent = /^ */.exec(value.slice(i))![0].length;
    let remaining = charOffset;
    for (;;) {
      const end = value.indexOf('\n', i);
      const lineText = end < 0 ? value.slice(i) : value.slice(i, end);
      const content = lineText.slice(Math.min(indent, lineText.length));
      if (remaining <= content.length || end < 0) return { line, column: indent + remaining + 1 };
      remaining -= content.length + 1;
      i = end + 1;
      line++;
    }
  }
  return { line: at.line, column: at.column + (at.kind === 'quoted' ? 1 : 0) + charOffset };
}

/** A data property even for "__proto__": a spec key never changes an object's prototype. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}
