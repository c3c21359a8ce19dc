/**
 * `ol-exp calibrate`: measures what the simulator's cost profile prices, on
 * this machine's real worker, and writes it as a profile JSON (empirical
 * distributions: every sample kept) with the machine's description.
 *
 * - warmDispatch: client-observed latency of a noop call on an idle,
 *   unpaused sandbox (policy lru): everything the worker adds around a
 *   handler, HTTP hops included;
 * - create: client-observed latency of the first call to a new noop lambda
 *   on a worker without the import cache, minus the median warm call
 *   (sandbox creation, interpreter start and handler import; `runtimeStart`
 *   is folded into it and set to 0);
 * - fork (sock): the same with the import cache on, so from the root
 *   zygote (the worker's default);
 * - unpause: latency of a call that finds its sandbox paused (policy
 *   openlambda), minus the median warm call (both timed once the worker
 *   has answered WARMUP_CALLS calls);
 * - pause and destroy: timed on the sandbox backend directly; on sock the
 *   pause again beside 2 × and 8 × as many spinning processes as cores
 *   (`extra.freezeUnderLoad`: a frozen task must get a core to stop, so the
 *   freeze takes longer under load; `ol-exp sim --freeze-wait`);
 * - memory touching: first calls of the synthetic lambda touching 0 and
 *   40 MB; the difference per MB is `extra.touchMsPerMb`, which `ol-exp sim`
 *   adds as first-call work (the harness's lambda touches its memory then);
 *   the CPU each touching handler reports of itself per MB, one at a time
 *   at the start and at four later points of the calibration (the worker
 *   holding a hundred-odd sandboxes, paused ones, several hundred), is
 *   `extra.touchCpuPhases`; the median of them all is
 *   `extra.touchBusyMsPerMb`, the CPU work the simulator charges for it;
 * - memory warmth: at the end, first touches of memory in a separate
 *   process as the memory it holds grows (`extra.memoryWarmth`: on a VM
 *   whose host takes freed memory back, touching past the free memory it
 *   has not taken back yet costs more; the simulator prices first touches
 *   by it only with `ol-exp sim --free-memory`);
 * - creation lanes: 10 first calls at once; how much faster than 10 in a
 *   row they finish gives how many creations really proceed in parallel
 *   (`extra.createLanes`, used by `ol-exp sim`; as many as the effective
 *   cores means the cores were the limit, as with the Docker engine, and
 *   `ol-exp sim --create-on-cpu` then runs creations without lanes);
 * - CPU: k concurrent handlers each burning W ms of CPU (k = 1..4); the
 *   stretch of their wall time gives the cores handlers effectively share,
 *   stored as `extra.cores` (what `ol-exp sim` uses by default);
 * - background CPU: the machine's busy time (/proc/stat, all processes and
 *   the kernel, less the idle machine's own rate) over the warm calls,
 *   the cold ones and the calls that find their sandbox paused, per call
 *   (the median of batches: cpuPerOp). What a call costs beyond its handler is
 *   CPU the simulator's delays leave out (worker, client, HTTP); what a
 *   cold start costs beyond that and beyond the creation the simulator
 *   already runs as CPU work is done off the request's path (the zygote
 *   clones its next spare, the pool refills its cgroups); what a paused
 *   sandbox's call costs beyond a warm one is the freeze after the call
 *   before and the thaw (cgroup freezer writes and the kernel's work). All
 *   go to `extra.backgroundCpu`, which `ol-exp sim` charges as CPU work
 *   nothing waits for (SimConfig.callBackgroundCpuMs, coldBackgroundCpuMs,
 *   pauseBackgroundCpuMs).
 * - the scheduler's time slice: twice as many handlers as cores, each
 *   spinning on the clock for a while and noting every stretch it ran
 *   between two pauses of more than 0.1 ms (another handler had the core);
 *   the median stretch is `extra.cpuSliceMs`, the slice the simulator's
 *   CPU gives a job while others wait (SimConfig.cpuSliceMs; on Linux the
 *   fair scheduler's slice, rounded up to its tick).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { BUSY_SHARE_FLAG, BusyMeter, experimentMatch, machineBusyMs, otherShare } from '../common/cpu-usage.js';
import { joinCpuGroup, type CpuGroup } from '../common/cpu-accounting.js';
import { measureMemoryWarmth } from './memory-warmth.js';
import { removeUnlessMounted } from '../common/fs.js';
import { machineInfo } from '../common/machine.js';
import { defaultConfig } from '../worker/config.js';
import { makePoolFor } from '../worker/pools.js';
import type { CalibrationFigures, CostProfile } from '../sim/profile.js';
import { handlerTimes, SYNTHETIC_LAMBDA } from './real.js';
import { spawnWorker, stopOnSignal, type WorkerProcess } from './worker-process.js';
import { median, percentileOf } from '../common/stats.js';

/** A lambda that returns its event: the calls that time what the worker (or a front) adds around a handler. */
export const NOOP = 'def f(event):\n    return event\n';
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One POST /run/<name> to `base`: its latency from the client, ms, and (with `keep`) its body; rejects unless it answers 200. */
function post(base: URL, name: string, body: string, via: http.Agent, keep: boolean): Promise<{ ms: number; text: string }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = http.request({ agent: via, host: base.hostname, port: base.port, method: 'POST', path: `/run/${name}`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      if (keep) res.on('data', (c: Buffer) => chunks.push(c));
      else res.resume();
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve({ ms: performance.now() - t, text });
        else reject(new Error(`${name} at ${base.origin}: status ${res.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One POST /run/<name> to `base`: its latency from the client, ms; rejects unless it answers 200. */
export function call(base: URL, name: string, body = '1', via: http.Agent = agent): Promise<number> {
  return post(base, name, body, via, false).then((r) => r.ms);
}

/** The same, keeping the answer's text. */
function callText(base: URL, name: string, body: string): Promise<{ ms: number; text: string }> {
  return post(base, name, body, agent, true);
}

/** A lambda that spins for `ms` of wall time and returns the stretches it ran between pauses of more than `gap_ms` (the first and last left out: cut by its start and end), ms. */
export const SLICE_LAMBDA = `import time

def f(event):
    pc = time.perf_counter_ns
    gap = int(event.get("gap_ms", 0.1) * 1e6)
    end = pc() + int(event["ms"] * 1e6)
    runs = []
    start = last = pc()
    while last < end:
        t = pc()
        if t - last > gap:
            runs.append((last - start) / 1e6)
            start = t
        last = t
    return {"runs": runs[1:]}
`;

/**
 * Where cpuPerOp reads the machine: its busy CPU so far and the wall clock,
 * ms, and how it waits out an idle window. The machine's own by default; a
 * test gives a made-up machine, so the arithmetic is checked exactly and
 * without the noise of whatever else runs beside the test.
 */
export interface CpuMeter {
  busyMs(): number;
  nowMs(): number;
  idle(ms: number): Promise<void>;
}

export const MACHINE_METER: CpuMeter = { busyMs: machineBusyMs, nowMs: () => performance.now(), idle: async (ms) => { await sleep(ms); } };

/** Runs `fn`: the machine's busy CPU meanwhile and the wall time, ms. */
async function busyDuring(meter: CpuMeter, fn: () => Promise<unknown>): Promise<{ busy: number; wall: number }> {
  const b0 = meter.busyMs(), t0 = meter.nowMs();
  await fn();
  return { busy: meter.busyMs() - b0, wall: meter.nowMs() - t0 };
}

/** Batches the CPU-per-call figures are measured in, and the idle window before each, ms. */
const CPU_BATCHES = 5;
const IDLE_WINDOW_MS = 500;

/**
 * The machine CPU one op costs: `ops` ops run in up to CPU_BATCHES batches
 * (`fn(from, to)` runs ops [from, to)), each measured less the idle
 * machine's rate taken just before it. The median over batches: on a shared
 * machine a burst of someone else's work spoils a batch, not the figure
 * (one window over all the ops once read several times the quiet value).
 * Also returns the median idle rate, busy ms per ms. Given `group`, the
 * same per op as that cgroup counts it (less its own idle rate: the median
 * over the same windows), one figure per batch.
 */
export async function cpuPerOp(ops: number, fn: (from: number, to: number) => Promise<void>, group?: CpuGroup, meter: CpuMeter = MACHINE_METER): Promise<{ perOp: number; idlePerMs: number; batches: number[]; groupBatches: number[] }> {
  const k = Math.max(1, Math.min(CPU_BATCHES, ops));
  const per: number[] = [], idle: number[] = [];
  // the group's own: its idle rate in each window, and each batch's usage, wall time and ops
  const gIdle: number[] = [], gBatch: { used: number; wall: number; ops: number }[] = [];
  for (let b = 0; b < k; b++) {
    const from = Math.floor((b * ops) / k), to = Math.floor(((b + 1) * ops) / k);
    const g0 = group?.usageMs() ?? 0;
    const i = await busyDuring(meter, () => meter.idle(IDLE_WINDOW_MS));
    const g1 = group?.usageMs() ?? 0;
    const rate = i.busy / i.wall;
    const { busy, wall } = await busyDuring(meter, () => fn(from, to));
    const g2 = group?.usageMs() ?? 0;
    idle.push(rate);
    per.push(Math.max(0, (busy - rate * wall) / (to - from)));
    gIdle.push((g1 - g0) / i.wall);
    gBatch.push({ used: g2 - g1, wall, ops: to - from });
  }
  // the group holds only the experiment's processes, whose idle rate stays put while a worker is measured: the
  // median of the windows, so a window that caught the worker's own background (a spare's clone, a cgroup refill
  // after the cold calls) spoils no batch (one such window took a batch to 0 in CI)
  const gRate = median(gIdle);
  const byGroup = group ? gBatch.map((x) => Math.max(0, (x.used - gRate * x.wall) / x.ops)) : [];
  return { perOp: median(per), idlePerMs: median(idle), batches: per.map(round), groupBatches: byGroup };
}

/** Whether the experiment's cgroup counts both this process and process `pid` (a worker). */
function groupHolds(group: CpuGroup | undefined, pid: number | undefined): boolean {
  return !!group && pid !== undefined && group.holds(process.pid) && group.holds(pid);
}

/** Pause between the warm calls, and between the unpaused ones, ms. */
const GAP_MS = 20;
/**
 * Calls a worker answers, unmeasured, before its warm or unpaused calls are
 * timed: a fresh worker's first tens of calls answer about 0.5 ms slower
 * (its own code paths warming up), and a replay's calls nearly all come
 * after that (docs/notebook/2026-12-06-warm-path.md).
 */
const WARMUP_CALLS = 30;
/** Warm calls, and calls finding their sandbox paused, whose machine CPU is measured (at least; in CPU_BATCHES batches). */
const WARM_CPU_CALLS = 100;

/** The warm-up: WARMUP_CALLS calls to noop0, GAP_MS apart, their latencies into `into`. */
async function warmUp(base: URL, into: number[]): Promise<void> {
  await noopCalls(base, 0, WARMUP_CALLS, into);
}

/** Calls [from, to) to noop0, GAP_MS apart, their latencies into `into`. */
async function noopCalls(base: URL, from: number, to: number, into: number[]): Promise<void> {
  for (let i = from; i < to; i++) {
    await sleep(GAP_MS);
    into.push(await call(base, 'noop0'));
  }
}

/**
 * A worker's warm-up (into `warmupInto`), then `ops` timed noop0 calls
 * (into `into`) and the CPU they cost (cpuPerOp; also by `group` where it
 * holds the worker): the warm and the unpaused calls alike.
 */
async function timedNoopCalls(w: WorkerProcess, ops: number, warmupInto: number[], into: number[], group: CpuGroup | undefined): ReturnType<typeof cpuPerOp> {
  await warmUp(w.base, warmupInto);
  return cpuPerOp(ops, (from, to) => noopCalls(w.base, from, to, into), groupHolds(group, w.child.pid) ? group : undefined);
}
/** First calls touching memory at once, and how often that is measured. */
const TOUCH_K = 4;
const TOUCH_REPS = 3;
/**
 * First calls touching memory one at a time at each later point of the calibration (TOUCH_PHASES): a touch's
 * price drifts by a third with what the machine freed lately and what it holds, so the charged figure is the
 * median over the whole calibration, not a few seconds' snapshot at its start (docs/notebook/2026-12-07-touch-spread.md)
 */
const LATE_TOUCH_N = 5;
/** The later points: on the first worker after its cold, warm and ready calls and at its end; on the paused worker; on the loaded one (sock). */
const TOUCH_PHASES = ['afterCold', 'firstEnd', 'paused', 'loaded'] as const;
/** Pause before each cold call that should find the zygote's spare ready, ms (it is cloned in ~30 ms). */
const READY_GAP_MS = 200;
/** Creations timed beside this many spinning handlers per core (at most the second figure: sandboxes the pool holds), LOAD_REPS rounds each (calibration step 5). */
const LOAD_PER_CORE: [number, number][] = [[2, 16], [8, 64]];
const LOAD_REPS = 12;
/** CPU of each spinning handler's call, ms; how long they spin before the first round, and the pause between rounds, ms. */
const SPIN_CALL_MS = 50;
const SPIN_SETTLE_MS = 300;
/** Pauses timed at each load of step 4's second part, and the time between them, ms. */
const FREEZE_REPS = 10;
const FREEZE_GAP_MS = 20;
const LOAD_GAP_MS = 100;
const LOAD_SETTLE_MS = 2000;
/** Handler work times the response wake is measured at, ms, and the rounds (about 8 s in all). */
const WAKE_WORK_MS = [1, 3, 6, 15, 40];
const WAKE_ROUNDS = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number) => Math.round(x * 1000) / 1000;

export async function calibrate(o: { backend: 'sock' | 'docker'; n: number; out: string; log: (s: string) => void }): Promise<CostProfile> {
  // the workers and sandboxes started from here on are counted through one cgroup (busy meter)
  const acct = joinCpuGroup();
  try {
    return await measure(o, acct?.group);
  } finally {
    acct?.release();
  }
}

async function measure(o: { backend: 'sock' | 'docker'; n: number; out: string; log: (s: string) => void }, group: CpuGroup | undefined): Promise<CostProfile> {
  const n = o.n;
  const lambdas = Array.from({ length: n }, (_, i) => ({ name: `noop${i}`, src: NOOP }));
  const CONC = 10;
  const conc = Array.from({ length: 3 * CONC }, (_, i) => ({ name: `conc${i}`, src: NOOP }));
  const burn = Array.from({ length: 4 }, (_, i) => ({ name: `burn${i}`, src: SYNTHETIC_LAMBDA }));
  // twice as many spinning handlers as cores: each waits for a core part of the time
  const SLICE_K = Math.min(64, 2 * availableParallelism());
  const slicers = Array.from({ length: SLICE_K }, (_, i) => ({ name: `slice${i}`, src: SLICE_LAMBDA }));
  const TOUCH = 40;
  const touchN = Math.max(5, Math.ceil(n / 3));
  const touch = Array.from({ length: 2 * touchN }, (_, i) => ({ name: `touch${i}`, src: SYNTHETIC_LAMBDA, yaml: 'limits:\n  mem_mb: 128\n' }));
  const ready = Array.from({ length: n }, (_, i) => ({ name: `ready${i}`, src: NOOP }));
  // step 5: CONC creations at once beside no handler and beside 2 × and 8 × as many spinning ones as cores (sock:
  // forks from the zygote; SimConfig.createSandboxMs and createBusyWaitMs)
  const machineCores = availableParallelism();
  const loads = o.backend === 'sock' ? LOAD_PER_CORE.map(([m, most]) => Math.min(most, m * machineCores)) : [];
  const spinners = Array.from({ length: Math.max(0, ...loads) }, (_, i) => ({ name: `spin${i}`, src: SYNTHETIC_LAMBDA }));
  const uload = Array.from({ length: (loads.length + 1) * LOAD_REPS * CONC }, (_, i) => ({ name: `uload${i}`, src: NOOP, yaml: 'limits:\n  mem_mb: 32\n' }));
  // TOUCH_K first calls at once, touching TOUCH MB or none, TOUCH_REPS times each
  const ctouch = Array.from({ length: 2 * TOUCH_K * TOUCH_REPS }, (_, i) => ({ name: `ctouch${i}`, src: SYNTHETIC_LAMBDA, yaml: 'limits:\n  mem_mb: 128\n' }));
  // one first call alone right before and right after each round of TOUCH_K (touchTogether.rounds)
  const cbracket = Array.from({ length: 2 * TOUCH_REPS }, (_, i) => ({ name: `cbracket${i}`, src: SYNTHETIC_LAMBDA, yaml: 'limits:\n  mem_mb: 128\n' }));
  const lateTouch = (phase: number) => Array.from({ length: LATE_TOUCH_N }, (_, i) => ({ name: `tlate${phase}x${i}`, src: SYNTHETIC_LAMBDA, yaml: 'limits:\n  mem_mb: 128\n' }));
  // other work on the machine over the whole calibration, sampled each second
  const meter = new BusyMeter(experimentMatch(o.backend, [process.pid], group));
  const busy = { otherMs: 0, wallMs: 0, peakShare: 0 };
  const takeBusy = () => {
    const iv = meter.sample();
    busy.otherMs += iv.otherMs;
    busy.wallMs += iv.wallMs;
    busy.peakShare = Math.max(busy.peakShare, otherShare(iv, machineCores).share);
  };
  // unref'd: a calibration that fails leaves nothing that keeps the process alive
  const busyTimer = setInterval(takeBusy, 1000).unref();
  // 1. cold, warm (lru keeps idle sandboxes unpaused)
  o.log(`cold and warm calls (${n} each) on a ${o.backend} worker`);
  let w = await spawnWorker({ sandbox: o.backend, policy: 'lru', mem_pool_mb: 16_000, limits: { mem_mb: 64 } }, [...lambdas, ...burn, ...touch, ...conc, ...ready, ...ctouch, ...cbracket, ...slicers, ...lateTouch(0), ...lateTouch(1)]);
  const concWall: number[] = [];
  const loadSpinning: number[] = [], loadWall: number[] = [];
  const ctouchWall: { touched: number; none: number }[] = [];
  const cold: number[] = [], warm: number[] = [], cold0: number[] = [], coldT: number[] = [], coldReady: number[] = [];
  const wakeNoop: number[] = [], wakeOver: number[][] = [];
  // the calls answered before the warm and the unpaused ones were timed (reported only)
  const warmupWarm: number[] = [], warmupUnpaused: number[] = [];
  let cpu: { k: number; wallMs: number; workMs: number }[] = [];
  const sliceRuns: number[] = [];
  // the CPU each touching handler reports it spent touching (its own user and system time), ms per MB
  const touchCpu: number[] = [], touchCpuTogether: number[] = [];
  // per round of TOUCH_K at once: their touch CPU and that of the calls alone around it, ms per MB
  const touchRounds: { together: number[]; alone: number[] }[] = [];
  const noteTouchCpu = (text: string, into: number[]) => {
    const t = handlerTimes(text);
    if (t) into.push(t[0] / TOUCH);
  };
  // the same one at a time at TOUCH_PHASES[phase], READY_GAP_MS apart (each finds the zygote's spare ready)
  const touchPhases: { at: string; msPerMb: number[] }[] = [];
  const touchPhase = async (base: URL, phase: number) => {
    const got: number[] = [];
    for (let i = 0; i < LATE_TOUCH_N; i++) {
      await sleep(READY_GAP_MS);
      noteTouchCpu((await callText(base, `tlate${phase}x${i}`, JSON.stringify({ dur_ms: 0, touch_mb: TOUCH }))).text, got);
    }
    touchPhases.push({ at: TOUCH_PHASES[phase]!, msPerMb: got });
  };
  let idlePerMs = 0, cpuCall = 0, cpuCold = 0;
  // the same warm and unpaused calls' CPU as the experiment's own cgroup counts it (this process, the worker,
  // its sandboxes; to the nanosecond and without other work), per call less the group's idle rate (the lru
  // worker here holds a hundred-odd lambdas' sandboxes, the openlambda one a single sandbox), one per batch
  const groupWarm: number[] = [], groupUnpaused: number[] = [];
  let coldBatches: number[] = [], warmBatches: number[] = [];
  try {
    // the CPU measurements start once the new worker has settled (its first sandbox made the root zygote)
    await call(w.base, 'burn0', JSON.stringify({ dur_ms: 1 }));
    await sleep(1000);
    // memory touching on a sandbox's first call: cold with 0 MB vs TOUCH MB. First, while the worker holds
    // almost nothing, as a replay's fresh worker does: on a VM whose host takes freed memory back, touches
    // past the machine's cheap headroom cost several times more, and the sandboxes the steps below keep
    // would use that headroom up (docs/notebook/2026-12-05-touch-headroom.md)
    o.log(`first calls touching 0 and ${TOUCH} MB (${touchN} each)`);
    for (let i = 0; i < touchN; i++) {
      cold0.push(await call(w.base, `touch${2 * i}`, JSON.stringify({ dur_ms: 0, touch_mb: 0 })));
      const r = await callText(w.base, `touch${2 * i + 1}`, JSON.stringify({ dur_ms: 0, touch_mb: TOUCH }));
      coldT.push(r.ms);
      noteTouchCpu(r.text, touchCpu);
    }
    const c = await cpuPerOp(n, async (from, to) => {
      for (let i = from; i < to; i++) cold.push(await call(w.base, `noop${i}`));
      await sleep(300); // the last spare's clone and the cgroup refill finish
    });
    // as far apart as the unpaused calls below (and the requests of a replay): on a VM, a call
    // that finds the cores idle waits for them to wake up, paused sandbox or not
    const nWarm = Math.max(n, WARM_CPU_CALLS);
    const h = await timedNoopCalls(w, nWarm, warmupWarm, warm, group);
    groupWarm.push(...h.groupBatches);
    cpuCold = c.perOp; cpuCall = h.perOp; coldBatches = c.batches; warmBatches = h.batches;
    idlePerMs = (c.idlePerMs + h.idlePerMs) / 2; // reported only: each batch used its own
    // cold calls far enough apart that the zygote's next spare is ready for each: the sandbox's
    // own start-up alone (on sock; back to back, each fork also waits for its spare's clone)
    for (let i = 0; i < n; i++) {
      await sleep(READY_GAP_MS);
      coldReady.push(await call(w.base, `ready${i}`));
    }
    touchPhases.push({ at: 'start', msPerMb: [...touchCpu] });
    await touchPhase(w.base, 0);
    // the answer's way back after a handler that worked: warm calls of a handler working d ms, each
    // beside a no-op call, as far apart as the warm calls above; on a VM the worker's and the client's
    // cores sleep while the handler works, and wake slower the longer they slept (SimHooks.responseMs)
    o.log(`warm calls of handlers working ${WAKE_WORK_MS.join(', ')} ms, each beside a no-op (${WAKE_ROUNDS} rounds)`);
    await call(w.base, 'burn1', JSON.stringify({ dur_ms: 1 }));
    for (let r = 0; r < WAKE_ROUNDS; r++) {
      for (let k = 0; k < WAKE_WORK_MS.length; k++) {
        await sleep(GAP_MS);
        wakeNoop.push(await call(w.base, 'noop0'));
        await sleep(GAP_MS);
        const got = await callText(w.base, 'burn1', JSON.stringify({ dur_ms: WAKE_WORK_MS[k] }));
        const t = handlerTimes(got.text);
        if (t) (wakeOver[k] ??= []).push(got.ms - t[3]);
      }
    }
    // the same, TOUCH_K first calls at once: page faults taken side by side cost more each
    o.log(`first calls touching 0 and ${TOUCH} MB, ${TOUCH_K} at once (${TOUCH_REPS} times each)`);
    let ct = 0;
    const together = async (mb: number, into: number[]) => {
      const t = performance.now();
      const got = await Promise.all(Array.from({ length: TOUCH_K }, () => callText(w.base, `ctouch${ct++}`, JSON.stringify({ dur_ms: 0, touch_mb: mb }))));
      if (mb > 0) for (const g of got) noteTouchCpu(g.text, into);
      return performance.now() - t;
    };
    // each round between two first calls alone: a touch's price moves by half as the calibration's sandboxes
    // use up the machine's cheap memory, so the together figures alone say little of what touching together
    // adds; the rounds say it in one memory state (reported only: docs/notebook/2026-12-07-touching-together.md)
    const alone = async (i: number, into: number[]) => {
      await sleep(READY_GAP_MS);
      noteTouchCpu((await callText(w.base, `cbracket${i}`, JSON.stringify({ dur_ms: 0, touch_mb: TOUCH }))).text, into);
    };
    for (let r = 0; r < TOUCH_REPS; r++) {
      const none = await together(0, []);
      const rd = { together: [] as number[], alone: [] as number[] };
      await alone(2 * r, rd.alone);
      const touched = await together(TOUCH, rd.together);
      await alone(2 * r + 1, rd.alone);
      touchCpuTogether.push(...rd.together);
      touchRounds.push({ together: rd.together.map(round), alone: rd.alone.map(round) });
      ctouchWall.push({ none, touched });
    }
    const ratios = touchRounds.filter((x) => x.together.length && x.alone.length).map((x) => round(median(x.together) / median(x.alone)));
    if (ratios.length) o.log(`  touch CPU together against alone, round by round: ${ratios.join(', ')} (reported; the simulator charges first touches as read one at a time)`);
    // concurrent creations: how many proceed at once
    o.log(`${CONC} creations at once, 3 times`);
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      await Promise.all(Array.from({ length: CONC }, (_, j) => call(w.base, `conc${r * CONC + j}`)));
      concWall.push(performance.now() - t);
    }
    // 2. CPU sharing: k handlers burning W ms at once, sandboxes created beforehand
    o.log('CPU sharing: 1 to 4 handlers at once');
    const W = 300;
    for (let k = 0; k < 4; k++) await call(w.base, `burn${k}`, JSON.stringify({ dur_ms: 1 }));
    for (let k = 1; k <= 4; k++) {
      for (let rep = 0; rep < 3; rep++) {
        const t = performance.now();
        await Promise.all(Array.from({ length: k }, (_, j) => call(w.base, `burn${j}`, JSON.stringify({ dur_ms: W }))));
        cpu.push({ k, wallMs: round(performance.now() - t), workMs: W });
      }
    }
    // 2b. the scheduler's time slice: how long a spinning handler keeps a core while others wait
    o.log(`the scheduler's time slice: ${SLICE_K} handlers spinning at once, 3 times`);
    for (let k = 0; k < SLICE_K; k++) await call(w.base, `slice${k}`, JSON.stringify({ ms: 1 }));
    for (let rep = 0; rep < 3; rep++) {
      const got = await Promise.all(slicers.map((l) => callText(w.base, l.name, JSON.stringify({ ms: 400 }))));
      for (const g of got) {
        let runs: unknown;
        try {
          runs = (JSON.parse(g.text) as { runs?: unknown }).runs;
        } catch {
          throw new Error(`the slice lambda answered something that is not JSON: ${g.text.slice(0, 200)}`);
        }
        for (const r of Array.isArray(runs) ? runs : []) if (typeof r === 'number' && r > 0) sliceRuns.push(r);
      }
    }
    await touchPhase(w.base, 1);
  } finally {
    await w.stop();
  }
  const warmMed = median(warm);
  // 1b. fresh sandboxes (no import cache); on sock the cold calls above were forks from the root zygote
  const fresh: number[] = [];
  if (o.backend === 'sock') {
    o.log(`cold calls without the import cache (${n})`);
    w = await spawnWorker({ sandbox: o.backend, policy: 'lru', mem_pool_mb: 16_000, import_cache: false, limits: { mem_mb: 64 } }, lambdas);
    try {
      for (let i = 0; i < n; i++) fresh.push(await call(w.base, `noop${i}`));
    } finally {
      await w.stop();
    }
  }
  // 3. unpause (openlambda pauses every idle sandbox)
  // as many as the warm calls, and their machine CPU measured the same way: beyond a warm call's, what a
  // pause and its unpause cost the worker and the kernel (SimConfig.pauseBackgroundCpuMs)
  const nUnpaused = Math.max(n, WARM_CPU_CALLS);
  o.log(`calls that find their sandbox paused (${nUnpaused})`);
  w = await spawnWorker({ sandbox: o.backend, policy: 'openlambda', mem_pool_mb: 16_000, limits: { mem_mb: 64 } }, [lambdas[0]!, ...lateTouch(2)]);
  const unpaused: number[] = [];
  let cpuUnpaused = 0, unpausedBatches: number[] = [];
  try {
    // the new worker's own code warms up first (a replay's calls nearly all find it warmed): its
    // first tens of calls answer about 0.5 ms slower, which the unpause would otherwise be charged
    const u = await timedNoopCalls(w, nUnpaused, warmupUnpaused, unpaused, group);
    groupUnpaused.push(...u.groupBatches);
    cpuUnpaused = u.perOp;
    unpausedBatches = u.batches;
    await touchPhase(w.base, 2);
  } finally {
    await w.stop();
  }
  // 4. pause and destroy, on the backend directly
  o.log('pause and destroy on the backend directly');
  const dir = mkdtempSync(join(tmpdir(), 'ol-calib-'));
  const code = mkdtempSync(join(tmpdir(), 'ol-calib-code-'));
  const pause: number[] = [], destroy: number[] = [];
  const freezeSpinning: number[] = [], freezeMs: number[] = [];
  try {
    const c = { ...defaultConfig(dir), sandbox: o.backend };
    const pool = await makePoolFor(c);
    const closePool = async () => {
      await pool.cleanup();
      await pool.close?.(); // its (now empty) root cgroup too
    };
    // a SIGTERM or SIGHUP to the harness meanwhile destroys these sandboxes too, as it stops the workers
    const unhookPool = stopOnSignal(async () => {
      await closePool();
      for (const d of [dir, code]) removeUnlessMounted(d);
    });
    try {
      writeFileSync(join(code, 'f.py'), NOOP);
      chmodSync(code, 0o755); // the sandbox user must read it
      for (let i = 0; i < Math.min(n, 30); i++) {
        const sb = await pool.create({ id: `calib${i}`, lambda: 'calib', codeDir: code, env: {}, memoryMb: 64, pids: 32, cpuPercent: 100, tmpMb: 16 });
        let t = performance.now();
        await sb.pause();
        pause.push(performance.now() - t);
        await sb.unpause();
        t = performance.now();
        await sb.destroy('calibration');
        destroy.push(performance.now() - t);
      }
      // the pause again beside processes spinning on the cores (step 5's loads): a task must get a core to freeze,
      // so under load the freeze takes a scheduler's wait, and a call that takes the sandbox meanwhile waits for it
      // (docs/notebook/2026-12-07-comfortable-row.md)
      if (loads.length) {
        o.log(`pauses beside 0, ${loads.join(' and ')} spinning processes, ${FREEZE_REPS} each`);
        const sb = await pool.create({ id: 'calibfreeze', lambda: 'calib', codeDir: code, env: {}, memoryMb: 64, pids: 32, cpuPercent: 100, tmpMb: 16 });
        try {
          for (const k of [0, ...loads]) {
            const spin = Array.from({ length: k }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
            const stopSpin = () => Promise.all(spin.map((c) => new Promise<void>((done) => {
              if (c.exitCode !== null || c.signalCode !== null) return done();
              c.once('exit', () => done());
              c.kill('SIGKILL');
            }))).then(() => undefined);
            // a SIGTERM or SIGHUP to the harness meanwhile ends them too, as it stops the workers
            const unhook = stopOnSignal(stopSpin);
            try {
              if (k > 0) await sleep(SPIN_SETTLE_MS);
              for (let r = 0; r < FREEZE_REPS; r++) {
                const t = performance.now();
                await sb.pause();
                freezeSpinning.push(k);
                freezeMs.push(performance.now() - t);
                await sb.unpause();
                await sleep(FREEZE_GAP_MS);
              }
            } finally {
              unhook();
              await stopSpin();
            }
          }
        } finally {
          await sb.destroy('calibration');
        }
        const med = (k: number) => round(median(freezeMs.filter((_, i) => freezeSpinning[i] === k)));
        o.log(`  pause, median wall: ${[0, ...loads].map((k) => `${med(k)} ms beside ${k}`).join(', ')}`);
      }
    } finally {
      unhookPool();
      await closePool();
    }
  } finally {
    for (const d of [dir, code]) if (!removeUnlessMounted(d)) o.log(`sandboxes left mounts under ${d}; the folder is kept`);
  }
  // 5. step 1's creations at once again while handlers keep the cores busy, on a worker of its own (the first one
  // held a hundred-odd sandboxes, and its pool would evict while timing), last of the worker steps (its teardown is
  // the largest, and CPU measured after it read low): no handler, then 2 × and 8 × as many as cores, LOAD_REPS
  // rounds back to back at each level. One round varies by a quarter either way under load
  // (docs/notebook/2026-12-06-creations-under-load.md), so the rounds are many and cheap: the handlers spin in
  // short calls, each slot calling again as soon as its call returns, until the level's rounds are done
  if (loads.length) {
    o.log(`${CONC} creations at once beside 0, ${loads.join(' and ')} spinning handlers, ${LOAD_REPS} times each`);
    w = await spawnWorker({ sandbox: o.backend, policy: 'lru', mem_pool_mb: 16_000, limits: { mem_mb: 64 } }, [...spinners, ...uload, ...lateTouch(3)]);
    try {
      for (let j = 0; j < spinners.length; j++) await call(w.base, `spin${j}`, JSON.stringify({ dur_ms: 1 }));
      let u = 0;
      for (const k of [0, ...loads]) {
        let stop = false;
        // each slot's next call starts as its last returns: the cores stay busy but for a round trip per call
        const slots = Array.from({ length: k }, async (_, j) => {
          while (!stop) await call(w.base, `spin${j}`, JSON.stringify({ dur_ms: SPIN_CALL_MS }));
        });
        try {
          if (k > 0) await sleep(SPIN_SETTLE_MS);
          for (let r = 0; r < LOAD_REPS; r++) {
            const t = performance.now();
            await Promise.all(Array.from({ length: CONC }, () => call(w.base, `uload${u++}`)));
            loadSpinning.push(k);
            loadWall.push(performance.now() - t);
            await sleep(LOAD_GAP_MS);
          }
        } finally {
          stop = true;
          await Promise.allSettled(slots);
        }
      }
      await touchPhase(w.base, 3);
    } finally {
      await w.stop();
    }
    // its 370-odd sandboxes torn down: the kernel finishes some of that after the worker has gone
    await sleep(LOAD_SETTLE_MS);
    const perCreation = (k: number) => round(median(loadWall.filter((_, i) => loadSpinning[i] === k)) / CONC);
    o.log(`  per creation (medians): ${[0, ...loads].map((k) => `${perCreation(k)} ms beside ${k}`).join(', ')}`);
  }
  // effective cores: work done per unit of wall time once handlers outnumber cores
  const m = await machineInfo();
  const byK = (k: number) => median(cpu.filter((x) => x.k === k).map((x) => x.wallMs));
  const effective = [2, 3, 4].map((k) => (k * 300) / byK(k));
  const cores = round(Math.min(m.cores, Math.max(...effective)));
  clearInterval(busyTimer);
  takeBusy();
  const otherCores = busy.wallMs > 0 ? busy.otherMs / busy.wallMs : 0;
  const busyFig = { otherCores: round(otherCores), share: round(otherCores / machineCores), peakShare: round(busy.peakShare), flagged: otherCores / machineCores >= BUSY_SHARE_FLAG };
  if (busyFig.flagged) o.log(`warning: the machine was busy with other work while calibrating (${busyFig.otherCores} of ${machineCores} cores on average): its figures may read slow`);
  // last, with the worker gone (it frees what it touched, which would be cheap to touch again for a while)
  o.log('first touches of memory as memory in use grows');
  const warmth = measureMemoryWarmth();
  if (warmth?.coldMsPerMb != null) o.log(`  first touches cost ${warmth.warmMsPerMb} ms/MB for the first ${warmth.warmMb} MB, then ${warmth.coldMsPerMb}: the simulator prices first touches by these (--free-memory, the default; validate and grid take them again just before each replay)`);
  // a pause's CPU is about a millisecond: the machine's 10-ms ticks and other work blur it beyond use in 100
  // calls (measured: -0.25 to 4.4 ms where the group read 0.8-1.1), the cgroup does not; but docker's pauses run in
  // its daemon, which the group does not hold
  const touchAll = touchPhases.flatMap((ph) => ph.msPerMb);
  // each phase's median, once: the log and the profile's touchCpuPhases print the same figure
  const phaseMedians = touchPhases.map((ph) => ({ at: ph.at, msPerMb: ph.msPerMb.map(round), median: ph.msPerMb.length ? round(median(ph.msPerMb)) : null }));
  if (touchPhases.length) o.log(`  a first call's touch CPU, one at a time: ${phaseMedians.map((ph) => `${ph.median ?? '-'} ms/MB ${ph.at}`).join(', ')}; charged: the median of all, ${touchAll.length ? round(median(touchAll)) : '-'}`);
  const pauseByGroup = o.backend === 'sock' && groupWarm.length > 0 && groupUnpaused.length > 0;
  const profile: CostProfile = {
    format: 'ol-lab-profile/1',
    name: `calibrated-${o.backend}`,
    source: `ol-exp calibrate --backend ${o.backend} --n ${n}, ${new Date().toISOString()}`,
    costs: {
      create: { kind: 'empirical', samples: (fresh.length ? fresh : cold).map((x) => round(Math.max(0, x - warmMed))) },
      runtimeStart: { kind: 'constant', ms: 0 },
      ...(fresh.length ? { fork: { kind: 'empirical' as const, samples: cold.map((x) => round(Math.max(0, x - warmMed))) } } : {}),
      unpause: { kind: 'empirical', samples: unpaused.map((x) => round(Math.max(0, x - warmMed))) },
      pause: { kind: 'empirical', samples: pause.map(round) },
      destroy: { kind: 'empirical', samples: destroy.map(round) },
      warmDispatch: { kind: 'empirical', samples: warm.map(round) },
    },
    machine: m,
    extra: {
      cores,
      // k creations at once take k × (one creation) / lanes
      createLanes: Math.max(1, Math.round((CONC * Math.max(0, median(cold) - warmMed)) / Math.max(1, median(concWall) - warmMed))),
      concurrentCreations: { k: CONC, wallMs: concWall.map(round) },
      // the same beside spinning handlers (one entry per round: its handlers, its wall time); modelFigures fits
      // the sandbox part's share and the wait for a core from it (ModelFigures.createLoaded)
      ...(loadWall.length ? { createUnderLoad: { k: CONC, spinning: loadSpinning, wallMs: loadWall.map(round), note: `${CONC} creations at once beside \`spinning\` handlers spinning on the cores, ms` } } : {}),
      // a pause beside processes spinning on the cores (one entry per pause); modelFigures fits the freeze's growth
      // with the load from it (ModelFigures.freeze; ol-exp sim --freeze-wait)
      ...(freezeMs.length ? { freezeUnderLoad: { spinning: freezeSpinning, pauseMs: freezeMs.map(round), note: 'one sandbox paused beside `spinning` processes spinning on the cores, wall ms' } } : {}),
      // a fork's part after the sandbox joins its own cgroup, run at a handler's CPU weight (SimConfig.createSandboxMs)
      ...(fresh.length ? { forkSandboxMs: round(Math.max(0, median(coldReady) - warmMed)), forkReadySamples: coldReady.map((x) => round(Math.max(0, x - warmMed))) } : {}),
      touchMsPerMb: round(Math.max(0, (median(coldT) - median(cold0)) / TOUCH)),
      // the CPU a first call spends touching, per MB: what each touching handler reports of its own
      // user and system time, one at a time; what ol-exp sim charges as CPU work (in a replay the
      // wall time is longer: the cores are shared with the other first calls, which the simulator
      // models itself). TOUCH_K touching at once spend more each (touchTogether.cpuMsPerMb).
      // the median over every point of the calibration (touchCpuPhases)
      touchBusyMsPerMb: round(touchAll.length ? median(touchAll) : Math.max(0, (median(coldT) - median(cold0)) / TOUCH)),
      touchCpuMsPerMbSamples: touchAll.map(round),
      touchCpuPhases: phaseMedians,
      // what a first touch costs as memory in use grows (experiments/memory-warmth.ts; used by ol-exp sim --free-memory)
      ...(warmth ? { memoryWarmth: warmth } : {}),
      touchTogether: { k: TOUCH_K, mb: TOUCH, wallMs: ctouchWall.map((x) => ({ none: round(x.none), touched: round(x.touched) })), cpuMsPerMb: touchCpuTogether.map(round), rounds: touchRounds },
      // each pair measured back to back: the spread `validate` simulates over (experiments/spread.ts)
      touchMsPerMbSamples: cold0.map((c0, i) => round(Math.max(0, (coldT[i]! - c0) / TOUCH))),
      cpu: { samples: cpu, effectiveCores: effective.map(round), note: 'k handlers each burning workMs of CPU at once; effective cores = k × work / wall' },
      // the answer's extra time after a handler that worked, over a no-op made beside it (SimHooks.responseMs)
      ...(wakeNoop.length && wakeOver.length === WAKE_WORK_MS.length ? { responseWake: {
        workMs: WAKE_WORK_MS,
        extraMs: wakeOver.map((xs) => round(Math.max(0, median(xs) - median(wakeNoop)))),
        samples: { noopMs: wakeNoop.map(round), overheadMs: wakeOver.map((xs) => xs.map(round)) },
        note: 'warm calls of a handler working workMs, GAP apart, each beside a no-op call: median(latency - the handler\'s own wall time) - median(no-op latency), ms',
      } } : {}),
      // no stretch seen (never preempted): fluid processor sharing
      cpuSliceMs: sliceRuns.length >= 10 ? round(median(sliceRuns)) : 0,
      cpuSlice: { handlers: SLICE_K, runs: sliceRuns.length, p25Ms: sliceRuns.length ? round(percentileOf(sliceRuns, 25)) : null, p75Ms: sliceRuns.length ? round(percentileOf(sliceRuns, 75)) : null, note: 'handlers spinning at once, twice the cores; the stretches each ran between pauses of more than 0.1 ms, ms' },
      // what ol-exp sim charges as CPU work nothing waits for (SimConfig.callBackgroundCpuMs, coldBackgroundCpuMs)
      backgroundCpu: {
        callMs: round(cpuCall),
        coldMs: round(Math.max(0, cpuCold - cpuCall - Math.max(0, median(cold) - warmMed))),
        pauseMs: round(Math.max(0, pauseByGroup ? median(groupUnpaused) - median(groupWarm) : cpuUnpaused - cpuCall)),
        measured: {
          idleBusyPerS: round(idlePerMs * 1000), cpuPerWarmCallMs: round(cpuCall), cpuPerColdCallMs: round(cpuCold), cpuPerUnpausedCallMs: round(cpuUnpaused),
          warmCallBatchesMs: warmBatches, coldCallBatchesMs: coldBatches, unpausedCallBatchesMs: unpausedBatches,
          pauseFrom: pauseByGroup ? 'group' : 'machine',
          ...(pauseByGroup ? { groupWarmCallBatchesMs: groupWarm.map(round), groupUnpausedCallBatchesMs: groupUnpaused.map(round) } : {}),
        },
        note: 'machine CPU (/proc/stat) per call, the median of 5 batches each less the idle rate just before it: callMs, of a warm noop call; coldMs, of a cold one beyond a warm call and beyond the creation the simulator runs as CPU work. pauseMs: what a call that finds its sandbox paused (and pauses it again after) costs beyond a warm call, as the experiment\'s cgroup counts both, each batch less the group\'s idle rate before it (pauseFrom "group": sock, the worker in the group), else as the machine does',
      },
      busy: busyFig,
      warmup: {
        calls: WARMUP_CALLS, warmMs: warmupWarm.map(round), unpausedMs: warmupUnpaused.map(round),
        note: 'latencies of the calls each worker answered before its warm (lru) or unpaused (openlambda) calls were timed: a fresh worker answers its first tens of calls slower',
      },
      medians: { coldMs: round(median(cold)), ...(fresh.length ? { freshColdMs: round(median(fresh)) } : {}), warmMs: round(warmMed), unpausedMs: round(median(unpaused)), pauseMs: round(median(pause)), destroyMs: round(median(destroy)) },
    },
  };
  writeFileSync(o.out, JSON.stringify(profile, null, 2) + '\n');
  return profile;
}

/**
 * One profile from several calibrations of the same machine. A single
 * calibration is one moment of a shared machine: a figure read in a slow
 * moment sent the simulator well over the worker (the eleven calibrations
 * behind this: docs/notebook/2026-11-benchmark-rounds.md). So `validate` calibrates more than once, spread
 * over its replays, and merges: each single figure in `extra` (effective
 * cores, per-MB touching, a ready spare's start-up, background CPU per
 * call, ...) becomes the median of the calibrations' values (so one slow
 * reading of three is outvoted); each list of samples (a cost's empirical
 * distribution, the effective-cores samples, per-pair touching costs)
 * becomes all of them together; text and the machine are the first's.
 * `extra.calibrations` keeps each one's headline figures.
 */
export function mergeCalibrations(profiles: CostProfile[]): CostProfile {
  if (profiles.length === 0) throw new RangeError('mergeCalibrations needs at least one profile');
  if (profiles.length === 1) return profiles[0]!;
  const mid = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : round((s[m - 1]! + s[m]!) / 2);
  };
  const merge = (vs: unknown[]): unknown => {
    const present = vs.filter((v) => v !== undefined);
    if (present.length === 0) return undefined;
    if (present.every((v) => typeof v === 'number')) return mid(present as number[]);
    if (present.every((v) => Array.isArray(v))) return (present as unknown[][]).flat();
    if (present.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v))) {
      const keys = [...new Set(present.flatMap((v) => Object.keys(v as object)))];
      return Object.fromEntries(keys.map((k) => [k, merge(present.map((v) => (v as Record<string, unknown>)[k]))]));
    }
    return present[0];
  };
  const first = profiles[0]!;
  const costs = {} as Record<string, unknown>;
  for (const name of Object.keys(first.costs)) {
    const ds = profiles.map((p) => (p.costs as Record<string, { kind: string; samples?: number[] }>)[name]);
    costs[name] = ds.every((d) => d?.kind === 'empirical') ? { kind: 'empirical', samples: ds.flatMap((d) => d!.samples!) } : ds[0];
  }
  const headline = (p: CostProfile) => {
    const x = p.extra ?? {};
    return { source: p.source, cores: x.cores, cpuSliceMs: x.cpuSliceMs, touchBusyMsPerMb: x.touchBusyMsPerMb, forkSandboxMs: x.forkSandboxMs, callMs: x.backgroundCpu?.callMs, coldMs: x.backgroundCpu?.coldMs, pauseMs: x.backgroundCpu?.pauseMs, busyShare: x.busy?.share, busyFlagged: x.busy?.flagged };
  };
  const extra = merge(profiles.map((p) => p.extra)) as CalibrationFigures;
  // flagged if any calibration was
  if (extra.busy) extra.busy.flagged = profiles.some((p) => p.extra?.busy?.flagged);
  return {
    format: first.format,
    name: first.name,
    source: `the median of ${profiles.length} calibrations: ${profiles.map((p) => p.source).join('; ')}`,
    costs: costs as CostProfile['costs'],
    machine: first.machine,
    extra: { ...extra, calibrations: profiles.map(headline) },
  };
}
