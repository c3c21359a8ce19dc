/**
 * The discrete-event model of one OpenLambda-style worker. Invocations
 * arrive from a trace; each takes an available sandbox of its function
 * (warm, or paused and unpaused) or a new one (cold), whose memory comes
 * from a pool of `memoryMb`, evicting idle and paused sandboxes chosen by
 * the policy. With no memory to be had, the invocation waits in a FIFO queue
 * (or is dropped). Handlers share `cores` CPUs (processor sharing, cpu.ts).
 * All costs are sampled from the cost profile with the seeded RNG.
 *
 * Ordering at equal times, fixed so runs are reproducible: handler
 * completions first, then sandbox-ready and dispatch events, then arrivals
 * (in trace order), then keep-alive expiries and pre-warms. So a sandbox that
 * frees up at the moment a request arrives serves it, and a keep-alive
 * window includes its last instant.
 *
 * The rules this model follows, and what it leaves out, are in
 * docs/SIMULATOR.md.
 */
import { OlError } from '../common/errors.js';
import type { FunctionInfo, InvocationBatch } from '../traces/types.js';
import { VirtualClock } from '../core/clock.js';
import type { SimConfig } from './config.js';
import { makeCpu, type Cpu } from './cpu.js';
import { LatencyHistogram } from '../common/histogram.js';
import { below, Request, SimSandbox } from './request.js';
import type { FunctionStats, SimEvent, SimHooks, SimResult } from './results.js';
import type { DestroyReason, Policy } from '../core/policy.js';
import { Route, SandboxPool, type PoolDecision, type PoolEffects } from '../core/pool.js';
import { createPolicy } from '../core/policies/index.js';
import { CreationModel, P_DISPATCH } from './creation.js';
import type { StartupModel } from './import-cache.js';
import type { CostModel } from './profile.js';
import { makeRng, type Rng } from '../common/rng.js';

export type { FunctionStats, InvocationRecord, MemorySample, SimEvent, SimHooks, SimResult, StartKind } from './results.js';

// P_DISPATCH = 0 (start-ups and dispatches, creation.ts), then arrivals, then housekeeping
const P_ARRIVAL = 1;
const P_HOUSEKEEPING = 2;
/** doneBound scans at most this many requests in flight (beyond: the next event). */
const DONE_SCAN_MAX = 64;

export function newFnStats(): FunctionStats {
  return { invocations: 0, cold: 0, warm: 0, unpaused: 0, queued: 0, dropped: 0, latency: new LatencyHistogram(7) };
}

/** Latencies kept before they go into their functions' histograms. */
const LATENCY_BATCH = 1 << 15;

/**
 * The per-function results of one worker, or of a cluster's workers
 * together. Latencies go into the functions' histograms in batches,
 * grouped by function (a stable counting sort, so each histogram sees its
 * values in the order they came): with 10,000 functions, recording each
 * call into its function's histogram as it ended was a few cache misses per
 * call. A cluster's workers put their own latency histograms here too
 * (`addWorker`): a front that brings every worker to each arrival's time
 * ends calls of a different worker each time, and recording into that
 * worker's histogram at once was a tenth of such a run (a cold histogram
 * per call). `flush` before reading the histograms (a worker's `finish`
 * does).
 */
export class FnStatsTable {
  readonly stats: FunctionStats[] = [];
  readonly #fn = new Int32Array(LATENCY_BATCH);
  readonly #worker = new Int32Array(LATENCY_BATCH);
  readonly #ms = new Float64Array(LATENCY_BATCH);
  readonly #order = new Int32Array(LATENCY_BATCH);
  #start = new Int32Array(0);
  #n = 0;
  /** The workers' own latency histograms, by the number `addWorker` gave. */
  readonly #workers: LatencyHistogram[] = [];

  /** Makes the table reach function `fnId`. */
  ensure(fnId: number): void {
    const fs = this.stats;
    while (fs.length <= fnId) fs.push(newFnStats());
  }

  /** Keeps a worker's own latency histogram here; its number for `latency`. */
  addWorker(h: LatencyHistogram): number {
    return this.#workers.push(h) - 1;
  }

