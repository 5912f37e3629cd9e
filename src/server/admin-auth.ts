/**
 * The admin token. Given by TAXBRIDGE_ADMIN_TOKEN, or else generated at the first start of a data folder,
 * printed once, and kept only as a SHA-256 hash in the store (`server` collection, document `admin_token`):
 * the token itself exists nowhere but with the operator. A lost token is replaced with
 * `taxbridge serve --new-admin-token`.
 *
 * Every admin router is given this check (`verify`: constant time, against the token's or the stored hash) and
 * applies it to its own routes (./routing.ts), so the token itself is never needed in clear.
 */
import { timingSafeEqual } from 'node:crypto';
import { knownSecrets } from '../log/index.ts';
import type { Store } from '../store/types.ts';
import { randomBase62 } from '../tax/ids.ts';
import { sha256 } from './admin-bearer.ts';

export const SERVER_COLLECTION = 'server';
const ADMIN_TOKEN_DOC = 'admin_token';

interface AdminTokenDoc {
  id: string;
  /** "sha256:<hex>" of the token. */
  hash: string;
  created_at: string;
}


export interface AdminAuth {
  /** True when `presented` is the admin token. */
  verify(presented: string): boolean;
  /** Set when a token was generated now: print it once, then forget it. */
  generated?: string;
  /** "env" or "stored hash". */
  source: 'env' | 'stored';
}

export async function resolveAdminAuth(store: Store, opts: { envToken?: string; rotate?: boolean; now?: () => Date } = {}): Promise<AdminAuth> {
  let expected: Buffer;
  let generated: string | undefined;
  let source: AdminAuth['source'];
  if (opts.envToken) {
    knownSecrets.add(opts.envToken);
    expected = sha256(opts.envToken);
    source = 'env';
  } else {
    const doc = opts.rotate ? undefined : await store.get<AdminTokenDoc>(SERVER_COLLECTION, ADMIN_TOKEN_DOC);
    if (doc && /^sha256:[0-9a-f]{64}$/.test(doc.hash)) {
      expected = Buffer.from(doc.hash.slice(7), 'hex');
    } else {
      generated = `tbadmin_${randomBase62(40)}`;
      knownSecrets.add(generated);
      expected = sha256(generated);
      await store.put<AdminTokenDoc>(SERVER_COLLECTION, ADMIN_TOKEN_DOC, { id: ADMIN_TOKEN_DOC, hash: `sha256:${expected.toString('hex')}`, created_at: (opts.now?.() ?? new Date()).toISOString() });
    }
    source = 'stored';
  }
  return {
    verify: (presented) => timingSafeEqual(sha256(presented), expected),
    ...(generated ? { generated } : {}),
    source,
  };
}
