import { describe, expect, it } from 'vitest';
import { acquireScratch, encodeInto, releaseScratch } from '../src/store/utf8-batch.ts';

describe('encoding journal pieces into a scratch buffer', () => {
  it('gives the bytes Buffer.from would give the joined text, across growth and multi-byte characters', () => {
    const pieces = ['{"t":"p","k":"a"}\t{"name":"Zürich"}\n', '€'.repeat(30_000), '{"emoji":"😀 ✓"}\n', 'x'.repeat(70_000), '\n'];
    const { buf, end } = encodeInto(Buffer.alloc(16), 0, pieces);
    expect(buf.subarray(0, end).equals(Buffer.from(pieces.join(''), 'utf8'))).toBe(true);
    expect(end).toBe(Buffer.byteLength(pieces.join('')));
  });

  it('keeps what was before the start offset when it grows', () => {
    const start = Buffer.from('prefix:');
    const small = Buffer.alloc(10);
    start.copy(small);
    const { buf, end } = encodeInto(small, start.length, ['ü'.repeat(100)]);
    expect(buf.subarray(0, end).toString('utf8')).toBe(`prefix:${'ü'.repeat(100)}`);
  });

  it('reuses released buffers and drops oversized ones', () => {
    const a = acquireScratch();
    releaseScratch(a);
    expect(acquireScratch()).toBe(a);
    const big = Buffer.allocUnsafeSlow(8 << 20);
    releaseScratch(big);
    expect(acquireScratch()).not.toBe(big);
  });
});
