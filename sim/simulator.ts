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
import { VirtualClock } from './clock.js';
import type { SimConfig } from './config.js';
import { ProcessorSharing } from './cpu.js';
import { LatencyHistogram } from './histogram.js';
import { SandboxRecord, type DestroyReason, type IdleCause, type Policy } from './policy.js';
import { createPolicy } from './policies/index.js';
import type { StartupModel } from './import-cache.js';
import type { CostModel } from './profile.js';
import { InvocationQueue } from './queue.js';
import { makeRng, type Rng } from './rng.js';

const P_DISPATCH = 0;
const P_ARRIVAL = 1;
const P_HOUSEKEEPING = 2;

/** How an invocation got its sandbox. */
export type StartKind = 'warm' | 'unpaused' | 'cold' | 'dropped';

/** One line of the event log (tests and `--log`). */
export interface SimEvent {
  t: number;
  kind:
    | 'arrive' | 'warm' | 'unpause' | 'cold' | 'queue' | 'drop' | 'exec' | 'done'
    | 'idle' | 'pause' | 'evict' | 'expire' | 'prewarm' | 'prewarm-skip' | 'unload';
  fn: string;
  /** Invocation number (0-based, trace order), where the event concerns one. */
  inv?: number;
  /** Sandbox id, where the event concerns one. */
  sb?: number;
}

/** What is recorded of each invocation (`--invocations` CSV, the harness). */
export interface InvocationRecord {
  inv: number;
  fn: string;
  arrival: number;
  start: StartKind;
  /** Time spent waiting for memory. */
  queueMs: number;
  /** Cold start / unpause / dispatch before the handler ran (incl. evictions on the path). */
  startupMs: number;
  /** Handler time as stretched by CPU sharing. */
  execMs: number;
  /** Arrival to response. */
  latencyMs: number;
  sandbox: number;
}

/** The pool's state at one instant (memory-over-time series). */
export interface MemorySample {
  t: number;
  /** Core-ms of CPU work done since the start (handlers, creations, background; utilisation from differences). */
  cpuBusyCoreMs: number;
  usedMb: number;
  idleMb: number;
  sandboxes: number;
  busy: number;
  queued: number;
}

/** Optional observers (none of them changes the run), and the per-function cold work the validation harness sets. */
export interface SimHooks {
  log?: (e: SimEvent) => void;
  onInvocation?: (r: InvocationRecord) => void;
  /** Called with a sample every `seriesIntervalMs` of simulated time. */
  onSample?: (s: MemorySample) => void;
  seriesIntervalMs?: number;
  /**
   * CPU work (ms) a function's handler does on a new sandbox's first
   * request, before its own execution time: imports, touching its memory.
   * The validation harness sets it from calibration.
   */
  coldWorkMs?: ArrayLike<number>;
  /**
   * The same work when the first request starts while other CPU jobs run
   * (page faults taken side by side cost more each: calibrated as
   * touchBusyMsPerMb); default: coldWorkMs.
   */
  coldWorkBusyMs?: ArrayLike<number>;
}

/** Per-function results. */
export interface FunctionStats {
  invocations: number;
  cold: number;
  warm: number;
  unpaused: number;
  queued: number;
  dropped: number;
  latency: LatencyHistogram;
}

/** Everything a run produced, before formatting. */
export interface SimResult {
  invocations: number;
  completed: number;
  cold: number;
  warm: number;
  unpaused: number;
  queued: number;
  dropped: number;
  droppedOversize: number;
  evictions: number;
  expirations: number;
  pauses: number;
  prewarms: number;
  prewarmsSkipped: number;
  prewarmUnloads: number;
  sandboxesCreated: number;
  /** The package / import-cache model's counters (with --packages or --zygotes). */
  startup?: Record<string, number>;
  latency: LatencyHistogram;
  queueWaitMsTotal: number;
  queueWaitMsMax: number;
  /** First arrival to the end of the last invocation, ms. */
  startMs: number;
  endMs: number;
  /** Integral of memory in use (MB·ms) and of idle + paused memory ("wasted"). */
  memUsedMbMs: number;
  memIdleMbMs: number;
  peakUsedMb: number;
  cpuBusyCoreMs: number;
  perFunction: FunctionStats[];
  policyStats: Record<string, number>;
}

