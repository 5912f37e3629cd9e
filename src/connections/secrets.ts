/**
 * Secrets at rest: each value is sealed on its own with AES-256-GCM under the master key.
 *
 *   enc:v1:<key id>:<iv>:<tag>:<ciphertext>      (iv 12 random bytes, tag 16 bytes, all base64url)
 *
 * The key id (8 hex characters of a SHA-256 over the key) says which master key sealed the value, so the key
 * can rotate: a keyring holds the current key (used to seal) and previous ones (still able to open). The
 * additional authenticated data binds a value to where it is stored (e.g. "connections/<id>/credentials/
 * client_secret"): a sealed value copied to another connection or credential does not open.
 *
 * The master key comes from, in order: TAXBRIDGE_MASTER_KEY (base64 of 32 bytes), the file named by
 * TAXBRIDGE_MASTER_KEY_FILE, or <data>/master.key. That last file is created (mode 0600) only when asked
 * (`taxbridge serve --init-key` or `"init_key": true` in the configuration); otherwise a missing key is an
 * error that names every way to provide one. TAXBRIDGE_MASTER_KEY_PREVIOUS (comma-separated base64 keys) lists
 * retired keys that may still open old values.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TaxbridgeError } from '../errors.ts';
import { knownSecrets } from '../log/index.ts';

const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export class SecretError extends TaxbridgeError {}

export interface MasterKey {
  /** 8 hex characters identifying the key (not secret). */
  id: string;
  key: Buffer;
}

export interface Keyring {
  current: MasterKey;
  /** Every key that may open a value, the current one included, by id. */
  keys: Map<string, MasterKey>;
  /** Where the current key came from ("env TAXBRIDGE_MASTER_KEY", "file /path"). */
  source: string;
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update('taxbridge master key id\u0000').update(key).digest('hex').slice(0, 8);
}

/** Parses base64 (or base64url) text into a 32-byte key; `what` names the source in the error. */
export function parseMasterKey(text: string, what: string): MasterKey {
  const t = text.trim();
  const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(t) ? Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64') : Buffer.alloc(0);
  if (key.length !== KEY_BYTES) {
    throw new SecretError('MASTER_KEY_INVALID', `${what} must be the base64 encoding of exactly 32 bytes (got ${key.length ? `${key.length} bytes` : 'something that is not base64'})`, {
      hint: 'make one with `openssl rand -base64 32` or `node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64\'))"`',
    });
  }
  return { id: keyId(key), key };
}

export function createKeyring(current: MasterKey, previous: MasterKey[] = [], source = 'given'): Keyring {
  const keys = new Map<string, MasterKey>();
  for (const k of [current, ...previous]) if (!keys.has(k.id)) keys.set(k.id, k);
  return { current, keys, source };
}

export interface LoadKeyOptions {
  env?: NodeJS.ProcessEnv;
  /** The data folder, for <data>/master.key. */
  dataDir?: string;
  /** Create <data>/master.key (0600) when no key is configured anywhere. */
  initKey?: boolean;
  /** The configuration's `master_key_file` (the environment variable wins). */
  keyFile?: string;
}

export const MASTER_KEY_FILENAME = 'master.key';

