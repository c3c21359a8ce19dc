/**
 * Cost profiles, typed: how long each sandbox operation takes on some
 * machine, and the figures a calibration measured beside them. Pure: the
 * simulator compiles a profile into samplers drawn with its seeded RNG;
 * `ol-exp calibrate` writes profiles; `modelFigures` is the one place older
 * profiles are migrated. Reading one from disk is sim/profile.ts's job.
 */
import { OlError } from '../common/errors.js';
import { samplePercentiles, type Rng } from '../common/rng.js';
import { median } from '../common/stats.js';

/** A cost distribution in milliseconds, as written in a profile JSON. */
export type Distribution =
  | { kind: 'constant'; ms: number }
  | { kind: 'empirical'; samples: number[] }
  | { kind: 'percentiles'; points: Record<string, number> };

/** The sandbox operations a profile prices. */
export const costNames = ['create', 'runtimeStart', 'unpause', 'pause', 'destroy', 'warmDispatch'] as const;
export type CostName = (typeof costNames)[number];
/** Costs a profile may price: `fork`, a sandbox forked from a zygote (without imports); absent, `create` stands in. */
export const optionalCostNames = ['fork'] as const;
export type OptionalCostName = (typeof optionalCostNames)[number];

/** A cost profile as stored on disk. */
export interface CostProfile {
  format: 'ol-lab-profile/1';
  name: string;
  /** Where the numbers come from (a calibration run, a paper, a guess). */
  source: string;
  costs: Record<CostName, Distribution> & Partial<Record<OptionalCostName, Distribution>>;
  /** Free-form description of the machine the profile was measured on. */
  machine?: unknown;
  /** What a calibration measured beside the costs (`ol-exp calibrate`); read through `modelFigures`. */
  extra?: CalibrationFigures;
}

/**
 * The figures `ol-exp calibrate` measures beside the costs, as stored in a
 * profile's `extra`. Every field is optional: profiles from before a figure
 * was measured lack it, and `modelFigures` says what stands in for it.
 */
export interface CalibrationFigures {
  /** Effective cores: k CPU-bound handlers at once, k × work / wall. */
  cores?: number;
  cpu?: { effectiveCores?: number[]; samples?: unknown; note?: string };
  /** How many creations proceed at once (SimConfig.createLanes). */
  createLanes?: number;
  concurrentCreations?: { k: number; wallMs: number[] };
  /** A fork's part after the sandbox joins its own cgroup (SimConfig.createSandboxMs). */
  forkSandboxMs?: number;
  /** `k` creations at once beside `spinning[i]` handlers spinning on the cores (0: none), one round each: `wallMs[i]` (ModelFigures.createLoaded). */
  createUnderLoad?: { k: number; spinning: number[]; wallMs: number[]; note?: string };
  forkReadySamples?: number[];
  /** A sandbox's pause timed on the backend beside `spinning[i]` processes spinning on the cores (0: none): `pauseMs[i]` (ModelFigures.freeze). */
  freezeUnderLoad?: { spinning: number[]; pauseMs: number[]; note?: string };
  /** A first call's cost of touching its memory, ms per MB: its latency (touchMsPerMb) and the CPU the touching handler spends (touchBusyMsPerMb). */
  touchMsPerMb?: number;
  touchMsPerMbSamples?: number[];
  touchBusyMsPerMb?: number;
  touchCpuMsPerMbSamples?: number[];
  /** The same samples by the point of the calibration they were taken at (touchBusyMsPerMb is the median of all of them). */
  touchCpuPhases?: { at: string; msPerMb: number[]; median: number | null }[];
  touchTogether?: unknown;
  /** First touches of memory as memory in use grows (experiments/memory-warmth.ts): used with ol-exp sim --free-memory (ModelFigures.freeMemory). `validate` and `grid` put there the probes taken just before their replays. */
  memoryWarmth?: unknown;
  /** The calibration's own memoryWarmth, where the replays' probes replaced it (reported only). */
  memoryWarmthCalibrated?: unknown;
  /** Machine CPU nothing waits for, per warm call, per cold start and per pause with its unpause (SimConfig.callBackgroundCpuMs, coldBackgroundCpuMs, pauseBackgroundCpuMs). */
  backgroundCpu?: { callMs?: number; coldMs?: number; pauseMs?: number; measured?: unknown; note?: string };
  /** Other work on the machine while it calibrated (not the calibration's processes): cores on average, share of the cores, flagged at a large share. */
  busy?: { otherCores: number; share: number; peakShare: number; flagged: boolean };
  /** A cluster front's hop (ol-exp calibrate --hop): the median extra latency of a warm call through the boss over the same call straight to its worker, ms, and its samples. */
  hopMs?: number;
  hopSamples?: number[];
  /** The calls each calibration worker answered before its warm or unpaused calls were timed (reported only). */
  warmup?: { calls: number; warmMs: number[]; unpausedMs: number[]; note?: string };
  /** The CPU scheduler's time slice on this machine, ms (SimConfig.cpuSliceMs), and how it was found. */
  cpuSliceMs?: number;
  cpuSlice?: unknown;
  /**
   * The answer's extra time after a handler that worked, over one that did
   * not (SimHooks.responseMs): warm calls of handlers working `workMs` ms,
   * each the median latency less the handler's own wall time less the
   * median of a no-op call made beside them, ms (`extraMs`, clipped at 0).
   */
  responseWake?: { workMs: number[]; extraMs: number[]; samples?: unknown; note?: string };
  /** Headline medians of the calibration, ms. */
  medians?: Record<string, number>;
  /** With merged calibrations: each one's headline figures. */
  calibrations?: Record<string, unknown>[];
}

