/**
 * `ol-exp sim`: the simulator on exactly the plan `ol-exp real` replays
 * (same arrivals, execution times and memory), with the same policy and
 * memory and a cost profile, written in the same run-directory format.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CsvWriter, us } from '../common/csv-writer.js';
import { OlError } from '../common/errors.js';
import { machineInfo } from '../common/machine.js';
import { olLabVersion } from '../common/version.js';
import { resolveSimConfig } from '../sim/config.js';
import { compileProfile, modelFigures, type CostProfile } from '../sim/profile.js';
import { ImportCacheModel } from '../sim/import-cache.js';
import { makeRng } from '../common/rng.js';
import { simulate } from '../sim/run.js';
import { newBatch, type TraceSource } from '../traces/types.js';
import { CLUSTER_INVOCATION_HEADER, CPU_HEADER, INVOCATION_HEADER, MEMORY_HEADER, clusterSettings, type ClusterSettings, type RunInfo } from './run-files.js';
import type { SimHooks } from '../sim/simulator.js';
import type { Plan } from './plan.js';
import { touchMb } from './first-touch.js';
import { runRepeated, type RepeatFigures } from './repeats.js';
import { SANDBOX_CPU_SHARES } from '../worker/sandbox/cgroups.js';
import { FREE_MEMORY_HOLD_MS, HostFreeMemory } from '../sim/free-memory.js';
import { ZYGOTE_CPU_SHARES } from '../worker/sandbox/sock.js';

export interface SimRunOptions {
  plan: Plan;
  out: string;
  policy: string;
  memoryMb: number;
  cores: number;
  profile: CostProfile;
  profilePath?: string;
  /** The backend the real run used: docker sandboxes never fork from zygotes. */
  backend?: 'sock' | 'docker';
  /** Sandbox creation as CPU work, one creation lane at a time per the profile (SimConfig.createOnCpu), and destruction (destroyOnCpu). */
  createOnCpu?: boolean;
  /**
   * Price a first call's touching by the host's free memory (sim/free-memory.ts)
   * where the profile measured it (extra.memoryWarmth with a knee); else one
   * figure (touchBusyMsPerMb). Off unless asked for; the ol-exp commands
   * ask for it by default, with the probes taken just before the replays
   * where there are some (experiments/memory-warmth.ts withReplayWarmth;
   * docs/notebook/2026-12-07-touch-spread.md).
   */
  freeMemory?: boolean;
  /**
   * Share the cores in time slices of the calibrated length (extra.cpuSliceMs,
   * sim/cpu.ts TimeSlicing) instead of processor sharing. Default: off (on the
   * grids measured so far it has not improved the figures as a whole:
   * docs/SIMULATOR.md, "CPU").
   */
  cpuSlice?: boolean;
  /**
   * A call that takes a sandbox whose pause is still freezing waits for the
   * rest of the freeze, whose length grows with the jobs per core
   * (extra.freezeUnderLoad, ModelFigures.freeze; SimConfig.freezeMs).
   * Default: off (a whole grid moved by no more than noise with it:
   * docs/notebook/2026-12-07-comfortable-row.md).
   */
  freezeWait?: boolean;
  /**
   * Add the calibrated answer's way back after a handler that worked
   * (extra.responseWake, SimHooks.responseMs) to each call's latency.
   * Default: off (of two grids, it helped the p50s of one and hurt the
   * other's: docs/notebook/2026-12-05-response-wake.md).
   */
  responseWake?: boolean;
  /** Replication number: 0 (or none) simulates with the plan's seed; r > 0 with seed replicaSeed(seed, r), the same invocations with other cost draws. */
  replica?: number;
  /**
   * A cluster of `workers` identical workers of `memoryMb` and `cores` each
   * behind the balancer (sim/cluster.ts), the front's hop from `hopMs`, else
   * the profile's measured hop (ol-exp calibrate --hop), else 0. The
   * workers share `cores` as the real cluster's share this machine's
   * (ClusterSpec.sharedCores); `ownCores`: each has `cores` of its own.
   */
  cluster?: { workers: number; balancer: string; balancerOptions?: Record<string, number>; front?: 'boss' | 'haproxy'; viewRefreshMs?: number; hopMs?: number; ownCores?: boolean };
}

/** The cluster settings a simulated run records (and compare checks against the real run's). */
export function simClusterSettings(c: NonNullable<SimRunOptions['cluster']>, profile: CostProfile): ClusterSettings {
  return { ...clusterSettings(c), hopMs: c.hopMs ?? modelFigures(profile).hopMs };
}

