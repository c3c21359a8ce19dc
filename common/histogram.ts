/**
 * A log-linear histogram for latencies (HdrHistogram's layout): values are
 * kept to a relative precision of 1/2^subBits, so percentiles of any number
 * of samples cost a fixed, small amount of memory. With the default 10
 * sub-bucket bits, a reported percentile is within 0.1% of the exact one.
 * Values are in ms and resolved down to 1 µs.
 */
const EMPTY = new Float64Array(0);

export class LatencyHistogram {
  readonly subBits: number;
  /** Buckets up to the highest one used so far (grown on demand: most histograms never see the long tail). */
  #counts: Float64Array;
  readonly #size: number;
  #n = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  constructor(subBits = 10) {
    if (!Number.isInteger(subBits) || subBits < 2 || subBits > 16) throw new RangeError('subBits must be 2..16');
    this.subBits = subBits;
    // the linear range, then 45 octaves of half as many buckets: past 100 days
    this.#size = (1 << subBits) + 45 * (1 << (subBits - 1));
    this.#counts = EMPTY;
  }

  /** Makes bucket `i` exist (doubling, at most to the full size). */
  #grow(i: number): Float64Array {
    const c = new Float64Array(Math.min(this.#size, Math.max(i + 1, 2 * this.#counts.length, 64)));
    c.set(this.#counts);
    return (this.#counts = c);
  }

  get count(): number { return this.#n; }
  get sum(): number { return this.#sum; }
  get min(): number { return this.#n ? this.#min : NaN; }
  get max(): number { return this.#n ? this.#max : NaN; }
  get mean(): number { return this.#n ? this.#sum / this.#n : NaN; }

  #index(us: number): number {
    const sb = this.subBits;
    if (us < 1 << sb) return us;
    if (us < 2147483648) {
      // the common case, in 32-bit integer arithmetic
      const e = 32 - Math.clz32(us) - sb; // bucket width is 2^e
      return (1 << sb) + (e - 1) * (1 << (sb - 1)) + (us >>> e) - (1 << (sb - 1));
    }
    const log2 = us < 4294967296 ? 31 : 63 - Math.clz32(Math.floor(us / 4294967296));
    const e = log2 - sb + 1;
    return (1 << sb) + (e - 1) * (1 << (sb - 1)) + Math.floor(us / 2 ** e) - (1 << (sb - 1));
  }

  /** Lower edge (µs) of bucket `i`. */
  #lower(i: number): number {
    const sb = this.subBits;
    if (i < 1 << sb) return i;
    const j = i - (1 << sb);
    const half = 1 << (sb - 1);
    const e = Math.floor(j / half) + 1;
    return ((j % half) + half) * 2 ** e;
  }

  /** Adds one value (ms, >= 0). */
  record(ms: number): void {
    const us = Math.floor(ms * 1000 + 0.5);
    const i = this.#index(us);
    const c = i < this.#counts.length ? this.#counts : this.#grow(i);
    c[i]! += 1;
    this.#n++;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** Adds all of `other`'s samples (same subBits). */
  /** A copy, independent of this one. */
  clone(): LatencyHistogram {
    const h = new LatencyHistogram(this.subBits);
    h.merge(this);
    return h;
  }

  merge(other: LatencyHistogram): void {
    if (other.subBits !== this.subBits) throw new Error('cannot merge histograms of different precision');
    const b = other.#counts;
    const a = b.length <= this.#counts.length ? this.#counts : this.#grow(b.length - 1);
    for (let i = 0; i < b.length; i++) if (b[i]) a[i]! += b[i]!;
    this.#n += other.#n;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
  }

  /**
   * The q-th percentile (0..100), nearest-rank: the smallest recorded value
   * such that at least q% of samples are at or below it, reported at its
   * bucket's midpoint and clamped to [min, max].
   */
  percentile(q: number): number {
    if (this.#n === 0) return NaN;
    if (q >= 100) return this.#max;
    if (q <= 0) return this.#min;
    const rank = Math.max(1, Math.ceil((q / 100) * this.#n));
    const c = this.#counts;
    let seen = 0;
    for (let i = 0; i < c.length; i++) {
      seen += c[i]!;
      if (seen >= rank) {
        const lo = this.#lower(i), hi = this.#lower(i + 1);
        const mid = ((lo + hi - 1) / 2) / 1000;
        return Math.min(this.#max, Math.max(this.#min, mid));
      }
    }
    return this.#max;
  }
}
