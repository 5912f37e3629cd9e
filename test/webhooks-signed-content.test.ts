import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SignatureSpec } from '../src/spec/types.ts';
import { compileSignature } from '../src/webhooks/signature.ts';

// Rillet's scheme: base64 HMAC-SHA256 over "<timestamp>.<id>.<entity>.<event>.<raw body>", key base64.
const RILLET: SignatureSpec = {
  secret: '{{ credentials.signing_token }}',
  algorithm: 'sha256',
  key_encoding: 'base64',
  header: 'X-Rillet-Signature',
  format: { type: 'list', separator: ',' },
  encoding: 'base64',
  signed_content: '{{ headers."x-rillet-timestamp" }}.{{ headers."x-rillet-id" }}.{{ headers."x-rillet-entity" }}.{{ headers."x-rillet-event" }}.{{ body }}',
  timestamp: { from: 'headers."x-rillet-timestamp"', unit: 'iso8601', tolerance_seconds: 300 },
};
const SECRET = Buffer.alloc(32, 9).toString('base64');
const NOW = Date.parse('2026-03-01T09:00:00.000Z');

function delivery(body: Buffer, signedOver: Buffer | string) {
  const ts = new Date(NOW).toISOString();
  const head = `${ts}.evt_1.INVOICE.CREATED.`;
  const sig = createHmac('sha256', Buffer.from(SECRET, 'base64')).update(head).update(signedOver).digest('base64');
  return { headers: { 'x-rillet-timestamp': ts, 'x-rillet-id': 'evt_1', 'x-rillet-entity': 'INVOICE', 'x-rillet-event': 'CREATED', 'x-rillet-signature': sig }, rawBody: body };
}

describe('signed content with the body in it', () => {
  it('verifies a signature over the body bytes as sent, outside ASCII too', async () => {
    const sig = compileSignature(RILLET);
    const body = Buffer.from(JSON.stringify({ name: 'Zürich café 東京 😀', note: 'tab\tquote"' }));
    await expect(sig.verify(delivery(body, body), [SECRET], NOW)).resolves.toEqual({ timestamp: NOW });
    const other = Buffer.from(JSON.stringify({ name: 'Zurich cafe' }));
    await expect(sig.verify(delivery(other, body), [SECRET], NOW)).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
  });

  it('signs a body that is not valid UTF-8 as its decoded text (U+FFFD for bad bytes), never as the raw bytes', async () => {
    const sig = compileSignature(RILLET);
    const body = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}')]);
    await expect(sig.verify(delivery(body, body.toString('utf8')), [SECRET], NOW)).resolves.toEqual({ timestamp: NOW });
    await expect(sig.verify(delivery(body, body), [SECRET], NOW)).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
  });

  it('gives other parts of the content the body as text, and signs what sign() produces', async () => {
    const sig = compileSignature({ ...RILLET, signed_content: '{{ $length(body) }}:{{ body }}:{{ $uppercase(body) }}' });
    const body = Buffer.from('{"a":"é"}');
    const text = body.toString('utf8');
    const expected = createHmac('sha256', Buffer.from(SECRET, 'base64')).update(`${text.length}:${text}:${text.toUpperCase()}`).digest('base64');
    const signed = await sig.sign(SECRET, body, { 'x-rillet-id': 'evt_1' }, NOW);
    expect(signed['x-rillet-signature']).toBe(expected);
    await expect(sig.verify({ headers: { 'x-rillet-id': 'evt_1', ...signed }, rawBody: body }, [SECRET], NOW)).resolves.toEqual({ timestamp: NOW });
  });

  it('signs a content that is only the body', async () => {
    const sig = compileSignature({ ...RILLET, signed_content: '{{ body }}', timestamp: undefined });
    const body = Buffer.from('{"a":"ü"}');
    const expected = createHmac('sha256', Buffer.from(SECRET, 'base64')).update(body).digest('base64');
    await expect(sig.verify({ headers: { 'x-rillet-signature': expected }, rawBody: body }, [SECRET], NOW)).resolves.toEqual({ timestamp: undefined });
  });
});