/** The calibration figures the model uses, with what stands in for those an older profile lacks: the one place old profiles are migrated. */
export interface ModelFigures {
  cores: number | undefined;
  createLanes: number;
  /**
   * Whether creations at once were limited by the cores rather than by
   * lanes of their own: the calibration found at least as many lanes as
   * effective cores, on two cores or more (the Docker engine's creations are CPU work spread over
   * dockerd, containerd and runc; SOCK's serialise on kernel locks, one
   * lane on two cores). Creation as CPU work then needs no lanes: the
   * cores themselves share out the creations, and the handlers running
   * beside them (docs/EXPERIMENTS.md, "Docker").
   */
  createCpuBound: boolean;
  forkSandboxMs: number;
  /**
   * Forked creations beside busy handlers, fitted from createUnderLoad
   * (undefined when the calibration lacks it: profiles from before
   * 2026-12-06, the docker backend): per creation, t(K) = a + sandboxMs ×
   * (K + 1) / cores with K handlers spinning; `sandboxMs`, the part that
   * shares the cores with the handlers (SimConfig.createSandboxMs, in
   * place of forkSandboxMs, which is timed on an idle machine and stretched
   * by the model far more than the worker's forks stretch); `waitMs`, what
   * a creation costs beyond an idle one's once the cores are all busy,
   * besides that part (SimConfig.createBusyWaitMs: the zygote, woken for a
   * fork, waits for a core despite its weight).
   */
  createLoaded: { sandboxMs: number; waitMs: number } | undefined;
  touchMsPerMb: number;
  touchBusyMsPerMb: number;
  callBackgroundCpuMs: number;
  coldBackgroundCpuMs: number;
  pauseBackgroundCpuMs: number;
  /**
   * A pause's freeze as wall time, fitted from freezeUnderLoad: about
   * `idleMs` + `loadMs` × (runnable jobs per core) (SimConfig.freezeMs,
   * freezeLoadMs; ol-exp sim --freeze-wait); undefined without the figure.
   */
  freeze: { idleMs: number; loadMs: number } | undefined;
  /** A cluster front's hop, ms (0 when the profile has not measured one). */
  hopMs: number;
  /** The scheduler's time slice, ms (0: fluid processor sharing, for profiles without one). */
  cpuSliceMs: number;
  /**
   * The figures for pricing first touches by the host's free memory
   * (sim/free-memory.ts; ol-exp sim --free-memory), from a calibration that
   * found touching dearer past some memory (memoryWarmth with a knee);
   * undefined otherwise.
   */
  freeMemory: { cheapMsPerMb: number; dearMsPerMb: number; cheapMb: number } | undefined;
  /**
   * The answer's extra time after a handler that ran `execMs`
   * (SimHooks.responseMs): linear between the calibrated handler times, 0
   * at 0, flat past the longest; undefined for profiles that lack it.
   */
  responseMs: ((execMs: number) => number) | undefined;
}

