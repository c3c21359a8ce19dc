/**
 * A simulated cluster: N worker models behind a front that places each
 * request with a core balancer (core/balancers/), the same objects the
 * boss runs. Each worker is a whole single-worker model (sim/simulator.ts)
 * with its own pool, cores, keep-alive policy, zygotes and random streams;
 * the front only routes. Per arrival, the in-flight counts the balancer
 * reads are exact, as the boss's own books are: every worker whose count
 * may have fallen since (one of its invocations may have ended: see
 * Simulator.doneBound) is first brought to the arrival's time; the
 * balancer picks, and the request reaches the chosen worker `hopMs`
 * later. Free memory and warm sandboxes are read from the workers only
 * every `viewRefreshMs`, as the boss polls /stats.
 * A balancer that reads nothing of the workers (round-robin, random, the
 * hashes) needs none of that: its placements are kept and each worker is
 * fed its own in runs (ArrivalBuffer), which is the same run for every
 * worker and several times fewer cache misses.
 *
 * One worker with a zero hop is the single-worker simulation, number for
 * number: worker 0 draws from the same random streams as a plain run.
 */
import { OlError } from '../common/errors.js';
import { makeRng } from '../common/rng.js';
import { BALANCER_RNG_STREAM, sumViews, type PlacementRequest, type ViewTotals, type WorkerView } from '../core/balancer.js';
import { balancerFactory, createBalancer } from '../core/balancers/index.js';
import type { ImportTree } from '../core/import-tree.js';
import type { SimConfig } from './config.js';
import type { StartupModel } from './import-cache.js';
import type { CostModel } from './profile.js';
import type { FunctionStats, SimResult } from './results.js';
import { FnStatsTable, newFnStats, Simulator, type SimHooks } from './simulator.js';
import { CpuShare, makeCpu } from './cpu.js';
import type { Request } from './request.js';
import type { FunctionInfo, InvocationBatch } from '../traces/types.js';

/** One worker's size; the cluster's other settings are shared. */
export interface WorkerShape {
  memoryMb: number;
  cores: number;
}

export interface ClusterSpec {
  balancer: string;
  balancerOptions?: Record<string, number>;
  /** One entry per worker. */
  workers: WorkerShape[];
  /** Front to worker, ms, added to every request's arrival at its worker. */
  hopMs: number;
  /** How often the front's view of free memory and warm sandboxes is refreshed, ms. */
  viewRefreshMs: number;
  /** Each function's packages (normalised names), for package- and tree-aware balancers. */
  fnPackages?: (readonly string[] | undefined)[];
  tree?: ImportTree;
  /**
   * Told of every placement: the invocation's number in the whole trace
   * (0, 1, … in arrival order) and its worker. A worker's own records
   * number its invocations in the order it received them, so the harness
   * maps them back to the trace's with this.
   */
  onPlace?: (inv: number, worker: number) => void;
  /**
   * The name the front sees for each function (what the balancer hashes):
   * by default the trace's function name; the harness gives the lambda
   * names it registers on the real workers, so both fronts hash the same key.
   */
  placementNames?: string[];
  /**
   * The workers share one machine of this many cores (the harness's real
   * cluster runs on one machine) instead of each having its own: every
   * handler, creation and background job of every worker runs in one
   * processor-sharing pool (sim/cpu.ts CpuShare), and the workers' events
   * run one at a time in global time order. Each worker's `cores` is then
   * ignored, and its CPU figures are the machine's.
   */
  sharedCores?: number;
  /** Checks the front's running sums of the views against the views at every placement (tests). */
  checkTotals?: boolean;
}

export interface ClusterResult {
  /** Every worker's result, in order. */
  workers: SimResult[];
  /** The workers' results added up (latencies merged; peak memory: the sum of the workers' peaks). */
  total: SimResult;
  /** For each function, the workers it ran on. */
  spread: { fn: number; workers: number }[];
}

