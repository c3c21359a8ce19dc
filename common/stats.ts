/**
 * The project's one percentile and one median, so a figure means the same
 * in the simulator's summary, the harness's comparison, the calibration and
 * the benchmarks.
 */

/** The nearest-rank `q`-th percentile (0-100) of sorted values: the smallest value with at least q% at or below it; NaN when there are none. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))]!;
}

/** The median of `xs` (any order): the middle value, or the mean of the two middle ones; NaN when empty. */
export function median(xs: ArrayLike<number>): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** The nearest-rank percentile of values in any order. */
export function percentileOf(xs: ArrayLike<number>, q: number): number {
  return percentile(Float64Array.from(xs).sort(), q);
}
