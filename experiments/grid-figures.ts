/**
 * The validation grid's judgement, pure: one cell (policy × memory × load)
 * holds several real replays and several simulator replications of the
 * same plan; this module says whether the simulator's line lies inside
 * the real band, whether it meets the tolerance targets where the real
 * replays agree with each other that well, and, per memory size and load,
 * whether the simulator ranks the policies as the real worker does
 * (Kendall's tau over the pairs whose real difference is clear).
 */
import { OlError } from '../common/errors.js';
import { median } from '../common/stats.js';
import { judgeModes, modesText, type ModeJudgement } from './modes.js';

export type GridFigure = 'coldPct' | 'p50' | 'p99';
export const GRID_FIGURES: GridFigure[] = ['coldPct', 'p50', 'p99'];
/** Tolerances, percent of the real median: cold-start share ±10%, p50 ±10%, p99 ±25%. */
export const GRID_TOLERANCE: Record<GridFigure, number> = { coldPct: 10, p50: 10, p99: 25 };
export const FIGURE_NAME: Record<GridFigure, string> = { coldPct: 'cold starts %', p50: 'p50', p99: 'p99' };

/** One run's figures: cold starts as a percentage of invocations, and latency percentiles in ms. */
export interface RunFigures { coldPct: number; p50: number; p99: number }

export interface Band { min: number; median: number; max: number }

export function band(xs: number[]): Band {
  if (xs.length === 0) return { min: NaN, median: NaN, max: NaN };
  return { min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };
}

export interface FigureJudgement {
  real: Band;
  sim: Band;
  /** (sim median − real median) / real median, percent. */
  errorPct: number;
  /** The simulator's median lies within the real replays' min–max. */
  inside: boolean;
  /** The real replays' largest distance from their median, percent of it: how well they agree with each other. */
  realSpreadPct: number;
  /** The tolerance target applies only where the real replays agree within it. */
  toleranceApplies: boolean;
  toleranceMet: boolean;
  /**
   * When the runs fall into two modes (a bistable cell: experiments/modes.ts),
   * how many real replays and replications landed in each: there the
   * shares, not the medians, say whether the simulator agrees.
   */
  modes?: ModeJudgement;
}

export interface CellJudgement {
  figures: Record<GridFigure, FigureJudgement>;
  /** What missed, in words (empty when every applicable target is met). */
  misses: string[];
}

const pctOf = (x: number, ref: number) => (ref === 0 ? (x === 0 ? 0 : Infinity) : ((x - ref) / ref) * 100);

export function judgeCell(real: RunFigures[], sim: RunFigures[]): CellJudgement {
  const figures = {} as Record<GridFigure, FigureJudgement>;
  const misses: string[] = [];
  for (const f of GRID_FIGURES) {
    const r = band(real.map((x) => x[f])), s = band(sim.map((x) => x[f]));
    const errorPct = pctOf(s.median, r.median);
    const realSpreadPct = Math.max(...real.map((x) => Math.abs(pctOf(x[f], r.median))));
    const inside = s.median >= r.min && s.median <= r.max;
    const toleranceApplies = realSpreadPct <= GRID_TOLERANCE[f];
    const toleranceMet = Math.abs(errorPct) <= GRID_TOLERANCE[f];
    const modes = judgeModes(real.map((x) => x[f]), sim.map((x) => x[f]), GRID_TOLERANCE[f]);
    figures[f] = { real: r, sim: s, errorPct, inside, realSpreadPct, toleranceApplies, toleranceMet, ...(modes ? { modes } : {}) };
    const sign = `${errorPct >= 0 ? '+' : ''}${errorPct.toFixed(1)}%`;
    if (!inside) {
      const by = s.median > r.max ? pctOf(s.median, r.max) : pctOf(s.median, r.min);
      misses.push(`${FIGURE_NAME[f]} outside the real spread by ${by >= 0 ? '+' : ''}${by.toFixed(1)}% (sim ${fmt(f, s.median)}, real ${fmt(f, r.min)}–${fmt(f, r.max)})` +
        (modes?.sharesAgree ? `, but in ${modesText(modes, (x) => fmt(f, x))}` : ''));
    }
    if (modes && !modes.sharesAgree) misses.push(`${FIGURE_NAME[f]} in ${modesText(modes, (x) => fmt(f, x))}`);
    if (toleranceApplies && !toleranceMet) misses.push(`${FIGURE_NAME[f]} ${sign} against the real median, beyond ±${GRID_TOLERANCE[f]}%`);
  }
  return { figures, misses };
}

/** The figure's verdict: whether the real and simulated runs share their modes where it has two, else whether the median lies inside the real spread. */
export const insideOrShares = (j: FigureJudgement): boolean => (j.modes ? j.modes.sharesAgree : j.inside);

export function fmt(f: GridFigure, x: number): string {
  return f === 'coldPct' ? `${x.toFixed(1)}%` : `${x.toFixed(x < 10 ? 2 : 0)} ms`;
}

