/**
 * A log-linear histogram for latencies (HdrHistogram's layout): values are
 * kept to a relative precision of 1/2^subBits, so percentiles of any number
 * of samples cost a fixed, small amount of memory. With the default 10
 * sub-bucket bits, a reported percentile is within 0.1% of the exact one.
 * Values are in ms and resolved down to 1 µs.
 */
const EMPTY = new Uint32Array(0);
/** Counts stay 32-bit until a histogram holds this many samples (any bucket could then overflow). */
const NARROW_MAX = 0xffffffff;

export class LatencyHistogram {
  readonly subBits: number;
  /**
   * Counts of buckets `#lo` .. `#lo + length - 1`: only the range used so
   * far, grown on demand in both directions (a function's latencies span a
   * few octaves, far above bucket 0). 32-bit counts until `#n` reaches
   * `#narrowMax`, then 64-bit floats. A simulated cluster keeps one per
   * function: 10,000 of them at 64-bit from bucket 0 took 100 MB and a
   * quarter of its time in cache misses.
   */
  #counts: Uint32Array | Float64Array;
  #lo = 0;
  readonly #size: number;
  readonly #narrowMax: number;
  #n = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** `narrowMax`: samples held before counts go 64-bit (tests lower it). */
  constructor(subBits = 10, narrowMax = NARROW_MAX) {
    if (!Number.isInteger(subBits) || subBits < 2 || subBits > 16) throw new RangeError('subBits must be 2..16');
    this.subBits = subBits;
    // the linear range, then 45 octaves of half as many buckets: past 100 days
    this.#size = (1 << subBits) + 45 * (1 << (subBits - 1));
    this.#narrowMax = Math.min(narrowMax, NARROW_MAX);
    this.#counts = EMPTY;
  }

  /** Makes buckets `from` .. `to` exist (at least doubling the range, within the full size); the counts. */
  #grow(from: number, to: number): Uint32Array | Float64Array {
    const old = this.#counts, len = old.length;
    let lo: number, hi: number;
    if (len === 0) {
      lo = Math.max(0, from - 16);
      hi = Math.min(this.#size, Math.max(to + 1, lo + 64));
    } else {
      const extra = Math.max(len, 32);
      lo = from < this.#lo ? Math.max(0, Math.min(from, this.#lo - extra)) : this.#lo;
      hi = Math.min(this.#size, Math.max(to + 1, this.#lo + len + (to >= this.#lo + len ? extra : 0)));
    }
    const c = old instanceof Float64Array ? new Float64Array(hi - lo) : new Uint32Array(hi - lo);
    if (len > 0) c.set(old, this.#lo - lo);
    this.#lo = lo;
    return (this.#counts = c);
  }

  /** Counts go 64-bit: a bucket may pass 2^32 - 1 from here on. */
  #widen(): void {
    if (this.#counts instanceof Float64Array) return;
    this.#counts = Float64Array.from(this.#counts);
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
    let c = this.#counts;
    let j = i - this.#lo;
    if (j < 0 || j >= c.length) {
      c = this.#grow(i, i);
      j = i - this.#lo;
    }
    if (++this.#n >= this.#narrowMax) {
      this.#widen();
      c = this.#counts;
    }
    c[j]! += 1;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** A copy, independent of this one. */
  clone(): LatencyHistogram {
    const h = new LatencyHistogram(this.subBits, this.#narrowMax);
    h.merge(this);
    return h;
  }

  /** Adds all of `other`'s samples (same subBits). */
  merge(other: LatencyHistogram): void {
    if (other.subBits !== this.subBits) throw new Error('cannot merge histograms of different precision');
    const b = other.#counts;
    if (b.length > 0) {
      const from = other.#lo, to = other.#lo + b.length - 1;
      if (this.#counts.length === 0 || from < this.#lo || to >= this.#lo + this.#counts.length) this.#grow(from, to);
      if (this.#n + other.#n >= this.#narrowMax) this.#widen();
      const a = this.#counts, off = from - this.#lo;
      for (let i = 0; i < b.length; i++) if (b[i]) a[off + i]! += b[i]!;
    }
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
    const c = this.#counts, base = this.#lo;
    let seen = 0;
    for (let i = 0; i < c.length; i++) {
      seen += c[i]!;
      if (seen >= rank) {
        const lo = this.#lower(base + i), hi = this.#lower(base + i + 1);
        const mid = ((lo + hi - 1) / 2) / 1000;
        return Math.min(this.#max, Math.max(this.#min, mid));
      }
    }
    return this.#max;
  }
}