export function modelFigures(p: CostProfile): ModelFigures {
  const x = p.extra ?? {};
  const num = (v: unknown, dflt: number) => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);
  const touch = num(x.touchMsPerMb, 0);
  const lanes = num(x.createLanes, Infinity);
  const cores = typeof x.cores === 'number' && x.cores > 0 ? x.cores : undefined;
  const createLanes = Number.isFinite(lanes) && lanes >= 1 ? Math.round(lanes) : Infinity;
  return {
    cores,
    createLanes,
    // both measured: lanes up to the cores (rounded) are the cores themselves; on one core, one lane says
    // nothing of which (a lock serialises as a lone core does), so the lane stays
    createCpuBound: cores !== undefined && Math.round(cores) >= 2 && Number.isFinite(createLanes) && createLanes >= Math.round(cores),
    // profiles from before each was measured: no fork part, touching as alone, no background CPU
    forkSandboxMs: num(x.forkSandboxMs, 0),
    createLoaded: createLoadedFigures(x, cores),
    touchMsPerMb: touch,
    touchBusyMsPerMb: num(x.touchBusyMsPerMb, touch),
    callBackgroundCpuMs: num(x.backgroundCpu?.callMs, 0),
    coldBackgroundCpuMs: num(x.backgroundCpu?.coldMs, 0),
    // profiles from before it was measured: a pause costs nothing
    pauseBackgroundCpuMs: num(x.backgroundCpu?.pauseMs, 0),
    freeze: freezeFigures(x.freezeUnderLoad, cores),
    hopMs: Math.max(0, num(x.hopMs, 0)),
    // profiles without it: fluid processor sharing
    cpuSliceMs: Math.max(0, num(x.cpuSliceMs, 0)),
    freeMemory: freeMemoryFigures(x.memoryWarmth),
    responseMs: responseCurve(x.responseWake),
  };
}

/**
 * ModelFigures.createLoaded from the calibration: per creation, the median
 * of each load's rounds over `k`, against x = (K + 1) / cores for the
 * loads with handlers spinning; the line through those points (least
 * squares) gives the slope (the part shared with the handlers, at most an
 * idle creation) and, less an idle creation's time without that part, the
 * wait once the cores are busy (at least 0). The idle creation: the rounds
 * with no handler spinning, timed beside the others on the same worker,
 * else concurrentCreations. Needs two loads or more and the idle figure.
 */
export function createLoadedFigures(x: CalibrationFigures, cores: number | undefined): ModelFigures['createLoaded'] {
  const u = x.createUnderLoad;
  if (!u || !(cores !== undefined && cores > 0) || !(u.k > 0)) return undefined;
  if (!Array.isArray(u.spinning) || !Array.isArray(u.wallMs) || u.spinning.length !== u.wallMs.length) return undefined;
  const byLoad = new Map<number, number[]>();
  u.spinning.forEach((k, i) => {
    const w = u.wallMs[i];
    if (Number.isInteger(k) && k >= 0 && typeof w === 'number' && Number.isFinite(w) && w > 0) byLoad.set(k, [...(byLoad.get(k) ?? []), w]);
  });
  const c = x.concurrentCreations;
  const idleWalls = byLoad.get(0) ?? (c && c.k > 0 && Array.isArray(c.wallMs) ? c.wallMs.filter((v) => typeof v === 'number' && Number.isFinite(v) && v > 0).map((v) => (v * u.k) / c.k) : []);
  if (idleWalls.length === 0) return undefined;
  const pts = [...byLoad].filter(([k]) => k > 0).map(([k, ws]) => [(k + 1) / cores, median(ws) / u.k] as const);
  if (pts.length < 2) return undefined;
  const idle = median(idleWalls) / u.k;
  const line = fitLine(pts);
  const slope = Math.min(idle, Math.max(0, line.slope));
  const intercept = line.meanY - slope * line.meanX;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return { sandboxMs: r3(slope), waitMs: r3(Math.max(0, intercept - (idle - slope))) };
}

/**
 * ModelFigures.freeze from the calibration: the median pause at each load,
 * against x = spinning / cores, and the least-squares line through those
 * points (slope at least 0; the idle figure at least 0). Needs two loads
 * or more and the cores.
 */
export function freezeFigures(u: CalibrationFigures['freezeUnderLoad'], cores: number | undefined): ModelFigures['freeze'] {
  if (!u || !(cores !== undefined && cores > 0) || !Array.isArray(u.spinning) || !Array.isArray(u.pauseMs) || u.spinning.length !== u.pauseMs.length) return undefined;
  const byLoad = new Map<number, number[]>();
  u.spinning.forEach((k, i) => {
    const w = u.pauseMs[i];
    if (Number.isInteger(k) && k >= 0 && typeof w === 'number' && Number.isFinite(w) && w >= 0) byLoad.set(k, [...(byLoad.get(k) ?? []), w]);
  });
  const pts = [...byLoad].map(([k, ws]) => [k / cores, median(ws)] as const);
  if (pts.length < 2) return undefined;
  const line = fitLine(pts);
  const slope = Math.max(0, line.slope);
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return { idleMs: r3(Math.max(0, line.meanY - slope * line.meanX)), loadMs: r3(slope) };
}

