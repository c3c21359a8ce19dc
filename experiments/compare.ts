/**
 * `ol-exp compare`: how well a simulated run predicts a real one. Pure
 * figures here (the report is reports/report.ts): cold starts, latency
 * percentiles, per-function errors, the Kolmogorov–Smirnov distance
 * between the two latency distributions, and the series the charts plot.
 */
import { OlError } from '../common/errors.js';
import { percentile as pct } from '../common/stats.js';
import { err, ksDistance, side, targetMet, TARGETS, type Side } from './figures.js';
import type { InvocationRow, RunInfo } from './run-files.js';
import type { SpreadSummary } from './spread.js';
import type { ErrorIntervals } from './uncertainty.js';

export interface Agreement {
  real: Side;
  sim: Side;
  /** (sim − real) / real, percent. */
  errorPct: { coldStarts: number; p50: number; p90: number; p99: number; mean: number };
  ksDistance: number;
  targets: typeof TARGETS;
  met: { coldStarts: boolean; p50: boolean; p99: boolean };
  perFunction: { fn: string; invocations: number; realP50: number; simP50: number; p50ErrorPct: number; realCold: number; simCold: number }[];
  coldPerMinute: { minute: number; real: number; sim: number }[];
  cdf: { real: [number, number][]; sim: [number, number][] };
  /** The simulations over the calibration's spread (validate), if any. */
  simSpread?: SpreadSummary;
  /** The replications the simulated run was chosen from (ol-exp sim --replicas), if any. */
  simReplicas?: SpreadSummary & { chosen: number };
  /** The replays the real run was chosen from (ol-exp real --runs), if any. */
  realRuns?: SpreadSummary & { chosen: number };
  /** How far the errors could move with the replays' and replications' own variation (both lists resampled), if both were repeated. */
  errorIntervals?: ErrorIntervals;
  /** How busy other work kept the machine: during each real replay, and during each calibration (validate), as a share of its cores. */
  machineBusy?: MachineBusySummary;
  /** real runs: the lambda's own first-touch CPU per MB in each replay, beside the calibrations' (experiments/first-touch.ts). */
  firstTouch?: import('./first-touch.js').FirstTouchSummary;
  /** A cluster run: figures per worker and the load's imbalance, real and simulated. */
  cluster?: ClusterAgreement;
  /**
   * Figures whose replays and replications fall into two modes (a plan
   * near a tipping point: experiments/modes.ts), with the share of each
   * side in the upper mode; there the shares say more than the medians.
   */
  modes?: Partial<Record<import('./figures.js').TargetFigure, import('./modes.js').ModeJudgement>>;
  /** validate's protocol: how many replays and calibrations stand behind these figures. */
  protocol?: { name: 'quick' | 'thorough' | 'custom'; realRuns: number; calibrations: number };
}

export interface ClusterAgreement {
  workers: number;
  balancer: string;
  front: 'boss' | 'haproxy';
  /**
   * How the real and simulated workers are paired: by index, or by load
   * (busiest with busiest) when HAProxy hashes lambda names with its own
   * function, so a lambda's home worker differs from the simulator's.
   */
  matchedBy: 'index' | 'load';
  perWorker: { real: WorkerFigures; sim: WorkerFigures }[];
  /** Busiest worker's invocations over the mean (1: even). */
  imbalance: { real: number; sim: number };
  /** Requests no worker answered (the front failed them: 502, 503). */
  frontFailed: { real: number; sim: number };
  /** Invocations per worker per trace minute (the load chart), pairs in perWorker's order. */
  loadPerMinute: { minute: number; real: number[]; sim: number[] }[];
}

export interface WorkerFigures {
  worker: number;
  invocations: number;
  coldStarts: number;
  p50: number;
  p99: number;
  /** Functions it served at least once. */
  functions: number;
}

export interface MachineBusySummary {
  cores: number;
  flagShare: number;
  replays: { label: string; share: number; flagged: boolean }[];
  calibrations: { label: string; share: number; flagged: boolean }[];
  anyFlagged: boolean;
}

/** The machine-busy summary of a comparison: the real run's replays (run.json, runs.json) and calibrations' busy figures. */
export function machineBusySummary(real: RunInfo, runs: { label: string; busyShare?: number; busyFlagged?: boolean }[] | undefined, calibrations: { label: string; busy?: { share: number; flagged: boolean } }[], flagShare: number): MachineBusySummary | undefined {
  const replays = runs
    ? runs.filter((r) => r.busyShare !== undefined).map((r) => ({ label: r.label, share: r.busyShare!, flagged: r.busyFlagged ?? false }))
    : real.busy ? [{ label: 'the replay', share: real.busy.during.share, flagged: real.busy.flagged }] : [];
  const cals = calibrations.filter((c) => c.busy).map((c) => ({ label: c.label, share: c.busy!.share, flagged: c.busy!.flagged }));
  if (replays.length === 0 && cals.length === 0) return undefined;
  const cores = real.busy?.cores ?? 0;
  return { cores, flagShare, replays, calibrations: cals, anyFlagged: [...replays, ...cals].some((x) => x.flagged) };
}

