import { describe, expect, it } from 'vitest';
import { createLogger, isSecretKey, redact, SecretValues, REDACTED } from '../src/log/index.ts';
import { TaxbridgeError } from '../src/errors.ts';

function capture(level: 'debug' | 'info' = 'info', secrets = new SecretValues()) {
  const lines: string[] = [];
  const log = createLogger({ level, write: (l) => lines.push(l), secrets, now: () => new Date('2026-01-02T03:04:05.000Z') });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l)), secrets };
}

describe('structured logs', () => {
  it('writes one JSON object per line with time, level, msg and fields', () => {
    const { log, lines, parsed } = capture();
    log.info('sync finished', { connection_id: 'conn_1', records: 12 });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(parsed()[0]).toEqual({ time: '2026-01-02T03:04:05.000Z', level: 'info', msg: 'sync finished', connection_id: 'conn_1', records: 12 });
  });

  it('filters by level and carries child fields; fields cannot override time/level/msg', () => {
    const { log, parsed } = capture('info');
    log.debug('hidden');
    const child = log.child({ connection_id: 'conn_9' });
    child.warn('retrying', { attempt: 2, level: 'fake', msg: 'fake' });
    expect(parsed()).toEqual([{ time: '2026-01-02T03:04:05.000Z', level: 'warn', msg: 'retrying', connection_id: 'conn_9', attempt: 2 }]);
  });

  it('redacts values under secret-looking keys, at any depth', () => {
    const { log, lines } = capture();
    log.info('connect', {
      credentials: { client_id: 'abc', client_secret: 'xyz' },
      nested: [{ Authorization: 'Bearer zzz', api_key: 'k1', apiKeyId: 'key_123', token_prefix: 'tb_test_1' }],
      webhook_token: 'whk_abc',
    });
    const out = JSON.parse(lines[0]!);
    expect(out.credentials).toBe(REDACTED);
    expect(out.nested[0].Authorization).toBe(REDACTED);
    expect(out.nested[0].api_key).toBe(REDACTED);
    expect(out.nested[0].apiKeyId).toBe('key_123');
    expect(out.nested[0].token_prefix).toBe('tb_test_1');
    expect(out.webhook_token).toBe(REDACTED);
    expect(lines[0]).not.toMatch(/xyz|zzz|k1"|whk_abc/);
  });

  it('removes known secret values from messages, fields and errors', () => {
    const secrets = new SecretValues();
    secrets.add('s3cr3t-value-123');
    const { log, lines } = capture('info', secrets);
    log.error('upstream said s3cr3t-value-123 is wrong', {
      detail: 'url?key=s3cr3t-value-123',
      error: new TaxbridgeError('HTTP_PERMANENT', 'failed with s3cr3t-value-123', { details: { path: '/x?k=s3cr3t-value-123' } }),
    });
    expect(lines[0]).not.toContain('s3cr3t-value-123');
    const out = JSON.parse(lines[0]!);
    expect(out.msg).toBe(`upstream said ${REDACTED} is wrong`);
    expect(out.error).toEqual({ name: 'TaxbridgeError', code: 'http_permanent', message: `failed with ${REDACTED}`, details: { path: `/x?k=${REDACTED}` } });
  });

  it('keeps a stack only for errors without a code (bugs), and survives cycles', () => {
    const a: any = { name: 'a' };
    a.self = a;
    const plain = redact({ e: new Error('boom'), a }) as any;
    expect(plain.e.stack).toContain('boom');
    expect(plain.a.self).toBe('[Circular]');
    const coded = redact(new TaxbridgeError('X', 'y')) as any;
    expect(coded.stack).toBeUndefined();
  });

  it('recognises secret key names', () => {
    for (const k of ['password', 'client_secret', 'X-API-KEY', 'signing_token', 'webhookSecret', 'adminToken', 'master_key', 'tokenParams', 'oauth_token_params']) expect(isSecretKey(k), k).toBe(true);
    for (const k of ['connection_id', 'api_key_id', 'key_prefix', 'records', 'secret_credential_name', 'tokens_count', 'master_key_from', 'signatureFailures', 'signature_window_seconds', 'token_timeout_ms']) expect(isSecretKey(k), k).toBe(false);
  });

  it('shows where the master key comes from (not a secret), while a known key value is still cut out of it', () => {
    const secrets = new SecretValues();
    secrets.add('bWFzdGVyLWtleS1ieXRlcw==');
    const { log, lines } = capture('info', secrets);
    log.info('taxbridge started', { master_key_from: 'TAXBRIDGE_MASTER_KEY_FILE', master_key: 'bWFzdGVyLWtleS1ieXRlcw==', leaked_from: 'key bWFzdGVyLWtleS1ieXRlcw==' });
    const out = JSON.parse(lines[0]!);
    expect(out.master_key_from).toBe('TAXBRIDGE_MASTER_KEY_FILE');
    expect(out.master_key).toBe(REDACTED);
    expect(out.leaked_from).toBe(`key ${REDACTED}`);
  });
});
