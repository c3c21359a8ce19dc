/**
 * `ol-exp real`: replays a plan on the real worker, open loop. One
 * synthetic Python lambda per trace function burns CPU for each
 * invocation's execution time (CPU time, so contention stretches it as on
 * any machine) and holds part of the function's memory (a quarter of it, at
 * most its memory less 48 MB of runtime, touched page by page on the sandbox's first call and
 * kept), as invitro's trace function does. Requests leave at their planned
 * arrival times whether or not earlier ones have answered. Every invocation
 * is recorded from the client (latency, how it started, status) and, when
 * this command started the worker, from the worker's own records. With
 * `cluster`, the requests go to a front (`ol-boss up`, or `ol-boss
 * haproxy`) over several local workers, and each record names the worker
 * that answered (docs/CLUSTER.md).
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CsvWriter, us } from '../common/csv-writer.js';
import { OlError } from '../common/errors.js';
import { availableParallelism } from 'node:os';
import { BUSY_SHARE_FLAG, BusyMeter, experimentMatch, otherShare, probeBusy, processCpuMs } from '../common/cpu-usage.js';
import { joinCpuGroup, type CpuGroup } from '../common/cpu-accounting.js';
import { removeUnlessMounted } from '../common/fs.js';
import { machineInfo } from '../common/machine.js';
import { olLabVersion } from '../common/version.js';
import { CLUSTER_INVOCATION_HEADER, CPU_HEADER, INVOCATION_HEADER, MEMORY_HEADER, clusterSettings, type RunInfo } from './run-files.js';
import { planLoad, type Plan } from './plan.js';
import { runRepeated, type RepeatFigures } from './repeats.js';
import { HANDLER_TIMES_HEADER, touchMb } from './first-touch.js';
import { measureMemoryWarmth, type MemoryWarmth } from './memory-warmth.js';
import { buildWheels, moduleOf } from './wheels.js';
import { spawnFront, spawnWorker, writeLambdas, type FrontProcess, type LambdaFiles } from './worker-process.js';

export const SYNTHETIC_LAMBDA = `# ol-lab synthetic trace function: burn CPU, hold memory
import time
_held = None

def f(event):
    global _held
    w0, c0 = time.perf_counter(), time.process_time()
    mb = event.get("touch_mb", 0)
    if _held is None and mb > 0:
        _held = bytearray(int(mb * 1048576))
        for i in range(0, len(_held), 4096):
            _held[i] = 1
    w1, c1 = time.perf_counter(), time.process_time()
    end = c1 + event["dur_ms"] / 1000.0
    x = 0
    while time.process_time() < end:
        for _ in range(200):
            x += 1
    w2, c2 = time.perf_counter(), time.process_time()
    # its own CPU and wall time, ms, touching memory and then working: how much CPU it got
    return {"inv": event.get("inv"), "touch": [(c1 - c0) * 1e3, (w1 - w0) * 1e3], "work": [(c2 - c1) * 1e3, (w2 - w1) * 1e3]}
`;

/** The synthetic lambda's own times from its reply; undefined if the reply does not hold them. */
export function handlerTimes(text: string): [number, number, number, number] | undefined {
  try {
    const r = JSON.parse(text) as { touch?: unknown; work?: unknown };
    const v = [...(Array.isArray(r.touch) ? r.touch : []), ...(Array.isArray(r.work) ? r.work : [])];
    return v.length === 4 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0) ? (v as [number, number, number, number]) : undefined;
  } catch {
    return undefined;
  }
}

/** The worker index a front's x-ol-worker header names ("2" from the boss, "w2" from HAProxy); '' when none or not one of `n`. */
export function workerIndex(header: string, n: number): number | '' {
  const m = /^w?(\d+)$/.exec(header.trim());
  const k = m ? Number(m[1]) : NaN;
  return Number.isInteger(k) && k >= 0 && k < n ? k : '';
}

