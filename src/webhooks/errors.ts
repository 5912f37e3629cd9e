import { TaxbridgeError } from '../errors.ts';

export type WebhookSignatureCode =
  | 'WEBHOOK_SIGNATURE_MISSING'
  | 'WEBHOOK_SIGNATURE_MALFORMED'
  | 'WEBHOOK_SIGNATURE_INVALID'
  | 'WEBHOOK_TIMESTAMP_STALE'
  | 'WEBHOOK_SECRET_MISSING'
  | 'WEBHOOK_CREDENTIALS_MISSING'
  | 'WEBHOOK_CREDENTIALS_INVALID';

/** A delivery that cannot be trusted. Messages name the header or rule at fault, never a secret. */
export class WebhookSignatureError extends TaxbridgeError {
  constructor(code: WebhookSignatureCode, message: string, hint?: string) {
    super(code, message, { hint });
  }
}

/** A verified delivery whose content cannot be routed (no event type, bad JSON...). */
export class WebhookPayloadError extends TaxbridgeError {
  constructor(code: 'WEBHOOK_BODY_INVALID' | 'WEBHOOK_EVENT_TYPE_MISSING' | 'WEBHOOK_EVENT_ID_MISSING' | 'WEBHOOK_RECORD_MISSING', message: string) {
    super(code, message);
  }
}
