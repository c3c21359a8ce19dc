/**
 * The creation cost model: how long a new sandbox takes before its first
 * request runs, and what that start-up competes with. Which sandbox is
 * created, and whose memory it takes, is the core pool's decision; this is
 * only its price on the virtual clock (docs/SIMULATOR.md, "Cold starts").
 *
 * Three ways to price a creation, by SimConfig:
 * - a fixed delay (default): destroys on the path, then a lane if
 *   `createLanes` is finite, then the start-up time;
 * - `createOnCpu`: the start-up is a CPU job sharing the cores with the
 *   handlers at `createCpuWeight` (its last `createSandboxMs` at a
 *   handler's weight), at most `createLanes` at once, after
 *   `createBusyWaitMs` when it starts with every core busy;
 * - with `destroyOnCpu` too, a creation waits while dying sandboxes still
 *   hold memory beyond the pool, as the worker's does.
 */
import type { Rng } from '../common/rng.js';
import type { VirtualClock } from '../core/clock.js';
import type { SimConfig } from './config.js';
import type { Cpu } from './cpu.js';
import type { StartupModel } from './import-cache.js';
import type { CostModel } from './profile.js';
import { below, type Request } from './request.js';

/** Priority of start-up and dispatch events at equal times (the simulator's order). */
export const P_DISPATCH = 0;

/** What the creation model needs of its simulator. */
export interface CreationHost {
  /** The request's queueing ends now: its start-up begins. */
  endQueueing(req: Request, now: number): void;
  /** The request's handler starts now. */
  readonly execStart: (req: Request) => void;
  /** The request starts after `startupMs` on the fixed-delay path (the host adds the dispatch). */
  begin(req: Request, startupMs: number): void;
  /** Reserves `mb` of free memory for a zygote (never evicting); false if there is not enough. */
  readonly reserveZygote: (mb: number) => boolean;
}

export class CreationModel {
  readonly #config: SimConfig;
  readonly #costs: CostModel;
  readonly #rng: Rng;
  readonly #cpu: Cpu<Request>;
  readonly #clock: VirtualClock;
  readonly #startup: StartupModel | undefined;
  readonly #host: CreationHost;
  /** createOnCpu: creation jobs on the CPU now, and those waiting for a lane. */
  #running = 0;
  readonly #waiting: Request[] = [];
  /** destroyOnCpu: creations waiting for dying memory to go (the worker's rule). */
  readonly #memWaiters: Request[] = [];
  /** Fixed delays: when each creation lane frees up (only with a finite createLanes). */
  readonly #lanes: Float64Array | undefined;

  constructor(config: SimConfig, costs: CostModel, rng: Rng, cpu: Cpu<Request>, clock: VirtualClock, startup: StartupModel | undefined, host: CreationHost) {
    this.#config = config;
    this.#costs = costs;
    this.#rng = rng;
    this.#cpu = cpu;
    this.#clock = clock;
    this.#startup = startup;
    this.#host = host;
    this.#lanes = Number.isFinite(config.createLanes) && !config.createOnCpu ? new Float64Array(config.createLanes) : undefined;
  }

  /** A fresh sandbox's start-up: create it, then start its runtime. */
  readonly #fresh = (): number => this.#costs.sample.create(this.#rng) + this.#costs.sample.runtimeStart(this.#rng);

  /** Start-up time of a new sandbox of `fnId` (forked from a zygote when there is an import tree). */
  startupMs(fnId: number, now: number): number {
    return this.#startup ? this.#startup.coldStartMs(fnId, now, this.#fresh, this.#host.reserveZygote) : this.#fresh();
  }

  /** Start-up time of the new sandbox for `req`: the trace's own figure in FaasCache mode. */
  coldStartMs(req: Request, now: number): number {
    return this.#config.coldFromTrace && !Number.isNaN(req.init) ? req.init : this.startupMs(req.fnId, now);
  }

