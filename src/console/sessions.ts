/**
 * Console sign-in sessions: the browser presents the admin token once and gets a random session id in an
 * HttpOnly, SameSite=Strict cookie; the token itself is never stored by the browser or the server.
 *
 * - Kept in memory only (a restart signs everyone out), keyed by the SHA-256 of the id so a lookup does
 *   not compare the secret itself.
 * - Every sign-in makes a new id (session fixation: a cookie planted before sign-in never becomes valid).
 * - Idle timeout and an absolute lifetime; a bounded count (oldest dropped first).
 * - Each session has its own CSRF token, sent by the console as X-CSRF-Token on every change and compared
 *   in constant time (synchronizer token: the server, not a second cookie, holds the expected value).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'tb_console';
export const CSRF_HEADER = 'x-csrf-token';

export interface SessionOptions {
  /** Signed out after this long without a request. Default 30 minutes. */
  idleMs?: number;
  /** Signed out this long after sign-in whatever happens. Default 12 hours. */
  maxAgeMs?: number;
  /** Sessions kept at most (the oldest is dropped). Default 200. */
  maxSessions?: number;
  now?: () => number;
}

interface Session {
  csrf: string;
  createdAt: number;
  seenAt: number;
}

export interface NewSession {
  /** The cookie value (shown to the browser only). */
  id: string;
  csrf: string;
  maxAgeSeconds: number;
}

/** A session id or CSRF token: 32 random bytes, base64url (43 characters). */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const digest = (id: string): string => createHash('sha256').update(id, 'utf8').digest('base64url');

export class ConsoleSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly idleMs: number;
  private readonly maxAgeMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(opts: SessionOptions = {}) {
    this.idleMs = opts.idleMs ?? 30 * 60_000;
    this.maxAgeMs = opts.maxAgeMs ?? 12 * 3600_000;
    this.maxSessions = opts.maxSessions ?? 200;
    this.now = opts.now ?? Date.now;
  }

  /** A new session (after the admin token was verified). Any earlier session of the same browser is ended by the caller. */
  create(): NewSession {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const t = this.now();
    while (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(digest(id), { csrf, createdAt: t, seenAt: t });
    return { id, csrf, maxAgeSeconds: Math.floor(this.maxAgeMs / 1000) };
  }

  /** The session's CSRF token when `id` is a live session (and marks it used); undefined otherwise. */
  touch(id: string | undefined): { csrf: string } | undefined {
    if (!id || !TOKEN.test(id)) return undefined;
    const key = digest(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.seenAt > this.idleMs || t - s.createdAt > this.maxAgeMs) {
      this.sessions.delete(key);
      return undefined;
    }
    s.seenAt = t;
    return { csrf: s.csrf };
  }

  /** True when `presented` is the session's CSRF token (constant time). */
  static csrfMatches(expected: string, presented: string | undefined): boolean {
    if (!presented || !TOKEN.test(presented)) return false;
    return timingSafeEqual(Buffer.from(expected), Buffer.from(presented));
  }

  end(id: string | undefined): void {
    if (id && TOKEN.test(id)) this.sessions.delete(digest(id));
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** The value of one cookie in a Cookie header (the first, as browsers send the most specific first). */
export function cookieValue(header: string, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
