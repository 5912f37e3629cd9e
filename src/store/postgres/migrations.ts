import type { Migration } from './migrate.ts';
import { STORE_MIGRATIONS } from './schema.ts';

/**
 * Every migration the program applies at start, from every part that keeps tables of its own: a part
 * exports its list (versions in its own range) and adds it here, so the set is explicit and does not
 * depend on import order.
 */
export function allMigrations(): Migration[] {
  return [...STORE_MIGRATIONS];
}
