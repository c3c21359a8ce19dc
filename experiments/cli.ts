#!/usr/bin/env node
/**
 * `ol-exp`: the validation harness. calibrate, real, sim, compare, sweep,
 * and validate (all of it end to end on an embedded default). Errors
 * ol-lab raises on purpose become one line and exit code 2.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { cliErrors } from '../common/cli.js';
import { OlError } from '../common/errors.js';
import { projectPath } from '../common/paths.js';
import { progress } from '../sim/commands/common.js';
import { evictionPolicies } from '../core/policies/index.js';
import { loadProfile, modelFigures, type CostProfile } from '../sim/profile.js';
import type { Plan } from './plan.js';

const { fail, usage } = cliErrors('ol-exp');

const say = (s: string) => process.stdout.write(s + '\n');
const DEFAULT_TRACE = `azure2019:${projectPath('traces', 'data', 'azure2019', '10')}`;
/**
 * Replications `ol-exp sim` and `validate` simulate by default: one alone
 * moves with its cost draws, and the median of a few still lay well off the
 * median of many (docs/notebook/2026-11-benchmark-rounds.md); 31 cost seconds.
 */
const REPLICAS = 31;
/**
 * `validate`'s protocols: how many replays on the real worker and how many
 * calibrations (spread over the replays, merged). `thorough`: on a 2-core
 * machine a replay's cold starts vary and a few tip into a cascade, so the
 * median of 3 moved and could be a cascade when two of three were, and a
 * single calibration can read one figure in a slow moment; 5 replays and 3
 * calibrations halve both risks (docs/notebook/2026-11-benchmark-rounds.md).
 * `quick`, the default: the answer within ten minutes on this machine
 * (three replays of the 150-second plan and one calibration); the report's
 * resampled intervals say what it buys.
 */
const PROTOCOLS = { quick: { realRuns: 3, calibrations: 1 }, thorough: { realRuns: 5, calibrations: 3 } } as const;
/** Seconds a calibration takes here (30 samples a cost), for the estimates validate prints until it has timed one. */
const CALIBRATION_S = 70;

function planOptions<T>(y: Argv<T>) {
  return y
    .option('trace', { type: 'string', default: DEFAULT_TRACE, describe: 'trace (format:path), as for ol-sim' })
    .option('policy', { choices: Object.keys(evictionPolicies), default: 'openlambda', describe: 'keep-alive / eviction policy' })
    .option('memory', { type: 'number', default: 6144, describe: 'memory pool, MB' })
    .option('time-scale', { type: 'number', default: 40, describe: 'compress trace time by this factor (40: the default 100 trace minutes in 150 s)' })
    .option('duration-scale', { type: 'number', default: 0.01, describe: 'multiply execution times by this' })
    .option('functions', { type: 'number', describe: 'keep the N most-invoked functions' })
    .option('minutes', { type: 'string', default: '1:100', describe: 'azure2019: minutes A:B of the day (the default: the 100 minutes whose three replays and calibration answer within ten minutes here)' })
    .option('arrivals', { choices: ['uniform', 'poisson'] as const, default: 'poisson' as const, describe: 'azure2019: arrivals within a minute' })
    .option('seed', { type: 'number', default: 1 })
    .option('mem-scale', { type: 'number', default: 0.1, describe: 'multiply functions\' memory by this' })
    .option('min-mem', { type: 'number', default: 64, describe: 'smallest sandbox memory, MB' })
    .option('packages', { type: 'number', default: 0, describe: 'synthetic Python packages the functions import (1 to 3 each, Zipf popularity); 0: none' })
    .option('import-ms', { type: 'number', default: 50, describe: 'median import time of a synthetic package, ms of CPU' })
    .option('zygotes', { type: 'string', default: '', describe: 'import-cache tree: a JSON path, or fit:N to fit N nodes to this plan (Forklift); default: the root zygote alone' })
    .option('import-cache', { type: 'boolean', default: true, describe: 'fork sandboxes from zygotes (sock); --no-import-cache starts every sandbox fresh' });
}

/** A cluster instead of one worker (ol-exp real and sim): the same flags on both, so their runs compare. */
function clusterOptions<T>(y: Argv<T>) {
  return y
    .option('workers', { type: 'number', describe: 'a cluster of N local workers (each of --memory) behind a front, instead of one worker' })
    .option('balancer', { type: 'string', describe: 'cluster: how the front places requests (ol-sim balancers lists them; default round-robin)' })
    .option('balancer-opt', { type: 'string', array: true, default: [] as string[], describe: 'cluster: balancer option key=value' })
    .option('front', { choices: ['boss', 'haproxy'] as const, default: 'boss' as const, describe: 'cluster: ol-boss, or HAProxy with the same rule (round-robin, least-loaded, hash, ch-bl); sim: the front the simulation stands for' })
    .option('view-refresh-ms', { type: 'number', default: 100, describe: 'cluster: how often the boss reads its workers\' /stats, ms' });
}

interface ClusterArgs { workers?: number; balancer?: string; balancerOpt?: string[]; front?: 'boss' | 'haproxy'; viewRefreshMs?: number }

