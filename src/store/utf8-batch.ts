/**
 * Many small strings written to a file as one UTF-8 buffer, piece by piece into a reused scratch buffer.
 *
 * Why not `Buffer.from(a + b + ...)`: the joined text is a rope that V8 flattens into a fresh large string
 * (hundreds of KB per group commit, allocated in fresh pages the kernel zeroes on first touch), counts, and
 * copies again into a fresh buffer of its own. Writing each piece where the last ended touches only the
 * scratch buffer, which stays mapped from one batch to the next (measured with bench:tax: ~1 page fault per
 * recorded calculation before, almost none after).
 */

/** Scratch buffers kept for reuse: at most this many, each at most MAX_KEPT bytes. */
const POOL_SIZE = 4;
const MAX_KEPT = 4 << 20;
const MIN_SIZE = 64 << 10;
const pool: Buffer[] = [];

/** A buffer to encode into: from the pool, or new. Give it back with `releaseScratch` once written. */
export function acquireScratch(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(MIN_SIZE);
}

export function releaseScratch(buf: Buffer): void {
  if (buf.length <= MAX_KEPT && pool.length < POOL_SIZE) pool.push(buf);
}

/**
 * Appends `pieces` as UTF-8 to `buf` from byte `at`, growing it when needed (a grown buffer replaces the
 * given one: use the returned `buf`). A UTF-16 unit never takes more than 3 bytes in UTF-8, so room for
 * 3 x length always fits the piece whole. A piece that is not a string becomes text only when its turn
 * comes: `render` gets the buffer and the end so far (so it may checksum what precedes it) and returns the
 * text to write there.
 */
export function encodePieces<T>(buf: Buffer, at: number, pieces: readonly (string | T)[], render: (piece: T, buf: Buffer, end: number) => string): { buf: Buffer; end: number } {
  let end = at;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    const t = typeof p === 'string' ? p : render(p, buf, end);
    const worst = end + t.length * 3;
    if (worst > buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, worst));
      buf.copy(grown, 0, 0, end);
      buf = grown;
    }
    end += buf.write(t, end);
  }
  return { buf, end };
}
