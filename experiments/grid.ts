/**
 * `ol-exp grid`: the validation grid. One plan, several keep-alive
 * policies × memory sizes from heavy eviction to none × load levels (a
 * comfortable one and one near saturation, set from the machine's
 * calibrated capacity by scaling the handlers' CPU work). Each cell is
 * replayed several times on fresh real workers and simulated several times
 * (same invocations, other cost draws); experiments/grid-figures.ts judges
 * the cells and the policy rankings. Replays go round by round over the
 * cells in a shuffled order, so a slow spell of a shared machine lands on
 * many cells once rather than on one cell three times. A grid stopped
 * part-way is resumed by running the same command again: replays already
 * complete for the same plan are kept.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { makeRng } from '../common/rng.js';
import { median } from '../common/stats.js';
import { BUSY_SHARE_FLAG } from '../common/cpu-usage.js';
import { lineChart } from '../reports/charts.js';
import { writeHtml, writePdf, type ReportChart, type ReportDoc } from '../reports/document.js';
import { modelFigures, type CostProfile } from '../sim/profile.js';
import { calibrate } from './calibrate.js';
import { readFirstTouch } from './first-touch.js';
import { replayWarmths, withReplayWarmth } from './memory-warmth.js';
import { summarizeRun } from './figures.js';
import { durationScaleFor, fmt, FIGURE_NAME, GRID_FIGURES, GRID_TOLERANCE, gridMemorySizes, insideOrShares, judgeCell, parseMemorySizes, rankPolicies, type CellJudgement, type GridFigure, type Ranking, type RunFigures } from './grid-figures.js';
import { planLoad, type Plan } from './plan.js';
import { checkFeasible, runReal } from './real.js';
import { readRun, type InvocationRow, type RunInfo } from './run-files.js';
import { runSim, runSimReplicated } from './sim.js';

/** A replay's time beyond the plan's span, s: the free-memory probe before it (3 s settle, about 2 s probe), its worker's start and stop. */
const REPLAY_OVERHEAD_S = 12;

export interface GridOptions {
  /** Builds the plan at a duration scale (every other plan option fixed). */
  makePlan: (durationScale: number) => Promise<Plan>;
  /** The duration scale the plan options name: the handlers' CPU is measured at it and scaled from it. */
  baseDurationScale: number;
  policies: string[];
  /** Memory sizes, MB; empty: chosen per load from the plan (gridMemorySizes). */
  memory: number[];
  /** Load levels: name and share of the calibrated effective cores the plan's CPU should use. */
  loads: { name: string; rho: number }[];
  realRuns: number;
  replicas: number;
  backend: 'sock' | 'docker';
  calibrateN: number;
  /** A profile to use instead of calibrating (its effective cores set the loads). */
  profilePath?: string;
  /** Simulate with first touches priced by the host's free memory, as each cell's replays' probes found it (ol-exp sim --free-memory). Default: on. */
  freeMemory?: boolean;
  /** Simulate with the cores shared in the calibrated time slices (ol-exp sim --cpu-slice). */
  cpuSlice?: boolean;
  /** Simulate with the calibrated response wake (ol-exp sim --response-wake). */
  responseWake?: boolean;
  /** Simulate with the wait for a pause's freeze under load (ol-exp sim --freeze-wait). */
  freezeWait?: boolean;
  out: string;
  log: (s: string) => void;
}

interface Cell {
  id: string;
  load: string;
  durationScale: number;
  policy: string;
  memoryMb: number;
  dir: string;
}

export interface GridCellResult {
  load: string;
  durationScale: number;
  policy: string;
  memoryMb: number;
  real: (RunFigures & { busyShare?: number; busyFlagged?: boolean; complete: boolean; touchMsPerMb?: number })[];
  sim: RunFigures[];
  judgement: CellJudgement;
}