  /** A call of `fnId` took `ms` (counted in its histogram, and in worker `worker`'s if >= 0, at the next flush). */
  latency(fnId: number, ms: number, worker = -1): void {
    const n = this.#n;
    this.#fn[n] = fnId;
    this.#worker[n] = worker;
    this.#ms[n] = ms;
    if ((this.#n = n + 1) === LATENCY_BATCH) this.flush();
  }

  /** Puts every latency kept into its function's histogram. */
  flush(): void {
    const n = this.#n;
    if (n === 0) return;
    const fs = this.stats, nf = fs.length, fn = this.#fn, ms = this.#ms, order = this.#order;
    const need = Math.max(nf + 1, this.#workers.length + 2);
    if (this.#start.length < need) this.#start = new Int32Array(Math.max(need, 2 * this.#start.length));
    const start = this.#start;
    start.fill(0, 0, nf + 1);
    for (let i = 0; i < n; i++) start[fn[i]! + 1]!++;
    for (let f = 0; f < nf; f++) start[f + 1]! += start[f]!;
    for (let i = 0; i < n; i++) order[start[fn[i]!]!++] = i;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      fs[fn[i]!]!.latency.record(ms[i]!);
    }
    const ws = this.#workers, nw = ws.length;
    if (nw > 0) {
      // the same for the workers' histograms (calls of no worker, -1, come first and are skipped)
      const wk = this.#worker;
      start.fill(0, 0, nw + 2);
      for (let i = 0; i < n; i++) start[wk[i]! + 2]!++;
      for (let w = 0; w <= nw; w++) start[w + 1]! += start[w]!;
      for (let i = 0; i < n; i++) order[start[wk[i]! + 1]!++] = i;
      for (let k = start[0]!; k < n; k++) {
        const i = order[k]!;
        ws[wk[i]!]!.record(ms[i]!);
      }
    }
    this.#n = 0;
  }
}

/** How a sandbox taken from the pool comes: paused (an unpause), paused and regrown to full size; was idle. */
const PAUSED = 1, REGROWN = 2, FROM_IDLE = 4;

/** The queue's payload columns: what the simulator keeps of a waiting invocation. */
const COL_ARRIVAL = 0, COL_DUR = 1, COL_INIT = 2;

/** Pool decisions that appear in the simulator's event log under the same name. */
const LOGGED: Partial<Record<PoolDecision, SimEvent['kind']>> = {
  evict: 'evict', idle: 'idle', pause: 'pause', expire: 'expire', unload: 'unload', prewarm: 'prewarm', 'prewarm-skip': 'prewarm-skip',
};

/**
 * One simulated worker. Use once: construct, `run`, read the result. Which
 * sandbox lives, dies, waits or is handed over is the core pool's decision
 * (core/pool.ts); this class applies it on the virtual clock with sampled
 * costs and CPU sharing.
 */
export class Simulator implements PoolEffects<SimSandbox> {
  readonly config: SimConfig;
  readonly policy: Policy;
  readonly clock = new VirtualClock();
  readonly #costs: CostModel;
  readonly #costRng: Rng;
  readonly #functions: FunctionInfo[];
  readonly #cpu: Cpu<Request>;
  readonly #hooks: SimHooks;
  readonly #log: ((e: SimEvent) => void) | undefined;
  readonly #capacity: number;
  readonly #pool: SandboxPool<SimSandbox>;
  #lastMem: number[] = [];
  readonly #fnTable: FnStatsTable;
  /** A cluster's worker: its number in the shared table, which records its latencies in batches (-1: recorded at once). */
  readonly #latencyWorker: number;
  /** `#fnTable.stats` (the same array, grown in place). */
  readonly #fnStats: FunctionStats[];
  #busySandboxes = 0;
  #inFlight = 0;
  /** The requests in flight that have a record (not those in the pool's queue), kept only after listInFlight(). */
  #live: Request[] | undefined = undefined;
  #seq = 0;
  #lastT = 0;
  #nextSample = 0;
  #sampleEvery = 0;
  #started = false;
  readonly #r: Omit<SimResult, 'perFunction' | 'policyStats'>;
  readonly #creation: CreationModel;
  readonly #startup: StartupModel | undefined;
  /** The cluster front's hop, ms: requests reach this worker that much after they arrived, and the client waits it too. */
  readonly #hopMs: number;
  /**
   * A cluster's workers record each function's latencies into one shared
   * histogram per function (per worker, 10,000 functions x 100 workers of
   * histograms took 24 GB).
   */

  /**
   * `stream`: a suffix for the run's random streams, so the workers of a
   * simulated cluster draw independently ('' for a single worker, whose
   * numbers stay those of a plain run). `hopMs`: a cluster front's hop,
   * counted in every request's latency (its arrivals come that much later).
   */
  constructor(config: SimConfig, costs: CostModel, functions: FunctionInfo[], hooks: SimHooks = {}, startup?: StartupModel, stream = '', hopMs = 0, sharedFnStats?: FnStatsTable, cpu?: Cpu<Request>) {
    this.#hopMs = hopMs;
    // a cluster's workers count into one table per function (their per-worker figures are totals only)
    this.#fnTable = sharedFnStats ?? new FnStatsTable();
    this.#fnStats = this.#fnTable.stats;
    this.#startup = startup;
    this.config = config;
    this.#costs = costs;
    this.#functions = functions;
    this.#hooks = hooks;
    this.#log = hooks.log;
    this.#capacity = config.memoryMb;
    this.#costRng = makeRng(config.seed, `sim/costs${stream}`);
    // its own cores, or (a cluster on one machine) its share of the machine's
    this.#cpu = cpu ?? makeCpu(config.cores, config.createCpuWeight, config.cpuSliceMs);
    this.policy = createPolicy(config.policy, {
      capacityMb: config.memoryMb, rng: makeRng(config.seed, `sim/policy${stream}`), options: config.policyOptions,
    });
    const log = this.#log, decisions = hooks.decisions;
    this.#pool = new SandboxPool<SimSandbox>({
      capacityMb: config.memoryMb, policy: this.policy, effects: this, concurrency: config.sandboxConcurrency,
      pausedMemMb: config.pausedMemMb, tree: startup?.tree, zygoteMb: startup?.zygoteMb ?? 0, payloadColumns: 3,
      evictTo: config.evictTo, flushOnFail: config.flushOnFail,
      log: log || decisions ? (kind, fnId, sb, seq) => {
        const k = LOGGED[kind];
        if (k && log) this.#emit(k, fnId, undefined, sb);
        decisions?.(kind, fnId >= 0 ? this.#functions[fnId]!.name : '', sb, seq);
      } : undefined,
    });
    this.#creation = new CreationModel(config, costs, this.#costRng, this.#cpu, this.clock, startup, {
      endQueueing: (req, now) => this.#endQueueing(req, now),
      begin: (req, startupMs) => this.#begin(req, startupMs),
      execStart: this.#execStart,
      reserveZygote: this.#reserveZygote,
    });
    if (hooks.onSample) {
      this.#sampleEvery = hooks.seriesIntervalMs ?? 60_000;
      if (!(this.#sampleEvery > 0)) throw new OlError('OL_ERR_CONFIG', `series interval must be > 0 ms, got ${this.#sampleEvery}`);
    }
    this.#r = {
      invocations: 0, completed: 0, cold: 0, warm: 0, unpaused: 0, queued: 0, dropped: 0, droppedOversize: 0,
      evictions: 0, expirations: 0, pauses: 0, prewarms: 0, prewarmsSkipped: 0, prewarmUnloads: 0, sandboxesCreated: 0, crashes: 0,
      latency: new LatencyHistogram(10), queueWaitMsTotal: 0, queueWaitMsMax: 0, startMs: 0, endMs: 0,
      memUsedMbMs: 0, memIdleMbMs: 0, peakUsedMb: 0, cpuBusyCoreMs: 0,
    };
    this.#latencyWorker = sharedFnStats ? sharedFnStats.addWorker(this.#r.latency) : -1;
  }

  /** Memory in use now, MB. */
  get usedMb(): number {
    return this.#pool.used;
  }

  /** Simulates every invocation of `batches`, then runs until all are done. */
  run(batches: Iterable<InvocationBatch>, onBatch?: () => void): SimResult {
    for (const b of batches) {
      const { t, fn, dur, mem, init } = b;
      for (let i = 0; i < b.length; i++) this.feed(fn[i]!, t[i]!, dur[i]!, mem[i]!, init[i]!);
      onBatch?.();
    }
    return this.finish();
  }

  /** Runs every event due before `t` and moves the clock there (the first call starts the run at `t`). */
  advanceTo(t: number): void {
    if (!this.#started) {
      this.#started = true;
      this.#lastT = t;
      this.#r.startMs = t;
      this.#nextSample = t;
      this.clock.advanceTo(t);
    }
    this.#runUntil(t);
    this.#advance(t);
    this.clock.advanceTo(t);
  }

  /** One invocation arriving at `at` (arrivals come in time order). */
  feed(fnId: number, at: number, dur: number, mem: number, init: number): void {
    this.advanceTo(at);
    this.#arrive(fnId, at, dur, mem, init);
  }

  /** When its next event (a CPU completion, a timer) is due; Infinity if none. */
  nextEventTime(): number {
    return Math.min(this.#cpu.nextTime(), this.clock.peekTime());
  }

  /** Whether the run has started (its first advance). */
  get started(): boolean {
    return this.#started;
  }

  /**
   * A time before which this worker's in-flight count cannot fall (no
   * invocation of it can end earlier), Infinity when nothing is in flight.
   * Every in-flight invocation ends at an event of this worker, so at or
   * after nextEventTime(); and each request with a record ends at or after
   * its `notBefore`. A cluster front that reads loads brings a worker to an
   * arrival only when this is due, rather than at each of its events
   * (dispatches, creations, expiries), which run when it is next brought
   * forward, in the same order. Without listInFlight() before the run,
   * nextEventTime().
   */
  doneBound(): number {
    const next = this.nextEventTime();
    const live = this.#live;
    if (!live) return next;
    // queued invocations have no record (they end after an event, so after `next`); a long list is not worth a scan
    if (this.#pool.queue.size > 0 || live.length > DONE_SCAN_MAX) return next;
    let b = Infinity;
    for (let i = 0; i < live.length; i++) {
      const x = live[i]!.notBefore;
      if (x < b) b = x;
    }
    return b > next ? b : next;
  }

  /** Keeps the list of requests in flight that doneBound reads; called before the first invocation. */
  listInFlight(): void {
    if (this.#seq > 0) throw new OlError('OL_ERR_INVARIANT', 'the list of requests in flight starts before the first invocation');
    this.#live ??= [];
  }

  /** Invocations arrived and neither finished nor dropped. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Memory of the pool neither reserved nor dying, MB. */
  get freeMb(): number {
    return this.#pool.free;
  }

  /** Idle or paused sandboxes per function id, now. */
  warmCounts(): Map<number, number> {
    return this.#pool.idleCounts();
  }

  /** Runs until every invocation is done; the result. */
  finish(): SimResult {
    // finish what is in flight; expiries and pre-warms after that do not matter
    while (this.#inFlight > 0) {
      if (!this.#step()) {
        throw new OlError('OL_ERR_INVARIANT', `${this.#inFlight} invocation(s) can never finish: nothing is running and nothing can be evicted`);
      }
    }
    this.#advance(this.clock.now());
    const c = this.#pool.counts, r = this.#r;
    r.endMs = this.clock.now();
    r.cpuBusyCoreMs = this.#cpu.busyCoreMs;
    r.evictions = c.evictions;
    r.expirations = c.expirations;
    r.pauses = c.pauses;
    r.prewarms = c.prewarms;
    r.prewarmsSkipped = c.prewarmsSkipped;
    r.prewarmUnloads = c.prewarmUnloads;
    if (this.#startup) this.#r.startup = this.#startup.stats();
    this.#fnTable.flush();
    this.#checkInvariants();
    return { ...this.#r, perFunction: this.#fnStats, policyStats: this.policy.stats() };
  }

  // --- event loop -------------------------------------------------------

  /** Runs every event due before an arrival at `t`. */
  #runUntil(t: number): void {
    const cpu = this.#cpu, clock = this.clock;
    for (;;) {
      const ct = cpu.nextTime();
      const ht = clock.peekTime();
      if (ct <= ht) {
        if (ct > t) return;
        this.#completeNext(ct);
      } else {
        if (ht > t || (ht === t && clock.peekPriority() >= P_ARRIVAL)) return;
        this.#advance(ht);
        clock.step();
      }
    }
  }

  /**
   * Runs this worker's next event if it is due before an arrival at `t`;
   * false when none is. A cluster whose workers share one machine's cores
   * runs its workers' events one at a time in global time order with this.
   */
  stepBefore(t: number): boolean {
    const ct = this.#cpu.nextTime();
    const ht = this.clock.peekTime();
    if (ct <= ht) {
      if (ct > t) return false;
      this.#completeNext(ct);
      return true;
    }
    if (ht > t || (ht === t && this.clock.peekPriority() >= P_ARRIVAL)) return false;
    this.#advance(ht);
    this.clock.step();
    return true;
  }

  /** Runs this worker's next event of any kind; false when there is none (see stepBefore). */
  step(): boolean {
    return this.#step();
  }

  /** Runs the next event of any kind; false when there is none. */
  #step(): boolean {
    const ct = this.#cpu.nextTime();
    const ht = this.clock.peekTime();
    if (ct === Infinity && ht === Infinity) return false;
    if (ct <= ht) this.#completeNext(ct);
    else {
      this.#advance(ht);
      this.clock.step();
    }
    return true;
  }

  #completeNext(ct: number): void {
    const now = Math.max(ct, this.clock.now());
    this.#advance(now);
    this.clock.advanceTo(now);
    const req = this.#cpu.pop(now);
    // undefined: a time slice ended, no job did
    if (req !== undefined) this.#complete(req);
  }

  /** Integrates memory over [last, t) and emits due samples. */
  #advance(t: number): void {
    const dt = t - this.#lastT;
    if (dt > 0) {
      const pool = this.#pool;
      if (this.#sampleEvery > 0) {
        while (this.#nextSample < t) {
          this.#hooks.onSample!({
            t: this.#nextSample, cpuBusyCoreMs: this.#cpu.busyCoreMsAt(this.#nextSample), usedMb: pool.used + pool.dying, idleMb: pool.evictable, sandboxes: pool.live,
            busy: this.#busySandboxes, queued: pool.queue.size,
          });
          this.#nextSample += this.#sampleEvery;
        }
      }
      this.#r.memUsedMbMs += pool.used * dt;
      this.#r.memIdleMbMs += pool.evictable * dt;
      this.#lastT = t;
    }
  }

