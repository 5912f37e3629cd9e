/**
 * Nesting depth of a parsed JSON value, checked without recursion (an explicit stack), so a body nested
 * 5,000 levels deep is refused before anything recursive (validation, JSON.stringify of a record, a
 * response) ever sees it. The top-level value is depth 1: `{"a":{"b":1}}` is 2 deep.
 */

/** The path of the first value nested deeper than `max` ("metadata.a.b", "line_items[0].x[3]"), or undefined. */
export function tooDeepPath(value: unknown, max: number): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  // Hot path (every calculate_tax body): a walk that allocates nothing per container; the path is named
  // by the second walk only for a body that is too deep.
  return withinDepth(value, max) ? undefined : firstTooDeep(value, max);
}

/** Two parallel stacks (containers, depths), reused between calls: no object per container. */
const values: object[] = [];
const depths: number[] = [];

function withinDepth(value: object, max: number): boolean {
  values.length = 0;
  depths.length = 0;
  values.push(value);
  depths.push(1);
  let ok = true;
  while (values.length) {
    const v = values.pop()!;
    const child = depths.pop()! + 1;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c: unknown = v[i];
        if (typeof c !== 'object' || c === null) continue;
        if (child > max) ok = false;
        else {
          values.push(c);
          depths.push(child);
        }
      }
    } else {
      for (const k in v) {
        const c: unknown = (v as Record<string, unknown>)[k];
        if (typeof c !== 'object' || c === null) continue;
        if (child > max) ok = false;
        else {
          values.push(c);
          depths.push(child);
        }
      }
    }
    if (!ok) break;
  }
  values.length = 0; // hold no reference to the body after the call
  depths.length = 0;
  return ok;
}

function firstTooDeep(value: object, max: number): string | undefined {
  // Each entry: a container, its depth, and how to name it (parent entry + key) for the error.
  const stack: Array<{ v: object; depth: number; parent: number; key: string | number }> = [{ v: value, depth: 1, parent: -1, key: '' }];
  const seen: typeof stack = [];
  while (stack.length) {
    const e = stack.pop()!;
    const at = seen.push(e) - 1;
    const child = e.depth + 1;
    if (Array.isArray(e.v)) {
      for (let i = e.v.length - 1; i >= 0; i--) {
        const c: unknown = e.v[i];
        if (typeof c !== 'object' || c === null) continue;
        if (child > max) return pathOf(seen, at, i);
        stack.push({ v: c, depth: child, parent: at, key: i });
      }
    } else {
      for (const k in e.v) {
        const c: unknown = (e.v as Record<string, unknown>)[k];
        if (typeof c !== 'object' || c === null) continue;
        if (child > max) return pathOf(seen, at, k);
        stack.push({ v: c, depth: child, parent: at, key: k });
      }
    }
  }
  return undefined;
}

function pathOf(seen: Array<{ parent: number; key: string | number }>, at: number, last: string | number): string {
  const keys: Array<string | number> = [last];
  for (let i = at; i > 0; i = seen[i]!.parent) keys.push(seen[i]!.key);
  let out = '';
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keys[i]!;
    if (typeof k === 'number') out += `[${k}]`;
    else {
      const name = k.length > 40 ? `${k.slice(0, 40)}...` : k;
      out += out === '' ? name : `.${name}`;
    }
  }
  return out;
}
