import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, describeConfig, loadConfig } from '../src/config/index.ts';
import { packagePath } from '../src/package-root.ts';

const dir = (): string => mkdtempSync(join(tmpdir(), 'tb-config-'));

describe('serve configuration', () => {
  it('has documented defaults', () => {
    const cwd = dir();
    const c = loadConfig({}, {}, cwd);
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      dataDir: join(cwd, 'data'),
      publicUrl: 'http://127.0.0.1:8080',
      // An empty folder: the specs shipped with the package, so `taxbridge serve` works from any folder.
      connectorsDir: packagePath('connectors'),
      logLevel: 'info',
      initKey: false,
      shutdownTimeoutMs: 10_000,
      backfill: true,
      schedules: true,
      taxRateLimitPerSecond: 100,
      keyEnv: {},
    });
    expect(c.adminToken).toBeUndefined();
    expect(c.configFile).toBeUndefined();
    expect(DEFAULTS.port).toBe(8080);
    // A folder with its own connectors/ serves those.
    mkdirSync(join(cwd, 'connectors'));
    expect(loadConfig({}, {}, cwd).connectorsDir).toBe(join(cwd, 'connectors'));
  });

  it('takes flags over environment over file over defaults', () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'taxbridge.config.json'), JSON.stringify({ port: 9001, host: '127.0.0.2', data_dir: 'from-file', log_level: 'warn', schedules: false }));
    const fileOnly = loadConfig({}, {}, cwd);
    expect(fileOnly).toMatchObject({ port: 9001, host: '127.0.0.2', dataDir: join(cwd, 'from-file'), logLevel: 'warn', schedules: false, publicUrl: 'http://127.0.0.2:9001', configFile: join(cwd, 'taxbridge.config.json') });
    const envToo = loadConfig({}, { TAXBRIDGE_PORT: '9002', TAXBRIDGE_DATA_DIR: '/abs/env-data', TAXBRIDGE_PUBLIC_URL: 'https://tb.example.com/', TAXBRIDGE_SCHEDULES: 'true' }, cwd);
    expect(envToo).toMatchObject({ port: 9002, host: '127.0.0.2', dataDir: '/abs/env-data', publicUrl: 'https://tb.example.com', schedules: true });
    const flags = loadConfig({ port: '9003', data: 'flag-data', logLevel: 'debug' }, { TAXBRIDGE_PORT: '9002' }, cwd);
    expect(flags).toMatchObject({ port: 9003, dataDir: join(cwd, 'flag-data'), logLevel: 'debug' });
  });

  it('reads --config / TAXBRIDGE_CONFIG and refuses a missing one', () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'other.json'), JSON.stringify({ port: 7000 }));
    expect(loadConfig({ config: 'other.json' }, {}, cwd).port).toBe(7000);
    expect(loadConfig({}, { TAXBRIDGE_CONFIG: 'other.json' }, cwd).port).toBe(7000);
    expect(() => loadConfig({ config: 'missing.json' }, {}, cwd)).toThrow(/does not exist/);
  });

  it('names what is wrong in the file and the environment', () => {
    const cwd = dir();
    const write = (o: unknown) => writeFileSync(join(cwd, 'taxbridge.config.json'), typeof o === 'string' ? o : JSON.stringify(o));
    write('{ nope');
    expect(() => loadConfig({}, {}, cwd)).toThrow(/is not valid JSON/);
    write({ prot: 1 });
    expect(() => loadConfig({}, {}, cwd)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('unknown key "prot"'), hint: expect.stringContaining('port') }));
    write({ admin_token: 'x' });
    expect(() => loadConfig({}, {}, cwd)).toThrow(expect.objectContaining({ hint: expect.stringContaining('TAXBRIDGE_ADMIN_TOKEN') }));
    for (const k of ['constructor', 'toString', '__proto__']) {
      write(`{"${k}": 1}`);
      expect(() => loadConfig({}, {}, cwd), k).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(`unknown key "${k}"`) }));
    }
    write({ port: 'eighty' });
    expect(() => loadConfig({}, {}, cwd)).toThrow(/taxbridge\.config\.json: port must be a port number/);
    write({});
    expect(() => loadConfig({}, { TAXBRIDGE_PORT: '70000' }, cwd)).toThrow(/TAXBRIDGE_PORT must be a port number/);
    expect(() => loadConfig({}, { TAXBRIDGE_LOG_LEVEL: 'loud' }, cwd)).toThrow(/TAXBRIDGE_LOG_LEVEL must be one of debug, info, warn, error, silent/);
    expect(() => loadConfig({}, { TAXBRIDGE_PUBLIC_URL: 'ftp://x' }, cwd)).toThrow(/must be an http or https URL/);
    expect(() => loadConfig({}, { TAXBRIDGE_ADMIN_TOKEN: 'short' }, cwd)).toThrow(/at least 16 characters/);
    expect(() => loadConfig({}, { TAXBRIDGE_BACKFILL: 'maybe' }, cwd)).toThrow(/TAXBRIDGE_BACKFILL must be true or false/);
  });

  it('describes itself without secrets', () => {
    const c = loadConfig({}, { TAXBRIDGE_ADMIN_TOKEN: 'super-secret-admin-token', TAXBRIDGE_MASTER_KEY: 'bWFzdGVyLWtleS1tYXRlcmlhbC0wMTIzNDU2Nzg5MDE=' }, dir());
    const text = JSON.stringify(describeConfig(c));
    expect(text).not.toContain('super-secret-admin-token');
    expect(text).not.toContain('bWFzdGVyLWtleS1tYXRlcmlhbC0wMTIzNDU2Nzg5MDE=');
    expect(describeConfig(c)).toMatchObject({ admin_auth: 'TAXBRIDGE_ADMIN_TOKEN', master_key_from: 'TAXBRIDGE_MASTER_KEY' });
  });
});