/** Why two runs may not be compared, or undefined when they may. */
export function incompatibility(a: RunInfo, b: RunInfo): string | undefined {
  if (a.traceSha256 !== b.traceSha256) return `they replay different traces (sha256 ${a.traceSha256.slice(0, 12)}… vs ${b.traceSha256.slice(0, 12)}…)`;
  if (a.seed !== b.seed) return `they use different seeds (${a.seed} vs ${b.seed})`;
  if (a.planSha256 !== b.planSha256) return `their replay plans differ (time scale, duration scale, functions or minutes): ${JSON.stringify(a.plan)} vs ${JSON.stringify(b.plan)}`;
  if (a.policy !== b.policy) return `they use different policies (${a.policy} vs ${b.policy})`;
  if (a.memoryMb !== b.memoryMb) return `they use different memory pools (${a.memoryMb} vs ${b.memoryMb} MB)`;
  const ca = a.cluster, cb = b.cluster;
  if (!ca !== !cb) return `one is a cluster run (${(ca ?? cb)!.workers} workers, ${(ca ?? cb)!.balancer}) and the other one worker`;
  if (ca && cb) {
    if (ca.workers !== cb.workers) return `their clusters have different numbers of workers (${ca.workers} vs ${cb.workers})`;
    if (ca.balancer !== cb.balancer) return `their clusters place with different balancers (${ca.balancer} vs ${cb.balancer})`;
    if (JSON.stringify(sorted(ca.balancerOptions)) !== JSON.stringify(sorted(cb.balancerOptions))) return `their balancers have different options (${JSON.stringify(ca.balancerOptions)} vs ${JSON.stringify(cb.balancerOptions)})`;
    if (ca.front !== cb.front) return `they stand for different fronts (${ca.front} vs ${cb.front}; ol-exp sim --front says which the simulation stands for)`;
    if (ca.viewRefreshMs !== cb.viewRefreshMs) return `their fronts read the workers at different intervals (${ca.viewRefreshMs} vs ${cb.viewRefreshMs} ms)`;
  }
  return undefined;
}

function sorted(o: Record<string, number>): [string, number][] {
  return Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}

/** HAProxy's hashing balancers: a lambda's home differs from the simulator's, so workers pair by load. */
const HASHED_AT_HAPROXY = new Set(['hash', 'ch-bl']);

/** Per-worker figures of a cluster run, its imbalance, and the load per worker per minute. */
export function clusterAgreement(real: { info: RunInfo; rows: InvocationRow[] }, sim: { info: RunInfo; rows: InvocationRow[] }, minuteOf: (ms: number) => number): ClusterAgreement | undefined {
  const c = real.info.cluster;
  if (!c) return undefined;
  const figures = (rows: InvocationRow[]) => Array.from({ length: c.workers }, (_, w) => {
    const mine = rows.filter((x) => x.worker === w);
    const lat = Float64Array.from(mine.filter((x) => x.start !== 'failed').map((x) => x.latencyMs)).sort();
    return { worker: w, invocations: mine.length, coldStarts: mine.filter((x) => x.start === 'cold').length, p50: pct(lat, 50), p99: pct(lat, 99), functions: new Set(mine.map((x) => x.fn)).size };
  });
  const matchedBy = c.front === 'haproxy' && HASHED_AT_HAPROXY.has(c.balancer) ? 'load' : 'index';
  let r = figures(real.rows), s = figures(sim.rows);
  if (matchedBy === 'load') {
    const byLoad = (x: WorkerFigures, y: WorkerFigures) => y.invocations - x.invocations || x.worker - y.worker;
    r = [...r].sort(byLoad);
    s = [...s].sort(byLoad);
  }
  const imbalance = (f: WorkerFigures[]) => {
    const total = f.reduce((a, x) => a + x.invocations, 0);
    return total > 0 ? Math.max(...f.map((x) => x.invocations)) / (total / f.length) : 1;
  };
  const minutes = new Map<number, { real: number[]; sim: number[] }>();
  const order = { real: r.map((x) => x.worker), sim: s.map((x) => x.worker) };
  for (const [k, rows] of [['real', real.rows], ['sim', sim.rows]] as const) {
    const pos = new Map(order[k].map((w, i) => [w, i]));
    for (const x of rows) {
      if (x.worker === undefined || x.worker < 0) continue;
      const m = minuteOf(x.arrivalMs);
      let e = minutes.get(m);
      if (!e) minutes.set(m, (e = { real: new Array(c.workers).fill(0), sim: new Array(c.workers).fill(0) }));
      e[k][pos.get(x.worker)!]++;
    }
  }
  const last = Math.max(0, ...minutes.keys());
  return {
    workers: c.workers, balancer: c.balancer, front: c.front, matchedBy,
    perWorker: r.map((x, i) => ({ real: x, sim: s[i]! })),
    imbalance: { real: imbalance(r), sim: imbalance(s) },
    frontFailed: { real: real.rows.filter((x) => x.worker === -1).length, sim: sim.rows.filter((x) => x.worker === -1).length },
    loadPerMinute: Array.from({ length: last + 1 }, (_, m) => ({ minute: m + 1, ...(minutes.get(m) ?? { real: new Array(c.workers).fill(0), sim: new Array(c.workers).fill(0) }) })),
  };
}

