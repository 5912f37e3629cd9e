import { formDecode } from '../http/body.ts';
import type { WebhooksSpec } from '../spec/types.ts';

/**
 * A delivery's body as the event rules see it (`body` in event_type, event_id, on/record/id expressions):
 * JSON by default, or an application/x-www-form-urlencoded body decoded into the same nested object
 * (`payload[invoice][id]=1` -> {payload:{invoice:{id:"1"}}}, values as strings) when the connector declares
 * `webhooks.body_encoding: form` (Maxio/Chargify-style deliveries). Throws on malformed JSON.
 */
export function parseWebhookBody(text: string, spec: Pick<WebhooksSpec, 'body_encoding'>): unknown {
  return spec.body_encoding === 'form' ? formDecode(text) : (JSON.parse(text) as unknown);
}