  #emit(kind: SimEvent['kind'], fnId: number, inv?: number, sb?: number): void {
    const e: SimEvent = { t: this.clock.now(), kind, fn: this.#functions[fnId]!.name };
    if (inv !== undefined) e.inv = inv;
    if (sb !== undefined) e.sb = sb;
    this.#log!(e);
  }

  // --- invocations --------------------------------------------------------

  #ensureFn(fnId: number): void {
    while (this.#lastMem.length <= fnId) this.#lastMem.push(0);
    // shared with the cluster's other workers: one of them may have made it already
    this.#fnTable.ensure(fnId);
  }

  #arrive(fnId: number, now: number, dur: number, mem: number, init: number): void {
    this.#ensureFn(fnId);
    const seq = this.#seq++;
    this.#r.invocations++;
    this.#fnStats[fnId]!.invocations++;
    this.#lastMem[fnId] = mem;
    if (this.#log) this.#emit('arrive', fnId, seq);
    const pool = this.#pool;
    pool.invoked(fnId, now);
    if (pool.oversize(mem, now)) {
      this.#r.droppedOversize++;
      this.#drop(seq, fnId, now);
      return;
    }
    this.#inFlight++;
    this.#background(fnId, now, this.config.callBackgroundCpuMs);
    const route = pool.route(fnId, mem, now, seq);
    if (route === Route.Warm) {
      const sb = pool.taken!;
      this.#startOn(this.#listed(new Request(seq, fnId, now, dur, mem, init)), sb, pool.tookPaused ? (pool.regrown ? REGROWN : PAUSED) : 0, pool.evictions, sb.active === 1);
      return;
    }
    if (route === Route.Cold) {
      this.#startCold(this.#listed(new Request(seq, fnId, now, dur, mem, init)), pool.evictions, pool.newId);
      return;
    }
    if (this.config.queue === 'drop') {
      this.#inFlight--;
      this.#drop(seq, fnId, now);
      return;
    }
    this.#r.queued++;
    this.#fnStats[fnId]!.queued++;
    pool.enqueue(seq, fnId, mem, now, dur, init); // the payload columns COL_ARRIVAL, COL_DUR, COL_INIT
    if (this.#log) this.#emit('queue', fnId, seq);
  }

  /**
   * CPU work no request waits for, sharing the cores with the handlers
   * (SimConfig.callBackgroundCpuMs); with `dyingMb`, a destroy whose memory
   * is freed when it ends (destroyOnCpu).
   */
  #background(fnId: number, now: number, ms: number, dyingMb = 0): void {
    if (!(ms > 0) && dyingMb === 0) return;
    const b = new Request(-1, fnId, now, ms, dyingMb, NaN);
    b.background = true;
    b.destroy = dyingMb > 0;
    this.#cpu.add(now, ms, b);
  }

