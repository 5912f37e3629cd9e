/**
 * `Authorization: Bearer <admin token>` for the webhook and write-back admin routes, compared in constant
 * time (digests of equal length), answering 401 in the admin API's error shape. The same rule as
 * src/server/admin-api.ts, as a middleware other routers can share.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { TaxbridgeError } from '../errors.ts';

export function adminBearerAuth(adminToken: string): Middleware {
  if (typeof adminToken !== 'string' || adminToken.length < 16) {
    throw new TaxbridgeError('config_invalid', 'the admin API needs an admin token of at least 16 characters', { hint: 'set it in the server configuration' });
  }
  const expected = createHash('sha256').update(adminToken).digest();
  return async (ctx, next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
    if (!m || !timingSafeEqual(createHash('sha256').update(m[1]!).digest(), expected)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer');
      ctx.type = 'application/json';
      ctx.body = JSON.stringify({ type: 'api_error', code: 'unauthorized_access', message: 'admin API: send Authorization: Bearer <admin token>' });
      return;
    }
    await next();
  };
}
