/**
 * One routing policy for every router of the server, so that authentication and routing agree on what a
 * path is:
 *
 * - Paths have one canonical form: case-sensitive, no trailing slash, no empty (`//`), dot (`.`, `..`) or
 *   percent-encoded segments, only URL-safe characters. Anything else is answered 404 before any router sees
 *   it (no redirect: a client that spells a path differently is a client to fix, and a POST cannot follow
 *   a redirect safely). Every route of the API fits this form; ids are [A-Za-z0-9_-].
 * - Every router is created case-sensitive and strict, so koa's matching and the canonical check agree.
 * - Admin routers authenticate on the router itself (`router.use`), which @koa/router runs only after a
 *   route of that router matched: no spelling of a path reaches an admin handler without the token.
 */
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { adminBearerAuth, type AdminCredential } from './admin-bearer.ts';
import { sendJson } from './http-errors.ts';

/** A canonical path: "/" or segments of unreserved URL characters (RFC 3986 without "%"), none "." or "..". */
const SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@-]+$/;
const MAX_PATH_LENGTH = 2048;

export function isCanonicalPath(path: string): boolean {
  if (path === '/') return true;
  if (path.length > MAX_PATH_LENGTH || !path.startsWith('/')) return false;
  const segments = path.slice(1).split('/');
  return segments.every((s) => s !== '.' && s !== '..' && SEGMENT.test(s));
}

/** Answers 404 for any path not in canonical form, before routing. */
export function canonicalPaths(): Middleware {
  return async (ctx, next) => {
    if (isCanonicalPath(ctx.path)) return next();
    sendJson(ctx, 404, {
      type: 'api_error',
      code: 'not_found',
      message: 'no such endpoint: the path is not in canonical form',
      hint: 'paths are case-sensitive, without a trailing slash, doubled slashes, dot segments or percent-encoding; the API is described at GET /openapi.json',
    });
  };
}

/** A router with the server's matching rules (case-sensitive, strict about trailing slashes). */
export function createRouter(opts: { prefix?: string } = {}): Router {
  return new Router({ ...opts, sensitive: true, strict: true });
}

/** A router under /admin whose every route requires the admin bearer token (or, given a gate, a console session). */
export function createAdminRouter(admin: AdminCredential): Router {
  const router = createRouter({ prefix: '/admin' });
  router.use(adminBearerAuth(admin));
  return router;
}
