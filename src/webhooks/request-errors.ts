import { TaxbridgeError } from '../errors.ts';

/**
 * A webhook delivery refused before it reached the inbox. `status` is the HTTP answer the receiver gives;
 * the message never quotes secrets or signature values.
 */
export class WebhookRequestError extends TaxbridgeError {
  readonly status: number;
  constructor(status: number, code: string, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(code, message, opts);
    this.status = status;
  }
}