class SimSandbox extends SandboxRecord {
  footprint: number;
  active = 0;
  availIdx = -1;
  expiresAt = Infinity;
  constructor(id: number, fnId: number, fn: string, memMb: number, createdAt: number) {
    super(id, fnId, fn, memMb, createdAt);
    this.footprint = memMb;
  }
}

class Request {
  sb: SimSandbox | undefined = undefined;
  kind: StartKind = 'cold';
  queueMs = 0;
  startupMs = 0;
  execStart = 0;
  /** With createOnCpu: its sandbox's creation is the CPU job running now, begun at `beginAt`. */
  creating = false;
  /** The first request on a new sandbox: its handler does the function's cold work (coldWorkMs) too. */
  firstOnSandbox = false;
  /** With createSandboxMs: the creation's weighted part is done; its part at a handler's weight runs now. */
  sandboxPart = false;
  /** CPU work off any request's path (the zygote's next spare, the worker's own bookkeeping): nothing waits for it. */
  background = false;
  /** destroyOnCpu: this background job is a destroy; `mem` MB are dying until it ends. */
  destroy = false;
  beginAt = 0;
  constructor(
    readonly seq: number,
    readonly fnId: number,
    readonly arrival: number,
    public dur: number,
    readonly mem: number,
    readonly init: number,
  ) {}
}

function newFnStats(): FunctionStats {
  return { invocations: 0, cold: 0, warm: 0, unpaused: 0, queued: 0, dropped: 0, latency: new LatencyHistogram(7) };
}

/** One simulated worker. Use once: construct, `run`, read the result. */
export class Simulator {
  readonly config: SimConfig;
  readonly policy: Policy;
  readonly clock = new VirtualClock();
  readonly #costs: CostModel;
  readonly #costRng: Rng;
  readonly #functions: FunctionInfo[];
  readonly #cpu: ProcessorSharing<Request>;
  readonly #hooks: SimHooks;
  readonly #log: ((e: SimEvent) => void) | undefined;
  readonly #capacity: number;
  readonly #conc: number;
  #avail: SimSandbox[][] = [];
  #lastMem: number[] = [];
  #fnStats: FunctionStats[] = [];
  readonly #queue = new InvocationQueue();
  #used = 0;
  #evictable = 0;
  #live = 0;
  #busySandboxes = 0;
  #inFlight = 0;
  #nextId = 0;
  #seq = 0;
  #lastT = 0;
  #nextSample = 0;
  #sampleEvery = 0;
  #started = false;
  readonly #r: Omit<SimResult, 'perFunction' | 'policyStats'>;
  /** createOnCpu: creation jobs on the CPU now, and those waiting for a lane. */
  #createsRunning = 0;
  /** destroyOnCpu: memory of sandboxes whose destroy is still running, and creations waiting for it to go. */
  #dyingMb = 0;
  readonly #memWaiters: Request[] = [];
  /**
   * destroyOnCpu: the head of the queue, once the drain has evicted for it
   * and reserved its memory, while dying sandboxes' memory is still going.
   * As in the worker, whose drain awaits that memory: it stays queued (a
   * sandbox of its function that finishes meanwhile is handed to it, and
   * the reservation returned), the drain serves nobody else, and newcomers
   * queue behind it.
   */
  #held: { seq: number; mem: number } | undefined;
  readonly #createWaiting: Request[] = [];
  /** When each creation lane frees up (only with a finite createLanes). */
  readonly #lanes: Float64Array | undefined;

  readonly #startup: StartupModel | undefined;

