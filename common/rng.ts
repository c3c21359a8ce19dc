/**
 * Seeded randomness. Every consumer gets its own named stream derived from
 * the run's one seed, so adding a draw in one place (say, cost sampling)
 * does not shift the numbers another place sees (say, arrival times).
 */
import seedrandom from 'seedrandom';

/** A source of uniform doubles in [0, 1). */
export type Rng = () => number;

/** A deterministic stream for `seed` and the consumer's `stream` name (Alea). */
export function makeRng(seed: number | string, stream: string): Rng {
  const prng = seedrandom.alea(`${seed}/${stream}`);
  return () => prng();
}

/** Exponential variate with the given mean. */
export function exponential(rng: Rng, mean: number): number {
  return -Math.log(1 - rng()) * mean;
}

/**
 * Inverse-CDF sample from a piecewise-linear distribution given by sorted
 * percentile points (`ps` in 0..100, `vs` their values).
 */
export function samplePercentiles(rng: Rng, ps: ArrayLike<number>, vs: ArrayLike<number>): number {
  const q = rng() * 100;
  const n = ps.length;
  if (q <= ps[0]!) return vs[0]!;
  for (let i = 1; i < n; i++) {
    if (q <= ps[i]!) {
      const p0 = ps[i - 1]!, p1 = ps[i]!;
      const v0 = vs[i - 1]!, v1 = vs[i]!;
      return p1 === p0 ? v1 : v0 + ((q - p0) / (p1 - p0)) * (v1 - v0);
    }
  }
  return vs[n - 1]!;
}

/**
 * Zipf sampler over ranks 0..n-1 with exponent `s` (rank 0 most popular), by
 * binary search in the precomputed CDF.
 */
export function zipfSampler(n: number, s: number): (rng: Rng) => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) { total += 1 / Math.pow(k + 1, s); cdf[k] = total; }
  for (let k = 0; k < n; k++) cdf[k]! /= total;
  return (rng) => {
    const u = rng();
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1; else hi = mid;
    }
    return lo;
  };
}
