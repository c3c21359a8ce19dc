/**
 * How far the agreement figures could move by chance. The harness compares
 * the median of a few real replays with the median of several simulator
 * replications; on a plan near a tipping point one replay's cold starts
 * vary by ±10% or more, so an error of 7% may be the replays' luck rather
 * than the model's. Resampling both lists with replacement (a bootstrap)
 * and keeping, in each resample, the run the harness would have kept
 * (experiments/repeats.ts: the median by cold starts) gives an interval for
 * each error and the share of resamples in which each target is met.
 * With three replays the interval is coarse (a resampled median can only be
 * one of the three), which is what it should say.
 *
 * The same resampling also sets the real worker against itself: two
 * independent resamples of its replays, each reduced to the run the harness
 * keeps, compared under the same targets. That share is a ceiling for any
 * model: a simulator that predicted the worker exactly would still be
 * judged against one draw of the worker's replays.
 */
import { makeRng } from '../common/rng.js';
import { percentile as pct } from '../common/stats.js';
import { err, targetMet, TARGET_FIGURES as FIGURES, type TargetFigure as Figure } from './figures.js';
import { medianRepeat, type RepeatFigures } from './repeats.js';


export interface ErrorIntervals {
  resamples: number;
  /** Central probability of each interval (0.9: from the 5th to the 95th percentile). */
  level: number;
  /** [low, median, high] of (sim − real) / real in percent over the resamples. */
  errorPct: Record<Figure, [number, number, number]>;
  /** Share of resamples in which each target is met, and all three at once. */
  metShare: Record<Figure | 'all', number>;
  /** The real worker against itself: the share of pairs of independent resamples of its replays whose kept runs meet each target. */
  realSelfShare: Record<Figure | 'all', number>;
}

/** Counts of resamples meeting each target, and all three. */
function tally(): Record<Figure | 'all', number> {
  return { coldStarts: 0, p50: 0, p99: 0, all: 0 };
}

/** The run the harness keeps from `list`: the median by cold starts, then p99. */
function kept(list: RepeatFigures[]): RepeatFigures {
  const i = medianRepeat(list);
  return list.find((r) => r.index === i)!;
}

/**
 * Bootstrap intervals of the errors between the run kept from the real
 * replays and the one kept from the simulator's replications. Seeded, so a
 * report says the same each time it is made from the same runs.
 */
export function errorIntervals(real: RepeatFigures[], sim: RepeatFigures[], o: { resamples?: number; level?: number; seed?: number } = {}): ErrorIntervals {
  if (real.length === 0 || sim.length === 0) throw new RangeError('errorIntervals needs at least one real and one simulated run');
  const resamples = o.resamples ?? 2000, level = o.level ?? 0.9;
  const rng = makeRng(o.seed ?? 1, 'experiments/uncertainty');
  const errs: Record<Figure, number[]> = { coldStarts: [], p50: [], p99: [] };
  const met = tally();
  for (let i = 0; i < resamples; i++) {
    const r = kept(draw(real, real.length, rng)), s = kept(draw(sim, sim.length, rng));
    count(met, s, r, errs);
  }
  const tail = (1 - level) / 2;
  const errorPct = {} as ErrorIntervals['errorPct'];
  for (const f of FIGURES) {
    const s = errs[f].sort((a, b) => a - b);
    errorPct[f] = [pct(s, tail * 100), pct(s, 50), pct(s, (1 - tail) * 100)];
  }
  return { resamples, level, errorPct, metShare: share(met, resamples), realSelfShare: agreementShare(real, real, { resamples, seed: o.seed }) };
}

/**
 * How often the runs kept from two independent resamples, `kA` runs drawn
 * from `a` and `kB` from `b` (default: as many as each list holds), meet
 * each target against each other (b's taken as the reference). With `a`
 * and `b` the same replays: the real worker against itself.
 */
export function agreementShare(a: RepeatFigures[], b: RepeatFigures[], o: { resamples?: number; seed?: number; kA?: number; kB?: number } = {}): Record<Figure | 'all', number> {
  if (a.length === 0 || b.length === 0) throw new RangeError('agreementShare needs runs on both sides');
  const resamples = o.resamples ?? 2000;
  const rng = makeRng(o.seed ?? 1, 'experiments/uncertainty/self');
  const t = tally();
  for (let i = 0; i < resamples; i++) count(t, kept(draw(a, o.kA ?? a.length, rng)), kept(draw(b, o.kB ?? b.length, rng)));
  return share(t, resamples);
}

/** `k` runs drawn from `list` with replacement, renumbered. */
function draw(list: RepeatFigures[], k: number, rng: () => number): RepeatFigures[] {
  return Array.from({ length: k }, (_, j) => ({ ...list[Math.floor(rng() * list.length)]!, index: j }));
}

/** Adds one comparison of `a` against `b` to the counts (and each figure's error to `keep`). */
function count(into: Record<Figure | 'all', number>, a: RepeatFigures, b: RepeatFigures, keep?: Record<Figure, number[]>): void {
  let all = true;
  for (const f of FIGURES) {
    const e = err(a[f], b[f]);
    keep?.[f].push(e);
    const ok = targetMet(f, e);
    if (ok) into[f]++;
    all &&= ok;
  }
  if (all) into.all++;
}

function share(t: Record<Figure | 'all', number>, n: number): Record<Figure | 'all', number> {
  return { coldStarts: t.coldStarts / n, p50: t.p50 / n, p99: t.p99 / n, all: t.all / n };
}

/** `-7.9% (90% interval -20.1% to +4.3%; met in 31% of resamples)` for one figure. */
export function intervalText(iv: ErrorIntervals, f: Figure): string {
  const p = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
  const [lo, , hi] = iv.errorPct[f];
  return `${Math.round(iv.level * 100)}% interval ${p(lo)} to ${p(hi)}; target met in ${Math.round(iv.metShare[f] * 100)}% of resamples`;
}

/** `cold starts 37%, p50 100%, p99 88%, all three 33%`: how often the real worker's replays meet the targets against themselves. */
export function selfText(iv: ErrorIntervals): string {
  const p = (x: number) => `${Math.round(x * 100)}%`;
  const s = iv.realSelfShare;
  return `cold starts ${p(s.coldStarts)}, p50 ${p(s.p50)}, p99 ${p(s.p99)}, all three ${p(s.all)}`;
}
