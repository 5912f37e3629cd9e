/**
 * Splitting a total exactly: `allocate(total, weights)` returns integer parts in proportion to the weights
 * that add up to `total` exactly (largest-remainder method; ties go to the earlier part). Used to split an
 * inclusive line's tax among jurisdictions so the parts sum to the line's tax with no cent lost or invented.
 */
export function allocate(total: bigint, weights: readonly bigint[]): bigint[] {
  if (weights.length === 0) {
    if (total !== 0n) throw new RangeError('cannot allocate a non-zero total to no parts');
    return [];
  }
  let wsum = 0n;
  for (const w of weights) {
    if (w < 0n) throw new RangeError('weights must not be negative');
    wsum += w;
  }
  if (wsum === 0n) {
    // No basis to split on: everything to the first part.
    return weights.map((_, i) => (i === 0 ? total : 0n));
  }
  const neg = total < 0n;
  const t = neg ? -total : total;
  const parts: bigint[] = [];
  const rema: { i: number; r: bigint }[] = [];
  let given = 0n;
  for (let i = 0; i < weights.length; i++) {
    const num = t * weights[i]!;
    const q = num / wsum;
    parts.push(q);
    rema.push({ i, r: num % wsum });
    given += q;
  }
  let left = t - given; // < weights.length
  rema.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (let k = 0; left > 0n; k++, left--) parts[rema[k]!.i]! += 1n;
  return neg ? parts.map((p) => -p) : parts;
}