  /** Destroy costs on the path of a start that evicted `k` victims (a CPU job each instead, with destroyOnCpu). */
  destroyCost(k: number): number {
    let cost = 0;
    if (!this.#config.destroyOnCpu) for (let i = 0; i < k; i++) cost += this.#costs.sample.destroy(this.#rng);
    return cost;
  }

  /**
   * Starts the creation of `req`'s new sandbox (its `coldStartMs` set),
   * after `destroyCost` of evictions; `overCommitted`: dying memory still
   * holds more than the pool.
   */
  start(req: Request, destroyCost: number, overCommitted: boolean): void {
    const now = this.#clock.now();
    const coldStartMs = req.sb!.coldStartMs;
    if (!this.#config.createOnCpu) {
      let wait = 0;
      if (this.#lanes) {
        // POLICY: creations beyond createLanes wait for a lane, first come first served
        let k = 0;
        for (let i = 1; i < this.#lanes.length; i++) if (this.#lanes[i]! < this.#lanes[k]!) k = i;
        const at = Math.max(now + destroyCost, this.#lanes[k]!);
        wait = at - (now + destroyCost);
        this.#lanes[k] = at + coldStartMs;
      }
      this.#host.begin(req, destroyCost + wait + coldStartMs);
      return;
    }
    // on the CPU: the destroys, then the creation's two parts at no more than a core each, then its handler
    req.notBefore = below(now + destroyCost + coldStartMs + req.dur);
    if (overCommitted) {
      // destroyOnCpu: as the worker, the new sandbox waits until dying sandboxes' memory is gone
      this.#memWaiters.push(req);
    } else {
      this.#begin(req, destroyCost);
    }
  }

  /** destroyOnCpu: dying memory went; once the pool is no longer over-committed, waiting creations start. */
  memoryFreed(overCommitted: boolean): void {
    if (!overCommitted && this.#memWaiters.length > 0) {
      const go = this.#memWaiters.splice(0);
      for (const req of go) this.#begin(req, 0);
    }
  }

  /** createOnCpu: the request's queueing ends now; its sandbox's creation starts after `delayMs` (destroys) and a free lane. */
  #begin(req: Request, delayMs: number): void {
    const now = this.#clock.now();
    this.#host.endQueueing(req, now);
    req.beginAt = now;
    if (delayMs > 0) this.#clock.schedule(now + delayMs, this.#cpuStart, req, P_DISPATCH);
    else this.#cpuStart(req);
  }

  readonly #cpuStart = (req: Request): void => {
    if (this.#running >= this.#config.createLanes) {
      // POLICY: creations beyond createLanes wait for a lane, first come first served
      this.#waiting.push(req);
      return;
    }
    this.#running++;
    req.creating = true;
    // every core busy: the zygote waits for one before it forks, holding the lane
    const wait = this.#config.createBusyWaitMs;
    if (wait > 0 && this.#cpu.running >= this.#config.cores) this.#clock.schedule(this.#clock.now() + wait, this.#forkStart, req, P_DISPATCH);
    else this.#forkStart(req);
  };

  /** createOnCpu: the creation's CPU work begins (its weighted part; its own part follows in `done`). */
  readonly #forkStart = (req: Request): void => {
    const own = Math.min(this.#config.createSandboxMs, req.sb!.coldStartMs);
    this.#cpu.add(this.#clock.now(), req.sb!.coldStartMs - own, req, true);
  };

  /** createOnCpu: a creation's CPU job is done; its last part runs, or its lane frees and the request is dispatched. */
  done(req: Request): void {
    const now = this.#clock.now();
    const own = Math.min(this.#config.createSandboxMs, req.sb!.coldStartMs);
    if (own > 0 && !req.sandboxPart) {
      // the sandbox's own start-up, at a handler's weight, still in the creation's lane
      req.sandboxPart = true;
      this.#cpu.add(now, own, req);
      return;
    }
    req.creating = false;
    this.#running--;
    const next = this.#waiting.shift();
    if (next) this.#cpuStart(next);
    const dispatch = this.#costs.sample.warmDispatch(this.#rng);
    req.startupMs = now - req.beginAt + dispatch;
    req.notBefore = below(now + dispatch + req.dur);
    if (dispatch > 0) this.#clock.schedule(now + dispatch, this.#host.execStart, req, P_DISPATCH);
    else this.#host.execStart(req);
  }
}
