/**
 * schemas/config.schema.json is the one description of taxbridge.config.json: it compiles with strict ajv, it
 * names exactly the keys the loader reads (from the loader's own key maps), its defaults are the loader's, the
 * README table is generated from it, and a hostile file is refused with an error naming the file and key.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, FILE_KEYS, loadConfig } from '../src/config/index.ts';
import { CONFIG_SCHEMA_ANNOTATIONS, configSchema } from '../src/config/schema.ts';
import { ALERT_DEFAULTS, SECTION_KEYS } from '../src/alerts/config.ts';
import { FILE_ENTRY_KEYS } from '../src/connections/oauth-apps.ts';
import { createAjv } from '../src/spec/schemas.ts';
import { END, START, generateReadme, README } from '../scripts/gen-config-reference.ts';
import { readFileSync } from 'node:fs';

const schema = configSchema();
const dir = () => mkdtempSync(join(tmpdir(), 'tb-cfg-schema-'));
const refusal = (cwd: string, text: string): Error & { code?: string; hint?: string } => {
  writeFileSync(join(cwd, 'taxbridge.config.json'), text);
  try {
    loadConfig({}, {}, cwd);
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('the file was accepted');
};

describe('configuration schema', () => {
  it('compiles with strict ajv, and every key has a description (and a default or a described absence)', () => {
    const ajv = createAjv();
    ajv.addVocabulary([...CONFIG_SCHEMA_ANNOTATIONS]);
    expect(() => ajv.compile(schema)).not.toThrow();
    expect(schema.additionalProperties).toBe(false);
    const walk = (props: Record<string, (typeof schema.properties)[string]>, at: string) => {
      for (const [k, p] of Object.entries(props)) {
        expect(p.description, `${at}${k} has a description`).toMatch(/\w/);
        // A static default, or (absent or depending on other settings) x-default saying what applies.
        expect(p.default !== undefined || typeof p['x-default'] === 'string', `${at}${k} has a default`).toBe(true);
        if (p.properties) walk(p.properties, `${at}${k}.`);
        if (p.additionalProperties && typeof p.additionalProperties === 'object') walk(p.additionalProperties.properties ?? {}, `${at}${k}.<name>.`);
      }
    };
    walk(schema.properties, '');
  });

  it('names exactly the keys the loader reads, at the top, in alerts and in an oauth entry', () => {
    const top = Object.keys(schema.properties).filter((k) => !schema.properties[k]!['x-meta']);
    expect(top.sort()).toEqual(Object.keys(FILE_KEYS).sort());
    expect(Object.keys(schema.properties.alerts!.properties!).sort()).toEqual(Object.keys(SECTION_KEYS).sort());
    const entry = schema.properties.oauth!.additionalProperties as { properties: Record<string, unknown> };
    expect(Object.keys(entry.properties).sort()).toEqual([...FILE_ENTRY_KEYS].sort());
  });

  it('has the loader\'s defaults', () => {
    const compared: string[] = [];
    for (const [key, field] of Object.entries(FILE_KEYS)) {
      if (!Object.hasOwn(DEFAULTS, field)) continue;
      expect(schema.properties[key]!.default, key).toEqual(DEFAULTS[field as keyof typeof DEFAULTS]);
      compared.push(key);
    }
    expect(compared.length).toBeGreaterThan(20);
    for (const [key, field] of Object.entries(SECTION_KEYS)) {
      if (Object.hasOwn(ALERT_DEFAULTS, field)) expect(schema.properties.alerts!.properties![key]!.default, `alerts.${key}`).toBe(ALERT_DEFAULTS[field as keyof typeof ALERT_DEFAULTS]);
    }
    // And a file with every default loads to the same configuration as no file (x-default: a default that depends on the folder).
    const cwd = dir();
    const none = loadConfig({}, {}, cwd);
    const file = Object.fromEntries(Object.entries(schema.properties).filter(([, p]) => p.default !== undefined && !p['x-meta'] && p['x-default'] === undefined).map(([k, p]) => [k, p.default]));
    writeFileSync(join(cwd, 'taxbridge.config.json'), JSON.stringify({ $schema: schema.properties.$schema!.default, ...file }));
    const withFile = loadConfig({}, {}, cwd);
    expect({ ...withFile, configFile: undefined }).toEqual({ ...none, configFile: undefined });
  });

  it('refuses secrets in the file, saying where they go instead', () => {
    const cwd = dir();
    for (const [k, hint] of [['admin_token', 'TAXBRIDGE_ADMIN_TOKEN'], ['master_key', 'TAXBRIDGE_MASTER_KEY'], ['metrics_token', 'TAXBRIDGE_METRICS_TOKEN'], ['database_url', 'TAXBRIDGE_DATABASE_URL']] as const) {
      const e = refusal(cwd, JSON.stringify({ [k]: 'x'.repeat(40) }));
      expect(e, k).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(`"${k}" does not belong in a configuration file`), hint: expect.stringContaining(hint) });
    }
    expect(refusal(cwd, JSON.stringify({ alerts: { secret: 'whsec_x' } })).message).toMatch(/alerts: "secret" does not belong/);
    expect(refusal(cwd, JSON.stringify({ oauth: { quickbooks: { client_secret: 's' } } }))).toMatchObject({ message: expect.stringMatching(/oauth\.quickbooks: "client_secret" does not belong/), hint: expect.stringContaining('client_secret_file') });
  });

  it('refuses an attacker\'s file with a clear error, never a crash', () => {
    const cwd = dir();
    const file = join(cwd, 'taxbridge.config.json');
    expect(refusal(cwd, '{"__proto__": {"port": 1}}')).toMatchObject({ code: 'CONFIG_INVALID', message: `${file}: unknown key "__proto__"` });
    expect(refusal(cwd, '{"alerts": {"__proto__": {"urls": []}}}').message).toBe(`${file}: alerts: unknown key "__proto__"`);
    expect(refusal(cwd, '{"oauth": {"__proto__": {}}}').message).toMatch(/oauth: "__proto__" is not a connector name/);
    expect(({} as Record<string, unknown>).port).toBeUndefined();
    const big = refusal(cwd, JSON.stringify({ $comment: 'x'.repeat(10 * 1024 * 1024) }));
    expect(big).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/is \d+ bytes; at most 1048576/) });
    const deep = refusal(cwd, `{"alerts": {"urls": ${'['.repeat(5000)}${']'.repeat(5000)}}}`);
    expect(deep).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/alerts\.urls(\[0\])+ nests deeper than 8 levels/) });
    expect(refusal(cwd, `{"x": ${'{"a":'.repeat(20000)}1${'}'.repeat(20000)}}`).message).toMatch(/: x(\.a)+ nests deeper than 8 levels/);
    expect(refusal(cwd, '{"port": true}').message).toBe(`${file}: port must be a port number 0..65535, got true`);
    expect(refusal(cwd, '{"tax_max_depth": 1.5}').message).toBe(`${file}: tax_max_depth must be a positive whole number, got 1.5`);
    expect(refusal(cwd, '{"log_level": ["info"]}').message).toMatch(/log_level must be one of debug, info, warn, error, silent/);
    expect(refusal(cwd, '{"public_url": "ftp://x"}').message).toMatch(/public_url must be an http or https URL/);
    expect(refusal(cwd, '{"oauth": {"qb": {"client_id": 7}}}').message).toBe(`${file}: oauth.qb.client_id must be a non-empty string, got 7`);
    expect(refusal(cwd, '[]').message).toMatch(/must hold a JSON object/);
  });

  it('accepts $schema so editors complete the file', () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'taxbridge.config.json'), JSON.stringify({ $schema: './node_modules/taxbridge/schemas/config.schema.json', port: 9100 }));
    expect(loadConfig({}, {}, cwd).port).toBe(9100);
  });

  it('generates the README configuration table, rows from every key', () => {
    const readme = readFileSync(README, 'utf8');
    expect(generateReadme(readme), 'README.md is up to date: npm run docs:config').toBe(readme);
    const table = readme.slice(readme.indexOf(START), readme.indexOf(END));
    for (const k of Object.keys(FILE_KEYS)) expect(table).toContain(k === 'oauth' ? '`oauth.<name>`' : k === 'alerts' ? '`alerts.urls`' : `\`${k}\``);
    for (const e of schema['x-environment-only']) expect(table).toContain(e.env);
    const drifted = readme.replace('| `TAXBRIDGE_PORT` |', '| `TAXBRIDGE_PORTS` |');
    expect(generateReadme(drifted)).not.toBe(drifted);
  });
});