  constructor(config: SimConfig, costs: CostModel, functions: FunctionInfo[], hooks: SimHooks = {}, startup?: StartupModel) {
    this.#startup = startup;
    this.config = config;
    this.#costs = costs;
    this.#functions = functions;
    this.#hooks = hooks;
    this.#log = hooks.log;
    this.#capacity = config.memoryMb;
    this.#conc = config.sandboxConcurrency;
    this.#costRng = makeRng(config.seed, 'sim/costs');
    this.#cpu = new ProcessorSharing(config.cores, config.createCpuWeight);
    this.#lanes = Number.isFinite(config.createLanes) ? new Float64Array(config.createLanes) : undefined;
    this.policy = createPolicy(config.policy, {
      capacityMb: config.memoryMb, rng: makeRng(config.seed, 'sim/policy'), options: config.policyOptions,
    });
    if (hooks.onSample) {
      this.#sampleEvery = hooks.seriesIntervalMs ?? 60_000;
      if (!(this.#sampleEvery > 0)) throw new OlError('OL_ERR_CONFIG', `series interval must be > 0 ms, got ${this.#sampleEvery}`);
    }
    this.#r = {
      invocations: 0, completed: 0, cold: 0, warm: 0, unpaused: 0, queued: 0, dropped: 0, droppedOversize: 0,
      evictions: 0, expirations: 0, pauses: 0, prewarms: 0, prewarmsSkipped: 0, prewarmUnloads: 0, sandboxesCreated: 0,
      latency: new LatencyHistogram(10), queueWaitMsTotal: 0, queueWaitMsMax: 0, startMs: 0, endMs: 0,
      memUsedMbMs: 0, memIdleMbMs: 0, peakUsedMb: 0, cpuBusyCoreMs: 0,
    };
  }

  /** Memory in use now, MB. */
  get usedMb(): number {
    return this.#used;
  }

  /** Simulates every invocation of `batches`, then runs until all are done. */
  run(batches: Iterable<InvocationBatch>, onBatch?: () => void): SimResult {
    for (const b of batches) {
      const { t, fn, dur, mem, init } = b;
      for (let i = 0; i < b.length; i++) {
        const at = t[i]!;
        if (!this.#started) {
          this.#started = true;
          this.#lastT = at;
          this.#r.startMs = at;
          this.#nextSample = at;
          this.clock.advanceTo(at);
        }
        this.#runUntil(at);
        this.#advance(at);
        this.clock.advanceTo(at);
        this.#arrive(fn[i]!, at, dur[i]!, mem[i]!, init[i]!);
      }
      onBatch?.();
    }
    // finish what is in flight; expiries and pre-warms after that do not matter
    while (this.#inFlight > 0) {
      if (!this.#step()) {
        throw new OlError('OL_ERR_INVARIANT', `${this.#inFlight} invocation(s) can never finish: nothing is running and nothing can be evicted`);
      }
    }
    this.#advance(this.clock.now());
    this.#r.endMs = this.clock.now();
    this.#r.cpuBusyCoreMs = this.#cpu.busyCoreMs;
    if (this.#startup) this.#r.startup = this.#startup.stats();
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
    this.#complete(this.#cpu.pop(now));
  }

  /** Integrates memory over [last, t) and emits due samples. */
  #advance(t: number): void {
    const dt = t - this.#lastT;
    if (dt > 0) {
      if (this.#sampleEvery > 0) {
        while (this.#nextSample < t) {
          this.#hooks.onSample!({
            t: this.#nextSample, cpuBusyCoreMs: this.#cpu.busyCoreMsAt(this.#nextSample), usedMb: this.#used + this.#dyingMb, idleMb: this.#evictable, sandboxes: this.#live,
            busy: this.#busySandboxes, queued: this.#queue.size,
          });
          this.#nextSample += this.#sampleEvery;
        }
      }
      this.#r.memUsedMbMs += this.#used * dt;
      this.#r.memIdleMbMs += this.#evictable * dt;
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
    while (this.#avail.length <= fnId) {
      this.#avail.push([]);
      this.#lastMem.push(0);
      this.#fnStats.push(newFnStats());
    }
  }