/** The least-squares slope through points with at least two distinct x, and the points' means (the line passes through them). */
function fitLine(pts: readonly (readonly [number, number])[]): { slope: number; meanX: number; meanY: number } {
  const meanX = pts.reduce((s, p) => s + p[0], 0) / pts.length, meanY = pts.reduce((s, p) => s + p[1], 0) / pts.length;
  const sxx = pts.reduce((s, p) => s + (p[0] - meanX) ** 2, 0), sxy = pts.reduce((s, p) => s + (p[0] - meanX) * (p[1] - meanY), 0);
  return { slope: sxy / sxx, meanX, meanY };
}

/** The calibrated response-wake table as a function of the handler's time; undefined when absent or malformed. */
export function responseCurve(w: CalibrationFigures['responseWake']): ModelFigures['responseMs'] {
  if (!w || !Array.isArray(w.workMs) || !Array.isArray(w.extraMs) || w.workMs.length !== w.extraMs.length || w.workMs.length === 0) return undefined;
  // merged calibrations (mergeCalibrations) list each handler time once per calibration: the median of its figures
  const at = new Map<number, number[]>();
  w.workMs.forEach((x, i) => {
    const y = w.extraMs[i];
    if (typeof x === 'number' && typeof y === 'number' && Number.isFinite(x) && Number.isFinite(y) && x > 0) at.set(x, [...(at.get(x) ?? []), y]);
  });
  const pts = [...at].map(([x, ys]) => [x, median(ys)] as const).sort((a, b) => a[0] - b[0]);
  if (pts.length === 0) return undefined;
  const xs = [0, ...pts.map((p) => p[0])], ys = [0, ...pts.map((p) => Math.max(0, p[1]))];
  const last = xs.length - 1;
  return (execMs: number) => {
    if (!(execMs > 0)) return 0;
    if (execMs >= xs[last]!) return ys[last]!;
    let i = 1;
    while (xs[i]! < execMs) i++;
    const x0 = xs[i - 1]!, x1 = xs[i]!;
    return ys[i - 1]! + ((ys[i]! - ys[i - 1]!) * (execMs - x0)) / (x1 - x0);
  };
}

function freeMemoryFigures(w: unknown): ModelFigures['freeMemory'] {
  if (typeof w !== 'object' || w === null) return undefined;
  const { warmMsPerMb: cheap, coldMsPerMb: dear, warmMb } = w as Record<string, unknown>;
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  return ok(cheap) && ok(dear) && ok(warmMb) ? { cheapMsPerMb: cheap, dearMsPerMb: dear, cheapMb: warmMb } : undefined;
}

/** A compiled cost: draws one value (ms) per call. */
export type CostSampler = (rng: Rng) => number;

/** Compiled form of a profile: one sampler per operation, plus means. */
export interface CostModel {
  readonly profile: CostProfile;
  readonly sample: Record<CostName, CostSampler>;
  readonly mean: Record<CostName, number>;
  /** True when every cost is a constant (sampling consumes no randomness). */
  readonly deterministic: boolean;
  /** The `fork` cost, when the profile has one. */
  readonly fork?: CostSampler;
}