/** Finds the master key; throws MASTER_KEY_MISSING naming every way to give one. */
export function loadKeyring(opts: LoadKeyOptions = {}): Keyring & { created?: string } {
  const env = opts.env ?? process.env;
  const previous = (env.TAXBRIDGE_MASTER_KEY_PREVIOUS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s, i) => parseMasterKey(s, `TAXBRIDGE_MASTER_KEY_PREVIOUS entry ${i + 1}`));
  let ring: Keyring & { created?: string };
  if (env.TAXBRIDGE_MASTER_KEY) {
    ring = createKeyring(parseMasterKey(env.TAXBRIDGE_MASTER_KEY, 'TAXBRIDGE_MASTER_KEY'), previous, 'env TAXBRIDGE_MASTER_KEY');
  } else {
    const file = env.TAXBRIDGE_MASTER_KEY_FILE || opts.keyFile;
    if (file) {
      ring = createKeyring(readKeyFile(file, env.TAXBRIDGE_MASTER_KEY_FILE ? 'TAXBRIDGE_MASTER_KEY_FILE' : 'master_key_file'), previous, `file ${file}`);
    } else {
      const dataFile = opts.dataDir ? join(opts.dataDir, MASTER_KEY_FILENAME) : undefined;
      if (dataFile && existsSync(dataFile)) {
        ring = createKeyring(readKeyFile(dataFile, dataFile), previous, `file ${dataFile}`);
      } else if (dataFile && opts.initKey) {
        const key = randomBytes(KEY_BYTES);
        const created = mkdirSync(dirname(dataFile), { recursive: true, mode: 0o700 });
        if (created !== undefined) chmodSync(dirname(dataFile), 0o700);
        // 'wx': never overwrite a key another process just created. The mode is exact whatever the umask.
        writeFileSync(dataFile, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
        chmodSync(dataFile, 0o600);
        ring = { ...createKeyring({ id: keyId(key), key }, previous, `file ${dataFile}`), created: dataFile };
      } else {
        throw new SecretError('MASTER_KEY_MISSING', 'no master key: taxbridge encrypts connection secrets at rest and needs a 32-byte master key', {
          hint:
            'set TAXBRIDGE_MASTER_KEY to the base64 of 32 random bytes (`openssl rand -base64 32`), or TAXBRIDGE_MASTER_KEY_FILE to a file holding it' +
            (dataFile ? `, or run \`taxbridge serve --init-key\` once to create ${dataFile} (mode 0600)` : '') +
            '; keep the key safe: without it the stored secrets cannot be read',
        });
      }
    }
  }
  for (const k of ring.keys.values()) knownSecrets.add(k.key.toString('base64'));
  return ring;
}

function readKeyFile(file: string, what: string): MasterKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SecretError('MASTER_KEY_UNREADABLE', `cannot read the master key file ${file} (${what}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      hint: 'check the path and that the file is readable by this user',
    });
  }
  const mode = statSync(file).mode & 0o777;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new SecretError('MASTER_KEY_FILE_PERMISSIONS', `the master key file ${file} is readable by other users (mode ${mode.toString(8).padStart(3, '0')})`, {
      hint: `run \`chmod 600 ${file}\``,
    });
  }
  return parseMasterKey(text, `the master key file ${file}`);
}

export function isSealed(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith(PREFIX);
}

/** Seals and opens values with a keyring. `context` is the value's place, bound in as associated data. */
export class SecretBox {
  constructor(readonly ring: Keyring) {}

  seal(plaintext: string, context: string): string {
    const { id, key } = this.ring.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(context));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${PREFIX}${id}:${iv.toString('base64url')}:${tag.toString('base64url')}:${ct.toString('base64url')}`;
  }

  open(sealed: string, context: string): string {
    if (!isSealed(sealed)) throw new SecretError('SECRET_FORMAT', `the stored secret at ${context} is not in the sealed format`);
    const parts = sealed.slice(PREFIX.length).split(':');
    if (parts.length !== 4) throw new SecretError('SECRET_FORMAT', `the stored secret at ${context} is malformed`);
    const [kid, ivText, tagText, ctText] = parts as [string, string, string, string];
    const mk = this.ring.keys.get(kid);
    if (!mk) {
      throw new SecretError('SECRET_KEY_UNKNOWN', `the stored secret at ${context} was sealed with master key ${kid}, which is not configured (current key: ${this.ring.current.id})`, {
        hint: 'start with the master key used when the secret was stored, or list it in TAXBRIDGE_MASTER_KEY_PREVIOUS',
      });
    }
    const iv = Buffer.from(ivText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretError('SECRET_FORMAT', `the stored secret at ${context} is malformed`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', mk.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(context));
      decipher.setAuthTag(tag);
      const out = Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]).toString('utf8');
      knownSecrets.add(out);
      return out;
    } catch {
      throw new SecretError('SECRET_TAMPERED', `the stored secret at ${context} does not authenticate: it was altered or moved from another place`);
    }
  }

  /** True when the value was sealed with an older key and should be sealed again with the current one. */
  needsReseal(sealed: string): boolean {
    return isSealed(sealed) && !sealed.startsWith(`${PREFIX}${this.ring.current.id}:`);
  }
}

function aad(context: string): Buffer {
  return Buffer.from(`taxbridge:v1:${context}`, 'utf8');
}
