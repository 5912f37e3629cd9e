import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { compileExpression } from '../src/expressions/index.ts';

const INPUT = { dataChangeEvent: 'FIELD', x: 'FX', a: { b: 1, 'c d': 2 }, 'a b': 9, true: 'field named true', items: [{ id: 1 }, { id: 2 }] };

/** What the fast path gives (sync read) and what evaluate gives, next to JSONata's own answer. */
async function both(source: string, input: unknown = INPUT) {
  const e = compileExpression(source);
  const fast = e.readSync(input);
  return { fast: fast ? fast.value : 'no fast path', evaluated: await e.evaluate(input), jsonata: await jsonata(source).evaluate(input) };
}

describe('the JSONata fast path', () => {
  it('reads a string literal as a whole expression as the string, not a field name (event_type: \'"dataChangeEvent"\')', async () => {
    expect(await both('"dataChangeEvent"')).toEqual({ fast: 'dataChangeEvent', evaluated: 'dataChangeEvent', jsonata: 'dataChangeEvent' });
    expect(await both("'x'")).toEqual({ fast: 'x', evaluated: 'x', jsonata: 'x' });
    expect(await both('"a.b"')).toEqual({ fast: 'a.b', evaluated: 'a.b', jsonata: 'a.b' });
  });

  it('reads numbers, true, false and null as literals', async () => {
    for (const [source, value] of [['42', 42], ['-1.5', -1.5], ['1e3', 1000], ['true', true], ['false', false], ['null', null]] as const) {
      expect(await both(source)).toEqual({ fast: value, evaluated: value, jsonata: value });
    }
  });

  it('keeps field paths working: backtick names, quoted steps inside a path, $ bindings', async () => {
    expect(await both('`a b`')).toEqual({ fast: 9, evaluated: 9, jsonata: 9 });
    expect(await both('a.`c d`')).toEqual({ fast: 2, evaluated: 2, jsonata: 2 });
    expect(await both('a."c d"')).toEqual({ fast: 2, evaluated: 2, jsonata: 2 });
    expect(await both('"a".b')).toEqual({ fast: 1, evaluated: 1, jsonata: 1 });
    expect(await both('`true`')).toEqual({ fast: 'field named true', evaluated: 'field named true', jsonata: 'field named true' });
    expect(compileExpression('$x.y').readSync({}, { x: { y: 3 } })).toEqual({ value: 3 });
  });

  it('concatenates strings read from paths and literals as JSONata does (event_type: headers."x-rillet-entity" & "." & headers."x-rillet-event")', async () => {
    const headers = { headers: { 'x-rillet-entity': 'INVOICE', 'x-rillet-event': 'CREATED', 'a&b': 'amp' } };
    expect(await both('headers."x-rillet-entity" & "." & headers."x-rillet-event"', headers)).toEqual({ fast: 'INVOICE.CREATED', evaluated: 'INVOICE.CREATED', jsonata: 'INVOICE.CREATED' });
    expect(await both('"a" & "b"')).toEqual({ fast: 'ab', evaluated: 'ab', jsonata: 'ab' });
    expect(await both('headers."a&b"&"-"&`x`', { ...headers, x: 'X' })).toEqual({ fast: 'amp-X', evaluated: 'amp-X', jsonata: 'amp-X' });
    // A missing operand adds nothing, as in JSONata.
    expect(await both('headers.missing & "." & headers."x-rillet-event"', headers)).toEqual({ fast: '.CREATED', evaluated: '.CREATED', jsonata: '.CREATED' });
    expect(await both('nothing & also_nothing', {})).toEqual({ fast: '', evaluated: '', jsonata: '' });
  });

  it('leaves a concatenation of anything but strings to JSONata ($string formatting), and any other operator with it', async () => {
    for (const source of ['x & a', 'x & a.b', 'x & 42', 'x & null', 'x & true', 'items.id & x', '"say \\"hi\\"" & x']) {
      const r = await both(source);
      expect(r.fast, source).toBe('no fast path');
      expect(r.evaluated, source).toEqual(r.jsonata);
    }
    for (const source of ['x & a.b = "1"', 'x & (a)', 'x & $string(1)', '(x & x)', 'x & x ? x : x', 'x & x + 1']) {
      expect(compileExpression(source).readSync(INPUT), source).toBeUndefined();
    }
  });

  it('leaves everything else to JSONata (escapes, arrays on the way)', async () => {
    expect((await both('"say \\"hi\\""')).fast).toBe('no fast path');
    expect(await both('"say \\"hi\\""')).toMatchObject({ evaluated: 'say "hi"' });
    expect((await both('items.id')).fast).toBe('no fast path');
    expect(await both('items.id')).toMatchObject({ evaluated: [1, 2] });
  });
});