async function clusterOf(a: ClusterArgs): Promise<{ workers: number; balancer: string; balancerOptions: Record<string, number>; front: 'boss' | 'haproxy'; viewRefreshMs: number } | undefined> {
  if (a.workers === undefined && a.balancer === undefined && !(a.balancerOpt ?? []).length) return undefined;
  const workers = a.workers ?? 1;
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= 64)) throw new OlError('OL_ERR_CONFIG', `--workers: a whole number from 1 to 64, got ${a.workers}`);
  const balancer = a.balancer ?? 'round-robin';
  const { parsePolicyOpts } = await import('../sim/commands/common.js');
  const { resolveBalancerOptions } = await import('../core/balancers/index.js');
  const balancerOptions = resolveBalancerOptions(balancer, parsePolicyOpts(a.balancerOpt ?? [], 'balancer-opt'));
  const front = a.front ?? 'boss';
  if (front === 'haproxy') {
    const { HAPROXY_BALANCERS } = await import('../boss/haproxy.js');
    if (!(HAPROXY_BALANCERS as readonly string[]).includes(balancer)) throw new OlError('OL_ERR_CONFIG', `--front haproxy runs ${HAPROXY_BALANCERS.join(', ')}; --balancer ${balancer} is the boss's only`);
  }
  const viewRefreshMs = a.viewRefreshMs ?? 100;
  if (!(Number.isInteger(viewRefreshMs) && viewRefreshMs >= 10)) throw new OlError('OL_ERR_CONFIG', `--view-refresh-ms: a whole number of ms >= 10, got ${a.viewRefreshMs}`);
  return { workers, balancer, balancerOptions, front, viewRefreshMs };
}

interface PlanArgs {
  trace: string; policy: string; memory: number; timeScale: number; durationScale: number; memScale: number; functions?: number; minutes: string;
  arrivals: 'uniform' | 'poisson'; seed: number; minMem: number; packages: number; importMs: number; zygotes: string; importCache: boolean;
}

async function plan(a: PlanArgs): Promise<Plan> {
  const { buildPlan } = await import('./plan.js');
  const m = /^(\d+)(?::(\d+))?$/.exec(a.minutes);
  if (!m) throw new OlError('OL_ERR_CONFIG', `minutes: expected A:B or N, got ${JSON.stringify(a.minutes)}`);
  const minutes: [number, number] = m[2] === undefined ? [1, Number(m[1])] : [Number(m[1]), Number(m[2])];
  const isAzure19 = a.trace.startsWith('azure2019:') || (existsSync(a.trace) && (await import('../traces/index.js')).detectFormat(a.trace) === 'azure2019');
  return buildPlan({
    trace: a.trace,
    traceOptions: { arrivals: a.arrivals, ...(a.functions !== undefined ? { functions: a.functions } : {}), ...(isAzure19 ? { minutes } : {}) },
    timeScale: a.timeScale, durationScale: a.durationScale, memScale: a.memScale, seed: a.seed, minMemMb: a.minMem,
    packages: a.packages ?? 0, importMs: a.importMs ?? 50, zygotes: a.zygotes ?? '', importCache: a.importCache ?? true,
  });
}

function profileFor(path: string | undefined): { profile: CostProfile; path?: string } {
  return path ? { profile: loadProfile(path), path } : { profile: loadProfile() };
}

function coresFor(arg: string | undefined, profile: CostProfile): number {
  if (arg !== undefined) return /^inf/i.test(arg) ? Infinity : Number(arg);
  const c = modelFigures(profile).cores;
  return typeof c === 'number' && c > 0 ? c : availableParallelism();
}

/** `built`: a plan `validate` already made from the same arguments. */
async function real(a: PlanArgs & ClusterArgs & { out: string; backend: 'sock' | 'docker'; worker?: string; force: boolean; maxRate: number; runs?: number; beforeReplay?: (r: number) => Promise<void> }, built?: Plan): Promise<void> {
  const cluster = await clusterOf(a);
  const p = built ?? await plan(a);
  const { checkFeasible, runRealRepeated } = await import('./real.js');
  if (!a.force) checkFeasible(p, a.memory, availableParallelism(), a.maxRate);
  say(`replaying ${p.n} invocations of ${p.functions.length} functions over ${(p.spanMs / 1000).toFixed(1)} s on ${cluster ? `a real cluster of ${cluster.workers} workers (${cluster.balancer} behind ${cluster.front})` : 'the real worker'} (Ctrl-C stops and keeps what was recorded)`);
  const bar = progress(true);
  const runs = a.runs ?? 1;
  let got: Awaited<ReturnType<typeof runRealRepeated>>;
  try {
    const before = a.beforeReplay;
    got = await runRealRepeated({
      plan: p, out: a.out, policy: a.policy, memoryMb: a.memory, backend: a.backend, worker: a.worker, force: a.force, runs, ...(cluster ? { cluster } : {}), onProgress: (d, t) => bar.update(d, t, `${d}/${t} answered`), log: say,
      ...(before ? { beforeReplay: async (r: number) => { bar.end(); await before(r); } } : {}),
    });
  } finally {
    bar.end();
  }
  const which = got.runs.length > 1
    ? `; the median of ${got.runs.length} replays (cold starts ${got.runs.map((r) => r.coldStarts).sort((x, y) => x - y).join(', ')}) is run ${got.chosen}`
    : '';
  say(`${got.complete ? 'done' : 'stopped early'}${which}: ${a.out}`);
}