/**
 * The pause before the probe of the host's free memory (RealOptions.warmthProbe), ms: on this project's
 * machines 72% of 2.4 GB freed was cheap again at once, 10% after 1 s, none after 3 s
 * (docs/notebook/2026-12-05-touch-headroom.md); a probe taken at once after a calibration read 2,280 MB
 * cheap where the two after it read 1,320 and 1,360 (docs/notebook/2026-12-07-touch-spread.md).
 */
export const PROBE_SETTLE_MS = 3000;

export interface RealOptions {
  plan: Plan;
  out: string;
  policy: string;
  memoryMb: number;
  backend: 'sock' | 'docker';
  /** Connect to this worker instead of starting one. */
  worker?: string;
  force: boolean;
  /** Highest sustainable request rate and CPU load, for the feasibility check. */
  maxRatePerS?: number;
  onProgress?: (done: number, total: number) => void;
  log?: (s: string) => void;
  /** Awaited before replay r starts (validate calibrates between replays). */
  beforeReplay?: (r: number) => Promise<void>;
  /** Which of several replays of the plan this is (runRealRepeated); 0 or none: the only one. */
  repeat?: number;
  /**
   * Measure what first touches of memory cost just before the replay, before its worker starts
   * (experiments/memory-warmth.ts, a second or two), into run.json's `memoryWarmth`: the state of the
   * host's free memory the replay meets, which the simulator prices with --free-memory. Default: on
   * when this command starts the worker(s).
   */
  warmthProbe?: boolean;
  /**
   * A cluster instead of one worker: `workers` local ol-workers of
   * `memoryMb` each behind `ol-boss up` (front boss) or `ol-boss haproxy`
   * (front haproxy), placing with `balancer`.
   */
  cluster?: { workers: number; balancer: string; balancerOptions?: Record<string, number>; front?: 'boss' | 'haproxy'; viewRefreshMs?: number };
}

/** What a replay sends its requests to: one worker, or a cluster's front. */
interface Target {
  base: URL;
  /** The servers' processes (the worker, or the front and every worker), for cpu.csv's worker column. */
  pids(): number[];
  /** Where to read memory in use: each worker's /stats. */
  statsBases: URL[];
  /** Stops what this command started and keeps the workers' own records in `out`. */
  stop(out: string, log: (s: string) => void): Promise<void>;
}

/** The worker settings of a replay: one worker's config, or each of a cluster's. */
function replayWorkerConfig(o: RealOptions, p: Plan, pk: object | undefined): Record<string, unknown> {
  const limitMs = Math.max(30_000, ...Array.from(p.dur, (d) => d * 20));
  return {
    sandbox: o.backend, policy: o.policy, mem_pool_mb: o.memoryMb, queue_limit: 100_000, record: true, limits: { time_limit_ms: Math.ceil(limitMs) },
    import_cache: p.options.importCache ?? true, ...(pk ?? {}),
  };
}

/**
 * Starts the cluster: the plan's lambdas written into the registry the
 * workers share, then `ol-boss up` (or `haproxy`) as a process of its own
 * (not in this client's event loop), on a free port with its workers on
 * the ports after it; resolves once the front answers.
 */