export interface GridResult {
  tool: 'ol-exp grid';
  planSha256: Record<string, string>;
  traceSha256: string;
  plan: Record<string, unknown>;
  backend: string;
  machine: unknown;
  profile: { source: string; cores: number | undefined; busy?: unknown };
  loads: { name: string; rho: number; durationScale: number; handlerCores: number; memorySizes: number[] }[];
  realRuns: number;
  replicas: number;
  tolerance: typeof GRID_TOLERANCE;
  cells: GridCellResult[];
  rankings: ({ load: string; memoryMb: number } & Ranking)[];
  totals: {
    cells: number;
    inside: Record<GridFigure, number>;
    /** Figures whose runs fall into two modes (experiments/modes.ts), and among them those whose real and simulated shares agree. */
    twoMode: Record<GridFigure, number>;
    sharesAgree: Record<GridFigure, number>;
    /** Two-mode figures judged by their shares, the others by the median inside the real spread (grid-figures.ts insideOrShares). */
    insideOrShares: Record<GridFigure, number>;
    toleranceApplies: Record<GridFigure, number>;
    toleranceMet: Record<GridFigure, number>;
    rankingsClear: number;
    rankingsAgree: number;
    replaysFlaggedBusy: number;
  };
  /**
   * First touches of memory: the CPU per MB the synthetic lambda reported
   * of its cold starts (each replay's median; their median and range)
   * beside what the simulator charged (the profile's). The grid's misses
   * follow the gap between them (docs/EXPERIMENTS.md); undefined when no
   * replay reported any.
   */
  firstTouch?: FirstTouchGap;
  minutes: number;
}

export interface FirstTouchGap {
  replays: number;
  medianMsPerMb: number;
  minMsPerMb: number;
  maxMsPerMb: number;
  /** The single price per MB the default model charges (the profile's touchBusyMsPerMb); under --free-memory `freeMemory` holds what was charged instead. */
  chargedMsPerMb: number;
  freeMemory?: { cheapMsPerMb: number; dearMsPerMb: number; cheapMb: number };
}

/** The replays' first-touch prices beside the charged one; undefined without any replay's. */
export function firstTouchGap(perReplay: readonly (number | undefined)[], chargedMsPerMb: number, freeMemory?: FirstTouchGap['freeMemory']): FirstTouchGap | undefined {
  const xs = perReplay.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  if (!xs.length) return undefined;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return { replays: xs.length, medianMsPerMb: r3(median(xs)), minMsPerMb: xs[0]!, maxMsPerMb: xs[xs.length - 1]!, chargedMsPerMb: r3(chargedMsPerMb), ...(freeMemory ? { freeMemory } : {}) };
}

/** One line for the CLI and the report. */
export function firstTouchGapText(t: FirstTouchGap): string {
  const pct = Math.round((100 * (t.medianMsPerMb - t.chargedMsPerMb)) / Math.max(1e-9, t.chargedMsPerMb));
  const charged = t.freeMemory
    ? `the simulator charged ${t.freeMemory.cheapMsPerMb.toFixed(2)} in the first ${Math.round(t.freeMemory.cheapMb)} MB and in memory just freed, ${t.freeMemory.dearMsPerMb.toFixed(2)} beyond (--free-memory; medians over the cells, each priced as the probes before its replays found the machine)`
    : `the simulator charged ${t.chargedMsPerMb.toFixed(2)} (${pct >= 0 ? '+' : ''}${pct}% in the replays)`;
  return `first touches of memory, the lambda's own CPU per MB: the replays' medians ${t.minMsPerMb.toFixed(2)}-${t.maxMsPerMb.toFixed(2)} (median ${t.medianMsPerMb.toFixed(2)} over ${t.replays} replays); ${charged}. A gap here moves every figure of the grid (docs/EXPERIMENTS.md)`;
}

/** A run's grid figures: cold starts as a share of its invocations, p50 and p99. */
const figuresOf = (rows: InvocationRow[]): RunFigures => {
  const s = summarizeRun(rows);
  return { coldPct: s.invocations ? (100 * s.coldStarts) / s.invocations : 0, p50: s.p50, p99: s.p99 };
};

