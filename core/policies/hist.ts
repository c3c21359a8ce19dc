/**
 * The hybrid histogram policy of "Serverless in the Wild" (Shahrad et al.,
 * USENIX ATC'20, §4.2). Per function, a histogram of idle times (the gap
 * between the end of one invocation and the arrival of the next while no
 * other invocation of the function runs), in 1-minute bins over 4 hours.
 *
 * When the histogram is representative (enough samples, few idle times past
 * its range, and bin counts concentrated: coefficient of variation above a
 * threshold), the head (5th percentile) and tail (99th) give, with 10%
 * margins,
 *   pre-warm window   = head × (1 − margin), rounded down to a whole bin,
 *   keep-alive window = tail × (1 + margin) − pre-warm window.
 * A pre-warm window of zero keeps the sandbox idle for the keep-alive
 * window; a positive one unloads it at once and loads a fresh one when the
 * pre-warm window ends. Otherwise the policy falls back to a fixed
 * keep-alive (the paper uses the histogram's range, 4 hours, and an ARIMA
 * model for functions whose idle times mostly exceed it; we use the fixed
 * keep-alive for those too, and count them). Under memory pressure the
 * sandbox closest to its expiry goes first.
 */
import { BasePolicy, SandboxHeap, type IdleCause, type IdleDecision, type PolicyContext, type PolicyFactory, type SandboxView } from '../policy.js';

export class HistogramPolicy extends BasePolicy {
  readonly name = 'hist';
  readonly #o: Readonly<Record<string, number>>;
  readonly #bins: number;
  readonly #heap = new SandboxHeap();
  #hist: Uint32Array[] = [];
  #oob = new Float64Array(64);
  #samples = new Float64Array(64);
  #lastEnd = new Float64Array(64).fill(NaN);
  #busy = new Int32Array(64);
  #keepAfterPrewarm = new Float64Array(64);
  // sum of squared bin counts, kept up to date so the CV costs O(1)
  #sumSq = new Float64Array(64);
  // windows are recomputed only after the histogram changed
  #cached: ({ prewarmMs: number; keepAliveMs: number; kind: 'histogram' | 'few' | 'oob' | 'flat' } | undefined)[] = [];
  readonly #count = { histogram: 0, fallbackFewSamples: 0, fallbackOutOfRange: 0, fallbackFlat: 0, prewarmDecisions: 0 };

  constructor(options: Readonly<Record<string, number>>) {
    super();
    this.#o = options;
    this.#bins = Math.max(1, Math.round(options.rangeMs! / options.binMs!));
  }