/** The simulator's seed for replication `r` of a plan with seed `seed` (r = 0: the seed itself). */
export function replicaSeed(seed: number, r: number): number {
  return r === 0 ? seed : seed + r * 1_000_003;
}

/**
 * Simulates the plan `replicas` times, differing only in the simulator's
 * own random draws (costs sampled from the profile's distributions), each
 * into `<out>/replicas/<r>`, and keeps the median replication as the run in
 * `out`, with `replicas.json` listing all (experiments/repeats.ts);
 * `replicas` lists them (none when there is only one).
 */
export async function runSimReplicated(o: SimRunOptions & { replicas: number }): Promise<{ chosen: number; replicas: RepeatFigures[] }> {
  if (!(Number.isInteger(o.replicas) && o.replicas >= 1)) throw new OlError('OL_ERR_CONFIG', `replicas: must be a whole number >= 1, got ${o.replicas}`);
  if (o.replicas === 1) {
    // once: no list, and none of an earlier series left to be mistaken for this run's
    rmSync(join(o.out, 'replicas'), { recursive: true, force: true });
    rmSync(join(o.out, 'replicas.json'), { force: true });
    await runSim(o);
    return { chosen: 0, replicas: [] };
  }
  const seedOf = (r: number) => replicaSeed(o.plan.options.seed, r);
  const got = await runRepeated(o.out, 'replicas.json', o.replicas, (r) => ({ label: `replication ${r} (seed ${seedOf(r)})`, seed: seedOf(r) }), async (dir, r) => {
    await runSim({ ...o, out: dir, replica: r });
    return true;
  });
  return { chosen: got.chosen, replicas: got.list };
}

/** The plan's invocations as a trace source: one batch, hashed as the plan is. */
function planSource(p: Plan): TraceSource {
  const functions = p.functions.map((f) => ({ name: f.name }));
  return {
    format: 'plan', location: String(p.options.trace ?? 'plan'), functions, options: { ...p.options },
    stats: { invocations: p.n, skipped: 0, skippedExamples: [], bytesRead: 0, totalBytes: 0 },
    *batches() {
      const b = newBatch(p.n);
      b.t.set(p.t); b.fn.set(p.fn); b.dur.set(p.dur); b.mem.set(p.mem);
      b.length = p.n;
      yield b;
    },
    hash: () => p.planSha256,
    notes: () => [],
  };
}