/** Checks the shape of a parsed profile; `where` names it in errors. */
export function validateProfile(json: unknown, where = 'profile'): CostProfile {
  const fail = (field: string, why: string): never => {
    throw new OlError('OL_ERR_PROFILE', `${where}: field "${field}" ${why}`);
  };
  if (typeof json !== 'object' || json === null) fail('(root)', 'must be an object');
  const p = json as Record<string, unknown>;
  if (p.format !== 'ol-lab-profile/1') fail('format', `must be "ol-lab-profile/1", got ${JSON.stringify(p.format)}`);
  if (typeof p.name !== 'string') fail('name', 'must be a string');
  if (typeof p.costs !== 'object' || p.costs === null) fail('costs', 'must be an object');
  const costs = p.costs as Record<string, unknown>;
  for (const name of [...costNames, ...optionalCostNames.filter((n) => n in costs)]) {
    const field = `costs.${name}`;
    const d = costs[name] as Record<string, unknown> | undefined;
    if (typeof d !== 'object' || d === null) fail(field, 'is missing');
    const nonNeg = (v: unknown, f: string) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(f, `must be a finite number >= 0, got ${JSON.stringify(v)}`);
    };
    switch (d!.kind) {
      case 'constant':
        nonNeg(d!.ms, `${field}.ms`);
        break;
      case 'empirical': {
        const s = d!.samples;
        if (!Array.isArray(s) || s.length === 0) fail(`${field}.samples`, 'must be a non-empty array');
        (s as unknown[]).forEach((v, i) => nonNeg(v, `${field}.samples[${i}]`));
        break;
      }
      case 'percentiles': {
        const pts = d!.points as Record<string, unknown>;
        if (typeof pts !== 'object' || pts === null) fail(`${field}.points`, 'must be an object of percentile -> ms');
        const keys = Object.keys(pts);
        if (keys.length < 2) fail(`${field}.points`, 'needs at least two percentiles');
        let last = -Infinity;
        for (const k of keys.sort((a, b) => Number(a) - Number(b))) {
          const q = Number(k);
          if (!Number.isFinite(q) || q < 0 || q > 100) fail(`${field}.points`, `has key "${k}", not a percentile in 0..100`);
          nonNeg(pts[k], `${field}.points.${k}`);
          if ((pts[k] as number) < last) fail(`${field}.points`, `values must not decrease with the percentile (at ${k})`);
          last = pts[k] as number;
        }
        break;
      }
      default:
        fail(`${field}.kind`, `must be constant, empirical or percentiles, got ${JSON.stringify(d!.kind)}`);
    }
  }
  for (const k of Object.keys(costs)) {
    if (![...costNames, ...optionalCostNames].includes(k as CostName)) fail(`costs.${k}`, `is not a known cost (known: ${[...costNames, ...optionalCostNames].join(', ')})`);
  }
  return p as unknown as CostProfile;
}

function compile(d: Distribution): { sample: CostSampler; mean: number; constant: boolean } {
  switch (d.kind) {
    case 'constant': {
      const v = d.ms;
      return { sample: () => v, mean: v, constant: true };
    }
    case 'empirical': {
      const s = Float64Array.from(d.samples);
      const n = s.length;
      if (n === 1) return { sample: () => s[0]!, mean: s[0]!, constant: true };
      return {
        sample: (rng) => s[Math.floor(rng() * n)]!,
        mean: s.reduce((a, b) => a + b, 0) / n,
        constant: false,
      };
    }
    case 'percentiles': {
      const keys = Object.keys(d.points).sort((a, b) => Number(a) - Number(b));
      const ps = Float64Array.from(keys.map(Number));
      const vs = Float64Array.from(keys.map((k) => d.points[k]!));
      // mean of the piecewise-linear inverse CDF, over the covered range
      let area = 0;
      for (let i = 1; i < ps.length; i++) area += ((ps[i]! - ps[i - 1]!) * (vs[i]! + vs[i - 1]!)) / 2;
      const covered = ps[ps.length - 1]! - ps[0]!;
      const mean = (area + ps[0]! * vs[0]! + (100 - ps[ps.length - 1]!) * vs[vs.length - 1]!) / (covered + ps[0]! + 100 - ps[ps.length - 1]!);
      return { sample: (rng) => samplePercentiles(rng, ps, vs), mean, constant: false };
    }
  }
}

/** Compiles a validated profile into samplers. */
export function compileProfile(profile: CostProfile): CostModel {
  const sample = {} as Record<CostName, CostSampler>;
  const mean = {} as Record<CostName, number>;
  let deterministic = true;
  for (const name of costNames) {
    const c = compile(profile.costs[name]);
    sample[name] = c.sample;
    mean[name] = c.mean;
    deterministic &&= c.constant;
  }
  const fork = profile.costs.fork ? compile(profile.costs.fork).sample : undefined;
  return { profile, sample, mean, deterministic, fork };
}

/** A profile whose every cost is a constant; handy in tests and hand-worked cases. */
export function constantProfile(costs: Partial<Record<CostName, number>>, name = 'constant'): CostProfile {
  const c = {} as Record<CostName, Distribution>;
  for (const n of costNames) c[n] = { kind: 'constant', ms: costs[n] ?? 0 };
  return { format: 'ol-lab-profile/1', name, source: 'constructed in code', costs: c };
}
