/**
 * Lookups by a key that may come from input (a request, a CLI flag, a spec): only own properties count, so
 * "constructor", "__proto__" or "toString" never resolve through Object.prototype.
 */
export function own<T>(map: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}