async function sim(a: PlanArgs & ClusterArgs & { out: string; profile?: string; cores?: string; backend?: 'sock' | 'docker'; createOnCpu?: boolean; freeMemory?: boolean; cpuSlice?: boolean; responseWake?: boolean; freezeWait?: boolean; replicas?: number; hopMs?: number; ownCores?: boolean; warmthFrom?: string }, built?: Plan): Promise<void> {
  const cluster = await clusterOf(a);
  if (a.hopMs !== undefined && !cluster) throw new OlError('OL_ERR_CONFIG', '--hop-ms is a cluster\'s front-to-worker time: give --workers and --balancer too');
  if (a.hopMs !== undefined && !(Number.isFinite(a.hopMs) && a.hopMs >= 0)) throw new OlError('OL_ERR_CONFIG', `--hop-ms: a number of ms >= 0, got ${a.hopMs}`);
  const p = built ?? await plan(a);
  const { runSimReplicated } = await import('./sim.js');
  const pr = profileFor(a.profile);
  if (a.warmthFrom !== undefined) {
    // the host's free memory as a real run's replays met it: the probes taken just before each
    const { replayWarmths, withReplayWarmth } = await import('./memory-warmth.js');
    if (!existsSync(join(a.warmthFrom, 'run.json'))) throw new OlError('OL_ERR_CONFIG', `--warmth-from: ${a.warmthFrom} holds no run.json (give the folder of an ol-exp real run)`);
    const probes = replayWarmths(a.warmthFrom);
    if (!probes.some(Boolean)) throw new OlError('OL_ERR_CONFIG', `--warmth-from: no replay in ${a.warmthFrom} was probed (run.json memoryWarmth; replays made before the probe, or with --worker, have none)`);
    pr.profile = withReplayWarmth(pr.profile, probes);
  }
  const cores = coresFor(a.cores, pr.profile);
  const replicas = a.replicas ?? 1;
  const got = await runSimReplicated({ plan: p, out: a.out, policy: a.policy, memoryMb: a.memory, cores, profile: pr.profile, backend: a.backend ?? 'sock', createOnCpu: a.createOnCpu ?? true, freeMemory: a.freeMemory ?? true, cpuSlice: a.cpuSlice ?? false, responseWake: a.responseWake ?? false, freezeWait: a.freezeWait ?? false, replicas, ...(pr.path ? { profilePath: pr.path } : {}),
    ...(cluster ? { cluster: { ...cluster, ...(a.hopMs !== undefined ? { hopMs: a.hopMs } : {}), ownCores: a.ownCores ?? false } } : {}) });
  const which = replicas > 1
    ? `; the median of ${replicas} replications (cold starts ${[...got.replicas].map((r) => r.coldStarts).sort((x, y) => x - y).join(', ')}) is replication ${got.chosen}`
    : '';
  const hop = cluster ? (a.hopMs ?? modelFigures(pr.profile).hopMs) : 0;
  say(`simulated ${p.n} invocations (${cluster ? `${cluster.workers} workers ${a.ownCores ? `of ${cores} cores each` : `sharing ${cores} cores`} behind ${cluster.balancer}, hop ${hop.toFixed(2)} ms${a.hopMs === undefined && !(pr.profile.extra?.hopMs) ? ' (the profile has no measured hop: ol-exp calibrate --hop)' : ''}` : `cores ${cores}`}, profile ${pr.profile.name})${which}: ${a.out}`);
}

/**
 * Simulates the plan again with each of the calibration's measured
 * alternatives (experiments/spread.ts), each into `<out>/<i>`, and
 * compares every one with the real run.
 */
async function simulateSpread(p: Plan, a: PlanArgs & { backend: 'sock' | 'docker'; freeMemory: boolean }, profilePath: string, realDir: string, out: string): Promise<import('./spread.js').SpreadSummary | undefined> {
  const { spreadMembers, summarizeSpread } = await import('./spread.js');
  const { readRun } = await import('./run-files.js');
  const { compareRuns } = await import('./compare.js');
  const { runSim } = await import('./sim.js');
  const members = spreadMembers(loadProfile(profilePath), { freeMemory: a.freeMemory });
  if (members.length === 0) return undefined;
  const r = readRun(realDir);
  const done: { label: string; agreement: import('./compare.js').Agreement }[] = [];
  for (const [i, m] of members.entries()) {
    const dir = join(out, String(i));
    await runSim({ plan: p, out: dir, policy: a.policy, memoryMb: a.memory, cores: m.cores, profile: m.profile, backend: a.backend, createOnCpu: true, freeMemory: a.freeMemory, profilePath });
    done.push({ label: m.label, agreement: compareRuns(r, readRun(dir)) });
  }
  return summarizeSpread(done[0]!.agreement.real, done);
}