/** The plan hash of a complete replay in `dir`, if there is one. */
function completeReplayOf(dir: string): string | undefined {
  const p = join(dir, 'run.json');
  if (!existsSync(p)) return undefined;
  try {
    const info = JSON.parse(readFileSync(p, 'utf8')) as RunInfo;
    return info.complete ? info.planSha256 : undefined;
  } catch {
    return undefined;
  }
}

/** A complete replay of this plan already in `dir` (a grid resumed). */
const doneAlready = (dir: string, planSha256: string): boolean => completeReplayOf(dir) === planSha256;

/**
 * The duration scale each load was replayed at in this folder before:
 * loads.json, or, for a folder written before it existed, the plans its
 * complete replays record (then the load's share is unknown).
 */
export function loadsBefore(out: string): Record<string, { rho?: number; durationScale: number }> {
  const file = join(out, 'loads.json');
  if (existsSync(file)) {
    let v: unknown;
    try {
      v = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new OlError('OL_ERR_CONFIG', `${file}: not JSON (${(e as Error).message}); remove it to choose the loads afresh`);
    }
    const r: Record<string, { rho?: number; durationScale: number }> = {};
    for (const [k, x] of Object.entries((v ?? {}) as Record<string, { rho?: unknown; durationScale?: unknown }>)) {
      if (!(typeof x?.durationScale === 'number' && x.durationScale > 0 && typeof x.rho === 'number')) {
        throw new OlError('OL_ERR_CONFIG', `${file}: load ${JSON.stringify(k)} needs a share "rho" and a positive "durationScale"`);
      }
      r[k] = { rho: x.rho, durationScale: x.durationScale };
    }
    return r;
  }
  const r: Record<string, { durationScale: number }> = {};
  const cellsDir = join(out, 'cells');
  if (!existsSync(cellsDir)) return r;
  for (const id of readdirSync(cellsDir)) {
    const m = /^(.+?)-\d+(?:\.\d+)?MB-.+$/.exec(id);
    const realDir = join(cellsDir, id, 'real');
    if (!m || r[m[1]!] || !existsSync(realDir)) continue;
    for (const run of readdirSync(realDir)) {
      try {
        const info = JSON.parse(readFileSync(join(realDir, run, 'run.json'), 'utf8')) as RunInfo & { plan?: { durationScale?: unknown } };
        if (info.complete && typeof info.plan?.durationScale === 'number') {
          r[m[1]!] = { durationScale: info.plan.durationScale };
          break;
        }
      } catch {
        // an unfinished replay: it tells nothing
      }
    }
  }
  return r;
}