/**
 * Placement name -> function id for the views' warm lookups, shared by all
 * views: a pick asks every view about the same name in a row, so the last
 * answer is kept.
 */
class NameIds {
  readonly map = new Map<string, number>();
  #name: string | undefined = undefined;
  #id: number | undefined = undefined;
  id(name: string): number | undefined {
    if (name !== this.#name) {
      this.#name = name;
      this.#id = this.map.get(name);
    }
    return this.#id;
  }
  set(name: string, id: number): void {
    this.map.set(name, id);
    if (name === this.#name) this.#id = id;
  }
}

class View implements WorkerView {
  healthy = true;
  inFlight = 0;
  freeMb = 0;
  warmByFn = new Map<number, number>();
  constructor(readonly index: number, readonly names: NameIds) {}
  warm(fn: string): number {
    const id = this.names.id(fn);
    return id === undefined ? 0 : this.warmByFn.get(id) ?? 0;
  }
}

/**
 * Arrivals placed and not yet fed, for balancers that read nothing of the
 * workers: each worker's events depend on its own arrivals only, so feeding
 * each worker its share in a run, in arrival order, gives every worker the
 * same run as feeding them one by one, while its state stays in cache (a
 * cluster of 100 workers over 10,000 functions otherwise touches a cold
 * worker at every arrival).
 */
class ArrivalBuffer {
  static readonly SIZE = 1 << 16;
  readonly #worker = new Int32Array(ArrivalBuffer.SIZE);
  readonly #fn = new Int32Array(ArrivalBuffer.SIZE);
  readonly #num = new Float64Array(4 * ArrivalBuffer.SIZE);
  /** The same, grouped by worker (a counting sort, stable). */
  readonly #sFn = new Int32Array(ArrivalBuffer.SIZE);
  readonly #sNum = new Float64Array(4 * ArrivalBuffer.SIZE);
  readonly #start: Int32Array;
  #n = 0;
  constructor(readonly workers: number) {
    this.#start = new Int32Array(workers + 1);
  }

  /** Keeps one arrival for worker `k`; true when the buffer is full (feed it). */
  add(k: number, fn: number, at: number, dur: number, mem: number, init: number): boolean {
    const i = this.#n++, num = this.#num;
    this.#worker[i] = k;
    this.#fn[i] = fn;
    num[4 * i] = at; num[4 * i + 1] = dur; num[4 * i + 2] = mem; num[4 * i + 3] = init;
    return this.#n === ArrivalBuffer.SIZE;
  }

  /** Feeds every worker its kept arrivals, in arrival order, and empties the buffer. */
  feed(ws: Simulator[]): void {
    const n = this.#n;
    if (n === 0) return;
    this.#n = 0;
    const start = this.#start, wk = this.#worker, fn = this.#fn, num = this.#num, sFn = this.#sFn, sNum = this.#sNum;
    start.fill(0);
    for (let i = 0; i < n; i++) start[wk[i]! + 1]!++;
    for (let k = 0; k < this.workers; k++) start[k + 1]! += start[k]!;
    for (let i = 0; i < n; i++) {
      const j = start[wk[i]!]!++;
      sFn[j] = fn[i]!;
      sNum[4 * j] = num[4 * i]!; sNum[4 * j + 1] = num[4 * i + 1]!; sNum[4 * j + 2] = num[4 * i + 2]!; sNum[4 * j + 3] = num[4 * i + 3]!;
    }
    // start[k] is now where worker k's share ends
    let j = 0;
    for (let k = 0; k < this.workers; k++) {
      const w = ws[k]!, end = start[k]!;
      for (; j < end; j++) w.feed(sFn[j]!, sNum[4 * j]!, sNum[4 * j + 1]!, sNum[4 * j + 2]!, sNum[4 * j + 3]!);
    }
  }
}

/** Worker indices keyed by their next event time: a binary min-heap with positions, so a key changes in O(log n). */
class WorkerHeap {
  readonly #time: Float64Array;
  readonly #heap: Int32Array;
  readonly #pos: Int32Array;
  constructor(n: number) {
    this.#time = new Float64Array(n).fill(Infinity);
    this.#heap = Int32Array.from({ length: n }, (_, i) => i);
    this.#pos = Int32Array.from({ length: n }, (_, i) => i);
  }
  minTime(): number {
    return this.#time[this.#heap[0]!]!;
  }
  min(): number {
    return this.#heap[0]!;
  }
  set(k: number, t: number): void {
    const old = this.#time[k]!;
    this.#time[k] = t;
    if (t < old) this.#up(this.#pos[k]!);
    else if (t > old) this.#down(this.#pos[k]!);
  }
  #swap(i: number, j: number): void {
    const h = this.#heap, a = h[i]!, b = h[j]!;
    h[i] = b; h[j] = a;
    this.#pos[b] = i; this.#pos[a] = j;
  }
  #up(i: number): void {
    const h = this.#heap, t = this.#time;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[h[p]!]! <= t[h[i]!]!) return;
      this.#swap(i, p);
      i = p;
    }
  }
  #down(i: number): void {
    const h = this.#heap, t = this.#time, n = h.length;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < n && t[h[l]!]! < t[h[m]!]!) m = l;
      if (r < n && t[h[r]!]! < t[h[m]!]!) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}