  #drop(seq: number, fnId: number, arrival: number): void {
    this.#r.dropped++;
    this.#fnStats[fnId]!.dropped++;
    if (this.#log) this.#emit('drop', fnId, seq);
    this.#hooks.onInvocation?.({
      inv: seq, fn: this.#functions[fnId]!.name, arrival, start: 'dropped',
      queueMs: this.clock.now() - arrival, startupMs: 0, execMs: 0, latencyMs: NaN, sandbox: -1,
    });
  }

  /**
   * Serves queued invocations, in order, while the pool's drain allows. As
   * in the worker, whose waiters resume only after its drain has granted
   * all it can, the drain decides first and the starts (a new sandbox's
   * zygote memory among them) follow, in the order decided.
   */
  #drainQueue(): void {
    const pool = this.#pool;
    const now = this.clock.now();
    const d = this.#drained;
    let k = 0;
    for (;; k++) {
      const r = pool.drainStep(now);
      if (r === Route.Warm) {
        const sb = pool.taken!;
        d.req[k] = this.#fromQueue(); d.sb[k] = sb; d.evictions[k] = pool.evictions;
        d.flags[k] = (pool.tookPaused ? (pool.regrown ? REGROWN : PAUSED) : 0) | (sb.active === 1 ? FROM_IDLE : 0);
      } else if (r === Route.Cold) {
        d.req[k] = this.#fromQueue(); d.sb[k] = undefined; d.evictions[k] = pool.evictions; d.flags[k] = pool.newId;
      } else {
        if (r === Route.Hold) this.#notePeak();
        break;
      }
    }
    for (let i = 0; i < k; i++) {
      const req = d.req[i]!, sb = d.sb[i];
      if (sb) this.#startOn(req, sb, d.flags[i]! & (PAUSED | REGROWN), d.evictions[i]!, (d.flags[i]! & FROM_IDLE) !== 0);
      else this.#startCold(req, d.evictions[i]!, d.flags[i]!);
      d.req[i] = undefined;
      d.sb[i] = undefined;
    }
  }

  /** The drain's decisions, kept until its starts are applied (reused: a drain allocates nothing of its own). */
  readonly #drained = { req: [] as (Request | undefined)[], sb: [] as (SimSandbox | undefined)[], evictions: [] as number[], flags: [] as number[] };

  /** The invocation the pool just took from the queue, as a request. */
  #fromQueue(): Request {
    const o = this.#pool.out;
    return this.#listed(new Request(o.seq, o.fn, o.cols[COL_ARRIVAL]!, o.cols[COL_DUR]!, o.mem, o.cols[COL_INIT]!));
  }

  /** An invocation's record, listed as in flight when doneBound keeps a list. */
  #listed(req: Request): Request {
    const live = this.#live;
    if (live) {
      req.liveIx = live.length;
      live.push(req);
    }
    return req;
  }

  /**
   * The request runs on `sb`, taken by the pool for it (warm, or `paused`
   * and now unpaused, `REGROWN` to full size evicting `evictions`; an idle
   * sandbox made busy if `fromIdle`), or handed over busy from the request
   * it just served (no flags).
   */
  #startOn(req: Request, sb: SimSandbox, paused: number, evictions: number, fromIdle: boolean): void {
    const fs = this.#fnStats[req.fnId]!;
    let delay = 0;
    if (fromIdle) this.#busySandboxes++;
    if (paused !== 0) {
      req.kind = 'unpaused';
      // the unpause waits for the pause's freeze still in flight
      delay += Math.max(0, sb.frozenAt - this.clock.now()) + this.#costs.sample.unpause(this.#costRng);
      if (paused === REGROWN) {
        delay += this.#creation.destroyCost(evictions);
        this.#notePeak();
      }
      if (this.#log) this.#emit('unpause', req.fnId, req.seq, sb.id);
      this.#r.unpaused++;
      fs.unpaused++;
    } else {
      req.kind = 'warm';
      this.#r.warm++;
      fs.warm++;
      if (this.#log) this.#emit('warm', req.fnId, req.seq, sb.id);
    }
    req.sb = sb;
    this.#begin(req, delay);
  }

  /** Memory for a zygote, from free memory only (it never evicts). */
  readonly #reserveZygote = (mb: number): boolean => this.#pool.tryReserveZygote(mb);

  #notePeak(): void {
    if (this.#pool.used > this.#r.peakUsedMb) this.#r.peakUsedMb = this.#pool.used;
  }

  /** Starts new sandbox `id` for `req`, whose memory the pool made (evicting `evictions`) and reserved. */
  #startCold(req: Request, evictions: number, id: number): void {
    const creation = this.#creation;
    const destroyCost = creation.destroyCost(evictions);
    const now = this.clock.now();
    const fn = this.#functions[req.fnId]!.name;
    const sb = new SimSandbox(id, req.fnId, fn, req.mem, now);
    this.#busySandboxes++;
    this.#notePeak();
    sb.coldStartMs = creation.coldStartMs(req, now);
    req.firstOnSandbox = true;
    this.#r.cold++;
    this.#r.sandboxesCreated++;
    this.#background(req.fnId, now, this.config.coldBackgroundCpuMs);
    this.#fnStats[req.fnId]!.cold++;
    req.kind = 'cold';
    req.sb = sb;
    if (this.#log) this.#emit('cold', req.fnId, req.seq, sb.id);
    this.#pool.admit(sb, now);
    creation.start(req, destroyCost, this.#pool.overCommitted);
  }

  #endQueueing(req: Request, now: number): void {
    req.queueMs = now - req.arrival;
    if (req.queueMs > 0) {
      this.#r.queueWaitMsTotal += req.queueMs;
      if (req.queueMs > this.#r.queueWaitMsMax) this.#r.queueWaitMsMax = req.queueMs;
    }
  }

  #begin(req: Request, startupMs: number): void {
    const now = this.clock.now();
    this.#endQueueing(req, now);
    // the worker's dispatch overhead comes on every path (not in FaasCache mode)
    if (!(this.config.coldFromTrace && req.kind === 'cold' && !Number.isNaN(req.init))) {
      startupMs += this.#costs.sample.warmDispatch(this.#costRng);
    }
    req.startupMs = startupMs;
    // its handler starts then, and takes at least its work (never more than a core)
    req.notBefore = below(now + startupMs + req.dur);
    if (startupMs > 0) this.clock.schedule(now + startupMs, this.#execStart, req, P_DISPATCH);
    else this.#execStart(req);
  }

  readonly #execStart = (req: Request): void => {
    const now = this.clock.now();
    const sb = req.sb!;
    req.execStart = now;
    if (req.firstOnSandbox) {
      // as the worker: evicting ahead of need happens once a new sandbox is up, among the sandboxes idle by then
      this.#pool.up(now);
      // the first request's extra work on a new sandbox, dearer when it starts among other jobs
      req.firstOnSandbox = false;
      const alone = this.#hooks.coldWorkMs?.[req.fnId] ?? 0;
      req.dur += this.#cpu.running > 0 ? this.#hooks.coldWorkBusyMs?.[req.fnId] ?? alone : alone;
      const touch = this.#hooks.firstTouch;
      if (touch) {
        req.dur += touch.touch(req.fnId, now);
        sb.touched = true;
      }
    }
    if (this.#log) this.#emit('exec', req.fnId, req.seq, sb.id);
    req.notBefore = below(now + req.dur);
    this.#cpu.add(now, req.dur, req);
  };

  #complete(req: Request): void {
    if (req.background) {
      if (req.destroy) this.#destroyed(req.mem);
      return;
    }
    if (req.creating) return this.#creation.done(req);
    const now = this.clock.now();
    const sb = req.sb!;
    // a cluster's front adds its hop to what the client waits, and the answer its way back (SimHooks.responseMs)
    const response = this.#hooks.responseMs;
    const latency = now - req.arrival + this.#hopMs + (response ? response(now - req.execStart) : 0);
    this.#inFlight--;
    const live = this.#live;
    if (live && req.liveIx >= 0) {
      // a front that trusted the bound would have read a wrong load
      if (now < req.notBefore) throw new OlError('OL_ERR_INVARIANT', `invocation ${req.seq} ended at ${now} ms, before its bound ${req.notBefore} ms`);
      const last = live.pop()!;
      if (last !== req) {
        live[req.liveIx] = last;
        last.liveIx = req.liveIx;
      }
      req.liveIx = -1;
    }
    this.#r.completed++;
    if (this.#latencyWorker < 0) this.#r.latency.record(latency);
    this.#fnTable.latency(req.fnId, latency, this.#latencyWorker);
    if (this.#log) this.#emit('done', req.fnId, req.seq, sb.id);
    this.#hooks.onInvocation?.({
      inv: req.seq, fn: sb.fn, arrival: req.arrival, start: req.kind, queueMs: req.queueMs,
      startupMs: req.startupMs, execMs: now - req.execStart, latencyMs: latency, sandbox: sb.id,
    });
    const pool = this.#pool;
    if (this.#hooks.crashes?.(req.seq)) {
      // the sandbox died with its request: destroyed from busy, never idle
      this.#r.crashes++;
      sb.active--;
      sb.uses++;
      if (sb.active === 0) {
        this.#busySandboxes--;
        pool.destroy(sb, 'error', now);
      }
    } else if (pool.release(sb, now)) {
      // still busy: it serves the waiting request now
      this.#startOn(this.#fromQueue(), sb, 0, 0, false);
    } else if (sb.active === 0) {
      this.#busySandboxes--;
    }
    if (pool.queue.size > 0) this.#drainQueue();
  }

  // --- what the pool decided, carried out (PoolEffects) ---------------------

  destroy(sb: SimSandbox, _reason: DestroyReason): void {
    if (sb.touched) this.#hooks.firstTouch!.freed(sb.fnId, this.clock.now());
    if (this.config.destroyOnCpu && sb.footprint > 0) {
      // its memory is dying, not free, until the destroy's CPU job ends
      this.#background(sb.fnId, this.clock.now(), this.#costs.sample.destroy(this.#costRng), sb.footprint);
    } else {
      this.#pool.destroyed(sb.footprint);
    }
  }

  pause(sb: SimSandbox): void {
    // off the request path: the freeze, and the thaw when the sandbox is next taken, as CPU nothing waits for
    const now = this.clock.now();
    this.#background(sb.fnId, now, this.config.pauseBackgroundCpuMs);
    // the freeze's wall time, longer the more jobs wait for the cores (a next call waits for what is left of it)
    const c = this.config;
    if (c.freezeMs > 0 || c.freezeLoadMs > 0) {
      const perCore = c.cores === Infinity ? 0 : this.#cpu.running / c.cores;
      sb.frozenAt = now + c.freezeMs + c.freezeLoadMs * perCore;
    }
  }

  scheduleExpiry(sb: SimSandbox, at: number): void {
    this.clock.schedule(at, this.#expire, sb, P_HOUSEKEEPING);
  }

  schedulePrewarm(fnId: number, at: number): void {
    this.clock.schedule(at, this.#prewarm, fnId, P_HOUSEKEEPING);
  }

  evictZygote(_node: unknown, mb: number): void {
    // the model's zygotes die at once
    this.#startup?.zygoteEvicted?.();
    this.#pool.destroyed(mb);
  }

  readonly #expire = (sb: SimSandbox): void => {
    const now = this.clock.now();
    if (this.#pool.expire(sb, now, now) && this.#pool.queue.size > 0) this.#drainQueue();
  };

  readonly #prewarm = (fnId: number): void => {
    const mem = this.#lastMem[fnId]!;
    if (!this.#pool.canPrewarm(fnId, mem)) return;
    const now = this.clock.now();
    const sb = new SimSandbox(this.#pool.newId, fnId, this.#functions[fnId]!.name, mem, now);
    this.#notePeak();
    // as the worker: a pre-warmed sandbox starts like any new one (forked from its zygote when there is a tree)
    sb.coldStartMs = this.#creation.startupMs(fnId, now);
    this.#r.sandboxesCreated++;
    this.#pool.admitPrewarm(sb, now);
    this.clock.schedule(now + sb.coldStartMs, this.#prewarmReady, sb, P_DISPATCH);
  };

  readonly #prewarmReady = (sb: SimSandbox): void => {
    this.#pool.prewarmed(sb, this.clock.now());
    if (this.#pool.queue.size > 0) this.#drainQueue();
  };

  /** destroyOnCpu: a destroy ended; once no more memory is held than the pool, waiting creations start. */
  #destroyed(mb: number): void {
    const pool = this.#pool;
    pool.destroyed(mb);
    this.#creation.memoryFreed(pool.overCommitted);
    if (pool.queue.size > 0) this.#drainQueue();
  }

  #checkInvariants(): void {
    const r = this.#r;
    const fail = (what: string) => { throw new OlError('OL_ERR_INVARIANT', `after the run: ${what}`); };
    if (r.completed + r.dropped !== r.invocations) fail(`${r.completed} completed + ${r.dropped} dropped != ${r.invocations} invocations`);
    if (r.cold + r.warm + r.unpaused !== r.completed) fail(`cold ${r.cold} + warm ${r.warm} + unpaused ${r.unpaused} != completed ${r.completed}`);
    if (r.peakUsedMb > this.#capacity + 1e-6) fail(`peak memory ${r.peakUsedMb} MB above the pool's ${this.#capacity} MB`);
    this.#pool.checkInvariants();
  }
}