async function compare(realDir: string, simDir: string, out: string, spread?: import('./spread.js').SpreadSummary, protocol?: import('./compare.js').Agreement['protocol'], calibrations: CostProfile[] = []): Promise<void> {
  const { readRun } = await import('./run-files.js');
  const { readRepeats } = await import('./repeats.js');
  const { compareRuns, machineBusySummary } = await import('./compare.js');
  const { BUSY_SHARE_FLAG } = await import('../common/cpu-usage.js');
  const { summarizeFigures } = await import('./spread.js');
  const { errorIntervals, intervalText, selfText } = await import('./uncertainty.js');
  const { writeComparisonReport } = await import('./report.js');
  const r = readRun(realDir), s = readRun(simDir);
  if (r.info.kind !== 'real' || s.info.kind !== 'sim') throw new OlError('OL_ERR_CONFIG', `compare takes a real run then a simulated one; got ${r.info.kind} (${realDir}) and ${s.info.kind} (${simDir})`);
  const a0 = compareRuns(r, s);
  const reps = readRepeats(simDir, 'replicas.json');
  const runs = readRepeats(realDir, 'runs.json');
  const a = {
    ...a0, ...(spread ? { simSpread: spread } : {}),
    ...(reps ? { simReplicas: { ...summarizeFigures(a0.real, reps.list), chosen: reps.chosen } } : {}),
    ...(runs ? { realRuns: { ...summarizeFigures(a0.real, runs.list), chosen: runs.chosen } } : {}),
    ...(runs && reps ? { errorIntervals: errorIntervals(runs.list, reps.list) } : {}),
    ...(protocol ? { protocol } : {}),
  };
  if (runs && reps) {
    const { figureModes } = await import('./modes.js');
    const modes = figureModes(runs.list, reps.list);
    if (Object.keys(modes).length) a.modes = modes;
  }
  const busy = machineBusySummary(r.info, runs?.list, calibrations.map((p, i) => ({ label: `calibration ${i + 1}`, ...(p.extra?.busy ? { busy: p.extra.busy } : {}) })), BUSY_SHARE_FLAG);
  if (busy) a.machineBusy = busy;
  const { readFirstTouch, firstTouchText } = await import('./first-touch.js');
  // each replay's own folder (the kept one's files are copies of its)
  const replays = (runs?.list ?? [{ label: 'the real run', index: -1 }]).flatMap((m) => {
    const dir = m.index < 0 ? realDir : join(realDir, 'runs', String(m.index));
    const got = m.index < 0 ? r : readRun(dir);
    const f = readFirstTouch(dir, got.rows, got.info.functions);
    return f ? [{ label: m.label, ...f }] : [];
  });
  if (replays.length > 0) {
    a.firstTouch = {
      replays,
      // validate's calibrations; else the profile the simulated run was given
      calibrations: calibrations.length > 0
        ? calibrations.map((p, i) => ({ label: `calibration ${i + 1}`, aloneMsPerMb: p.extra?.touchMsPerMb, busyMsPerMb: p.extra?.touchBusyMsPerMb }))
        : simProfileTouch(s.info.profile),
      ...simFreeMemory(s.info),
    };
  }
  const files = await writeComparisonReport(out, a, r, s);
  const e = a.errorPct;
  say(`cold starts: real ${a.real.coldStarts}, sim ${a.sim.coldStarts} (${e.coldStarts.toFixed(1)}%, target ±${a.targets.coldStartsPct}%: ${a.met.coldStarts ? 'met' : 'not met'})`);
  say(`p50: real ${a.real.p50.toFixed(2)} ms, sim ${a.sim.p50.toFixed(2)} ms (${e.p50.toFixed(1)}%, target ±${a.targets.p50Pct}%: ${a.met.p50 ? 'met' : 'not met'})`);
  say(`p90: real ${a.real.p90.toFixed(2)} ms, sim ${a.sim.p90.toFixed(2)} ms (${e.p90.toFixed(1)}%)`);
  say(`p99: real ${a.real.p99.toFixed(2)} ms, sim ${a.sim.p99.toFixed(2)} ms (${e.p99.toFixed(1)}%, target ±${a.targets.p99Pct}%: ${a.met.p99 ? 'met' : 'not met'})`);
  const { rangeText: t } = await import('./spread.js');
  const ranges = (m: import('./spread.js').SpreadSummary) => `cold starts ${t(m.coldStarts, 0)}, p50 ${t(m.p50, 2)} ms, p99 ${t(m.p99, 0)} ms`;
  if (a.realRuns) say(`the real run is the median of ${a.realRuns.members.length} replays (run ${a.realRuns.chosen}); over them: ${ranges(a.realRuns)}`);
  if (a.simReplicas) say(`the simulated run is the median of ${a.simReplicas.members.length} replications (replication ${a.simReplicas.chosen}); over them: ${ranges(a.simReplicas)}`);
  if (a.errorIntervals) {
    const iv = a.errorIntervals;
    say(`resampling the replays and replications (${iv.resamples} times): cold-start error ${intervalText(iv, 'coldStarts')}; p50 ${intervalText(iv, 'p50')}; p99 ${intervalText(iv, 'p99')}; all three in ${Math.round(iv.metShare.all * 100)}%`);
    say(`the real worker against itself (two independent resamples of its replays, under the same targets): ${selfText(iv)}`);
  }
  if (a.modes) {
    const { figureModesText } = await import('./modes.js');
    for (const line of figureModesText(a.modes)) say(`${line}: where the plan sits near a tipping point the shares say more than the medians`);
  }
  if (busy) say(`other work on the machine (share of its cores): ${[...busy.replays, ...busy.calibrations].map((x) => `${x.label} ${Math.round(x.share * 100)}%${x.flagged ? ' FLAGGED' : ''}`).join(', ')}`);
  if (a.firstTouch) say(firstTouchText(a.firstTouch));
  if (spread) say(`over the calibration's spread (${spread.members.length} simulations): ${ranges(spread)}; the real run's figures ${Object.values(spread.realWithin).filter(Boolean).length} of 3 within`);
  if (a.cluster) {
    const c = a.cluster;
    say(`per worker (${c.matchedBy === 'index' ? 'by index' : 'paired by load'}): ${c.perWorker.map((w) => `${w.real.invocations}/${w.sim.invocations} invocations, ${w.real.coldStarts}/${w.sim.coldStarts} cold`).join('; ')} (real/sim); imbalance real ${c.imbalance.real.toFixed(2)}, sim ${c.imbalance.sim.toFixed(2)}`);
  }
  say(`KS distance ${a.ksDistance.toFixed(3)}; report: ${files.map((f) => join(out, f)).join(', ')}`);
}

/** The touch figures of the profile a simulated run records (run.json's profile), as the first-touch line shows them. */
function simProfileTouch(profile: unknown): { label: string; aloneMsPerMb?: number; busyMsPerMb?: number }[] {
  const x = (profile as { extra?: { touchMsPerMb?: unknown; touchBusyMsPerMb?: unknown } } | undefined)?.extra;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const alone = num(x?.touchMsPerMb), busy = num(x?.touchBusyMsPerMb);
  return alone === undefined && busy === undefined ? [] : [{ label: 'the simulated run\'s profile', aloneMsPerMb: alone, busyMsPerMb: busy }];
}

/** What a simulated run charged for first touches where it priced them by the host's free memory (run.json's freeMemory and profile), and from where. */
function simFreeMemory(info: import('./run-files.js').RunInfo): { freeMemory?: NonNullable<import('./first-touch.js').FirstTouchSummary['freeMemory']> } {
  const p = info.profile as CostProfile | undefined;
  const fm = info.freeMemory && p ? modelFigures(p).freeMemory : undefined;
  if (!fm) return {};
  const from = (p!.extra?.memoryWarmth as { from?: unknown } | undefined)?.from;
  return { freeMemory: { ...fm, from: typeof from === 'string' ? from : 'the calibration' } };
}