export async function runSim(o: SimRunOptions): Promise<void> {
  const p = o.plan;
  mkdirSync(o.out, { recursive: true });
  const cl = o.cluster ? simClusterSettings(o.cluster, o.profile) : undefined;
  if (cl && !(Number.isInteger(cl.workers) && cl.workers >= 1)) throw new OlError('OL_ERR_CONFIG', `workers: a whole number >= 1, got ${cl.workers}`);
  const nw = cl?.workers ?? 1;
  const inv = new CsvWriter(join(o.out, 'invocations.csv'), (cl ? CLUSTER_INVOCATION_HEADER : INVOCATION_HEADER).split(','));
  const fig = modelFigures(o.profile);
  if (o.responseWake && !fig.responseMs) throw new OlError('OL_ERR_CONFIG', `response wake: the profile ${o.profilePath ?? o.profile.name} has not measured it (extra.responseWake); calibrate again with ol-exp calibrate`);
  if (o.freezeWait && !fig.freeze) throw new OlError('OL_ERR_CONFIG', `freeze wait: the profile ${o.profilePath ?? o.profile.name} has not timed pauses under load (extra.freezeUnderLoad); calibrate again with ol-exp calibrate`);
  if (o.cpuSlice && !(fig.cpuSliceMs > 0)) throw new OlError('OL_ERR_CONFIG', `cpu slice: the profile ${o.profilePath ?? o.profile.name} has no measured time slice (extra.cpuSliceMs); calibrate again with ol-exp calibrate`);
  const zygotes = o.backend !== 'docker' && (p.options.importCache ?? true);
  const seed = replicaSeed(p.options.seed, o.replica ?? 0);
  const config = resolveSimConfig({
    policy: o.policy, memoryMb: o.memoryMb, cores: o.cores, queue: 'wait', seed,
    // creations limited by the cores (the calibration found as many lanes as cores) run as CPU work without lanes:
    // k at once then take k x one's time / cores, as measured, and under load every creation under way competes
    // with the handlers, as the Docker engine's do (docs/EXPERIMENTS.md, "Docker")
    createLanes: o.createOnCpu && fig.createCpuBound ? Infinity : fig.createLanes,
    // with it, a destroy is CPU work too (SimConfig.destroyOnCpu): measured, a destroy is about as much CPU as wall time
    createOnCpu: o.createOnCpu ?? false, destroyOnCpu: o.createOnCpu ?? false,
    // forks run in the zygote's group, at its CPU weight against a sandbox's (worker/sandbox/sock.ts, cgroups.ts)
    createCpuWeight: zygotes && o.createOnCpu ? ZYGOTE_CPU_SHARES / SANDBOX_CPU_SHARES : 1,
    // the part of a fork after the sandbox joins its own cgroup, at a sandbox's weight: as it stretched beside busy
    // handlers when the calibration timed that, else as timed on an idle machine (profiles from before either: none)
    createSandboxMs: zygotes && o.createOnCpu ? fig.createLoaded?.sandboxMs ?? fig.forkSandboxMs : 0,
    // and what a fork waits for a core when every core is busy (docs/notebook/2026-12-06-creations-under-load.md)
    createBusyWaitMs: zygotes && o.createOnCpu ? fig.createLoaded?.waitMs ?? 0 : 0,
    // CPU the worker spends that no request waits for
    callBackgroundCpuMs: fig.callBackgroundCpuMs, coldBackgroundCpuMs: fig.coldBackgroundCpuMs, pauseBackgroundCpuMs: fig.pauseBackgroundCpuMs,
    cpuSliceMs: o.cpuSlice ? fig.cpuSliceMs : 0,
    freezeMs: o.freezeWait ? fig.freeze!.idleMs : 0, freezeLoadMs: o.freezeWait ? fig.freeze!.loadMs : 0,
  });
  const costs = compileProfile(o.profile);
  const importMs = new Map((p.packages?.catalog ?? []).map((c) => [c.name, c.importMs]));
  // as the real worker: on sock, sandboxes fork from zygotes unless the plan turns the import cache off;
  // each worker of a cluster has zygotes of its own (worker 0 draws as a single worker does)
  const models: (ImportCacheModel | undefined)[] = [];
  const startupFor = (w: number) => (models[w] ??= zygotes
    ? new ImportCacheModel({
      tree: p.packages?.tree ?? { packages: [], children: [] },
      fnPackages: p.packages?.fnPackages ?? [],
      importMs: (pkg: string) => importMs.get(pkg) ?? 0,
      installMs: () => 0, // ol-exp real installs every package before the replay
      fork: costs.fork ?? costs.sample.create,
      zygoteMb: 128,
      rng: makeRng(seed, w === 0 ? 'sim/import-cache' : `sim/import-cache#w${w}`),
    })
    : undefined);
  const freshImports = !zygotes && p.packages
    ? p.packages.fnPackages.map((pk) => pk.reduce((s, name) => s + (importMs.get(name) ?? 0), 0))
    : undefined;
  // the synthetic lambda touches its memory on a sandbox's first call: with freeMemory, priced by the host's
  // free memory where the calibration found touching dearer past some memory (one machine: one model), else one figure
  const fm = o.freeMemory ? fig.freeMemory : undefined;
  const touched = p.functions.map((f) => touchMb(f.memMb));
  const touchModel = (): HostFreeMemory | undefined => fm && new HostFreeMemory({ ...fm, holdMs: FREE_MEMORY_HOLD_MS, touchMb: touched });
  const machineTouch = o.cluster?.ownCores ? undefined : touchModel();
  const touchModels: (HostFreeMemory | undefined)[] = [];
  const touchFor = (w: number) => machineTouch ?? (touchModels[w] ??= touchModel());
  const coldWorkMs = touched.map((mb, i) => (fm ? 0 : mb * fig.touchMsPerMb) + (freshImports?.[i] ?? 0));
  const coldWorkBusyMs = touched.map((mb, i) => (fm ? 0 : mb * fig.touchBusyMsPerMb) + (freshImports?.[i] ?? 0));
  // each worker's memory and CPU samples, summed per second at the end (the workers sample on one grid from the first arrival)
  const samples = Array.from({ length: nw }, () => new Map<number, { mb: number; busy: number }>());
  // a worker numbers its invocations as it receives them: traceInv[w][k] is the trace's number of worker w's k-th
  const traceInv: number[][] = Array.from({ length: nw }, () => []);
  const hop = cl?.hopMs ?? 0;
  const hooksFor = (w: number): SimHooks => ({
    onInvocation: (r) => {
      const k = cl ? traceInv[w]![r.inv]! : r.inv;
      // a cluster's worker sees the request a hop after it arrived; the record keeps the plan's arrival
      const arrival = r.arrival - hop;
      const row: (string | number)[] = [k, r.fn, us(arrival), us(arrival), us(arrival + r.latencyMs), us(r.latencyMs), r.start === 'dropped' ? 'failed' : r.start, r.start === 'dropped' ? 0 : 200];
      if (cl) row.push(w);
      inv.row(row);
    },
    seriesIntervalMs: 1000,
    onSample: (s) => samples[w]!.set(s.t, { mb: s.usedMb, busy: s.cpuBusyCoreMs }),
    coldWorkMs, coldWorkBusyMs,
    // the answer's way back after a handler that worked (calibrated: extra.responseWake), when asked for
    ...(o.responseWake && fig.responseMs ? { responseMs: fig.responseMs } : {}),
    ...(fm ? { firstTouch: touchFor(w)! } : {}),
  });
  if (cl) {
    await simulate({ trace: planSource(p), config, profile: o.profile, machine: false, cluster: {
      balancer: cl.balancer, balancerOptions: cl.balancerOptions, workers: Array.from({ length: nw }, () => ({})), hopMs: cl.hopMs, viewRefreshMs: cl.viewRefreshMs,
      ...(o.cluster!.ownCores ? {} : { sharedCores: o.cores }),
      hooksFor, startupFor, fnPackages: p.packages?.fnPackages ?? p.functions.map(() => []), ...(zygotes ? { tree: startupFor(0)!.tree } : {}),
      onPlace: (k, w) => traceInv[w]!.push(k),
      // the real front sees the lambdas' registered names: the simulated one hashes the same keys
      placementNames: p.functions.map((f) => f.lambda),
    } });
  } else {
    await simulate({ trace: planSource(p), config, profile: o.profile, machine: false, startup: startupFor(0), hooks: hooksFor(0) });
  }
  inv.close();
  writeSeries(o.out, samples, Boolean(cl) && !o.cluster!.ownCores);
  const info: RunInfo = {
    tool: 'ol-exp', kind: 'sim', olLabVersion: olLabVersion(), planSha256: p.planSha256, traceSha256: p.traceSha256,
    trace: p.options.trace, plan: { ...p.options }, seed: p.options.seed, policy: o.policy, memoryMb: o.memoryMb,
    ...(o.replica ? { repeat: { index: o.replica, seed: replicaSeed(p.options.seed, o.replica) } } : {}),
    cores: o.cores === Infinity ? 'infinite' : o.cores, createOnCpu: o.createOnCpu ?? false, destroyOnCpu: o.createOnCpu ?? false, freeMemory: fm !== undefined, cpuSliceMs: config.cpuSliceMs, ...(o.freezeWait ? { freezeWait: { idleMs: config.freezeMs, loadMs: config.freezeLoadMs } } : {}), responseWake: Boolean(o.responseWake), profile: { path: o.profilePath ?? null, ...o.profile },
    machine: await machineInfo(), complete: true, invocations: p.n, functions: p.functions, notes: [...p.notes],
    ...(cl ? { cluster: { ...cl, ...(o.cluster!.ownCores ? {} : { sharedCores: o.cores === Infinity ? 'infinite' : o.cores }) } } : {}),
  };
  writeFileSync(join(o.out, 'run.json'), JSON.stringify(info, null, 2) + '\n');
}