  #arrive(fnId: number, now: number, dur: number, mem: number, init: number): void {
    this.#ensureFn(fnId);
    const seq = this.#seq++;
    this.#r.invocations++;
    this.#fnStats[fnId]!.invocations++;
    this.#lastMem[fnId] = mem;
    if (this.#log) this.#emit('arrive', fnId, seq);
    this.policy.onInvoke(fnId, now);
    if (mem > this.#capacity) {
      this.#r.droppedOversize++;
      this.#drop(seq, fnId, now);
      return;
    }
    this.#inFlight++;
    this.#background(fnId, now, this.config.callBackgroundCpuMs);
    const sb = this.#takeAvailable(fnId);
    if (sb) {
      this.#startOn(new Request(seq, fnId, now, dur, mem, init), sb);
      return;
    }
    if (this.#queue.size === 0) {
      const req = new Request(seq, fnId, now, dur, mem, init);
      if (this.#tryCold(req)) return;
    }
    if (this.config.queue === 'drop') {
      this.#inFlight--;
      this.#drop(seq, fnId, now);
      return;
    }
    this.#r.queued++;
    this.#fnStats[fnId]!.queued++;
    this.#queue.push(seq, fnId, now, dur, mem, init);
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

  /** Serves queued invocations, in order, while memory or sandboxes allow. */
  #drainQueue(): void {
    if (this.#held) return;
    const q = this.#queue;
    while (q.size > 0) {
      const pos = q.head;
      const fnId = q.fn(pos);
      const sb = this.#takeAvailable(fnId);
      if (sb) {
        const req = this.#requestAt(pos);
        q.take(pos);
        this.#startOn(req, sb);
      } else {
        // POLICY: strict FIFO for memory: the head waits, and so does everyone behind it
        const mem = q.mem(pos);
        if (!this.#canFree(mem)) break;
        if (this.config.destroyOnCpu) {
          if (this.#ensureFree(mem) < 0) break;
          if (this.#used + mem + this.#dyingMb > this.#capacity + 1e-9) {
            // as the worker's drain: reserve, then wait for the evicted memory before anything else
            this.#used += mem;
            this.#checkCapacity();
            this.#held = { seq: q.seq(pos), mem };
            break;
          }
        }
        if (!this.#tryCold(this.#requestAt(pos))) break;
        q.take(pos);
      }
    }
  }

  /**
   * A sandbox that just finished goes straight to the oldest waiting
   * request of its own function, as the real worker does; true if it did.
   */
  #handOver(sb: SimSandbox): boolean {
    const pos = this.#queue.oldestOf(sb.fnId);
    if (pos < 0) return false;
    const req = this.#requestAt(pos);
    this.#queue.take(pos);
    if (this.#held?.seq === req.seq) this.#unhold();
    this.#startOn(req, sb); // the sandbox is still busy: a warm start
    return true;
  }

  /** The queued invocation at `pos`, as a request. */
  #requestAt(pos: number): Request {
    const q = this.#queue;
    return new Request(q.seq(pos), q.fn(pos), q.arrival(pos), q.dur(pos), q.mem(pos), q.init(pos));
  }

  /** An available sandbox of the function (most recently idle first), taken. */
  #takeAvailable(fnId: number): SimSandbox | undefined {
    const list = this.#avail[fnId]!;
    const n = list.length;
    if (n === 0) return undefined;
    const sb = list[n - 1]!;
    if (sb.state === 'paused' && sb.footprint < sb.memMb) {
      // a downsized paused sandbox needs its memory back before it can run
      const extra = sb.memMb - sb.footprint;
      if (this.#capacity - this.#used + this.#evictable - sb.footprint < extra) return undefined;
    }
    list.pop();
    sb.availIdx = -1;
    return sb;
  }

  #addAvailable(sb: SimSandbox): void {
    const list = this.#avail[sb.fnId]!;
    sb.availIdx = list.length;
    list.push(sb);
  }

  #removeAvailable(sb: SimSandbox): void {
    const list = this.#avail[sb.fnId]!;
    const i = sb.availIdx;
    const last = list.pop()!;
    if (last !== sb) {
      list[i] = last;
      last.availIdx = i;
    }
    sb.availIdx = -1;
  }

  #startOn(req: Request, sb: SimSandbox): void {
    const now = this.clock.now();
    const fs = this.#fnStats[req.fnId]!;
    let delay = 0;
    if (sb.state === 'busy') {
      req.kind = 'warm';
    } else {
      this.#evictable -= sb.footprint;
      const paused = sb.state === 'paused';
      sb.state = 'busy';
      sb.expiresAt = Infinity;
      this.#busySandboxes++;
      this.policy.onBusy(sb, now);
      if (paused) {
        req.kind = 'unpaused';
        delay += this.#costs.sample.unpause(this.#costRng);
        if (sb.footprint < sb.memMb) {
          const cost = this.#ensureFree(sb.memMb - sb.footprint);
          if (cost < 0) throw new OlError('OL_ERR_INVARIANT', `no memory to unpause sandbox ${sb.id} after checking there was`);
          delay += cost;
          this.#used += sb.memMb - sb.footprint;
          sb.footprint = sb.memMb;
          this.#checkCapacity();
        }
        if (this.#log) this.#emit('unpause', req.fnId, req.seq, sb.id);
      } else {
        req.kind = 'warm';
      }
    }
    if (req.kind === 'warm') {
      this.#r.warm++;
      fs.warm++;
      if (this.#log) this.#emit('warm', req.fnId, req.seq, sb.id);
    } else {
      this.#r.unpaused++;
      fs.unpaused++;
    }
    sb.active++;
    if (sb.active < this.#conc && sb.availIdx < 0) this.#addAvailable(sb);
    req.sb = sb;
    this.#begin(req, delay);
  }

  readonly #freshStart = (): number => this.#costs.sample.create(this.#costRng) + this.#costs.sample.runtimeStart(this.#costRng);

  /** Memory for a zygote, from free memory only (it never evicts). */
  readonly #reserveZygote = (mb: number): boolean => {
    if (this.#capacity - this.#used < mb) return false;
    this.#used += mb;
    return true;
  };

  /** Starts a new sandbox for `req` if memory can be had; false if not. */
  #tryCold(req: Request): boolean {
    const destroyCost = this.#ensureFree(req.mem);
    if (destroyCost < 0) return false;
    const now = this.clock.now();
    const fn = this.#functions[req.fnId]!.name;
    const sb = new SimSandbox(this.#nextId++, req.fnId, fn, req.mem, now);
    this.#used += req.mem;
    this.#live++;
    this.#busySandboxes++;
    this.#checkCapacity();
    const c = this.#costs.sample;
    sb.coldStartMs = this.config.coldFromTrace && !Number.isNaN(req.init)
      ? req.init
      : this.#startup
        ? this.#startup.coldStartMs(req.fnId, now, this.#freshStart, this.#reserveZygote)
        : this.#freshStart();
    sb.active = 1;
    req.firstOnSandbox = true;
    this.#r.cold++;
    this.#r.sandboxesCreated++;
    this.#background(req.fnId, now, this.config.coldBackgroundCpuMs);
    this.#fnStats[req.fnId]!.cold++;
    req.kind = 'cold';
    req.sb = sb;
    if (this.#log) this.#emit('cold', req.fnId, req.seq, sb.id);
    this.policy.onCreate(sb, now);
    this.policy.onBusy(sb, now);
    if (this.#conc > 1) this.#addAvailable(sb);
    let wait = 0;
    if (this.#lanes && !this.config.createOnCpu) {
      // POLICY: creations beyond createLanes wait for a lane, first come first served
      let k = 0;
      for (let i = 1; i < this.#lanes.length; i++) if (this.#lanes[i]! < this.#lanes[k]!) k = i;
      const start = Math.max(now + destroyCost, this.#lanes[k]!);
      wait = start - (now + destroyCost);
      this.#lanes[k] = start + sb.coldStartMs;
    }
    if (this.config.createOnCpu && this.#used + this.#dyingMb > this.#capacity) {
      // destroyOnCpu: as the worker, the new sandbox waits until dying sandboxes' memory is gone
      this.#memWaiters.push(req);
    } else if (this.config.createOnCpu) {
      // creation is its own CPU job, sharing the cores with the handlers, at most createLanes at once
      this.#beginCreate(req, destroyCost);
    } else {
      this.#begin(req, destroyCost + wait + sb.coldStartMs);
    }
    return true;
  }

  #endQueueing(req: Request, now: number): void {
    req.queueMs = now - req.arrival;
    if (req.queueMs > 0) {
      this.#r.queueWaitMsTotal += req.queueMs;
      if (req.queueMs > this.#r.queueWaitMsMax) this.#r.queueWaitMsMax = req.queueMs;
    }
  }

  /** createOnCpu: the request's queueing ends now; its sandbox's creation starts after `delayMs` (destroys) and a free lane. */
  #beginCreate(req: Request, delayMs: number): void {
    const now = this.clock.now();
    this.#endQueueing(req, now);
    req.beginAt = now;
    if (delayMs > 0) this.clock.schedule(now + delayMs, this.#createStart, req, P_DISPATCH);
    else this.#createStart(req);
  }

  readonly #createStart = (req: Request): void => {
    if (this.#createsRunning >= this.config.createLanes) {
      // POLICY: creations beyond createLanes wait for a lane, first come first served
      this.#createWaiting.push(req);
      return;
    }
    this.#createsRunning++;
    req.creating = true;
    const own = Math.min(this.config.createSandboxMs, req.sb!.coldStartMs);
    this.#cpu.add(this.clock.now(), req.sb!.coldStartMs - own, req, true);
  };

  /** A creation's CPU job is done: free its lane, then dispatch the request. */
  #created(req: Request): void {
    const now = this.clock.now();
    const own = Math.min(this.config.createSandboxMs, req.sb!.coldStartMs);
    if (own > 0 && !req.sandboxPart) {
      // the sandbox's own start-up, at a handler's weight, still in the creation's lane
      req.sandboxPart = true;
      this.#cpu.add(now, own, req);
      return;
    }
    req.creating = false;
    this.#createsRunning--;
    const next = this.#createWaiting.shift();
    if (next) this.#createStart(next);
    const dispatch = this.#costs.sample.warmDispatch(this.#costRng);
    req.startupMs = now - req.beginAt + dispatch;
    if (dispatch > 0) this.clock.schedule(now + dispatch, this.#execStart, req, P_DISPATCH);
    else this.#execStart(req);
  }

  #begin(req: Request, startupMs: number): void {
    const now = this.clock.now();
    this.#endQueueing(req, now);
    // the worker's dispatch overhead comes on every path (not in FaasCache mode)
    if (!(this.config.coldFromTrace && req.kind === 'cold' && !Number.isNaN(req.init))) {
      startupMs += this.#costs.sample.warmDispatch(this.#costRng);
    }
    req.startupMs = startupMs;
    if (startupMs > 0) this.clock.schedule(now + startupMs, this.#execStart, req, P_DISPATCH);
    else this.#execStart(req);
  }

  readonly #execStart = (req: Request): void => {
    const now = this.clock.now();
    const sb = req.sb!;
    if (sb.state === 'creating') {
      sb.state = 'busy';
      // as the worker: evicting ahead of need happens once a new sandbox is up, among the sandboxes idle by then
      this.#keepFreeTarget();
    }
    req.execStart = now;
    if (req.firstOnSandbox) {
      // the first request's extra work on a new sandbox, dearer when it starts among other jobs
      req.firstOnSandbox = false;
      const alone = this.#hooks.coldWorkMs?.[req.fnId] ?? 0;
      req.dur += this.#cpu.running > 0 ? this.#hooks.coldWorkBusyMs?.[req.fnId] ?? alone : alone;
    }
    if (this.#log) this.#emit('exec', req.fnId, req.seq, sb.id);
    this.#cpu.add(now, req.dur, req);
  };

  #complete(req: Request): void {
    if (req.background) {
      if (req.destroy) this.#destroyed(req.mem);
      return;
    }
    if (req.creating) return this.#created(req);
    const now = this.clock.now();
    const sb = req.sb!;
    const latency = now - req.arrival;
    this.#inFlight--;
    this.#r.completed++;
    this.#r.latency.record(latency);
    this.#fnStats[req.fnId]!.latency.record(latency);
    if (this.#log) this.#emit('done', req.fnId, req.seq, sb.id);
    this.#hooks.onInvocation?.({
      inv: req.seq, fn: sb.fn, arrival: req.arrival, start: req.kind, queueMs: req.queueMs,
      startupMs: req.startupMs, execMs: now - req.execStart, latencyMs: latency, sandbox: sb.id,
    });
    sb.active--;
    sb.uses++;
    if (this.#queue.size > 0 && this.#queue.countOf(sb.fnId) > 0 && this.#handOver(sb)) {
      // still busy: it serves the waiting request now
    } else if (sb.active === 0) {
      if (sb.availIdx >= 0) this.#removeAvailable(sb);
      this.#busySandboxes--;
      this.#becomeIdle(sb, 'finished');
    } else if (sb.availIdx < 0) {
      this.#addAvailable(sb);
    }
    if (this.#queue.size > 0) this.#drainQueue();
  }

  // --- sandbox lifecycle --------------------------------------------------

  #becomeIdle(sb: SimSandbox, cause: IdleCause): void {
    const now = this.clock.now();
    sb.lastUsedAt = now;
    sb.state = 'idle';
    const d = this.policy.onIdle(sb, now, cause);
    this.#evictable += sb.footprint;
    if (cause === 'finished' && d.prewarmAfterMs !== undefined && d.prewarmAfterMs > 0) {
      // unload now, load again just before the next call is expected
      this.#r.prewarmUnloads++;
      if (this.#log) this.#emit('unload', sb.fnId, undefined, sb.id);
      this.#destroy(sb, 'prewarm-unload');
      this.clock.schedule(now + d.prewarmAfterMs, this.#prewarm, sb.fnId, P_HOUSEKEEPING);
      return;
    }
    if (this.#log) this.#emit('idle', sb.fnId, undefined, sb.id);
    if (d.pause) {
      sb.state = 'paused';
      this.#r.pauses++;
      const p = this.config.pausedMemMb;
      if (p !== null && p < sb.footprint) {
        this.#used -= sb.footprint - p;
        this.#evictable -= sb.footprint - p;
        sb.footprint = p;
      }
      if (this.#log) this.#emit('pause', sb.fnId, undefined, sb.id);
    }
    this.#addAvailable(sb);
    if (d.keepAliveMs !== Infinity) {
      sb.expiresAt = now + d.keepAliveMs;
      this.clock.schedule(sb.expiresAt, this.#expire, sb, P_HOUSEKEEPING);
    }
  }

  readonly #expire = (sb: SimSandbox): void => {
    // stale if the sandbox was used (or destroyed) since this was scheduled
    if (sb.expiresAt !== this.clock.now() || (sb.state !== 'idle' && sb.state !== 'paused')) return;
    this.#r.expirations++;
    if (this.#log) this.#emit('expire', sb.fnId, undefined, sb.id);
    this.#destroy(sb, 'expired');
    if (this.#queue.size > 0) this.#drainQueue();
  };

  readonly #prewarm = (fnId: number): void => {
    const mem = this.#lastMem[fnId]!;
    // POLICY: pre-warming uses free memory only; it never evicts
    if (this.#capacity - this.#used < mem) {
      this.#r.prewarmsSkipped++;
      if (this.#log) this.#emit('prewarm-skip', fnId);
      return;
    }
    const now = this.clock.now();
    const sb = new SimSandbox(this.#nextId++, fnId, this.#functions[fnId]!.name, mem, now);
    this.#used += mem;
    this.#live++;
    this.#checkCapacity();
    const c = this.#costs.sample;
    sb.coldStartMs = c.create(this.#costRng) + c.runtimeStart(this.#costRng);
    this.#r.prewarms++;
    this.#r.sandboxesCreated++;
    if (this.#log) this.#emit('prewarm', fnId, undefined, sb.id);
    this.policy.onCreate(sb, now);
    this.clock.schedule(now + sb.coldStartMs, this.#prewarmReady, sb, P_DISPATCH);
  };

  readonly #prewarmReady = (sb: SimSandbox): void => {
    this.#becomeIdle(sb, 'prewarmed');
    if (this.#queue.size > 0) this.#drainQueue();
  };

  /**
   * Makes `needMb` free by evicting the policy's victims. Returns the summed
   * destroy cost (the new sandbox waits for it), or -1 (evicting nothing)
   * when even evicting every idle and paused sandbox would not be enough.
   */
  #ensureFree(needMb: number): number {
    if (this.#capacity - this.#used >= needMb) return 0;
    if (!this.#canFree(needMb)) return -1;
    let cost = 0;
    const now = this.clock.now();
    while (this.#capacity - this.#used < needMb) {
      const v = this.policy.victim(now) as SimSandbox | undefined;
      if (v) {
        this.#evict(v);
      } else {
        // no sandbox left to evict: zygotes give their memory back last, as in the worker
        const mb = this.#startup?.evictOne?.(now);
        if (mb === undefined) return -1; // the books said there was more to evict
        this.#used -= mb;
      }
      if (!this.config.destroyOnCpu) cost += this.#costs.sample.destroy(this.#costRng); // else a CPU job of its own (#destroy)
    }
    return cost;
  }

  /**
   * Whether `needMb` can be had by evicting: idle sandboxes first, then
   * zygotes (asked about only when the sandboxes are not enough).
   */
  #canFree(needMb: number): boolean {
    const short = needMb - (this.#capacity - this.#used + this.#evictable);
    return short <= 0 || (this.#startup?.evictableMb?.(this.clock.now()) ?? 0) >= short;
  }

  #evict(v: SimSandbox): void {
    if (v.state !== 'idle' && v.state !== 'paused') {
      throw new OlError('OL_ERR_INVARIANT', `policy ${this.policy.name} chose sandbox ${v.id}, which is ${v.state}, as a victim`);
    }
    this.#r.evictions++;
    if (this.#log) this.#emit('evict', v.fnId, undefined, v.id);
    this.#destroy(v, 'evicted');
  }

  /** Evicts ahead of need while the policy wants more memory free. */
  #keepFreeTarget(): void {
    const target = this.policy.freeTargetMb;
    if (target <= 0) return;
    const now = this.clock.now();
    while (this.#capacity - this.#used < target) {
      const v = this.policy.victim(now) as SimSandbox | undefined;
      if (!v) return;
      this.#evict(v);
    }
  }

  #destroy(sb: SimSandbox, reason: DestroyReason): void {
    if (sb.availIdx >= 0) this.#removeAvailable(sb);
    if (sb.state === 'idle' || sb.state === 'paused') this.#evictable -= sb.footprint;
    this.#used -= sb.footprint;
    if (this.config.destroyOnCpu && sb.footprint > 0) {
      // its memory is dying, not free, until the destroy's CPU job ends
      this.#dyingMb += sb.footprint;
      this.#background(sb.fnId, this.clock.now(), this.#costs.sample.destroy(this.#costRng), sb.footprint);
    }
    this.#live--;
    sb.state = 'destroyed';
    sb.expiresAt = Infinity;
    this.policy.onDestroy(sb, this.clock.now(), reason);
  }

  /** destroyOnCpu: a destroy ended; once no more memory is held than the pool, waiting creations start. */
  #destroyed(mb: number): void {
    this.#dyingMb -= mb;
    if (this.#used + this.#dyingMb <= this.#capacity + 1e-9 && this.#memWaiters.length > 0) {
      const go = this.#memWaiters.splice(0);
      for (const req of go) this.#beginCreate(req, 0);
    }
    if (this.#held && this.#used + this.#dyingMb <= this.#capacity + 1e-9) this.#unhold(); // the drain goes on: memory for the head is there
    if (this.#queue.size > 0) this.#drainQueue();
  }

  /** Returns the held head's reservation (the drain then takes it again, or serves others). */
  #unhold(): void {
    this.#used -= this.#held!.mem;
    this.#held = undefined;
  }

  #checkCapacity(): void {
    if (this.#used > this.#capacity + 1e-6) {
      throw new OlError('OL_ERR_INVARIANT', `memory in use ${this.#used} MB exceeds the pool's ${this.#capacity} MB at t=${this.clock.now()}`);
    }
    if (this.#used > this.#r.peakUsedMb) this.#r.peakUsedMb = this.#used;
  }

  #checkInvariants(): void {
    const r = this.#r;
    const fail = (what: string) => { throw new OlError('OL_ERR_INVARIANT', `after the run: ${what}`); };
    if (r.completed + r.dropped !== r.invocations) fail(`${r.completed} completed + ${r.dropped} dropped != ${r.invocations} invocations`);
    if (r.cold + r.warm + r.unpaused !== r.completed) fail(`cold ${r.cold} + warm ${r.warm} + unpaused ${r.unpaused} != completed ${r.completed}`);
    if (r.peakUsedMb > this.#capacity + 1e-6) fail(`peak memory ${r.peakUsedMb} MB above the pool's ${this.#capacity} MB`);
    let idle = 0;
    for (const list of this.#avail) for (const sb of list) if (sb.state === 'idle' || sb.state === 'paused') idle += sb.footprint;
    if (Math.abs(idle - this.#evictable) > 1e-6) fail(`idle memory books ${this.#evictable} MB but idle sandboxes hold ${idle} MB`);
    if (this.#used < -1e-6) fail(`memory in use is negative (${this.#used} MB)`);
  }
}
