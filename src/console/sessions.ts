/**
 * Console sign-in sessions: the browser presents the admin token once and gets a random session id in an
 * HttpOnly, SameSite=Strict cookie; the token itself is never stored by the browser or the server.
 *
 * - Kept in the store (collection `console_sessions`), so every replica on one PostgreSQL database knows
 *   them: only the SHA-256 of the id is stored (it is the document id), with its times. A copy of the store
 *   holds no usable session.
 * - Every sign-in makes a new id (session fixation: a cookie planted before sign-in never becomes valid).
 * - Idle timeout and an absolute lifetime (`expires_at` is the earlier of the two); a bounded count (the
 *   oldest dropped first). Sign-out deletes the document and tells every replica (`console_session_ended`),
 *   so its event streams close too.
 * - The CSRF token (synchronizer token, sent by the console as X-CSRF-Token on every change and compared in
 *   constant time) is derived from the session id: SHA-256 of a label and the id. The server can compute it
 *   from the cookie, the store never holds it, and the token does not reveal the id.
 * - The last-seen time is written at most once a minute (a tenth of the idle time) per session, not on every
 *   request; the idle timeout counts from that write.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/types.ts';

export const SESSION_COOKIE = 'tb_console';
export const CSRF_HEADER = 'x-csrf-token';
export const CONSOLE_SESSIONS = 'console_sessions';
/** Store topic: a session ended (message: its document id). */
export const SESSION_ENDED_TOPIC = 'console_session_ended';

export interface SessionOptions {
  /** Signed out after this long without a request. Default 30 minutes. */
  idleMs?: number;
  /** Signed out this long after sign-in whatever happens. Default 12 hours. */
  maxAgeMs?: number;
  /** Sessions kept at most (the oldest is dropped). Default 200. */
  maxSessions?: number;
  now?: () => number;
}

interface SessionDoc {
  /** base64url SHA-256 of the session id. */
  id: string;
  created_at: string;
  seen_at: string;
  /** The earlier of seen_at + idle and created_at + max age. */
  expires_at: string;
}

export interface NewSession {
  /** The cookie value (shown to the browser only). */
  id: string;
  csrf: string;
  maxAgeSeconds: number;
}

export interface LiveSession {
  csrf: string;
  /** The stored document id (the id's digest): names the session without the secret. */
  key: string;
}

/** A session id or CSRF token: 32 random bytes or a SHA-256, base64url (43 characters). */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const digest = (id: string): string => createHash('sha256').update(id, 'utf8').digest('base64url');
const csrfOf = (id: string): string => createHash('sha256').update('taxbridge console csrf\u0000').update(id, 'utf8').digest('base64url');

export class ConsoleSessions {
  private readonly idleMs: number;
  private readonly maxAgeMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;
  /** Last-seen writes at most this often per session (a minute, or a tenth of the idle time). */
  private readonly seenWriteMs: number;

  constructor(
    private readonly store: Store,
    opts: SessionOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? 30 * 60_000;
    this.maxAgeMs = opts.maxAgeMs ?? 12 * 3600_000;
    this.maxSessions = opts.maxSessions ?? 200;
    this.now = opts.now ?? Date.now;
    this.seenWriteMs = Math.min(60_000, this.idleMs / 10);
  }

  /** A new session (after the admin token was verified). Any earlier session of the same browser is ended by the caller. */
  async create(): Promise<NewSession> {
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    await this.prune(t);
    const iso = new Date(t).toISOString();
    await this.store.put<SessionDoc>(CONSOLE_SESSIONS, digest(id), { id: digest(id), created_at: iso, seen_at: iso, expires_at: this.expiry(t, t) });
    return { id, csrf: csrfOf(id), maxAgeSeconds: Math.floor(this.maxAgeMs / 1000) };
  }

  /** The session when `id` is a live one (and marks it used); undefined otherwise. */
  async touch(id: string | undefined): Promise<LiveSession | undefined> {
    if (!id || !TOKEN.test(id)) return undefined;
    const key = digest(id);
    const s = await this.store.get<SessionDoc>(CONSOLE_SESSIONS, key);
    if (!s) return undefined;
    const t = this.now();
    const created = Date.parse(s.created_at);
    const seen = Date.parse(s.seen_at);
    if (!(t - seen <= this.idleMs && t - created <= this.maxAgeMs)) {
      await this.store.delete(CONSOLE_SESSIONS, key);
      return undefined;
    }
    if (t - seen >= this.seenWriteMs) await this.store.put<SessionDoc>(CONSOLE_SESSIONS, key, { ...s, seen_at: new Date(t).toISOString(), expires_at: this.expiry(created, t) });
    return { csrf: csrfOf(id), key };
  }

  /** True while the session stored under `key` (LiveSession.key) lives; does not count as use. */
  async alive(key: string): Promise<boolean> {
    const s = await this.store.get<SessionDoc>(CONSOLE_SESSIONS, key);
    if (!s) return false;
    const t = this.now();
    return t - Date.parse(s.seen_at) <= this.idleMs && t - Date.parse(s.created_at) <= this.maxAgeMs;
  }

  /** True when `presented` is the session's CSRF token (constant time). */
  static csrfMatches(expected: string, presented: string | undefined): boolean {
    if (!presented || !TOKEN.test(presented)) return false;
    return timingSafeEqual(Buffer.from(expected), Buffer.from(presented));
  }

  /** Ends a session here and on every replica. */
  async end(id: string | undefined): Promise<void> {
    if (!id || !TOKEN.test(id)) return;
    const key = digest(id);
    if (await this.store.delete(CONSOLE_SESSIONS, key)) await this.store.publish(SESSION_ENDED_TOPIC, key).catch(() => undefined);
  }

  /** Sessions stored now (expired ones included until pruned). */
  count(): Promise<number> {
    return this.store.count(CONSOLE_SESSIONS);
  }

  private expiry(created: number, seen: number): string {
    return new Date(Math.min(created + this.maxAgeMs, seen + this.idleMs)).toISOString();
  }

  /** Drops expired sessions, then the oldest while the count is at the bound. */
  private async prune(t: number): Promise<void> {
    const expired = await this.store.find<SessionDoc>(CONSOLE_SESSIONS, { where: { expires_at: { lt: new Date(t).toISOString() } }, limit: 100 });
    for (const d of expired.docs) await this.store.delete(CONSOLE_SESSIONS, d.id);
    const excess = (await this.store.count(CONSOLE_SESSIONS)) - this.maxSessions + 1;
    if (excess > 0) {
      const oldest = await this.store.find<SessionDoc>(CONSOLE_SESSIONS, { orderBy: { field: 'created_at' }, limit: excess });
      for (const d of oldest.docs) {
        await this.store.delete(CONSOLE_SESSIONS, d.id);
        await this.store.publish(SESSION_ENDED_TOPIC, d.id).catch(() => undefined);
      }
    }
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