async function startCluster(o: RealOptions, p: Plan, pk: object | undefined, log: (s: string) => void): Promise<Target> {
  const c = o.cluster!;
  const dir = mkdtempSync(join(tmpdir(), 'ol-exp-cluster-'));
  const registry = join(dir, 'registry');
  writeLambdas(registry, planLambdas(p));
  const front = c.front ?? 'boss';
  const overrides = [
    `workers=${c.workers}`, `balancer=${JSON.stringify(c.balancer)}`, `balancer_options=${JSON.stringify(c.balancerOptions ?? {})}`,
    `view_refresh_ms=${c.viewRefreshMs ?? 100}`, `registry=${JSON.stringify(registry)}`, 'log_level="warn"',
    // the balancer's random draws: the plan's seed, as the simulation's first replication
    `seed=${p.options.seed}`,
    `worker=${JSON.stringify({ ...replayWorkerConfig(o, p, pk), log_level: 'warn' })}`,
  ];
  const keepRecords = (out: string) => {
    for (let i = 0; i < c.workers; i++) {
      const rec = join(dir, `worker-${i}`, 'records.jsonl');
      if (existsSync(rec)) copyFileSync(rec, join(out, `worker-records-${i}.jsonl`));
    }
  };
  let f: FrontProcess;
  try {
    f = await spawnFront(front, dir, overrides, c.workers);
  } catch (e) {
    removeUnlessMounted(dir);
    throw e;
  }
  log(`started a ${c.workers}-worker ${o.backend} cluster behind ${front === 'boss' ? 'ol-boss' : 'HAProxy'} (balancer ${c.balancer}, policy ${o.policy}, ${o.memoryMb} MB each) in ${dir}`);
  const pidOf = (file: string) => {
    try {
      const v = Number(readFileSync(file, 'utf8').trim());
      return Number.isInteger(v) && v > 0 ? v : undefined;
    } catch {
      return undefined;
    }
  };
  const workerPids = Array.from({ length: c.workers }, (_, i) => pidOf(join(dir, `worker-${i}`, 'worker.pid'))).filter((x): x is number => x !== undefined);
  return {
    base: f.base, statsBases: f.workerBases, pids: () => [f.child.pid!, ...workerPids],
    stop: async (out, logTo) => {
      await f.stop();
      keepRecords(out);
      if (!removeUnlessMounted(dir)) logTo(`the cluster left mounts under ${dir}; the folder is kept`);
    },
  };
}

/** Refuses a replay this machine cannot keep up with, with the numbers. */
export function checkFeasible(p: Plan, memoryMb: number, cores: number, maxRate: number): void {
  const l = planLoad(p);
  const problems: string[] = [];
  if (l.cpuCores > 0.85 * cores) problems.push(`the handlers need ${l.cpuCores.toFixed(2)} cores on average, this machine has ${cores}: use a smaller --duration-scale or a lower --time-scale`);
  if (l.peakRatePerS > maxRate) problems.push(`the busiest second sends ${l.peakRatePerS} requests, more than the ${maxRate}/s this worker sustains here: lower --time-scale or choose fewer --functions`);
  if (l.maxMemMb > memoryMb) problems.push(`a function needs ${l.maxMemMb} MB, more than the whole pool (--memory ${memoryMb})`);
  if (problems.length) throw new OlError('OL_ERR_CONFIG', `this replay cannot run faithfully at this scale (${p.n} invocations over ${(p.spanMs / 1000).toFixed(1)} s, ${l.ratePerS.toFixed(1)} req/s on average): ${problems.join('; ')}. Use --force to run it anyway.`);
}

function request(agent: http.Agent, base: URL, path: string, body: string): Promise<{ status: number; start: string; text: string; worker: string }> {
  return new Promise((resolve) => {
    const req = http.request({ agent, host: base.hostname, port: base.port, method: 'POST', path, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, start: String(res.headers['x-ol-start'] ?? ''), text, worker: String(res.headers['x-ol-worker'] ?? '') }));
    });
    req.on('error', (e) => resolve({ status: 0, start: '', text: e.message, worker: '' }));
    req.end(body);
  });
}

