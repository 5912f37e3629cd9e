/**
 * One error hierarchy for the whole runtime (in the manner of undici's `lib/core/errors.js`):
 * every error carries a stable `code` that programs can switch on, a message a person can act on,
 * and optionally a `hint` with the likely fix. Parts subclass it; nothing throws bare `Error`s at users.
 */
export class TaxbridgeError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, opts: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  /** A JSON shape safe to show to a client or write to a log: no stack, no cause chain; the public code. */
  toJSON(): Record<string, unknown> {
    return { code: publicCode(this.code), message: this.message, ...(this.hint ? { hint: this.hint } : {}), ...(this.details ? { details: this.details } : {}) };
  }
}

export function isTaxbridgeError(e: unknown): e is TaxbridgeError {
  return e instanceof TaxbridgeError;
}

/** The message of anything thrown, for logs and stored failure reasons. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * The one casing users see. Inside the runtime each typed error keeps one stable code, spelt as it was given
 * (UPPER_SNAKE for taxbridge's own: STORE_LOCKED, SPEC_INVALID; Sphere's snake_case for the tax API's:
 * validation_errors, not_found). Wherever a code leaves the process (HTTP answers, CLI stderr and JSON output,
 * errors stored on connections, events, write-backs and sync runs, alert events) it goes through this function:
 * lower snake_case, so STORE_LOCKED is shown as store_locked and Sphere's codes are unchanged. docs/errors.md.
 */
export function publicCode(code: string): string {
  return /^[A-Z][A-Z0-9_]*$/.test(code) ? code.toLowerCase() : code;
}

/** The `{ code, message }` recorded for anything thrown (stored last_error, sync run errors): the public code. */
export function errorRecord(e: unknown, fallbackCode: string): { code: string; message: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return { code: publicCode(isTaxbridgeError(e) || (typeof code === 'string' && /^[A-Za-z][A-Za-z0-9_]*$/.test(code)) ? String(code) : fallbackCode), message: errorMessage(e) };
}

/** Whether a recorded or answered code (public, or internal in records written before) is the internal `code`. */
export function isCode(recorded: string | undefined, code: string): boolean {
  return recorded !== undefined && publicCode(recorded) === publicCode(code);
}