function cdfPoints(lat: Float64Array, max = 400): [number, number][] {
  const out: [number, number][] = [];
  const n = lat.length;
  if (n === 0) return out;
  const step = Math.max(1, Math.floor(n / max));
  for (let i = 0; i < n; i += step) out.push([lat[i]!, (i + 1) / n]);
  out.push([lat[n - 1]!, 1]);
  return out;
}

export function compareRuns(real: { info: RunInfo; rows: InvocationRow[] }, sim: { info: RunInfo; rows: InvocationRow[] }): Agreement {
  const why = incompatibility(real.info, sim.info);
  if (why) throw new OlError('OL_ERR_CONFIG', `these runs cannot be compared: ${why}`);
  const r = side(real.rows), s = side(sim.rows);
  // compare only invocations both runs have (a real run stopped early has fewer)
  const fns = real.info.functions;
  const timeScale = Number((real.info.plan as { timeScale?: number }).timeScale ?? 1);
  const perFunction = fns.map((f) => {
    const rl = Float64Array.from(real.rows.filter((x) => x.fn === f.name && x.start !== 'failed').map((x) => x.latencyMs)).sort();
    const sl = Float64Array.from(sim.rows.filter((x) => x.fn === f.name && x.start !== 'failed').map((x) => x.latencyMs)).sort();
    return {
      fn: f.name, invocations: f.invocations, realP50: pct(rl, 50), simP50: pct(sl, 50), p50ErrorPct: err(pct(sl, 50), pct(rl, 50)),
      realCold: real.rows.filter((x) => x.fn === f.name && x.start === 'cold').length,
      simCold: sim.rows.filter((x) => x.fn === f.name && x.start === 'cold').length,
    };
  });
  const minuteOf = (ms: number) => Math.floor((ms * timeScale) / 60_000);
  const minutes = new Map<number, { real: number; sim: number }>();
  const bump = (rows: InvocationRow[], k: 'real' | 'sim') => {
    for (const x of rows) {
      if (x.start !== 'cold') continue;
      const m = minuteOf(x.arrivalMs);
      const e = minutes.get(m) ?? { real: 0, sim: 0 };
      e[k]++;
      minutes.set(m, e);
    }
  };
  bump(real.rows, 'real');
  bump(sim.rows, 'sim');
  const last = Math.max(0, ...real.rows.map((x) => minuteOf(x.arrivalMs)), ...sim.rows.map((x) => minuteOf(x.arrivalMs)));
  const coldPerMinute = Array.from({ length: last + 1 }, (_, m) => ({ minute: m + 1, ...(minutes.get(m) ?? { real: 0, sim: 0 }) }));
  const errorPct = {
    coldStarts: err(s.s.coldStarts, r.s.coldStarts), p50: err(s.s.p50, r.s.p50), p90: err(s.s.p90, r.s.p90),
    p99: err(s.s.p99, r.s.p99), mean: err(s.s.mean, r.s.mean),
  };
  const cluster = clusterAgreement(real, sim, minuteOf);
  return {
    real: r.s, sim: s.s, errorPct, ksDistance: ksDistance(r.lat, s.lat), targets: TARGETS,
    met: { coldStarts: targetMet('coldStarts', errorPct.coldStarts), p50: targetMet('p50', errorPct.p50), p99: targetMet('p99', errorPct.p99) },
    perFunction, coldPerMinute, cdf: { real: cdfPoints(r.lat), sim: cdfPoints(s.lat) },
    ...(cluster ? { cluster } : {}),
  };
}