async function register(base: URL, p: Plan): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  const d = mkdtempSync(join(tmpdir(), 'ol-lambda-'));
  try {
    writeFileSync(join(d, 'f.py'), SYNTHETIC_LAMBDA);
    for (const f of p.functions) {
      writeFileSync(join(d, 'ol.yaml'), `limits:\n  mem_mb: ${f.memMb}\n`);
      const tgz = execFileSync('tar', ['-czf', '-', '-C', d, 'f.py', 'ol.yaml']);
      const r = await fetch(new URL(`/registry/${f.lambda}`, base), { method: 'POST', body: tgz });
      if (r.status !== 201) throw new OlError('OL_ERR_CONFIG', `registering ${f.lambda} on ${base.origin} failed: ${r.status} ${await r.text()}`);
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/** The plan's lambdas, as a replay registers them: each function's synthetic lambda with its memory. */
function planLambdas(p: Plan): LambdaFiles[] {
  return p.functions.map((f, i) => ({ name: f.lambda, ...lambdaSource(p, i), yaml: `limits:\n  mem_mb: ${f.memMb}\n` }));
}

/** The synthetic lambda of plan function i: imports its packages first, if it has any. */
export function lambdaSource(p: Plan, i: number): { src: string; requirements?: string } {
  const pkgs = p.packages?.fnPackages[i] ?? [];
  if (pkgs.length === 0) return { src: SYNTHETIC_LAMBDA };
  return { src: `import ${pkgs.map(moduleOf).join(', ')}\n${SYNTHETIC_LAMBDA}`, requirements: pkgs.join('\n') + '\n' };
}

/**
 * Builds the plan's wheels, and installs them into a package cache before
 * the replay (in a worker with no import cache, so no zygote exists before
 * the replay starts): installs are a one-time cost the replay leaves out.
 */
async function preparePackages(p: Plan, out: string, log: (s: string) => void): Promise<{ package_index: string; packages_dir: string; import_tree: string }> {
  const wheels = resolve(out, 'wheels');
  buildWheels(wheels, p.packages!.catalog.map((c) => ({ name: c.name, importMs: c.importMs })));
  chmodSync(wheels, 0o755);
  const packagesDir = resolve(out, 'packages');
  const tree = resolve(out, 'tree.json');
  writeFileSync(tree, JSON.stringify(p.packages!.tree, null, 2) + '\n');
  log(`installing ${p.packages!.catalog.length} synthetic packages into ${packagesDir}`);
  const all = p.packages!.catalog.map((c) => c.name);
  const w = await spawnWorker({ import_cache: false, package_index: wheels, packages_dir: packagesDir, limits: { time_limit_ms: 600_000 } }, [
    { name: 'ol-install', src: `import ${all.map(moduleOf).join(', ')}\ndef f(event):\n    return 1\n`, requirements: all.join('\n') + '\n' },
  ]);
  try {
    const r = await fetch(new URL('/run/ol-install', w.base), { method: 'POST', body: '{}' });
    if (r.status !== 200) throw new OlError('OL_ERR_PACKAGE', `installing the synthetic packages failed: ${r.status} ${await r.text()}`);
  } finally {
    await w.stop();
  }
  return { package_index: wheels, packages_dir: packagesDir, import_tree: tree };
}

/** Runs the replay; returns whether it completed (false after Ctrl-C). */
export async function runReal(o: RealOptions): Promise<boolean> {
  // the worker and its sandboxes, started from here on, are counted through one cgroup
  const acct = o.worker ? undefined : joinCpuGroup();
  try {
    return await replay(o, acct?.group);
  } finally {
    acct?.release();
  }
}

async function replay(o: RealOptions, group: CpuGroup | undefined): Promise<boolean> {
  const p = o.plan;
  const log = o.log ?? (() => {});
  mkdirSync(o.out, { recursive: true });
  let target: Target;
  let base: URL;
  let warmth: MemoryWarmth | undefined;
  if (o.worker) {
    if (o.cluster) throw new OlError('OL_ERR_CONFIG', '--workers/--balancer start a cluster of their own; leave out --worker');
    if (p.packages) throw new OlError('OL_ERR_CONFIG', '--packages needs a worker this command starts (its package index is the wheels it builds); leave out --worker');
    base = new URL(o.worker);
    try {
      const r = await fetch(new URL('/status', base));
      if (!r.ok) throw new Error(`status ${r.status}`);
    } catch (e) {
      throw new OlError('OL_ERR_CONFIG', `the worker at ${base.origin} is not reachable (${(e as Error).message}); start it with "ol-worker up" or leave out --worker`);
    }
    await register(base, p);
    target = { base, statsBases: [base], pids: () => [], stop: async () => {} };
  } else {
    const pk = p.packages ? await preparePackages(p, o.out, log) : undefined;
    if (o.warmthProbe ?? true) {
      // memory freed a moment ago (the run before, a calibration) reads cheap for a second or two, until the host
      // takes it back; the probe waits for that, as the replay's first requests come seconds later
      await new Promise((r) => setTimeout(r, PROBE_SETTLE_MS));
      warmth = measureMemoryWarmth({ stopAfterKnee: true });
    }
    if (o.cluster) {
      target = await startCluster(o, p, pk, log);
    } else {
      const wp = await spawnWorker(replayWorkerConfig(o, p, pk) as Parameters<typeof spawnWorker>[0], planLambdas(p));
      log(`started a ${o.backend} worker (policy ${o.policy}, ${o.memoryMb} MB) in ${wp.dir}`);
      const worker: ChildProcess = wp.child;
      target = {
        base: wp.base, statsBases: [wp.base], pids: () => (worker.pid ? [worker.pid] : []),
        stop: async (out, logTo) => {
          worker.kill('SIGTERM');
          if (worker.exitCode === null && worker.signalCode === null) await new Promise((r) => worker.once('exit', r));
          const rec = join(wp.dir, 'records.jsonl');
          if (existsSync(rec)) copyFileSync(rec, join(out, 'worker-records.jsonl'));
          // what the run needs is copied; a worker that left mounts behind keeps its folder for a look
          if (!removeUnlessMounted(wp.dir)) logTo(`the worker left mounts under ${wp.dir}; the folder is kept`);
        },
      };
    }
    base = target.base;
  }
  // other work on the machine just before the replay, with the worker started and idle
  const cores = availableParallelism();
  const before = await probeBusy(1500, cores, experimentMatch(o.backend, [process.pid], group));
  const info: RunInfo = {
    tool: 'ol-exp', kind: 'real', olLabVersion: olLabVersion(), planSha256: p.planSha256, traceSha256: p.traceSha256,
    trace: p.options.trace, plan: { ...p.options }, seed: p.options.seed, policy: o.policy, memoryMb: o.memoryMb, backend: o.backend,
    machine: await machineInfo(), complete: false, invocations: p.n, functions: p.functions, notes: [...p.notes],
    ...(o.repeat ? { repeat: { index: o.repeat } } : {}),
    ...(o.cluster ? { cluster: clusterSettings(o.cluster) } : {}),
    ...(warmth ? { memoryWarmth: warmth } : {}),
  };
  writeFileSync(join(o.out, 'run.json'), JSON.stringify(info, null, 2) + '\n');
  const inv = new CsvWriter(join(o.out, 'invocations.csv'), (o.cluster ? CLUSTER_INVOCATION_HEADER : INVOCATION_HEADER).split(','));
  const memCsv = new CsvWriter(join(o.out, 'memory.csv'), MEMORY_HEADER);
  const timesCsv = new CsvWriter(join(o.out, 'handler-times.csv'), HANDLER_TIMES_HEADER);
  // the machine's CPU, and the worker's (if this command started it) and this client's, in cores
  const cpuCsv = new CsvWriter(join(o.out, 'cpu.csv'), CPU_HEADER);
  const serverCpu = () => {
    const pids = target.pids();
    if (pids.length === 0) return undefined;
    let ms = 0;
    for (const pid of pids) ms += processCpuMs(pid) ?? 0;
    return ms;
  };
  const cpuNow = () => ({ t: performance.now(), worker: serverCpu(), client: process.cpuUsage() });
  let cpuLast = cpuNow();
  const meter = new BusyMeter(experimentMatch(o.backend, [process.pid], group));
  let otherMs = 0, meterMs = 0, peakShare = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  let stopped = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const onSigint = () => {
    if (stopped) return;
    stopped = true;
    log('Ctrl-C: no new requests; waiting up to 10 s for the ones in flight');
    // requests still unanswered then are left out of the record (and counted in its notes)
    graceTimer = setTimeout(() => allSent(), 10_000);
  };
  process.on('SIGINT', onSigint);
  const t0 = performance.now() + 300;
  let inFlight = 0, done = 0;
  const lateness: number[] = [];
  /** Failed calls by status and what came back (a body's text without its markup, or the client's error). */
  const failures = new Map<string, number>();
  let allSent!: () => void;
  const finished = new Promise<void>((r) => (allSent = r));
  const sampler = setInterval(async () => {
    // CPU first, synchronously: a sample never lands after the files are closed
    const c = cpuNow(), dt = c.t - cpuLast.t;
    const client = process.cpuUsage(cpuLast.client);
    const iv = meter.sample();
    otherMs += iv.otherMs;
    meterMs += iv.wallMs;
    const other = otherShare(iv, cores);
    peakShare = Math.max(peakShare, other.share);
    cpuCsv.row([
      us(c.t - t0), (iv.machineMs / iv.wallMs).toFixed(3),
      c.worker !== undefined && cpuLast.worker !== undefined ? ((c.worker - cpuLast.worker) / dt).toFixed(3) : '',
      ((client.user + client.system) / 1000 / dt).toFixed(3), other.otherCores.toFixed(3),
    ]);
    cpuLast = c;
    try {
      // a cluster: the workers' pools added up
      const used = await Promise.all(target.statsBases.map(async (b) => ((await (await fetch(new URL('/stats', b))).json()) as { gauges: { mem_used_mb: number } }).gauges.mem_used_mb));
      if (!closed) memCsv.row([us(performance.now() - t0), used.reduce((a, x) => a + x, 0)]);
    } catch { /* a worker is busy or gone; the next sample will tell */ }
  }, 1000);
  let i = 0;
  let closed = false;
  const fire = (k: number) => {
    const f = p.functions[p.fn[k]!]!;
    const sent = performance.now() - t0;
    lateness.push(sent - p.t[k]!);
    inFlight++;
    const body = JSON.stringify({ inv: k, dur_ms: p.dur[k], touch_mb: touchMb(f.memMb) });
    void request(agent, base, `/run/${f.lambda}`, body).then((r) => {
      if (closed) return;
      const end = performance.now() - t0;
      const row: (string | number)[] = [k, f.name, us(p.t[k]!), us(sent), us(end), us(end - sent), r.status === 200 ? (r.start || 'unknown') : 'failed', r.status];
      // the front names the worker that answered (the boss: its index; HAProxy: its server name, w<index>)
      if (o.cluster) row.push(workerIndex(r.worker, o.cluster.workers));
      inv.row(row);
      if (r.status !== 200) {
        const what = `${r.status === 0 ? 'no answer' : `status ${r.status}`}${r.worker ? ` from ${r.worker}` : ''}: ${r.text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120)}`;
        failures.set(what, (failures.get(what) ?? 0) + 1);
      }
      const times = r.status === 200 ? handlerTimes(r.text) : undefined;
      if (times) timesCsv.row([k, ...times.map((x) => x.toFixed(3))]);
      inFlight--;
      done++;
      o.onProgress?.(done, p.n);
      if (inFlight === 0 && (i >= p.n || stopped)) allSent();
    });
  };
  const pump = () => {
    if (stopped) { if (inFlight === 0) allSent(); return; }
    const now = performance.now() - t0;
    while (i < p.n && p.t[i]! <= now) fire(i++);
    if (i < p.n) setTimeout(pump, Math.max(0, Math.min(50, p.t[i]! - (performance.now() - t0) - 0.5)));
    else if (inFlight === 0) allSent();
  };
  setTimeout(pump, 300);
  await finished;
  closed = true;
  if (graceTimer) clearTimeout(graceTimer);
  if (failures.size > 0) {
    const n = [...failures.values()].reduce((a, b) => a + b, 0);
    const msg = `${n} call(s) failed: ${[...failures].sort((a, b) => b[1] - a[1]).map(([w, k]) => `${k}x ${w}`).join('; ')}`;
    info.notes.push(msg);
    log(`warning: ${msg}`);
  }
  if (inFlight > 0) info.notes.push(`${inFlight} request(s) were still unanswered when the replay was stopped; they are not recorded`);
  clearInterval(sampler);
  process.off('SIGINT', onSigint);
  inv.close();
  memCsv.close();
  timesCsv.close();
  cpuCsv.close();
  agent.destroy();
  lateness.sort((a, b) => a - b);
  const lateP99 = lateness[Math.floor(lateness.length * 0.99)] ?? 0;
  if (lateP99 > 20) info.notes.push(`the client sent 1% of requests more than ${lateP99.toFixed(0)} ms late: the machine was too busy to keep the schedule`);
  const tail = meter.sample();
  otherMs += tail.otherMs;
  meterMs += tail.wallMs;
  const during = { otherCores: meterMs > 0 ? otherMs / meterMs : 0, share: 0, peakShare };
  during.share = during.otherCores / cores;
  info.busy = { cores, before: { otherCores: before.otherCores, share: before.share, wallMs: before.wallMs }, during, flagged: before.share >= BUSY_SHARE_FLAG || during.share >= BUSY_SHARE_FLAG };
  if (info.busy.flagged) {
    const msg = `the machine was busy with other work: ${before.otherCores.toFixed(2)} of ${cores} cores just before the replay, ${during.otherCores.toFixed(2)} on average during it (flagged from ${Math.round(BUSY_SHARE_FLAG * 100)}% of the cores)`;
    info.notes.push(msg);
    log(`warning: ${msg}`);
  }
  info.complete = !stopped;
  if (stopped) info.notes.push(`stopped by Ctrl-C after ${done} of ${p.n} invocations`);
  await target.stop(o.out, log);
  info.invocations = done;
  writeFileSync(join(o.out, 'run.json'), JSON.stringify(info, null, 2) + '\n');
  return !stopped;
}

/**
 * Replays the plan `runs` times, each on a worker of its own started
 * afresh, into `<out>/runs/<r>`, and keeps the median replay as the run in
 * `out`, with `runs.json` listing all (experiments/repeats.ts). A replay
 * stopped early ends the series: the median is taken over the complete
 * ones (or that replay alone, if none is). `runs` lists the replays
 * (none when there is only one).
 */
export async function runRealRepeated(o: RealOptions & { runs: number }): Promise<{ complete: boolean; chosen: number; runs: RepeatFigures[] }> {
  if (!(Number.isInteger(o.runs) && o.runs >= 1)) throw new OlError('OL_ERR_CONFIG', `runs: must be a whole number >= 1, got ${o.runs}`);
  if (o.runs > 1 && o.worker) throw new OlError('OL_ERR_CONFIG', `--runs ${o.runs} replays each run on a worker started afresh; leave out --worker`);
  if (o.runs === 1) {
    // once: the run as it is, not read back (a run stopped early is kept as recorded), and no list
    rmSync(join(o.out, 'runs'), { recursive: true, force: true });
    rmSync(join(o.out, 'runs.json'), { force: true });
    await o.beforeReplay?.(0);
    return { complete: await runReal(o), chosen: 0, runs: [] };
  }
  const got = await runRepeated(o.out, 'runs.json', o.runs, (r) => ({ label: `run ${r}` }), async (dir, r) => {
    await o.beforeReplay?.(r);
    o.log?.(`replay ${r + 1} of ${o.runs}`);
    return runReal({ ...o, out: dir, repeat: r });
  });
  return { complete: got.complete, chosen: got.chosen, runs: got.list };
}