export async function runGrid(o: GridOptions): Promise<GridResult> {
  const t0 = performance.now();
  const log = o.log;
  if (o.policies.length < 1) throw new OlError('OL_ERR_CONFIG', '--policies: name at least one policy');
  if (!(Number.isInteger(o.realRuns) && o.realRuns >= 2)) throw new OlError('OL_ERR_CONFIG', `--real-runs: a whole number >= 2 (the real spread needs several replays), got ${o.realRuns}`);
  if (!(Number.isInteger(o.replicas) && o.replicas >= 1)) throw new OlError('OL_ERR_CONFIG', `--replicas: a whole number >= 1, got ${o.replicas}`);
  for (const l of o.loads) if (!(l.rho > 0 && l.rho < 1)) throw new OlError('OL_ERR_CONFIG', `--loads: load "${l.name}" must be a share of the cores between 0 and 1, got ${l.rho}`);
  mkdirSync(o.out, { recursive: true });

  // 1. the machine's capacity
  const ownProfile = join(o.out, 'profile.json');
  const loadsWere = loadsBefore(o.out);
  // a grid resumed keeps the calibration it began with: recalibrating would move the loads, and with them every plan
  const resumed = !o.profilePath && existsSync(ownProfile) && Object.keys(loadsWere).length > 0;
  const profilePath = o.profilePath ?? ownProfile;
  let profile: CostProfile;
  if (o.profilePath || resumed) {
    const { loadProfile } = await import('../sim/profile.js');
    profile = loadProfile(profilePath);
    log(resumed ? `profile ${ownProfile}, calibrated when this grid began (resuming; a new --out calibrates afresh)` : `profile ${profilePath} (not calibrating)`);
  } else {
    log(`calibrating the simulator on this machine (${o.backend})`);
    profile = await calibrate({ backend: o.backend, n: o.calibrateN, out: ownProfile, log: (s) => log(`    ${s}`) });
  }
  const fig = modelFigures(profile);
  const capacity = fig.cores ?? availableParallelism();

  // 2. the loads: the duration scale putting the plan's CPU at each share of the capacity
  const base = await o.makePlan(o.baseDurationScale);
  const bl = planLoad(base);
  const loads: GridResult['loads'] = [];
  const plans = new Map<string, Plan>();
  // the memory sizes chosen for each plan in this folder before: a grid re-simulated
  // under another model (--profile) keeps its cells and its real replays
  const sizesFile = join(o.out, 'memory-sizes.json');
  const sizesBefore = existsSync(sizesFile) ? parseMemorySizes(readFileSync(sizesFile, 'utf8'), sizesFile) : {};
  const tmp = mkdtempSync(join(tmpdir(), 'ol-grid-'));
  try {
    for (const l of o.loads) {
      // a load replayed in this folder before keeps its duration scale, so a grid
      // re-simulated under another profile judges the same replays
      const was = loadsWere[l.name];
      const fresh = Number(durationScaleFor(l.rho, capacity, bl.cpuCores, o.baseDurationScale, bl.ratePerS, fig.callBackgroundCpuMs).toPrecision(3));
      const ds = was && (was.rho === undefined || was.rho === l.rho) ? was.durationScale : fresh;
      if (was && ds !== fresh) log(`load ${l.name}: duration scale ${ds} as replayed before in ${o.out} (this profile's ${capacity} cores alone would give ${fresh})`);
      const p = await o.makePlan(ds);
      checkFeasible(p, Infinity, availableParallelism(), 1500);
      plans.set(l.name, p);
      // the pool the plan fills when nothing is evicted: the simulator with memory to spare
      let sizes = o.memory;
      const before = sizesBefore[p.planSha256];
      if (sizes.length === 0 && before) {
        sizes = before;
        log(`load ${l.name}: duration scale ${ds} (handlers ${planLoad(p).cpuCores.toFixed(2)} of ${capacity} cores); memory sizes ${sizes.join(', ')} MB, as chosen for this plan before (${sizesFile})`);
      } else if (sizes.length === 0) {
        const d = join(tmp, l.name);
        await runSim({ plan: p, out: d, policy: 'lru', memoryMb: 1_000_000, cores: capacity, profile, backend: o.backend, createOnCpu: true, freeMemory: o.freeMemory ?? true, cpuSlice: o.cpuSlice ?? false, responseWake: o.responseWake ?? false, freezeWait: o.freezeWait ?? false });
        const peak = Math.max(0, ...readRun(d).memory.map((m) => m.mb));
        sizes = gridMemorySizes(peak, planLoad(p).maxMemMb);
        log(`load ${l.name}: duration scale ${ds} (handlers ${planLoad(p).cpuCores.toFixed(2)} of ${capacity} cores); the pool holds ${Math.round(peak)} MB when nothing is evicted: memory sizes ${sizes.join(', ')} MB`);
        sizesBefore[p.planSha256] = sizes;
        writeFileSync(sizesFile, JSON.stringify(sizesBefore, null, 2) + '\n');
      } else {
        log(`load ${l.name}: duration scale ${ds} (handlers ${planLoad(p).cpuCores.toFixed(2)} of ${capacity} cores)`);
      }
      loads.push({ name: l.name, rho: l.rho, durationScale: ds, handlerCores: Number(planLoad(p).cpuCores.toFixed(3)), memorySizes: sizes });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  // 3. the cells
  const cells: Cell[] = [];
  for (const l of loads) for (const m of l.memorySizes) for (const policy of o.policies) {
    const id = `${l.name}-${m}MB-${policy}`;
    cells.push({ id, load: l.name, durationScale: l.durationScale, policy, memoryMb: m, dir: join(o.out, 'cells', id) });
  }
  // complete replays of another plan are never replaced: a changed option, trace
  // or load level belongs in a new folder
  const found = cells.flatMap((c) => Array.from({ length: o.realRuns }, (_, r) => {
    const dir = join(c.dir, 'real', String(r));
    return { dir, has: completeReplayOf(dir), want: plans.get(c.load)!.planSha256 };
  }));
  const stale = found.filter((x) => x.has !== undefined && x.has !== x.want).map((x) => x.dir);
  if (stale.length > 0) {
    throw new OlError('OL_ERR_CONFIG', `${o.out} holds ${stale.length} complete replay(s) of another plan than these options give (first: ${stale[0]}); ` +
      'the trace, plan options or --loads differ from the run that made them. Run with the same options, or give a new --out; nothing was replaced');
  }
  writeFileSync(join(o.out, 'loads.json'), JSON.stringify(Object.fromEntries(loads.map((l) => [l.name, { rho: l.rho, durationScale: l.durationScale }])), null, 2) + '\n');
  const spanS = Math.max(...[...plans.values()].map((p) => p.spanMs / 1000));
  const replays = cells.length * o.realRuns;
  const left0 = found.filter((x) => x.has !== x.want).length;
  log(`${cells.length} cells × ${o.realRuns} replays of ${spanS.toFixed(0)} s = ${replays} replays${left0 < replays ? `, ${replays - left0} complete already` : ''} (about ${Math.round((left0 * (spanS + REPLAY_OVERHEAD_S)) / 60)} min), then ${cells.length} × ${o.replicas} simulations`);

  // 4. real replays, round by round, cells shuffled in each round
  let done = 0;
  const replayTimes: number[] = [];
  for (let r = 0; r < o.realRuns; r++) {
    const rng = makeRng(r + 1, 'grid-order');
    const order = cells.map((c) => ({ c, k: rng() })).sort((a, b) => a.k - b.k).map((x) => x.c);
    for (const c of order) {
      const p = plans.get(c.load)!;
      const dir = join(c.dir, 'real', String(r));
      done++;
      if (doneAlready(dir, p.planSha256)) continue;
      const left = (replays - done + 1) * (replayTimes.length ? replayTimes.reduce((a, b) => a + b, 0) / replayTimes.length : spanS + REPLAY_OVERHEAD_S);
      log(`  replay ${done}/${replays}: ${c.id}, round ${r + 1} (about ${Math.round(left / 60)} min left)`);
      rmSync(dir, { recursive: true, force: true });
      const t = performance.now();
      const ok = await runReal({ plan: p, out: dir, policy: c.policy, memoryMb: c.memoryMb, backend: o.backend, force: false, repeat: r, log: (s) => { if (/warning/.test(s)) log(`    ${s}`); } });
      replayTimes.push((performance.now() - t) / 1000);
      if (!ok) throw new OlError('OL_ERR_CONFIG', `stopped during ${c.id}; run the same command again to resume (complete replays are kept)`);
    }
  }

  // 5. simulations
  log(`simulating each cell ${o.replicas} times`);
  const results: GridCellResult[] = [];
  const cellWarmth: NonNullable<ReturnType<typeof modelFigures>['freeMemory']>[] = [];
  for (const c of cells) {
    const p = plans.get(c.load)!;
    // the host's free memory as this cell's replays met it: the probes taken just before each (under --free-memory)
    const probes = Array.from({ length: o.realRuns }, (_, r) => replayWarmths(join(c.dir, 'real', String(r)))[0]);
    const cellProfile = withReplayWarmth(profile, probes);
    await runSimReplicated({ plan: p, out: join(c.dir, 'sim'), policy: c.policy, memoryMb: c.memoryMb, cores: capacity, profile: cellProfile, profilePath, backend: o.backend, createOnCpu: true, freeMemory: o.freeMemory ?? true, cpuSlice: o.cpuSlice ?? false, responseWake: o.responseWake ?? false, freezeWait: o.freezeWait ?? false, replicas: o.replicas });
    const cellFm = modelFigures(cellProfile).freeMemory;
    if (cellFm) cellWarmth.push(cellFm);
    const simDirs = o.replicas === 1 ? [join(c.dir, 'sim')] : Array.from({ length: o.replicas }, (_, i) => join(c.dir, 'sim', 'replicas', String(i)));
    const real = Array.from({ length: o.realRuns }, (_, r) => {
      const dir = join(c.dir, 'real', String(r));
      const { info, rows } = readRun(dir);
      const touch = readFirstTouch(dir, rows, info.functions);
      return { ...figuresOf(rows), complete: info.complete, ...(info.busy ? { busyShare: Number(info.busy.during.share.toFixed(3)), busyFlagged: info.busy.flagged } : {}), ...(touch ? { touchMsPerMb: touch.medianMsPerMb } : {}) };
    });
    const sim = simDirs.map((d) => figuresOf(readRun(d).rows));
    results.push({ load: c.load, durationScale: c.durationScale, policy: c.policy, memoryMb: c.memoryMb, real, sim, judgement: judgeCell(real, sim) });
  }

  // 6. rankings per load and memory size
  const rankings: GridResult['rankings'] = [];
  for (const l of loads) for (const m of l.memorySizes) {
    const row = results.filter((x) => x.load === l.name && x.memoryMb === m);
    if (row.length >= 2) rankings.push({ load: l.name, memoryMb: m, ...rankPolicies(row) });
  }
  const count = (pred: (j: CellJudgement, f: GridFigure) => boolean) => Object.fromEntries(GRID_FIGURES.map((f) => [f, results.filter((x) => pred(x.judgement, f)).length])) as Record<GridFigure, number>;
  const info0 = readRun(join(cells[0]!.dir, 'real', '0')).info;
  // under --free-memory, what the cells were charged: the medians over the cells' figures (each from its replays' probes, else the calibration's)
  const mid = (k: 'cheapMsPerMb' | 'dearMsPerMb' | 'cheapMb') => Number(median(cellWarmth.map((x) => x[k])).toFixed(3));
  const touchGap = firstTouchGap(results.flatMap((c) => c.real.map((x) => x.touchMsPerMb)), fig.touchBusyMsPerMb,
    (o.freeMemory ?? true) && cellWarmth.length ? { cheapMsPerMb: mid('cheapMsPerMb'), dearMsPerMb: mid('dearMsPerMb'), cheapMb: mid('cheapMb') } : undefined);
  const grid: GridResult = {
    tool: 'ol-exp grid',
    planSha256: Object.fromEntries([...plans].map(([k, p]) => [k, p.planSha256])),
    traceSha256: base.traceSha256,
    plan: { ...base.options, durationScale: undefined },
    backend: o.backend,
    machine: info0.machine,
    profile: { source: profile.source, cores: fig.cores, ...(profile.extra?.busy ? { busy: profile.extra.busy } : {}) },
    loads, realRuns: o.realRuns, replicas: o.replicas, tolerance: GRID_TOLERANCE,
    cells: results,
    rankings,
    totals: {
      cells: results.length,
      inside: count((j, f) => j.figures[f].inside),
      twoMode: count((j, f) => j.figures[f].modes !== undefined),
      sharesAgree: count((j, f) => j.figures[f].modes?.sharesAgree === true),
      insideOrShares: count((j, f) => insideOrShares(j.figures[f])),
      toleranceApplies: count((j, f) => j.figures[f].toleranceApplies),
      toleranceMet: count((j, f) => j.figures[f].toleranceApplies && j.figures[f].toleranceMet),
      rankingsClear: rankings.filter((r) => r.clearPairs > 0).length,
      rankingsAgree: rankings.filter((r) => r.clearPairs > 0 && r.agree).length,
      replaysFlaggedBusy: results.reduce((s, c) => s + c.real.filter((x) => x.busyFlagged).length, 0),
    },
    ...(touchGap ? { firstTouch: touchGap } : {}),
    minutes: Number(((performance.now() - t0) / 60_000).toFixed(1)),
  };
  writeFileSync(join(o.out, 'grid.json'), JSON.stringify(grid, null, 2) + '\n');
  await writeGridReport(o.out, grid);
  return grid;
}

/** The grid's lines, one per cell, as the CLI prints them and the report lists them. */
export function cellLine(c: GridCellResult): string {
  const j = c.judgement;
  const part = (f: GridFigure) => {
    const x = j.figures[f];
    return `${FIGURE_NAME[f]} sim ${fmt(f, x.sim.median)} real ${fmt(f, x.real.min)}–${fmt(f, x.real.max)} ${x.inside ? 'inside' : 'OUTSIDE'}` +
      (x.toleranceApplies ? `, ${x.errorPct >= 0 ? '+' : ''}${x.errorPct.toFixed(1)}% (±${GRID_TOLERANCE[f]}%: ${x.toleranceMet ? 'met' : 'NOT met'})` : `, target n/a (replays spread ±${x.realSpreadPct.toFixed(0)}%)`) +
      (x.modes ? `, two modes: real ${x.modes.realUpper}/${x.modes.realRuns} and sim ${x.modes.simUpper}/${x.modes.simRuns} in the upper (${x.modes.sharesAgree ? 'shares agree' : 'shares DIFFER'})` : '');
  };
  return GRID_FIGURES.map(part).join('; ');
}

export async function writeGridReport(out: string, g: GridResult): Promise<string[]> {
  const charts: ReportChart[] = [];
  for (const l of g.loads) {
    for (const policy of [...new Set(g.cells.map((c) => c.policy))]) {
      const cs = g.cells.filter((c) => c.load === l.name && c.policy === policy).sort((a, b) => a.memoryMb - b.memoryMb);
      for (const f of GRID_FIGURES) {
        const pts = (pick: (c: GridCellResult) => number): [number, number][] => cs.map((c) => [c.memoryMb, pick(c)]);
        const file = `grid-${l.name}-${policy}-${f}.png`;
        charts.push({
          file, title: `${policy}, load ${l.name}: ${FIGURE_NAME[f]} against memory`,
          png: await lineChart({
            title: `${policy}, ${l.name} load (${Math.round(l.rho * 100)}% of the cores): ${FIGURE_NAME[f]}`, x: 'memory pool (MB)', y: f === 'coldPct' ? 'cold starts (% of invocations)' : `${f} latency (ms)`, yMin: 0,
            series: [
              { label: `real: median of ${g.realRuns} replays`, points: pts((c) => c.judgement.figures[f].real.median) },
              { label: 'real: lowest replay', points: pts((c) => c.judgement.figures[f].real.min), dashed: true },
              { label: 'real: highest replay', points: pts((c) => c.judgement.figures[f].real.max), dashed: true },
              { label: `simulator: median of ${g.replicas} replications`, points: pts((c) => c.judgement.figures[f].sim.median) },
            ],
          }),
        });
      }
    }
  }
  for (const c of charts) writeFileSync(join(out, c.file), c.png);
  const t = g.totals;
  const per = (x: Record<GridFigure, number>) => GRID_FIGURES.map((f) => `${FIGURE_NAME[f]} ${x[f]}`).join(', ');
  const doc: ReportDoc = {
    title: `ol-lab validation grid: simulator vs real ${g.backend} worker`,
    summary:
      `${t.cells} cells (${[...new Set(g.cells.map((c) => c.policy))].join(', ')} × ${g.loads.map((l) => `${l.memorySizes.length} memory sizes at ${l.name} load`).join(' and ')}), each ${g.realRuns} real replays on fresh workers and ${g.replicas} simulator replications of the same plan. ` +
      `The simulator's median lies inside the real replays' min–max in ${per(t.inside)} of ${t.cells} cells. ` +
      (GRID_FIGURES.some((f) => t.twoMode[f]) ? `Where the runs fall into two modes (the real replays or the replications landing in either of two regimes) the shares in each are compared instead (Fisher's exact test): two-mode ${per(t.twoMode)}, shares agreeing ${per(t.sharesAgree)}; so judged (shares where two-mode, else inside) ${per(t.insideOrShares)} of ${t.cells}. ` : '') +
      `Where the real replays agree with each other within the tolerance (cold starts ±${g.tolerance.coldPct}%, p50 ±${g.tolerance.p50}%, p99 ±${g.tolerance.p99}%), the simulator meets it in ${GRID_FIGURES.map((f) => `${FIGURE_NAME[f]} ${t.toleranceMet[f]} of ${t.toleranceApplies[f]}`).join(', ')}. ` +
      `Policy rankings by cold starts agree in ${t.rankingsAgree} of the ${t.rankingsClear} memory sizes where the real differences are clear. ` +
      (t.replaysFlaggedBusy ? `${t.replaysFlaggedBusy} replays were taken while other work used at least ${Math.round(BUSY_SHARE_FLAG * 100)}% of the cores (flagged below). ` : 'No replay was flagged for other work on the machine. ') +
      (g.firstTouch ? `${firstTouchGapText(g.firstTouch)}. ` : '') +
      `The grid took ${g.minutes} minutes.`,
    sections: [
      {
        heading: 'Cells',
        rows: g.cells.map((c): [string, string] => [`${c.load} ${c.memoryMb} MB ${c.policy}`, cellLine(c) + (c.real.some((x) => x.busyFlagged) ? ' [a replay was flagged busy]' : '')]),
      },
      {
        heading: 'Misses',
        rows: g.cells.filter((c) => c.judgement.misses.length).map((c): [string, string] => [`${c.load} ${c.memoryMb} MB ${c.policy}`, c.judgement.misses.join('; ')]),
      },
      {
        heading: 'Policy rankings (cold starts)',
        rows: g.rankings.map((r): [string, string] => [`${r.load} ${r.memoryMb} MB`, r.clearPairs === 0 ? 'no pair of policies differs beyond the replays\' spread' : `Kendall's tau ${r.tau!.toFixed(2)} over ${r.clearPairs} clear pair(s): ${r.agree ? 'agrees' : `DISAGREES (${[...r.disagreements, ...(r.simTies ? [`${r.simTies} tie(s) in the simulator`] : [])].join('; ')})`}`]),
      },
      {
        heading: 'What was run',
        rows: [
          ['plan', JSON.stringify(g.plan)],
          ['plan sha256 per load', JSON.stringify(g.planSha256)],
          ['trace sha256', g.traceSha256],
          ['loads', g.loads.map((l) => `${l.name}: ${Math.round(l.rho * 100)}% of ${g.profile.cores} effective cores, duration scale ${l.durationScale}, handlers ${l.handlerCores} cores, memory ${l.memorySizes.join('/')} MB`).join('; ')],
          ['profile', `${g.profile.source}; effective cores ${g.profile.cores}${g.profile.busy ? `; other work while calibrating ${JSON.stringify(g.profile.busy)}` : ''}`],
          ['machine', JSON.stringify(g.machine)],
        ],
      },
    ],
    charts,
  };
  await writePdf(doc, join(out, 'grid.pdf'));
  writeHtml(doc, join(out, 'grid.html'));
  return ['grid.pdf', 'grid.html', 'grid.json', ...charts.map((c) => c.file)];
}

