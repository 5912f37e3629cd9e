/**
 * `Authorization: Bearer <admin token>` for every admin router. A router is given an AdminTokenCheck: the
 * server passes its stored-hash check (src/server/admin-auth.ts), tests and embedders a plain token through
 * `tokenCheck`. Comparisons are constant-time over SHA-256 digests; refusals are 401 in the admin API's shape.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { TaxbridgeError } from '../errors.ts';

/** True when the presented bearer token is the admin token. */
export type AdminTokenCheck = (presented: string) => boolean;

export const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A check against one known token (at least 16 characters). */
export function tokenCheck(adminToken: string): AdminTokenCheck {
  if (typeof adminToken !== 'string' || adminToken.length < 16) {
    throw new TaxbridgeError('config_invalid', 'the admin API needs an admin token of at least 16 characters', { hint: 'set it in the server configuration' });
  }
  const expected = sha256(adminToken);
  return (presented) => timingSafeEqual(sha256(presented), expected);
}

/** A token or a check, as the routers' options take it. */
export function toTokenCheck(admin: string | AdminTokenCheck): AdminTokenCheck {
  return typeof admin === 'function' ? admin : tokenCheck(admin);
}

/** The bearer token of a request, when it is the admin token. */
export function isAdminRequest(authorization: string, check: AdminTokenCheck): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  return Boolean(m && check(m[1]!));
}

export function adminBearerAuth(admin: string | AdminTokenCheck): Middleware {
  const check = toTokenCheck(admin);
  return async (ctx, next) => {
    if (!isAdminRequest(ctx.get('authorization'), check)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer');
      ctx.type = 'application/json';
      ctx.body = JSON.stringify({ type: 'api_error', code: 'unauthorized_access', message: 'admin API: send Authorization: Bearer <admin token>' });
      return;
    }
    await next();
  };
}