/** Watches the machine for 3 s before a long job and warns if other work is using a large share of it. */
async function warnIfBusy(backend: 'sock' | 'docker'): Promise<void> {
  const { BUSY_SHARE_FLAG, experimentMatch, probeBusy } = await import('../common/cpu-usage.js');
  const cores = availableParallelism();
  const b = await probeBusy(3000, cores, experimentMatch(backend));
  if (b.share >= BUSY_SHARE_FLAG) {
    say(`warning: other work is using ${b.otherCores.toFixed(2)} of this machine's ${cores} cores (${Math.round(b.share * 100)}%, over 3 s): calibrations and replays taken now may read slow, and will be flagged in the report. Going on.`);
  } else {
    say(`the machine is quiet enough: other work used ${b.otherCores.toFixed(2)} of ${cores} cores over 3 s`);
  }
}

function countNodes(n: { children?: unknown[] }): number {
  return 1 + ((n.children ?? []) as { children?: unknown[] }[]).reduce((s, c) => s + countNodes(c), 0);
}

await yargs(hideBin(process.argv))
  .scriptName('ol-exp')
  .usage('$0 <command> [options]\n\nThe validation harness: one trace on the real worker and on the simulator, compared.')
  .command('calibrate', 'measure sandbox costs on the real worker and write a simulator profile', (y) => y
    .option('backend', { choices: ['sock', 'docker'] as const, default: 'sock' as const })
    .option('n', { type: 'number', default: 50, describe: 'samples per cost' })
    .option('out', { type: 'string', default: 'profile.json' })
    .option('hop', { type: 'boolean', default: false, describe: 'also measure a cluster front\'s hop: warm calls straight to a worker and through ol-boss, paired (extra.hopMs, the default of ol-exp sim --hop-ms)' })
    .option('hop-n', { type: 'number', default: 60, describe: 'pairs of calls for --hop' }),
  async (a) => {
    const { calibrate } = await import('./calibrate.js');
    const p = await calibrate({ backend: a.backend, n: a.n, out: a.out, log: say });
    if (a.hop) {
      const { measureHop } = await import('./hop.js');
      const h = await measureHop({ backend: a.backend, n: a.hopN, log: say });
      p.extra = { ...(p.extra ?? {}), hopMs: h.hopMs, hopSamples: h.hopSamples };
      writeFileSync(a.out, JSON.stringify(p, null, 2) + '\n');
    }
    say(`wrote ${a.out}: ${JSON.stringify(p.extra?.medians)}, effective cores ${p.extra?.cores}${a.hop ? `, hop ${p.extra?.hopMs} ms` : ''}`);
  })
  .command('real', 'replay a trace on the real worker (or a cluster: --workers, --balancer), open loop', (y) => clusterOptions(planOptions(y))
    .option('out', { type: 'string', default: 'out/real' })
    .option('backend', { choices: ['sock', 'docker'] as const, default: 'sock' as const })
    .option('worker', { type: 'string', describe: 'URL of a running worker to use instead of starting one' })
    .option('max-rate', { type: 'number', default: 1500, describe: 'requests/s the worker is taken to sustain (feasibility check)' })
    .option('force', { type: 'boolean', default: false, describe: 'replay even when the feasibility check says the machine cannot keep up' })
    .option('runs', { type: 'number', default: 1, describe: 'replay this many times, each on a fresh worker, and keep the median replay (by cold starts; all listed in runs.json)' }),
  (a) => real(a as never))
  .command('sim', 'simulate exactly the invocations ol-exp real replays (a cluster too: the same --workers, --balancer)', (y) => clusterOptions(planOptions(y))
    .option('hop-ms', { type: 'number', describe: 'cluster: front-to-worker time added to every request, ms (default: the profile\'s measured hop, ol-exp calibrate --hop; else 0)' })
    .option('own-cores', { type: 'boolean', default: false, describe: 'cluster: give each simulated worker --cores of its own (default: they share --cores, as ol-exp real\'s workers share this machine)' })
    .option('out', { type: 'string', default: 'out/sim' })
    .option('profile', { type: 'string', describe: 'cost profile (ol-exp calibrate); default: the bundled one' })
    .option('warmth-from', { type: 'string', describe: 'price first touches by the probes an ol-exp real run took just before its replays (this folder\'s run.json or runs/*/run.json: memoryWarmth), in place of the profile\'s own' })
    .option('cores', { type: 'string', describe: 'cores (default: the profile\'s effective cores, else this machine\'s)' })
    .option('backend', { choices: ['sock', 'docker'] as const, default: 'sock' as const, describe: 'the backend the real run used (docker sandboxes never fork from zygotes)' })
    .option('create-on-cpu', { type: 'boolean', default: true, describe: 'model sandbox creation (the profile\'s creation lanes at a time; none when it found as many lanes as cores) and destruction as CPU work shared with handlers (--no-create-on-cpu: fixed delays off the CPU)' })
    .option('free-memory', { type: 'boolean', default: true, describe: 'price a first call\'s memory touching by the host\'s free memory where the profile measured it (extra.memoryWarmth: cheap in the headroom and in memory freed within a second, dear beyond); --no-free-memory: one figure, touchBusyMsPerMb. Profiles without a knee (bare metal) charge their one figure either way' })
    .option('cpu-slice', { type: 'boolean', default: false, describe: 'share the cores in time slices of the calibrated length (extra.cpuSliceMs: how long a handler keeps its core while others wait) instead of processor sharing' })
    .option('response-wake', { type: 'boolean', default: false, describe: 'add the calibrated extra time of the answer after a handler that worked (extra.responseWake) to each call\'s latency' })
    .option('freeze-wait', { type: 'boolean', default: false, describe: 'a call that takes a sandbox still freezing from its pause waits for the rest of the freeze, longer the busier the cores (extra.freezeUnderLoad)' })
    .option('replicas', { type: 'number', default: REPLICAS, describe: 'simulate this many times, differing only in the cost draws, and keep the median run (by cold starts; all listed in replicas.json)' }),
  (a) => sim(a as never))
  .command('compare <real> <sim>', 'agreement figures and the report (PDF, HTML, PNG)', (y) => y
    .positional('real', { type: 'string', demandOption: true })
    .positional('sim', { type: 'string', demandOption: true })
    .option('out', { type: 'string', default: 'out/report' }),
  (a) => compare(a.real as string, a.sim as string, a.out))
  .command('sweep', 'policies x memory sizes on the simulator, with FaasCache\'s and Serverless in the Wild\'s charts', (y) => y
    .option('trace', { type: 'string', default: DEFAULT_TRACE })
    .option('policies', { type: 'string', default: 'lru,gdsf,ttl,hist,openlambda' })
    .option('memory', { type: 'string', default: '500:8000:500' })
    .option('cores', { type: 'string', default: 'infinite' })
    .option('queue', { choices: ['wait', 'drop'] as const, default: 'drop' as const })
    .option('seed', { type: 'number', default: 1 })
    .option('balancers', { type: 'string', describe: 'a cluster sweep: balancers, comma-separated (memory is then per worker); charts against the number of workers' })
    .option('workers', { type: 'string', default: '1,2,4,8', describe: 'cluster sweep: worker counts, comma-separated' })
    .option('hop-ms', { type: 'number', describe: 'cluster sweep: front-to-worker time, ms (default: the profile\'s measured hop, else 0)' })
    .option('out', { type: 'string', default: 'out/sweep' }),
  async (a) => {
    const { runSweepReport } = await import('./sweep.js');
    const { clusterAxes } = await import('../sim/commands/sweep.js');
    const cluster = a.balancers ? clusterAxes({ balancers: a.balancers, workers: a.workers, ...(a.hopMs !== undefined ? { hopMs: a.hopMs } : {}) }) : undefined;
    const files = await runSweepReport({ trace: a.trace, policies: a.policies.split(','), memory: a.memory, cores: a.cores, queue: a.queue, seed: a.seed, out: a.out, log: say, ...(cluster ? { cluster } : {}) });
    say(`report: ${files.map((f) => join(a.out, f)).join(', ')}`);
  })
  .command('fit-tree', 'Forklift: fit an import-cache tree (the worker\'s import_tree) to observed package usage', (y) => y
    .option('calls', { type: 'string', demandOption: true, describe: 'JSON Lines: {"lambda", "packages": [...], "calls"?, "import_ms"?: {pkg: ms}}, or a worker\'s records.jsonl' })
    .option('costs', { type: 'string', describe: 'import ms per package: a JSON {name: ms}, or a worker\'s packages_dir' })
    .option('nodes', { type: 'number', default: 40, describe: 'nodes in the tree, the root included' })
    .option('out', { type: 'string', default: 'tree.json' }),
  async (a) => {
    const { fitTree, treeGain } = await import('./fit-tree.js');
    const { readImportCosts, readUsage } = await import('../traces/packages.js');
    const { writeFileSync } = await import('node:fs');
    const { usage, importMs } = readUsage(a.calls);
    if (usage.length === 0) throw new OlError('OL_ERR_CONFIG', `--calls ${a.calls}: no line names a lambda's packages`);
    if (a.costs) for (const [k, v] of readImportCosts(a.costs)) importMs.set(k, v);
    const unknown = [...new Set(usage.flatMap((u) => u.packages))].filter((p) => !importMs.has(p)).sort();
    if (unknown.length) say(`no import cost for ${unknown.join(', ')}: counted as 1 ms each`);
    const cost = (p: string) => importMs.get(p) ?? 1;
    const tree = fitTree(usage, cost, a.nodes);
    writeFileSync(a.out, JSON.stringify(tree, null, 2) + '\n');
    const saved = treeGain(tree, usage, cost);
    say(`wrote ${a.out}: ${countNodes(tree)} nodes for ${usage.length} lambdas; imports saved per round of cold starts ${saved.toFixed(0)} of ${usage.reduce((s, u) => s + u.calls * u.packages.reduce((t, p) => t + cost(p), 0), 0).toFixed(0)} call·ms`);
  })
  .command('grid', 'the validation grid: policies × memory sizes × loads, each replayed several times on the real worker and simulated; the simulator judged against the real spread', (y) => planOptions(y)
    .option('minutes', { type: 'string', default: '1:45', describe: 'azure2019: minutes A:B of the day' })
    .option('time-scale', { type: 'number', default: 90, describe: 'compress trace time by this factor (90: 45 trace minutes in 30 s)' })
    .option('duration-scale', { type: 'number', default: 0.01, describe: 'the duration scale the handlers\' CPU is measured at; each load scales it to its share of the cores' })
    .option('policies', { type: 'string', default: 'lru,gdsf,openlambda', describe: 'keep-alive policies, comma-separated' })
    .option('memory', { type: 'string', default: '', describe: 'memory sizes, MB, comma-separated (default: 1/8, 1/4, 1/2 and 2× the pool the plan fills when nothing is evicted, per load)' })
    .option('loads', { type: 'string', default: 'comfortable=0.25,saturated=0.6', describe: 'load levels, name=share of the calibrated effective cores the handlers and calls use' })
    .option('real-runs', { type: 'number', default: 3, describe: 'real replays per cell, each on a fresh worker' })
    .option('replicas', { type: 'number', default: 11, describe: 'simulator replications per cell' })
    .option('backend', { choices: ['sock', 'docker'] as const, default: 'sock' as const })
    .option('calibrate-n', { type: 'number', default: 30 })
    .option('profile', { type: 'string', describe: 'use this profile instead of calibrating first' })
    .option('free-memory', { type: 'boolean', default: true, describe: 'simulate with first touches priced by the host\'s free memory, as measured just before each cell\'s replays (as ol-exp sim --free-memory; --no-free-memory: one figure)' })
    .option('cpu-slice', { type: 'boolean', default: false, describe: 'simulate with the cores shared in the calibrated time slices (as ol-exp sim --cpu-slice)' })
    .option('response-wake', { type: 'boolean', default: false, describe: 'simulate with the calibrated response wake (as ol-exp sim --response-wake)' })
    .option('freeze-wait', { type: 'boolean', default: false, describe: 'simulate with the wait for a pause\'s freeze under load (as ol-exp sim --freeze-wait)' })
    .option('out', { type: 'string', default: 'out/grid' }),
  async (a) => {
    const policies = a.policies.split(',').map((x) => x.trim()).filter(Boolean);
    for (const p of policies) if (!(p in evictionPolicies)) throw new OlError('OL_ERR_CONFIG', `--policies: unknown policy ${JSON.stringify(p)}; known: ${Object.keys(evictionPolicies).join(', ')}`);
    const memory = a.memory === '' ? [] : a.memory.split(',').map((x) => {
      const v = Number(x);
      if (!(Number.isFinite(v) && v > 0)) throw new OlError('OL_ERR_CONFIG', `--memory: ${JSON.stringify(x)} is not a size in MB`);
      return v;
    });
    const loads = a.loads.split(',').map((x) => {
      const m = /^([A-Za-z][\w-]*)=([0-9.]+)$/.exec(x.trim());
      if (!m) throw new OlError('OL_ERR_CONFIG', `--loads: expected name=share (e.g. comfortable=0.25), got ${JSON.stringify(x)}`);
      return { name: m[1]!, rho: Number(m[2]) };
    });
    mkdirSync(a.out, { recursive: true });
    await warnIfBusy(a.backend);
    const { runGrid, cellLine, firstTouchGapText } = await import('./grid.js');
    const g = await runGrid({
      makePlan: (ds) => plan({ ...(a as unknown as PlanArgs), durationScale: ds }), baseDurationScale: a.durationScale,
      policies, memory, loads, realRuns: a.realRuns, replicas: a.replicas, backend: a.backend, calibrateN: a.calibrateN,
      ...(a.profile ? { profilePath: a.profile } : {}), freeMemory: a.freeMemory, cpuSlice: a.cpuSlice, responseWake: a.responseWake, freezeWait: a.freezeWait, out: a.out, log: say,
    });
    for (const c of g.cells) say(`${c.load} ${c.memoryMb} MB ${c.policy}: ${cellLine(c)}`);
    for (const r of g.rankings) say(`ranking ${r.load} ${r.memoryMb} MB: ${r.clearPairs ? `tau ${r.tau!.toFixed(2)} over ${r.clearPairs} clear pair(s), ${r.agree ? 'agrees' : 'DISAGREES'}` : 'no clear pair'}`);
    const t = g.totals;
    say(`inside the real spread: cold ${t.inside.coldPct}, p50 ${t.inside.p50}, p99 ${t.inside.p99} of ${t.cells} cells; two-mode cold ${t.twoMode.coldPct}, p50 ${t.twoMode.p50}, p99 ${t.twoMode.p99}, shares agreeing ${t.sharesAgree.coldPct}/${t.sharesAgree.p50}/${t.sharesAgree.p99}; judged by shares where two-mode, else inside: ${t.insideOrShares.coldPct}/${t.insideOrShares.p50}/${t.insideOrShares.p99}; tolerance met where it applies: cold ${t.toleranceMet.coldPct}/${t.toleranceApplies.coldPct}, p50 ${t.toleranceMet.p50}/${t.toleranceApplies.p50}, p99 ${t.toleranceMet.p99}/${t.toleranceApplies.p99}; rankings agree ${t.rankingsAgree}/${t.rankingsClear}; ${t.replaysFlaggedBusy} replays flagged busy; ${g.minutes} min`);
    if (g.firstTouch) say(firstTouchGapText(g.firstTouch));
    say(`report: ${join(a.out, 'grid.html')} (grid.pdf, grid.json)`);
  })
  .command('validate', 'the main job: calibrate, replay on the real worker, simulate, compare (embedded default trace)', (y) => planOptions(y)
    .option('out', { type: 'string', default: 'out/validate' })
    .option('backend', { choices: ['sock', 'docker'] as const, default: 'sock' as const })
    .option('calibrate-n', { type: 'number', default: 30 })
    .option('protocol', { choices: ['quick', 'thorough'] as const, default: 'quick' as const, describe: 'quick: 3 replays, 1 calibration (about ten minutes here); thorough: 5 replays, 3 calibrations' })
    .option('calibrations', { type: 'number', describe: 'calibrations, spread over the replays (the first before the first replay) and merged: the median of each figure, all samples (default: the protocol\'s)' })
    .option('real-runs', { type: 'number', describe: 'replays on the real worker, each on a fresh worker; the median one is compared (default: the protocol\'s)' })
    .option('replicas', { type: 'number', default: REPLICAS, describe: 'simulator replications (other cost draws); the median one is compared' })
    .option('free-memory', { type: 'boolean', default: true, describe: 'simulate with first touches priced by the host\'s free memory as measured just before the replays (as ol-exp sim --free-memory; --no-free-memory: the calibration\'s one figure)' }),
  async (a) => {
    const proto = PROTOCOLS[a.protocol];
    const custom = (a.calibrations !== undefined && a.calibrations !== proto.calibrations) || (a.realRuns !== undefined && a.realRuns !== proto.realRuns);
    const calibrations: number = a.calibrations ?? proto.calibrations;
    const realRuns: number = a.realRuns ?? proto.realRuns;
    const protocol = { name: custom ? 'custom' as const : a.protocol, realRuns, calibrations };
    if (!(Number.isInteger(calibrations) && calibrations >= 1)) throw new OlError('OL_ERR_CONFIG', `--calibrations: a whole number >= 1, got ${calibrations}`);
    if (!(Number.isInteger(realRuns) && realRuns >= 1)) throw new OlError('OL_ERR_CONFIG', `--real-runs: a whole number >= 1, got ${realRuns}`);
    const out = a.out;
    mkdirSync(out, { recursive: true });
    await warnIfBusy(a.backend as 'sock' | 'docker');
    const { calibrate, mergeCalibrations } = await import('./calibrate.js');
    // calibrations before replays 0, round(R/n), round(2R/n), ... (one replay: all before it)
    const at = Array.from({ length: calibrations }, (_, i) => Math.min(realRuns - 1, Math.round((i * realRuns) / calibrations)));
    const calDir = join(out, 'calibrations');
    rmSync(calDir, { recursive: true, force: true });
    mkdirSync(calDir, { recursive: true });
    const profiles: import('../sim/profile.js').CostProfile[] = [];
    // what is left, from the times taken so far (a replay: the plan's span, the free-memory probe before it, a worker's start and stop)
    const times = { calibration: [] as number[], replay: [] as number[] };
    const mean = (xs: number[], dflt: number) => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : dflt);
    let replaySpanS = 0, replayStart = 0;
    const left = (calibrationsLeft: number, replaysLeft: number) => {
      const s = calibrationsLeft * mean(times.calibration, CALIBRATION_S) + replaysLeft * mean(times.replay, replaySpanS + 10) + 15;
      return s >= 90 ? `about ${Math.round(s / 60)} min left` : `about ${Math.round(s)} s left`;
    };
    const calibrateNow = async () => {
      const t = performance.now();
      say(`    calibration ${profiles.length + 1} of ${calibrations} (${left(calibrations - profiles.length, realRuns - times.replay.length)})`);
      profiles.push(await calibrate({ backend: a.backend as 'sock', n: a.calibrateN, out: join(calDir, `${profiles.length}.json`), log: (s) => say(`      ${s}`) }));
      times.calibration.push((performance.now() - t) / 1000);
    };
    // one plan for the replay and every simulation (its packages, wheels and fitted tree made once)
    const p = await plan(a as unknown as PlanArgs);
    replaySpanS = p.spanMs / 1000;
    say(`protocol ${protocol.name}: ${realRuns} replays, ${calibrations} calibration(s) (${left(calibrations, realRuns)})`);
    say(`1/4 calibrating the simulator on this machine (${calibrations} times, spread over the replays) and 2/4 replaying the trace on the real worker (${realRuns} times)`);
    await real({
      ...(a as unknown as PlanArgs), out: join(out, 'real'), backend: a.backend as 'sock', force: false, maxRate: 1500, runs: realRuns,
      beforeReplay: async (r) => {
        if (r > 0) times.replay.push((performance.now() - replayStart) / 1000);
        for (const x of at) if (x === r) await calibrateNow();
        say(`    (${left(at.filter((x) => x > r).length, realRuns - r)})`);
        replayStart = performance.now();
      },
    }, p);
    // a series stopped early has made fewer, never none (the first comes before the first replay)
    // the host's free memory as the replays met it: the probes taken just before each (experiments/memory-warmth.ts)
    const { replayWarmths, withReplayWarmth } = await import('./memory-warmth.js');
    const probes = replayWarmths(join(out, 'real'));
    const merged = mergeCalibrations(profiles), probed = withReplayWarmth(merged, probes);
    writeFileSync(join(out, 'profile.json'), JSON.stringify(probed, null, 2) + '\n');
    say(`    merged ${profiles.length} calibrations into ${join(out, 'profile.json')} (each in ${calDir})`);
    const mw = probed === merged ? undefined : probed.extra?.memoryWarmth as import('./memory-warmth.js').MemoryWarmth;
    if (mw) say(`    first touches just before the replays: ${mw.warmMsPerMb} ms/MB${mw.warmMb !== null ? ` for the first ${mw.warmMb} MB, then ${mw.coldMsPerMb}` : ''} (medians of ${probes.filter(Boolean).length} probes; ${a.freeMemory && mw.warmMb !== null ? 'what the simulator charges' : 'the simulator charges one figure'})`);
    say(`3/4 simulating the same invocations (${a.replicas} replications)`);
    await sim({ ...(a as unknown as PlanArgs), out: join(out, 'sim'), profile: join(out, 'profile.json'), backend: a.backend as 'sock', replicas: a.replicas, freeMemory: a.freeMemory }, p);
    say(`    and again over the calibration's spread (each effective-cores sample × ${a.freeMemory ? 'the probes\' quartiles of the cheap headroom' : 'the quartiles of the memory-touching cost'})`);
    const spread = await simulateSpread(p, { ...(a as unknown as PlanArgs), backend: a.backend as 'sock', freeMemory: a.freeMemory }, join(out, 'profile.json'), join(out, 'real'), join(out, 'sim-spread'));
    say('4/4 comparing');
    await compare(join(out, 'real'), join(out, 'sim'), join(out, 'report'), spread, protocol, profiles);
    say(`open ${join(out, 'report', 'report.html')} (or report.pdf) to see how well the simulator predicts the real worker`);
  })
  .demandCommand(1, 'name a command: calibrate, real, sim, compare, sweep, fit-tree, grid or validate')
  .strict()
  .help()
  .version(false)
  .fail(usage)
  .parseAsync()
  .catch(fail);


