import { describe, expect, it } from 'vitest';
import { acquireScratch, encodePieces, releaseScratch } from '../src/store/utf8-batch.ts';

const noRender = (): string => {
  throw new Error('strings only');
};

describe('encoding journal pieces into a scratch buffer', () => {
  it('gives the bytes Buffer.from would give the joined text, across growth and multi-byte characters', () => {
    const pieces = ['{"t":"p","k":"a"}\t{"name":"Zürich"}\n', '€'.repeat(30_000), '{"emoji":"😀 ✓"}\n', 'x'.repeat(70_000), '\n'];
    const { buf, end } = encodePieces(Buffer.alloc(16), 0, pieces, noRender);
    expect(buf.subarray(0, end).equals(Buffer.from(pieces.join(''), 'utf8'))).toBe(true);
    expect(end).toBe(Buffer.byteLength(pieces.join('')));
  });

  it('keeps what was before the start offset when it grows', () => {
    const start = Buffer.from('prefix:');
    const small = Buffer.alloc(10);
    start.copy(small);
    const { buf, end } = encodePieces(small, start.length, ['ü'.repeat(100)], noRender);
    expect(buf.subarray(0, end).toString('utf8')).toBe(`prefix:${'ü'.repeat(100)}`);
  });

  it('renders a non-string piece when its turn comes, seeing the bytes encoded before it', () => {
    const seen: string[] = [];
    const { buf, end } = encodePieces(Buffer.alloc(4), 0, ['ab', 'ü'.repeat(10), { mark: 1 }, 'z'], (p: { mark: number }, b, upTo) => {
      seen.push(b.subarray(0, upTo).toString('utf8'));
      return `[${p.mark}]`;
    });
    expect(seen).toEqual([`ab${'ü'.repeat(10)}`]);
    expect(buf.subarray(0, end).toString('utf8')).toBe(`ab${'ü'.repeat(10)}[1]z`);
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
