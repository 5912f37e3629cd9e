/**
 * Credentials on the command line without putting secrets in argv: name=@file, name=- (standard input) and
 * TAXBRIDGE_CREDENTIAL_<NAME>, a warning for inline secrets, and input names that cannot reach a prototype.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { credentialInputs, parseAssignmentsWithSources } from '../src/cli/credential-inputs.ts';

const dir = mkdtempSync(join(tmpdir(), 'tb-cred-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const declared = [{ name: 'client_id', secret: false }, { name: 'client_secret' }, { name: 'api_key', secret: true }];

describe('credential inputs', () => {
  it('reads @file and - (stdin), takes the environment, and lets flags win', () => {
    const f = join(dir, 'secret.txt');
    writeFileSync(f, 'from-file\n', { mode: 0o600 });
    const r = credentialInputs(['client_secret=@' + f, 'api_key=-'], declared, { TAXBRIDGE_CREDENTIAL_CLIENT_ID: 'id-env', TAXBRIDGE_CREDENTIAL_API_KEY: 'env-loses' }, () => 'from-stdin\r\n');
    expect(r.credentials).toEqual({ client_id: 'id-env', client_secret: 'from-file', api_key: 'from-stdin' });
    expect(r.warnings).toEqual([]);
  });

  it('warns for inline secrets only, naming the safe forms, never the value', () => {
    const r = credentialInputs(['client_id=abc', 'client_secret=hunter2hunter2', 'unknown=x'], declared, {});
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[0]).toContain('client_secret=@file, client_secret=- (standard input) or TAXBRIDGE_CREDENTIAL_CLIENT_SECRET');
    expect(r.warnings.join('\n')).not.toContain('hunter2');
  });

  it('refuses two values from standard input and an unreadable file, with the flag named', () => {
    expect(() => credentialInputs(['api_key=-', 'client_secret=-'], declared, {}, () => 'x')).toThrow(/both read standard input/);
    expect(() => credentialInputs(['api_key=@/no/such/file'], declared, {})).toThrow(/--credential api_key=@file: cannot read \/no\/such\/file: ENOENT/);
  });

  it('keeps prototype names as plain keys', () => {
    const r = parseAssignmentsWithSources(['__proto__=x', 'constructor=y'], 'setting');
    expect(Object.hasOwn(r.values, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.getPrototypeOf(r.values)).toBe(Object.prototype);
    expect(r.values.constructor).toBe('y');
  });
});
