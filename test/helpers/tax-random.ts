/** A small seeded PRNG (mulberry32) for property and fuzz tests: same seed, same sequence, no packages. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** BigInt in [0, hi] built from a few random digits (covers small and large magnitudes). */
  bigint(maxDigits: number): bigint {
    const digits = this.int(1, maxDigits);
    let s = '';
    for (let i = 0; i < digits; i++) s += String(this.int(0, 9));
    return BigInt(s);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
}