/**
 * memory.csv and cpu.csv in the real run's format: memory in use and the
 * CPU model's busy cores each second (no worker or client of its own),
 * summed over a cluster's workers. Workers sharing one machine's cores
 * each report the machine's busy figure: the least of them at a time is
 * exact (the first worker past a sample time reads it before the machine
 * moves on; the others read it later), so that one is taken.
 */
function writeSeries(out: string, samples: Map<number, { mb: number; busy: number }>[], sharedCpu = false): void {
  const mem = new CsvWriter(join(out, 'memory.csv'), MEMORY_HEADER);
  const cpu = new CsvWriter(join(out, 'cpu.csv'), CPU_HEADER);
  const times = [...new Set(samples.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  // a worker with no sample at t (it had nothing to do yet, or was done) holds its last one
  const last = samples.map(() => ({ mb: 0, busy: 0 }));
  let prev: { t: number; busy: number } | undefined;
  for (const t of times) {
    let mb = 0, busy = sharedCpu ? Infinity : 0;
    samples.forEach((m, w) => {
      const s = m.get(t);
      if (s) last[w] = s;
      mb += last[w]!.mb;
      // sharing: only the workers that sampled at t itself (one past its last event holds a stale figure)
      if (!sharedCpu) busy += last[w]!.busy;
      else if (s) busy = Math.min(busy, s.busy);
    });
    mem.row([us(t), us(mb)]);
    if (prev && t > prev.t) cpu.row([us(t), ((busy - prev.busy) / (t - prev.t)).toFixed(3), '', '', '']);
    prev = { t, busy };
  }
  mem.close();
  cpu.close();
}
