/**
 * Spec keys named after Object.prototype members stay plain keys: `__proto__` in a spec (directly, through
 * `$ref` or a `<<` merge) never changes an object's prototype, so the schema sees it and reports it.
 */
import { describe, expect, it } from 'vitest';
import { parseSource } from '../src/spec/yaml-source.ts';
import { checkSpecText } from '../src/spec/load.ts';
import { own } from '../src/own.ts';

describe('prototype names in specs', () => {
  it('keeps __proto__ as an own key, also through $ref and merges', () => {
    const src = parseSource('p.yaml', `
definitions:
  frag:
    __proto__: { polluted: true }
    x: 1
a:
  __proto__: { polluted: true }
b:
  $ref: '#/definitions/frag'
c:
  <<: { __proto__: { polluted: true }, constructor: 2 }
`);
    const v = src.value as Record<string, Record<string, unknown>>;
    for (const k of ['a', 'b', 'c']) {
      expect(Object.getPrototypeOf(v[k]), k).toBe(Object.prototype);
      expect(Object.hasOwn(v[k]!, '__proto__'), k).toBe(true);
      expect((v[k] as { polluted?: unknown }).polluted, k).toBeUndefined();
    }
    expect(v.c!.constructor).toBe(2);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('reports a __proto__ key in a spec as an unknown property', () => {
    const text = `name: acme\ntitle: Acme\n__proto__: { auth: { type: basic } }\n`;
    const r = checkSpecText('acme.yaml', text);
    expect(r.diagnostics.some((d) => d.message.includes('__proto__'))).toBe(true);
  });

  it('refuses a header or query parameter named after a prototype member (it would be dropped silently at run time)', async () => {
    const { readFileSync } = await import('node:fs');
    const rillet = readFileSync(new URL('../connectors/rillet.yaml', import.meta.url), 'utf8');
    expect(checkSpecText('rillet.yaml', rillet).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const r = checkSpecText('rillet.yaml', rillet.replace("    X-Rillet-API-Version: '4'\n", `    X-Rillet-API-Version: '4'\n    ${key}: 'x'\n`));
      const errors = r.diagnostics.filter((d) => d.severity === 'error');
      expect(errors.length, key).toBeGreaterThan(0);
      expect(errors.some((d) => d.code === 'SCHEMA_NAME' && d.message.includes(`name \`${key}\` is not allowed`)), key).toBe(true);
    }
  });

  it('own() ignores inherited names', () => {
    const streams = { invoices: 1 };
    for (const k of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) expect(own(streams, k)).toBeUndefined();
    expect(own(streams, 'invoices')).toBe(1);
  });
});
