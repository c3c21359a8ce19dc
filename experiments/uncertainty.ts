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
 */
import { makeRng } from '../sim/rng.js';
import { err, pct, targetMet } from './compare.js';
import { medianRepeat, type RepeatFigures } from './repeats.js';

type Figure = 'coldStarts' | 'p50' | 'p99';
const FIGURES: Figure[] = ['coldStarts', 'p50', 'p99'];

export interface ErrorIntervals {
  resamples: number;
  /** Central probability of each interval (0.9: from the 5th to the 95th percentile). */
  level: number;
  /** [low, median, high] of (sim − real) / real in percent over the resamples. */
  errorPct: Record<Figure, [number, number, number]>;
  /** Share of resamples in which each target is met, and all three at once. */
  metShare: Record<Figure | 'all', number>;
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
  const draw = (list: RepeatFigures[]) => Array.from({ length: list.length }, (_, k) => ({ ...list[Math.floor(rng() * list.length)]!, index: k }));
  const errs: Record<Figure, number[]> = { coldStarts: [], p50: [], p99: [] };
  const met = { coldStarts: 0, p50: 0, p99: 0, all: 0 };
  for (let i = 0; i < resamples; i++) {
    const r = kept(draw(real)), s = kept(draw(sim));
    let all = true;
    for (const f of FIGURES) {
      const e = err(s[f], r[f]);
      errs[f].push(e);
      const ok = targetMet(f, e);
      if (ok) met[f]++;
      all &&= ok;
    }
    if (all) met.all++;
  }
  const tail = (1 - level) / 2;
  const errorPct = {} as ErrorIntervals['errorPct'];
  for (const f of FIGURES) {
    const s = errs[f].sort((a, b) => a - b);
    errorPct[f] = [pct(s, tail * 100), pct(s, 50), pct(s, (1 - tail) * 100)];
  }
  return {
    resamples, level, errorPct,
    metShare: { coldStarts: met.coldStarts / resamples, p50: met.p50 / resamples, p99: met.p99 / resamples, all: met.all / resamples },
  };
}

/** `-7.9% (90% interval -20.1% to +4.3%; met in 31% of resamples)` for one figure. */
export function intervalText(iv: ErrorIntervals, f: Figure): string {
  const p = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
  const [lo, , hi] = iv.errorPct[f];
  return `${Math.round(iv.level * 100)}% interval ${p(lo)} to ${p(hi)}; target met in ${Math.round(iv.metShare[f] * 100)}% of resamples`;
}