export interface Ranking {
  /** Policy pairs whose real cold-start ranges do not overlap. */
  clearPairs: number;
  concordant: number;
  discordant: number;
  /** Simulator ties on a clear pair: neither agreeing nor disagreeing. */
  simTies: number;
  /** Kendall's tau over the clear pairs ((C − D) / pairs); undefined when none is clear. */
  tau: number | undefined;
  agree: boolean;
  disagreements: string[];
}

/**
 * Whether the simulator orders the policies by cold starts as the real
 * worker does, over the pairs whose real replays do not overlap (a real
 * difference larger than the replays' own spread).
 */
export function rankPolicies(cells: { policy: string; real: RunFigures[]; sim: RunFigures[] }[], figure: GridFigure = 'coldPct'): Ranking {
  let clearPairs = 0, concordant = 0, discordant = 0, simTies = 0;
  const disagreements: string[] = [];
  for (let i = 0; i < cells.length; i++) {
    for (let j = i + 1; j < cells.length; j++) {
      const a = band(cells[i]!.real.map((x) => x[figure])), b = band(cells[j]!.real.map((x) => x[figure]));
      const realOrder = a.max < b.min ? -1 : b.max < a.min ? 1 : 0;
      if (realOrder === 0) continue;
      clearPairs++;
      const sa = median(cells[i]!.sim.map((x) => x[figure])), sb = median(cells[j]!.sim.map((x) => x[figure]));
      const simOrder = Math.sign(sa - sb);
      if (simOrder === 0) simTies++;
      else if (simOrder === realOrder) concordant++;
      else {
        discordant++;
        const [lo, hi] = realOrder < 0 ? [cells[i]!.policy, cells[j]!.policy] : [cells[j]!.policy, cells[i]!.policy];
        disagreements.push(`real: ${lo} < ${hi}; sim: the other way round`);
      }
    }
  }
  return { clearPairs, concordant, discordant, simTies, tau: clearPairs ? (concordant - discordant) / clearPairs : undefined, agree: discordant === 0 && simTies === 0, disagreements };
}

/**
 * The memory sizes a grid folder chose before, per plan hash
 * (`<out>/memory-sizes.json`): an object of plan sha256 → ascending
 * whole MB. `where` names the file in errors.
 */
export function parseMemorySizes(text: string, where: string): Record<string, number[]> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new OlError('OL_ERR_CONFIG', `${where}: not JSON (${(e as Error).message}); delete it to choose the memory sizes again`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new OlError('OL_ERR_CONFIG', `${where}: expected an object of plan sha256 -> memory sizes in MB`);
  const out: Record<string, number[]> = {};
  for (const [k, sizes] of Object.entries(v)) {
    if (!/^[0-9a-f]{64}$/.test(k)) throw new OlError('OL_ERR_CONFIG', `${where}: key ${JSON.stringify(k)} is not a plan sha256`);
    if (!Array.isArray(sizes) || sizes.length === 0 || !sizes.every((x, i) => Number.isInteger(x) && x > 0 && (i === 0 || x > sizes[i - 1])))
      throw new OlError('OL_ERR_CONFIG', `${where}: plan ${k.slice(0, 12)}: memory sizes must be ascending whole MB > 0, got ${JSON.stringify(sizes)}`);
    out[k] = sizes as number[];
  }
  return out;
}

/**
 * The grid's memory sizes from the pool a plan fills when nothing is
 * evicted (`peakMb`, the simulator's estimate): an eighth, a quarter and a
 * half of it (heavy to light eviction), and twice it (none); never below
 * what the largest function needs with a little room; multiples of 64 MB,
 * each distinct (a size the floor pushed onto the one before moves up 64
 * MB). Twice, not a little over: `openlambda`
 * evicts ahead of need to keep 20% free, so at 1.25× it sat exactly at its
 * edge, and the real worker's footprint runs above the simulator's
 * estimate (9373 MB against 7347 in the 12-04 afternoon grid), which
 * turned that "no eviction" cell into the grid's worst (34-41% cold
 * starts against 9-10% for lru; docs/notebook/2026-12-04-touch-cpu.md).
 */
export function gridMemorySizes(peakMb: number, largestFnMb: number): number[] {
  const floor = largestFnMb + 64;
  const out: number[] = [];
  for (const x of [peakMb / 8, peakMb / 4, peakMb / 2, peakMb * 2]) {
    const v = Math.ceil(Math.max(floor, x) / 64) * 64;
    out.push(Math.max(v, (out[out.length - 1] ?? 0) + 64));
  }
  return out;
}

/**
 * The duration scale that puts a plan at load `rho` (a share of the
 * machine's calibrated effective cores), given the handler cores it needs
 * at duration scale `ds0` (linear in the scale) and the CPU every call
 * costs around its handler (worker, client, HTTP).
 */
export function durationScaleFor(rho: number, capacityCores: number, handlerCoresAtDs0: number, ds0: number, callsPerS: number, callCpuMs: number): number {
  const overhead = (callsPerS * callCpuMs) / 1000;
  const perDs = handlerCoresAtDs0 / ds0;
  if (!(perDs > 0)) throw new RangeError('the plan has no handler work to scale');
  return Math.max(1e-4, (rho * capacityCores - overhead) / perDs);
}
