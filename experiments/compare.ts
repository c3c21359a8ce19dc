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
  /** validate's protocol: how many replays and calibrations stand behind these figures. */
  protocol?: { name: 'quick' | 'thorough' | 'custom'; realRuns: number; calibrations: number };
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
  return undefined;
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
  return {
    real: r.s, sim: s.s, errorPct, ksDistance: ksDistance(r.lat, s.lat), targets: TARGETS,
    met: { coldStarts: targetMet('coldStarts', errorPct.coldStarts), p50: targetMet('p50', errorPct.p50), p99: targetMet('p99', errorPct.p99) },
    perFunction, coldPerMinute, cdf: { real: cdfPoints(r.lat), sim: cdfPoints(s.lat) },
  };
}
