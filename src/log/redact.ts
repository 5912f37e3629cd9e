/**
 * Redaction for everything the runtime writes to logs: values under secret-looking key names are replaced
 * whole, and known secret values (decrypted credentials, the admin token, the master key) are cut out of any
 * string they appear in, wherever it is nested. A secret in a log line is a leak that cannot be taken back,
 * so both rules err on the side of hiding.
 */

import { publicCode } from '../errors.ts';

export const REDACTED = '[REDACTED]';

/** Words in a key name that mark its value as secret (matched on the name lower-cased without separators). */
const SECRET_KEY = /(secret|password|passwd|passphrase|token|apikey|authorization|cookie|privatekey|masterkey|signingkey|credential|signature|xapikey|clientsecret)/;
/**
 * * Names that contain a secret word but only identify or describe one (ids, prefixes, counts, names, durations), or say
 * where it comes from (`master_key_from`: an environment variable's name or a file path, in the start log).
 */
const NOT_SECRET_SUFFIX = /(id|ids|prefix|count|name|names|type|kind|expiresat|createdat|hash|fingerprint|from|failures|seconds|timeoutms|intervalms)$/;

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_KEY.test(k) && !NOT_SECRET_SUFFIX.test(k);
}

/** Known secret values, shared by every logger of the process. Values shorter than 6 characters are ignored. */
export class SecretValues {
  private readonly values = new Set<string>();
  private sorted: string[] | undefined;

  add(value: string | undefined | null): void {
    if (typeof value !== 'string' || value.length < 6 || this.values.has(value)) return;
    this.values.add(value);
    this.sorted = undefined;
  }

  get size(): number {
    return this.values.size;
  }

  /** Replaces every known secret inside `text` (longest first, so a secret containing another is cut whole). */
  scrub(text: string): string {
    if (this.values.size === 0 || text.length < 6) return text;
    this.sorted ??= [...this.values].sort((a, b) => b.length - a.length);
    let out = text;
    for (const v of this.sorted) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out;
  }
}

/** The process-wide registry that `createLogger` uses unless given another. */
export const knownSecrets = new SecretValues();

/** A JSON-safe copy of `value` with secrets removed; errors become {name, code, message, ...}; cycles cut. */
export function redact(value: unknown, secrets: SecretValues = knownSecrets, seen = new WeakSet<object>(), depth = 0): unknown {
  if (typeof value === 'string') return secrets.scrub(value);
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'function' || typeof value === 'symbol') return undefined;
    return value;
  }
  if (seen.has(value)) return '[Circular]';
  if (depth > 8) return '[Truncated]';
  seen.add(value);
  try {
    if (value instanceof Error) return redactError(value, secrets, seen, depth);
    if (value instanceof Date) return value.toISOString();
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.length} bytes]`;
    if (Array.isArray(value)) return value.map((v) => redact(v, secrets, seen, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      out[k] = isSecretKey(k) && v !== null && v !== '' && typeof v !== 'boolean' ? REDACTED : redact(v, secrets, seen, depth + 1);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function redactError(e: Error, secrets: SecretValues, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  const x = e as Error & { code?: unknown; hint?: unknown; details?: unknown; status?: unknown };
  const out: Record<string, unknown> = { name: e.name, message: secrets.scrub(e.message) };
  if (x.code !== undefined) out.code = typeof x.code === 'string' ? publicCode(x.code) : x.code;
  if (x.status !== undefined) out.status = x.status;
  if (typeof x.hint === 'string') out.hint = secrets.scrub(x.hint);
  if (x.details !== undefined) out.details = redact(x.details, secrets, seen, depth + 1);
  // A stack only for errors without a code: those are bugs, and the stack is how to find them.
  if (x.code === undefined && e.stack) out.stack = secrets.scrub(e.stack);
  if (e.cause !== undefined) out.cause = redact(e.cause, secrets, seen, depth + 1);
  return out;
}