  #ensure(fnId: number): void {
    if (fnId < this.#oob.length) return;
    let cap = this.#oob.length;
    while (cap <= fnId) cap *= 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, fill = 0): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      b.fill(fill as never);
      b.set(a as never);
      return b;
    };
    this.#oob = grow(this.#oob);
    this.#samples = grow(this.#samples);
    this.#lastEnd = grow(this.#lastEnd, NaN);
    this.#busy = grow(this.#busy);
    this.#keepAfterPrewarm = grow(this.#keepAfterPrewarm);
    this.#sumSq = grow(this.#sumSq);
  }

  override onInvoke(fnId: number, now: number): void {
    this.#ensure(fnId);
    const last = this.#lastEnd[fnId]!;
    if (Number.isNaN(last) || this.#busy[fnId]! > 0) return;
    // one idle time per idle period: the next arrival closes it
    this.#lastEnd[fnId] = NaN;
    const it = Math.max(0, now - last);
    const bin = Math.floor(it / this.#o.binMs!);
    this.#samples[fnId]!++;
    this.#cached[fnId] = undefined;
    if (bin >= this.#bins) {
      this.#oob[fnId]!++;
      return;
    }
    let h = this.#hist[fnId];
    if (!h) this.#hist[fnId] = h = new Uint32Array(this.#bins);
    this.#sumSq[fnId]! += 2 * h[bin]! + 1;
    h[bin]!++;
  }

  onBusy(sb: SandboxView, _now?: number): void {
    this.#ensure(sb.fnId);
    this.#busy[sb.fnId]!++;
    this.#heap.remove(sb);
  }

  /** The (pre-warm, keep-alive) windows for a function, from its histogram. */
  windows(fnId: number): { prewarmMs: number; keepAliveMs: number; kind: 'histogram' | 'few' | 'oob' | 'flat' } {
    return (this.#cached[fnId] ??= this.#computeWindows(fnId));
  }

  #computeWindows(fnId: number): { prewarmMs: number; keepAliveMs: number; kind: 'histogram' | 'few' | 'oob' | 'flat' } {
    const o = this.#o;
    const fallback = o.fallbackKeepAliveMs!;
    const n = this.#samples[fnId] ?? 0;
    if (n < o.minSamples!) return { prewarmMs: 0, keepAliveMs: fallback, kind: 'few' };
    const oob = this.#oob[fnId]!;
    if (oob / n > o.maxOutOfRange!) return { prewarmMs: 0, keepAliveMs: fallback, kind: 'oob' };
    const h = this.#hist[fnId]!;
    const inRange = n - oob;
    // coefficient of variation of the bin counts
    const mean = inRange / this.#bins;
    const variance = Math.max(0, this.#sumSq[fnId]! / this.#bins - mean * mean);
    const cv = mean > 0 ? Math.sqrt(variance) / mean : 0;
    if (cv <= o.cvThreshold!) return { prewarmMs: 0, keepAliveMs: fallback, kind: 'flat' };
    // percentiles over all idle times, the out-of-range ones counted above the top bin
    const headRank = Math.max(1, Math.ceil((o.headPercentile! / 100) * n));
    const tailRank = Math.max(1, Math.ceil((o.tailPercentile! / 100) * n));
    let seen = 0, headBin = -1, tailBin = this.#bins;
    for (let i = 0; i < this.#bins; i++) {
      seen += h[i]!;
      if (headBin < 0 && seen >= headRank) headBin = i;
      if (seen >= tailRank) { tailBin = i; break; }
    }
    if (headBin < 0) headBin = this.#bins;
    const bin = o.binMs!;
    const head = headBin * bin; // lower edge of the head bin
    const tail = (tailBin + 1) * bin; // upper edge of the tail bin
    const prewarmMs = Math.floor((head * (1 - o.margin!)) / bin) * bin;
    const keepAliveMs = Math.max(bin, Math.ceil(tail * (1 + o.margin!)) - prewarmMs);
    return { prewarmMs, keepAliveMs, kind: 'histogram' };
  }

  onIdle(sb: SandboxView, now: number, cause: IdleCause): IdleDecision {
    this.#ensure(sb.fnId);
    let decision: IdleDecision;
    if (cause === 'prewarmed') {
      decision = { pause: false, keepAliveMs: this.#keepAfterPrewarm[sb.fnId] || this.#o.fallbackKeepAliveMs! };
    } else {
      this.#busy[sb.fnId]!--;
      this.#lastEnd[sb.fnId] = now;
      const w = this.windows(sb.fnId);
      if (w.kind === 'histogram') this.#count.histogram++;
      else if (w.kind === 'few') this.#count.fallbackFewSamples++;
      else if (w.kind === 'oob') this.#count.fallbackOutOfRange++;
      else this.#count.fallbackFlat++;
      // POLICY: unload and pre-warm only when no other sandbox of the function is busy
      if (w.prewarmMs > 0 && this.#busy[sb.fnId] === 0) {
        this.#count.prewarmDecisions++;
        this.#keepAfterPrewarm[sb.fnId] = w.keepAliveMs;
        return { pause: false, keepAliveMs: w.keepAliveMs, prewarmAfterMs: w.prewarmMs };
      }
      decision = { pause: false, keepAliveMs: w.prewarmMs + w.keepAliveMs };
    }
    // POLICY: under pressure, the sandbox that would expire first goes first
    this.#heap.push(sb, now + decision.keepAliveMs);
    return decision;
  }

  onDestroy(sb: SandboxView): void {
    // a busy sandbox that died (crash, OOM, time limit) ends no idle period: it only stops being busy
    if (sb.state === 'busy') this.#busy[sb.fnId]!--;
    this.#heap.remove(sb);
  }

  victim(): SandboxView | undefined {
    return this.#heap.min();
  }

  override stats(): Record<string, number> {
    return { ...this.#count };
  }
}

export const hist: PolicyFactory = {
  describe: 'hybrid histogram keep-alive + pre-warm per function (5th/99th pct, 10% margins, 4 h range)',
  source: 'Shahrad et al., "Serverless in the Wild", USENIX ATC 2020, §4.2',
  options: {
    binMs: { default: 60_000, min: 1, describe: 'histogram bin width, ms' },
    rangeMs: { default: 4 * 3_600_000, min: 1, describe: 'histogram range, ms' },
    headPercentile: { default: 5, min: 0, max: 100, describe: 'percentile that sets the pre-warm window' },
    tailPercentile: { default: 99, min: 0, max: 100, describe: 'percentile that sets the keep-alive window' },
    margin: { default: 0.1, min: 0, max: 1, describe: 'safety margin on head and tail' },
    cvThreshold: { default: 2, min: 0, describe: 'bin-count CV at or below which the histogram is not representative' },
    minSamples: { default: 5, min: 0, describe: 'idle times needed before the histogram is trusted' },
    maxOutOfRange: { default: 0.5, min: 0, max: 1, describe: 'fraction of idle times past the range that forces the fallback' },
    fallbackKeepAliveMs: { default: 4 * 3_600_000, min: 0, describe: 'fixed keep-alive when the histogram is not representative, ms' },
  },
  create: (ctx: PolicyContext) => new HistogramPolicy(ctx.options),
};
