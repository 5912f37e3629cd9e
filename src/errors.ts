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

  /** A JSON shape safe to show to a client or write to a log: no stack, no cause chain. */
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}), ...(this.details ? { details: this.details } : {}) };
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
