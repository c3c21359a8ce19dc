/**
 * Two-mode (bistable) cells of the validation grid, pure. Near saturation
 * a plan can land in either of two regimes: the cold starts of a burst
 * overlap, each slows the others, and the run cascades into many more cold
 * starts than a run that escaped it (docs/notebook/2026-12-06-grid-sixth.md).
 * Then a median over three replays, or over eleven replications, is
 * decided by how many runs happened to cascade, and "the simulator's
 * median lies inside the real min–max" says little either way. What
 * should agree is the share of runs in each mode.
 *
 * A figure is two-mode when the real replays and the replications
 * together fall into two groups separated by a gap wider than either
 * group's own range (and wider than the figure's tolerance), with at
 * least two runs in each group, and the real replays or the replications
 * themselves have runs in both groups: a simulator simply off from a
 * one-mode real cell is not two-mode, the ordinary judgement covers it.
 * The shares are compared with Fisher's exact test on the 2×2 table
 * (real/simulated × lower/upper mode): they agree unless a split at least
 * as uneven would arise by chance less than 5% of the time.
 */
import { TARGET_FIGURES, TARGETS, type TargetFigure } from './figures.js';

export interface ModeJudgement {
  /** The lower mode's range and the upper's, over real and simulated runs together. */
  lower: { min: number; max: number };
  upper: { min: number; max: number };
  /** Real replays in the upper mode, of how many. */
  realUpper: number;
  realRuns: number;
  /** Simulator replications in the upper mode, of how many. */
  simUpper: number;
  simRuns: number;
  /** Fisher's exact test, two-sided: the chance of a split at least as uneven with like shares. */
  pValue: number;
  /** pValue >= SHARES_ALPHA. */
  sharesAgree: boolean;
}

export const SHARES_ALPHA = 0.05;

const range = (xs: number[]) => xs[xs.length - 1]! - xs[0]!;

/**
 * The two modes of `real` and `sim` together, judged by their shares;
 * undefined when the figure is not two-mode. `tolPct`: the figure's
 * tolerance, percent; a gap narrower than that share of the pooled
 * median is not a second mode.
 */
export function judgeModes(real: readonly number[], sim: readonly number[], tolPct: number): ModeJudgement | undefined {
  const pooled = [...real.map((v) => ({ v, real: true })), ...sim.map((v) => ({ v, real: false }))].filter((x) => Number.isFinite(x.v)).sort((a, b) => a.v - b.v);
  if (pooled.length < 4) return undefined;
  let cut = -1, gap = -Infinity;
  for (let i = 0; i + 1 < pooled.length; i++) {
    const g = pooled[i + 1]!.v - pooled[i]!.v;
    if (g > gap) { gap = g; cut = i; }
  }
  const low = pooled.slice(0, cut + 1), high = pooled.slice(cut + 1);
  if (low.length < 2 || high.length < 2) return undefined;
  const lv = low.map((x) => x.v), hv = high.map((x) => x.v);
  const mid = pooled[pooled.length >> 1]!.v;
  if (!(gap > range(lv) && gap > range(hv) && gap > (Math.abs(mid) * tolPct) / 100)) return undefined;
  const realUpper = high.filter((x) => x.real).length, simUpper = high.length - realUpper;
  const realRuns = real.length, simRuns = sim.length;
  const realBoth = realUpper > 0 && realUpper < realRuns, simBoth = simUpper > 0 && simUpper < simRuns;
  if (!realBoth && !simBoth) return undefined;
  const pValue = fisherExact(realUpper, realRuns - realUpper, simUpper, simRuns - simUpper);
  return { lower: { min: lv[0]!, max: lv[lv.length - 1]! }, upper: { min: hv[0]!, max: hv[hv.length - 1]! }, realUpper, realRuns, simUpper, simRuns, pValue, sharesAgree: pValue >= SHARES_ALPHA };
}

/**
 * The two-mode figures among a comparison's replays and replications
 * (validate: cold starts, p50, p99), each judged with its target's
 * tolerance (figures.ts TARGETS); an empty object when none splits.
 */
export function figureModes(real: readonly Record<TargetFigure, number>[], sim: readonly Record<TargetFigure, number>[]): Partial<Record<TargetFigure, ModeJudgement>> {
  const out: Partial<Record<TargetFigure, ModeJudgement>> = {};
  for (const k of TARGET_FIGURES) {
    const m = judgeModes(real.map((x) => x[k]), sim.map((x) => x[k]), TARGETS[`${k}Pct`]);
    if (m) out[k] = m;
  }
  return out;
}

/** ln(n!) for the small counts of a grid cell. */
function lnFactorial(n: number): number {
  let s = 0;
  for (let k = 2; k <= n; k++) s += Math.log(k);
  return s;
}

/**
 * Fisher's exact test, two-sided, on the table [[a, b], [c, d]]: the sum of
 * the probabilities (hypergeometric, margins fixed) of every table no more
 * likely than the one observed.
 */
export function fisherExact(a: number, b: number, c: number, d: number): number {
  for (const x of [a, b, c, d]) if (!(Number.isInteger(x) && x >= 0)) throw new RangeError(`Fisher's exact test needs counts, got ${a}, ${b}, ${c}, ${d}`);
  const r1 = a + b, r2 = c + d, c1 = a + c, n = r1 + r2;
  const fixed = lnFactorial(r1) + lnFactorial(r2) + lnFactorial(c1) + lnFactorial(n - c1) - lnFactorial(n);
  const p = (x: number) => Math.exp(fixed - lnFactorial(x) - lnFactorial(r1 - x) - lnFactorial(c1 - x) - lnFactorial(r2 - c1 + x));
  const observed = p(a);
  let sum = 0;
  for (let x = Math.max(0, c1 - r2); x <= Math.min(r1, c1); x++) {
    const q = p(x);
    // a relative margin, so that tables as likely as the observed one still count despite rounding
    if (q <= observed * (1 + 1e-9)) sum += q;
  }
  return Math.min(1, sum);
}

/** The mode judgement in words, for a cell's line and the report. */
export function modesText(m: ModeJudgement, fmt: (x: number) => string): string {
  return `two modes (${fmt(m.lower.min)}–${fmt(m.lower.max)} and ${fmt(m.upper.min)}–${fmt(m.upper.max)}): real ${m.realUpper} of ${m.realRuns} in the upper, sim ${m.simUpper} of ${m.simRuns}; shares ${m.sharesAgree ? 'agree' : 'differ'} (Fisher p = ${m.pValue < 0.001 ? m.pValue.toExponential(1) : m.pValue.toFixed(3)})`;
}

/** A comparison's two-mode figures in words, one per figure (validate's CLI lines and report rows): latencies in ms, cold starts as counts. */
export function figureModesText(modes: Partial<Record<TargetFigure, ModeJudgement>>): string[] {
  return TARGET_FIGURES.flatMap((k) => {
    const m = modes[k];
    return m ? [`${k === 'coldStarts' ? 'cold starts' : k} in ${modesText(m, (x) => (k === 'coldStarts' ? String(x) : `${x.toFixed(2)} ms`))}`] : [];
  });
}