export class ClusterSimulator {
  readonly workers: Simulator[];
  readonly #views: View[];
  readonly #balancer;
  readonly #hop: number;
  readonly #refresh: number;
  #nextRefresh = -Infinity;
  /** Which workers each function was placed on: one bit per worker, `#words` 32-bit words per function. */
  #placed = new Uint32Array(0);
  readonly #words: number;
  readonly #reqs: (PlacementRequest | undefined)[] = [];
  readonly #fnPackages: (readonly string[] | undefined)[];

  readonly #onPlace: ((inv: number, worker: number) => void) | undefined;
  readonly #shared: boolean;
  /** The placement names given (else each function's own name, read as functions appear: a streamed trace finds them as it goes). */
  readonly #given: string[] | undefined;
  readonly #functions: FunctionInfo[];
  /** Placement name → function id, for the views' warm lookups: filled as requests are placed. */
  readonly #ids = new NameIds();
  /** The views' sums, kept as the views change (every simulated worker is healthy). */
  readonly #totals: ViewTotals;
  readonly #checkTotals: boolean;
  /** Whether a hook sees the workers' events one by one (a log, per-invocation records, series samples, decisions). */
  readonly #watched: boolean;

  /**
   * `hooks`: the same for every worker, or each worker's own (`hooks(i)`);
   * `startup(i)`: worker i's own import-cache model (zygotes are per worker), if any.
   */
  constructor(config: SimConfig, costs: CostModel, functions: FunctionInfo[], spec: ClusterSpec, hooks: SimHooks | ((i: number) => SimHooks) = {}, startup?: (i: number) => StartupModel | undefined) {
    if (spec.workers.length < 1) throw new OlError('OL_ERR_CONFIG', 'a cluster needs at least one worker');
    if (!(spec.hopMs >= 0)) throw new OlError('OL_ERR_CONFIG', `hop must be >= 0 ms, got ${spec.hopMs}`);
    if (!(spec.viewRefreshMs > 0)) throw new OlError('OL_ERR_CONFIG', `view refresh must be > 0 ms, got ${spec.viewRefreshMs}`);
    this.#hop = spec.hopMs;
    this.#refresh = spec.viewRefreshMs;
    this.#fnPackages = spec.fnPackages ?? [];
    this.#onPlace = spec.onPlace;
    this.#given = spec.placementNames;
    this.#functions = functions;
    if (this.#given && this.#given.length !== functions.length) throw new OlError('OL_ERR_CONFIG', `placement names: ${this.#given.length} for ${functions.length} functions`);
    const hookList = spec.workers.map((_, i) => (typeof hooks === 'function' ? hooks(i) : hooks));
    this.#watched = hookList.some((h) => !!(h.log || h.onInvocation || h.onSample || h.decisions));
    // one table per function for the whole cluster, counts and latencies (a worker's own figures are its totals)
    const fnStats = new FnStatsTable();
    const shared = spec.sharedCores;
    if (shared !== undefined && !(shared > 0)) throw new OlError('OL_ERR_CONFIG', `shared cores must be > 0 (or infinite), got ${shared}`);
    this.#shared = shared !== undefined;
    const machine = shared !== undefined ? makeCpu<Request>(shared, config.createCpuWeight, config.cpuSliceMs) : undefined;
    this.workers = spec.workers.map((w, i) => new Simulator(
      { ...config, memoryMb: w.memoryMb, cores: shared ?? w.cores }, costs, functions, hookList[i]!, startup?.(i), i === 0 ? '' : `#w${i}`, spec.hopMs,
      spec.workers.length > 1 ? fnStats : undefined, machine ? new CpuShare(machine, i) : undefined,
    ));
    this.#words = (spec.workers.length + 31) >>> 5;
    const names = this.#ids;
    this.#views = spec.workers.map((_, i) => new View(i, names));
    this.#totals = { healthy: spec.workers.length, inFlight: 0 };
    this.#checkTotals = spec.checkTotals ?? false;
    this.#balancer = createBalancer(spec.balancer, { workers: spec.workers.length, rng: makeRng(config.seed, BALANCER_RNG_STREAM), options: spec.balancerOptions, tree: spec.tree });
  }

  run(batches: Iterable<InvocationBatch>, onBatch?: () => void): ClusterResult {
    const ws = this.workers, views = this.#views, n = ws.length;
    const reads = balancerFactory(this.#balancer.name).reads ?? [];
    const readFree = reads.includes('freeMb'), readWarm = reads.includes('warm'), readLoad = reads.includes('inFlight');
    // for balancers that read loads, workers ordered by the time their in-flight count may next fall: only those
    // due before an arrival are brought to it (the others' counts are what they were; their other events, and the
    // time between, run when they are next brought forward or fed, in the same order). Where something watches
    // the workers' events as they happen across workers, or the workers share cores, each event is due.
    const heap = new WorkerHeap(n);
    const bounded = readLoad && !this.#shared && !this.#watched;
    if (bounded) for (const w of ws) w.listInFlight();
    const due = bounded ? (w: Simulator) => w.doneBound() : (w: Simulator) => w.nextEventTime();
    let lastAt = -Infinity;
    let first = true;
    let seq = 0;
    const onPlace = this.#onPlace;
    // a balancer that reads nothing of the workers places without them: arrivals are kept, then each worker is
    // fed its own in a run (its pool, clock and books stay in cache), unless something watches the workers'
    // events as they happen across workers (logs, records, samples: their order across workers would change)
    const buffer = !readLoad && !readFree && !readWarm && !this.#shared && n > 1 && !this.#watched ? new ArrivalBuffer(n) : undefined;
    for (const b of batches) {
      const { t, fn, dur, mem, init } = b;
      for (let i = 0; i < b.length; i++) {
        const at = t[i]!, f = fn[i]!;
        if (first) {
          first = false;
          for (let k = 0; k < n; k++) {
            ws[k]!.advanceTo(at);
            if (readLoad) heap.set(k, due(ws[k]!));
          }
        }
        lastAt = at;
        if (this.#shared) this.#lockstepBefore(at);
        // a balancer that reads no in-flight counts needs no worker brought to the arrival: each worker's
        // events depend on its own arrivals only, and it runs those due when it is next fed (or at the end)
        else if (readLoad) while (heap.minTime() <= at) {
          const k = heap.min();
          const w = ws[k]!;
          if (w.clock.now() <= at) w.advanceTo(at);
          this.#setLoad(k, w.inFlight);
          // an event due at the arrival's own time that runs after arrivals waits for the next one
          const next = due(w);
          heap.set(k, next <= at ? at + 1e-9 : next);
        }
        if ((readFree || readWarm) && at >= this.#nextRefresh) {
          // the front's poll of every worker's /stats
          for (let k = 0; k < n; k++) {
            const w = ws[k]!;
            if (w.clock.now() <= at) w.advanceTo(at);
            if (readFree) views[k]!.freeMb = w.freeMb;
            if (readWarm) views[k]!.warmByFn = w.warmCounts();
            if (readLoad) heap.set(k, due(w));
          }
          this.#nextRefresh = at + this.#refresh;
        }
        if (this.#checkTotals) this.#verifyTotals();
        const k = this.#balancer.pick(this.#request(f, mem[i]!), views, this.#totals);
        if (k < 0) throw new OlError('OL_ERR_INVARIANT', 'no healthy worker in the simulated cluster');
        this.#markPlaced(f, k);
        onPlace?.(seq++, k);
        if (buffer) {
          if (buffer.add(k, f, at + this.#hop, dur[i]!, mem[i]!, init[i]!)) buffer.feed(ws);
          continue;
        }
        const w = ws[k]!;
        w.feed(f, at + this.#hop, dur[i]!, mem[i]!, init[i]!);
        this.#setLoad(k, w.inFlight);
        if (readLoad) heap.set(k, due(w));
      }
      onBatch?.();
    }
    buffer?.feed(ws);
    // a front that reads loads read every worker at every arrival, the last one too: each worker's span (and the
    // memory it integrates) runs to it at least, whenever the front last had to bring it forward
    if (readLoad && !this.#shared) for (const w of ws) if (w.clock.now() < lastAt) w.advanceTo(lastAt);
    if (this.#shared) this.#lockstepToEnd();
    const results = ws.map((w) => w.finish());
    const total = addUp(results);
    // sharing a machine, every worker's busy figure is the machine's: counted once
    if (this.#shared) total.cpuBusyCoreMs = results[0]!.cpuBusyCoreMs;
    return {
      workers: results,
      total,
      spread: this.#spread(),
    };
  }

  /** Worker k's in-flight count is `v` now: its view and the running sum. */
  #setLoad(k: number, v: number): void {
    const view = this.#views[k]!;
    this.#totals.inFlight += v - view.inFlight;
    view.inFlight = v;
  }

  #verifyTotals(): void {
    const s = sumViews(this.#views), t = this.#totals;
    if (s.healthy !== t.healthy || s.inFlight !== t.inFlight) {
      throw new OlError('OL_ERR_INVARIANT', `the front's running sums (${t.healthy} healthy, ${t.inFlight} in flight) differ from its views' (${s.healthy}, ${s.inFlight})`);
    }
  }

  #markPlaced(fn: number, k: number): void {
    const i = fn * this.#words + (k >>> 5);
    if (i >= this.#placed.length) {
      const a = new Uint32Array(Math.max(i + 1, 2 * this.#placed.length, 1024));
      a.set(this.#placed);
      this.#placed = a;
    }
    this.#placed[i]! |= 1 << (k & 31);
  }

  /** For each function placed at least once, on how many workers. */
  #spread(): { fn: number; workers: number }[] {
    const out: { fn: number; workers: number }[] = [];
    const w = this.#words, p = this.#placed;
    for (let fn = 0; fn * w < p.length; fn++) {
      let c = 0;
      for (let j = fn * w; j < (fn + 1) * w && j < p.length; j++) {
        let x = p[j]!;
        while (x !== 0) { x &= x - 1; c++; }
      }
      if (c > 0) out.push({ fn, workers: c });
    }
    return out;
  }

  /** The worker whose next event comes first, and its time (workers sharing a machine: events in global order). */
  #earliest(): [number, number] {
    const ws = this.workers;
    let best = -1, bt = Infinity;
    for (let k = 0; k < ws.length; k++) {
      const t = ws[k]!.nextEventTime();
      if (t < bt) { bt = t; best = k; }
    }
    return [best, bt];
  }

  /** Runs every worker's events due before an arrival at `at`, one at a time in time order. */
  #lockstepBefore(at: number): void {
    const ws = this.workers;
    for (;;) {
      const [k, t] = this.#earliest();
      if (t > at) break;
      if (ws[k]!.stepBefore(at)) {
        this.#setLoad(k, ws[k]!.inFlight);
        continue;
      }
      // its event at `at` runs after arrivals; another worker may still have one at `at` that runs before
      let ran = false;
      for (let j = 0; j < ws.length && !ran; j++) {
        if (j !== k && ws[j]!.nextEventTime() <= at && ws[j]!.stepBefore(at)) {
          this.#setLoad(j, ws[j]!.inFlight);
          ran = true;
        }
      }
      if (!ran) break;
    }
  }

  /** After the last arrival: every worker's events in time order until all its invocations are answered. */
  #lockstepToEnd(): void {
    const ws = this.workers;
    while (ws.some((w) => w.inFlight > 0)) {
      const [k] = this.#earliest();
      if (k < 0 || !ws[k]!.step()) break; // finish() names the invocations that can never end
    }
  }

  #request(fn: number, memMb: number): PlacementRequest {
    const reqs = this.#reqs;
    // dense: functions appear in any order, and a write far past the end would make the array a dictionary
    while (reqs.length <= fn) reqs.push(undefined);
    let r = reqs[fn];
    if (!r) {
      const name = this.#given?.[fn] ?? this.#functions[fn]!.name;
      this.#ids.set(name, fn);
      r = reqs[fn] = { fn: name, memMb, packages: this.#fnPackages[fn] ?? [] };
    }
    r.memMb = memMb;
    return r;
  }
}

const COUNTS = ['invocations', 'completed', 'cold', 'warm', 'unpaused', 'queued', 'dropped', 'droppedOversize', 'evictions', 'expirations', 'pauses',
  'prewarms', 'prewarmsSkipped', 'prewarmUnloads', 'sandboxesCreated', 'crashes', 'queueWaitMsTotal', 'memUsedMbMs', 'memIdleMbMs', 'peakUsedMb', 'cpuBusyCoreMs'] as const;

/** The workers' results as one: counts and integrals added, latencies merged, the span from the first start to the last end. */
export function addUp(rs: SimResult[]): SimResult {
  const first = rs[0]!;
  // the workers of a cluster share one per-function table: it holds them all already
  const shared = rs.every((r) => r.perFunction === first.perFunction);
  const out: SimResult = {
    ...first,
    latency: first.latency.clone(),
    perFunction: first.perFunction.map((f) => ({ ...f, latency: shared ? f.latency : f.latency.clone() })),
    policyStats: { ...first.policyStats },
    ...(first.startup ? { startup: { ...first.startup } } : {}),
  };
  for (const r of rs.slice(1)) {
    for (const k of COUNTS) out[k] += r[k];
    out.queueWaitMsMax = Math.max(out.queueWaitMsMax, r.queueWaitMsMax);
    out.startMs = Math.min(out.startMs, r.startMs);
    out.endMs = Math.max(out.endMs, r.endMs);
    out.latency.merge(r.latency);
    if (!shared) {
      r.perFunction.forEach((f, i) => {
        const o = out.perFunction[i];
        if (!o) {
          out.perFunction[i] = { ...f, latency: f.latency.clone() };
          return;
        }
        for (const k of ['invocations', 'cold', 'warm', 'unpaused', 'queued', 'dropped'] as const) o[k] += f[k];
        o.latency.merge(f.latency);
      });
    }
    for (const [k, v] of Object.entries(r.policyStats)) out.policyStats[k] = (out.policyStats[k] ?? 0) + v;
    if (r.startup) for (const [k, v] of Object.entries(r.startup)) out.startup![k] = (out.startup![k] ?? 0) + v;
  }
  // a function the first worker never saw: zeros, not a hole
  for (let i = 0; i < out.perFunction.length; i++) out.perFunction[i] ??= newFnStats();
  return out;
}

export type { FunctionStats };
