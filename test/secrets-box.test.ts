import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox, createKeyring, isSealed, loadKeyring, parseMasterKey } from '../src/connections/secrets.ts';

const key = (): string => randomBytes(32).toString('base64');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'tb-secrets-'));

describe('SecretBox (AES-256-GCM per value)', () => {
  const ring = createKeyring(parseMasterKey(key(), 'test key'));
  const box = new SecretBox(ring);

  it('seals to a versioned, key-identified format and opens back', () => {
    const sealed = box.seal('sk_live_very_secret', 'connections/c1/credentials/api_key');
    expect(isSealed(sealed)).toBe(true);
    expect(sealed.startsWith(`enc:v1:${ring.current.id}:`)).toBe(true);
    expect(sealed).not.toContain('very_secret');
    expect(box.open(sealed, 'connections/c1/credentials/api_key')).toBe('sk_live_very_secret');
  });

  it('uses a fresh IV each time', () => {
    const a = box.seal('same', 'p');
    const b = box.seal('same', 'p');
    expect(a).not.toBe(b);
    expect(a.split(':')[3]).not.toBe(b.split(':')[3]);
  });

  it('refuses a value moved to another place (associated data)', () => {
    const sealed = box.seal('secret-value', 'connections/c1/credentials/api_key');
    expect(() => box.open(sealed, 'connections/c2/credentials/api_key')).toThrow(expect.objectContaining({ code: 'SECRET_TAMPERED' }));
  });

  it('refuses a tampered ciphertext or tag', () => {
    const sealed = box.seal('secret-value', 'p');
    const parts = sealed.split(':');
    const ct = Buffer.from(parts[5]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    const bad = [...parts.slice(0, 5), ct.toString('base64url')].join(':');
    expect(() => box.open(bad, 'p')).toThrow(expect.objectContaining({ code: 'SECRET_TAMPERED' }));
    const tag = Buffer.from(parts[4]!, 'base64url');
    tag[3] = tag[3]! ^ 0x80;
    expect(() => box.open([...parts.slice(0, 4), tag.toString('base64url'), parts[5]].join(':'), 'p')).toThrow(expect.objectContaining({ code: 'SECRET_TAMPERED' }));
  });

  it('opens values of a previous key after rotation and says which need resealing', () => {
    const old = parseMasterKey(key(), 'old');
    const sealedOld = new SecretBox(createKeyring(old)).seal('rotated', 'p');
    const rotated = new SecretBox(createKeyring(parseMasterKey(key(), 'new'), [old]));
    expect(rotated.open(sealedOld, 'p')).toBe('rotated');
    expect(rotated.needsReseal(sealedOld)).toBe(true);
    expect(rotated.needsReseal(rotated.seal('x', 'p'))).toBe(false);
    // Without the old key the error names the missing key id.
    const other = new SecretBox(createKeyring(parseMasterKey(key(), 'other')));
    expect(() => other.open(sealedOld, 'p')).toThrow(expect.objectContaining({ code: 'SECRET_KEY_UNKNOWN', message: expect.stringContaining(old.id) }));
  });
});

describe('loading the master key', () => {
  it('reads TAXBRIDGE_MASTER_KEY first', () => {
    const k = key();
    const ring = loadKeyring({ env: { TAXBRIDGE_MASTER_KEY: k }, dataDir: tmp() });
    expect(ring.current.key.toString('base64')).toBe(k);
    expect(ring.source).toBe('env TAXBRIDGE_MASTER_KEY');
  });

  it('rejects a key that is not 32 bytes of base64', () => {
    expect(() => loadKeyring({ env: { TAXBRIDGE_MASTER_KEY: 'short' } })).toThrow(expect.objectContaining({ code: 'MASTER_KEY_INVALID' }));
    expect(() => loadKeyring({ env: { TAXBRIDGE_MASTER_KEY: randomBytes(16).toString('base64') } })).toThrow(/exactly 32 bytes \(got 16 bytes\)/);
  });

  it('reads TAXBRIDGE_MASTER_KEY_FILE and refuses a file others can read', () => {
    const dir = tmp();
    const file = join(dir, 'k');
    const k = key();
    writeFileSync(file, `${k}\n`, { mode: 0o600 });
    expect(loadKeyring({ env: { TAXBRIDGE_MASTER_KEY_FILE: file } }).current.key.toString('base64')).toBe(k);
    chmodSync(file, 0o644);
    expect(() => loadKeyring({ env: { TAXBRIDGE_MASTER_KEY_FILE: file } })).toThrow(expect.objectContaining({ code: 'MASTER_KEY_FILE_PERMISSIONS' }));
  });

  it('without a key: a clear error naming both ways, and no file created', () => {
    const dir = tmp();
    let err: any;
    try {
      loadKeyring({ env: {}, dataDir: dir });
    } catch (e) {
      err = e;
    }
    expect(err?.code).toBe('MASTER_KEY_MISSING');
    expect(err.hint).toContain('TAXBRIDGE_MASTER_KEY');
    expect(err.hint).toContain('TAXBRIDGE_MASTER_KEY_FILE');
    expect(err.hint).toContain('--init-key');
    expect(() => statSync(join(dir, 'master.key'))).toThrow();
  });

  it('--init-key creates <data>/master.key with mode 0600, then reuses it', () => {
    const dir = tmp();
    const first = loadKeyring({ env: {}, dataDir: dir, initKey: true });
    expect(first.created).toBe(join(dir, 'master.key'));
    expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    const again = loadKeyring({ env: {}, dataDir: dir });
    expect(again.created).toBeUndefined();
    expect(again.current.id).toBe(first.current.id);
    expect(readFileSync(join(dir, 'master.key'), 'utf8').trim()).toBe(first.current.key.toString('base64'));
  });
});
