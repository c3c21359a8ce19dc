/**
 * The lambda manager: turns a request into a sandbox and a reply. Which
 * sandbox serves, which is created, paused, kept, expired or evicted, who
 * waits and who is handed a finishing sandbox is decided by the core pool
 * (core/pool.ts) with the keep-alive policy — the very code the simulator
 * runs — on the wall clock; this module carries the decisions out with
 * real sandboxes and keeps the records.
 *
 * Each code version of a lambda is its own function to the pool: when a
 * new version appears, the old one is retired (its idle sandboxes are
 * destroyed, its busy ones when they finish). A request that finds no
 * memory waits in the pool's FIFO queue; each lambda may have at most
 * `queue_limit` waiting, beyond which requests get 429. One request at a
 * time per sandbox, as OpenLambda's Python runtime serves.
 */
import { OlError, isOlError } from '../common/errors.js';
import type { Clock } from '../core/clock.js';
import { WallClock } from './wall-clock.js';
import type { TreeNode } from '../core/import-tree.js';
import type { DestroyReason, Policy } from '../core/policy.js';
import { createPolicy } from '../core/policies/index.js';
import { Route, SandboxPool, type PoolDecision, type PoolEffects } from '../core/pool.js';
import { makeRng, type Rng } from '../common/rng.js';
import type { SandboxLimits, WorkerConfig } from './config.js';
import { methodAllowed } from './lambda-config.js';
import type { LambdaCode, Registry } from './registry.js';
import { loadTree } from '../traces/tree-file.js';
import { ImportCache } from './import-cache.js';
import { PackageCache } from './packages.js';
import { Instance, SandboxMaker } from './instances.js';
import type { RuntimeRequest, RuntimeReply, SandboxPool as SandboxBackend } from './sandbox/api.js';
import type { SockPool } from './sandbox/sock.js';
import { Recorder, type InvocationRecord, type StartKind } from './recorder.js';
import type { WorkerStats } from './stats.js';

export type { InvocationRecord, StartKind } from './recorder.js';

/** What a waiting request is given: a sandbox (taken by the drain, or handed over busy) or reserved memory. */
interface Grant {
  /** The worker stopped before the waiter was served. */
  shutdown?: boolean;
  inst?: Instance;
  paused?: boolean;
  handover?: boolean;
  /** Memory was reserved for a new sandbox, numbered so by the pool. */
  newId?: number;
}

export interface ManagerOptions {
  config: WorkerConfig;
  pool: SandboxBackend;
  registry: Registry;
  stats: WorkerStats;
  log?: { warn(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void };
  /** The clock (default: the wall clock); the parity test drives a virtual one. */
  clock?: Clock & { close?(): void };
  /** The policy's random stream (default: seed 1, stream worker/policy); the parity test gives the simulator's. */
  rng?: Rng;
  /** Sees every pool decision (the parity test), with the request's number (or -1) and the sandbox's id (or -1). */
  decisions?: (kind: PoolDecision, fn: string, sb: number, seq: number) => void;
}

/** Pool decisions the worker counts in /stats, under these names. */
const COUNTED: Partial<Record<PoolDecision, string>> = { evict: 'evictions', expire: 'expirations', pause: 'pauses' };

export class LambdaManager implements PoolEffects<Instance> {
  readonly clock: Clock & { close?(): void };
  readonly policy: Policy;
  readonly #c: WorkerConfig;
  readonly #registry: Registry;
  readonly #stats: WorkerStats;
  readonly #log: ManagerOptions['log'];
  readonly #pool: SandboxPool<Instance>;
  /** Function ids, one per code version (`name@version`), and each one's code. */
  readonly #fnIds = new Map<string, number>();
  readonly #fnCode: LambdaCode[] = [];
  /** Each lambda's current version's function id. */
  readonly #current = new Map<string, number>();
  readonly #live = new Set<Instance>();
  readonly #waiters = new Map<number, { fnId: number; grant: (g: Grant) => void }>();
  readonly #queuedPerFn: number[] = [];
  #seq = 0;
  #draining = false;
  #drainAgain = false;
  #closed = false;
  /** Destroys under way (sandboxes and zygotes); their memory is dying until each settles. */
  readonly #dying = new Set<Promise<void>>();
  readonly packages: PackageCache | undefined;
  readonly imports: ImportCache | undefined;
  readonly #maker: SandboxMaker;
  readonly #recorder: Recorder;
  readonly #backend: SandboxBackend;
  /** Sandboxes being made (cold starts, pre-warms): close waits for them. */
  readonly #making = new Set<Promise<void>>();

  constructor(o: ManagerOptions) {
    this.#recorder = new Recorder(o.config.record ? o.config.record_path : undefined, o.log);
    this.#c = o.config;
    this.#registry = o.registry;
    this.#stats = o.stats;
    this.#log = o.log;
    this.clock = o.clock ?? new WallClock();
    this.policy = createPolicy(o.config.policy, {
      capacityMb: o.config.mem_pool_mb, rng: o.rng ?? makeRng(1, 'worker/policy'), options: o.config.policy_options,
    });
    const c = o.config;
    const runner = o.pool.runJob ? { runJob: o.pool.runJob.bind(o.pool) } : undefined;
    if (runner) {
      this.packages = new PackageCache({
        dir: c.packages_dir, index: c.package_index, runner, stats: o.stats, uid: c.sandbox_uid, gid: c.sandbox_gid,
        memoryMb: c.install_mem_mb, timeLimitMs: c.install_time_limit_ms, log: o.log,
      });
    }
    if (c.import_cache && o.pool.name === 'sock' && this.packages) {
      this.imports = new ImportCache({
        tree: loadTree(c.import_tree), clock: this.clock, pool: o.pool as SockPool, packages: this.packages, stats: o.stats,
        zygoteMb: c.zygote_mem_mb, pids: c.limits.pids, tmpMb: c.limits.tmp_mb, log: o.log,
        memory: {
          tryReserve: (mb) => !this.#closed && this.#pool.tryReserveZygote(mb),
          release: (mb, gone) => {
            this.#pool.zygoteGone(mb);
            this.#trackDying(mb, gone);
          },
        },
      });
    }
    this.#backend = o.pool;
    this.#maker = new SandboxMaker({ backend: o.pool, packages: this.packages, imports: this.imports, stats: o.stats, clock: this.clock });
    const decisions = o.decisions;
    this.#pool = new SandboxPool<Instance>({
      capacityMb: c.mem_pool_mb, policy: this.policy, effects: this, tree: this.imports?.tree, zygoteMb: c.zygote_mem_mb, evictTo: c.evict_to,
      log: (kind, fnId, sb, seq) => {
        const counter = COUNTED[kind];
        if (counter) this.#stats.count(counter);
        decisions?.(kind, fnId >= 0 ? this.#fnCode[fnId]!.name : '', sb, seq);
      },
    });
  }

  /** Memory that becomes free once `gone` settles. */
  #trackDying(mb: number, gone: Promise<void>): void {
    const done = gone.then(() => {
      this.#dying.delete(done);
      this.#pool.destroyed(mb);
      this.#kickDrain();
    });
    this.#dying.add(done);
  }

  /** Gauges for /stats and /metrics. */
  gauges(): Record<string, number> {
    let idle = 0, paused = 0, busy = 0, pausedMb = 0;
    for (const i of this.#live) {
      if (i.state === 'idle') idle++;
      else if (i.state === 'paused') {
        paused++;
        pausedMb += i.footprint;
      } else busy++;
    }
    const p = this.#pool;
    return {
      mem_pool_mb: this.#c.mem_pool_mb, mem_used_mb: p.used + p.dying, mem_reserved_mb: p.used, sandboxes_idle: idle, sandboxes_paused: paused, paused_mem_mb: pausedMb,
      sandboxes_busy: busy, queue_length: p.queue.size, ...(this.imports?.gauges() ?? { zygotes: 0, zygote_mem_mb: 0 }),
    };
  }

  /** Kept (idle or paused) sandboxes per lambda name. */
  warmByLambda(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const i of this.#live) if (i.state === 'idle' || i.state === 'paused') out[i.fn] = (out[i.fn] ?? 0) + 1;
    return out;
  }

  /** The function id of this code version; a newer version retires the older one's sandboxes. */
  #fnId(code: LambdaCode): number {
    const key = `${code.name}@${code.version}`;
    let id = this.#fnIds.get(key);
    if (id === undefined) {
      id = this.#fnCode.length;
      this.#fnIds.set(key, id);
      this.#fnCode.push(code);
      this.#queuedPerFn.push(0);
      if (!code.config.reuseSandbox) this.#pool.singleUse(id);
    }
    const cur = this.#current.get(code.name);
    if (cur !== id) {
      this.#current.set(code.name, id);
      if (cur !== undefined) this.#pool.retire(cur, this.clock.now());
    }
    return id;
  }

  #limits(code: LambdaCode): SandboxLimits {
    return { ...this.#c.limits, ...code.config.limits };
  }

  /** Runs one request; throws OlError for every failure, with its status. */
  async invoke(name: string, req: RuntimeRequest): Promise<RuntimeReply & { start: StartKind }> {
    if (this.#closed) throw new OlError('OL_ERR_SHUTDOWN', 'the worker is shutting down');
    const arrival = this.clock.now();
    const seq = this.#seq++;
    const rec: InvocationRecord = { lambda: name, arrival_ms: Date.now(), start: 'failed', queue_ms: 0, create_ms: 0, unpause_ms: 0, handler_ms: 0, total_ms: 0, status: 500 };
    this.#stats.count('requests');
    try {
      const code = await this.#registry.get(name);
      if (!methodAllowed(code.config, req.method)) {
        // OpenLambda's words, which its clients may match
        throw new OlError('OL_ERR_METHOD', `HTTP method not allowed. Sent: ${req.method}, Allowed: [${code.config.methods.join(' ')}]`);
      }
      const limits = this.#limits(code);
      const fnId = this.#fnId(code);
      this.#pool.invoked(fnId, this.clock.now());
      const got = await this.#acquire(code, fnId, seq, limits, rec, req);
      const inst = got.inst;
      rec.start = got.kind;
      this.#stats.count(got.kind);
      const th = this.clock.now();
      let reply: RuntimeReply;
      try {
        reply = await inst.sb!.invoke(req, limits.time_limit_ms);
      } catch (e) {
        rec.handler_ms = this.clock.now() - th;
        throw await this.#failed(inst, e, name, limits);
      }
      rec.handler_ms = this.clock.now() - th;
      this.#stats.time('handler', rec.handler_ms);
      if (reply.status === 500) this.#stats.count('handler_errors');
      this.#release(inst);
      rec.status = reply.status;
      return { ...reply, start: got.kind };
    } catch (e) {
      // what failed because the worker stopped says so, whatever broke on the way
      const err = this.#closed && !isOlError(e, 'OL_ERR_SHUTDOWN')
        ? new OlError('OL_ERR_SHUTDOWN', `the worker is shutting down; the request was stopped (${(e as Error).message})`)
        : e;
      rec.status = isOlError(err) ? err.statusCode : 500;
      throw err;
    } finally {
      rec.total_ms = this.clock.now() - arrival;
      this.#stats.time('total', rec.total_ms);
      this.#recorder.write(rec);
    }
  }

  /** Turns a failed runtime call into the error to report; the sandbox is destroyed from busy. */
  /** The request on `inst` failed: the error to answer with; the sandbox is destroyed. */
  async #failed(inst: Instance, e: unknown, name: string, limits: SandboxLimits): Promise<OlError> {
    const err = await this.#maker.failure(inst, e, name, limits);
    this.#pool.destroy(inst, 'error', this.clock.now());
    await inst.chain;
    return err;
  }

  /** Gets a sandbox for the request: warm, unpaused or new, as the pool routes it. */
  async #acquire(code: LambdaCode, fnId: number, seq: number, limits: SandboxLimits, rec: InvocationRecord, first: RuntimeRequest): Promise<{ inst: Instance; kind: StartKind }> {
    const pool = this.#pool;
    if (pool.oversize(limits.mem_mb, this.clock.now())) {
      throw new OlError('OL_ERR_CONFIG', `lambda ${code.name} needs ${limits.mem_mb} MB, more than the whole memory pool (mem_pool_mb ${this.#c.mem_pool_mb})`);
    }
    for (;;) {
      const route = pool.route(fnId, limits.mem_mb, this.clock.now(), seq);
      if (route === Route.Warm) {
        const inst = pool.taken!;
        const kind = await this.#wake(inst, pool.tookPaused, rec);
        if (kind) return { inst, kind };
        continue; // it could not be unpaused and was destroyed: try again
      }
      if (route === Route.Cold) {
        const id = pool.newId;
        await this.#dyingGone();
        return { inst: await this.#create(code, fnId, id, limits, rec, first), kind: 'cold' };
      }
      if (this.#queuedPerFn[fnId]! >= this.#c.queue_limit) {
        this.#stats.count('rejected_queue_full');
        throw new OlError('OL_ERR_QUEUE_FULL', `lambda ${code.name} has ${this.#queuedPerFn[fnId]} requests waiting (queue_limit ${this.#c.queue_limit}); try again later`);
      }
      this.#stats.count('queued');
      const tq = this.clock.now();
      this.#queuedPerFn[fnId]!++;
      const grant = await new Promise<Grant>((resolve) => {
        this.#waiters.set(seq, { fnId, grant: resolve });
        pool.enqueue(seq, fnId, limits.mem_mb);
      });
      this.#queuedPerFn[fnId]!--;
      if (grant.shutdown) throw new OlError('OL_ERR_SHUTDOWN', `the worker is shutting down; the request waited ${Math.round(this.clock.now() - tq)} ms and was not served`);
      rec.queue_ms += this.clock.now() - tq;
      this.#stats.time('queue', rec.queue_ms);
      if (grant.handover) return { inst: grant.inst!, kind: 'warm' };
      if (grant.inst) {
        const kind = await this.#wake(grant.inst, grant.paused ?? false, rec);
        if (kind) return { inst: grant.inst, kind };
        continue;
      }
      return { inst: await this.#create(code, fnId, grant.newId!, limits, rec, first), kind: 'cold' };
    }
  }

  /** Waits, so that sandboxes never physically exceed the pool, until reserved plus dying memory fits. */
  async #dyingGone(): Promise<void> {
    if (!this.#pool.overCommitted) return;
    const te = this.clock.now();
    while (this.#pool.overCommitted && this.#dying.size > 0) await Promise.race(this.#dying);
    this.#stats.time('evict', this.clock.now() - te);
  }

  /** Unpauses a sandbox the pool just made busy, if it was paused; undefined if it had to go. */
  async #wake(inst: Instance, wasPaused: boolean, rec: InvocationRecord): Promise<StartKind | undefined> {
    if (!wasPaused) {
      await inst.chain; // a pause may still be in flight
      if (inst.state === 'destroyed' || inst.sb === undefined) return undefined;
      return 'warm';
    }
    const t = this.clock.now();
    let ok = true;
    inst.chain = inst.chain.then(() => inst.sb!.unpause()).catch((e) => {
      ok = false;
      this.#log?.warn({ err: e, sandbox: inst.sb?.id }, 'unpause failed; destroying the sandbox');
    });
    await inst.chain;
    if (!ok) {
      this.#pool.destroy(inst, 'error', this.clock.now());
      return undefined;
    }
    rec.unpause_ms = this.clock.now() - t;
    this.#stats.time('unpause', rec.unpause_ms);
    return 'unpaused';
  }

  /** Makes the sandbox of `inst` (cold start or pre-warm); if that fails, the instance is destroyed and the error thrown. */
  async #make(inst: Instance, code: LambdaCode, limits: SandboxLimits, rec: InvocationRecord, first?: RuntimeRequest): Promise<void> {
    this.#live.add(inst);
    const making = this.#maker.make(inst, code, limits, rec, first);
    const tracked = making.catch(() => {}).finally(() => this.#making.delete(tracked));
    this.#making.add(tracked);
    try {
      await making;
    } catch (e) {
      // destroyed already if the worker shut down while it was being made
      if (inst.state !== 'destroyed') {
        this.#pool.destroy(inst, 'error', this.clock.now());
        this.#kickDrain();
      }
      throw e;
    }
  }

  /** A new sandbox for a request, whose memory the pool reserved. */
  async #create(code: LambdaCode, fnId: number, id: number, limits: SandboxLimits, rec: InvocationRecord, first?: RuntimeRequest): Promise<Instance> {
    const now = this.clock.now();
    const inst = new Instance(id, fnId, code.name, limits.mem_mb, now, code.version);
    this.#pool.admit(inst, now);
    await this.#make(inst, code, limits, rec, first);
    this.#pool.up(this.clock.now());
    return inst;
  }

  /** A request on `inst` is finished with: the pool hands it to a waiter, or the policy decides. */
  #release(inst: Instance): void {
    const now = this.clock.now();
    if (this.#closed) {
      this.#pool.destroy(inst, 'shutdown', now);
      return;
    }
    const current = this.#registry.peekVersion(inst.fn);
    if (current !== undefined && current !== inst.version && this.#current.get(inst.fn) === inst.fnId) {
      // new code was uploaded: this version's sandboxes serve no more
      this.#pool.retire(inst.fnId, now);
    }
    if (this.#pool.release(inst, now)) this.#grant(this.#pool.out.seq, { inst, handover: true });
    // as the simulator: the drain looks again after every release (time has passed: forks ended, pins lifted)
    this.#kickDrain();
  }

  #grant(seq: number, g: Grant): void {
    const w = this.#waiters.get(seq)!;
    this.#waiters.delete(seq);
    w.grant(g);
  }

  async #prewarm(fnId: number): Promise<void> {
    const code = this.#fnCode[fnId]!;
    if (this.#closed || this.#current.get(code.name) !== fnId) return;
    const limits = this.#limits(code);
    const now = this.clock.now();
    if (!this.#pool.canPrewarm(fnId, limits.mem_mb)) return;
    const inst = new Instance(this.#pool.newId, fnId, code.name, limits.mem_mb, now, code.version);
    this.#pool.admitPrewarm(inst, now);
    try {
      await this.#make(inst, code, limits, { create_ms: 0 } as InvocationRecord);
    } catch (e) {
      this.#log?.warn({ err: e, lambda: code.name }, 'pre-warm failed');
      return;
    }
    this.#stats.count('prewarms');
    this.#pool.prewarmed(inst, this.clock.now());
    this.#kickDrain();
  }

  // --- what the pool decided, carried out (PoolEffects) ---------------------

  destroy(inst: Instance, reason: DestroyReason): void {
    this.#live.delete(inst);
    const mb = inst.footprint;
    inst.chain = inst.chain.then(() => inst.sb?.destroy(reason)).catch((e) => {
      this.#log?.error({ err: e, sandbox: inst.sb?.id }, 'destroy failed');
    });
    this.#trackDying(mb, inst.chain.then(() => {
      if (inst.sb) this.#stats.count('sandboxes_destroyed');
      inst.sb = undefined;
    }));
  }

  pause(inst: Instance): void {
    inst.chain = inst.chain.then(async () => {
      await inst.sb!.pause();
      if (this.#c.downsize_paused_mem && inst.sb!.downsize) {
        const mb = await inst.sb!.downsize();
        // the pool counts what the frozen sandbox uses (unless it was taken back meanwhile)
        if (mb !== undefined) {
          this.#stats.count('downsized');
          this.#pool.downsize(inst, mb);
          this.#kickDrain(); // memory came free: a queued request may fit now
        }
      }
    }).catch((e) => {
      this.#log?.warn({ err: e, sandbox: inst.sb?.id }, 'pause failed; destroying the sandbox');
      if (inst.state === 'paused') this.#pool.destroy(inst, 'error', this.clock.now());
    });
  }

  scheduleExpiry(inst: Instance, at: number): void {
    this.clock.schedule(at, () => {
      if (this.#pool.expire(inst, at, this.clock.now())) this.#kickDrain();
    });
  }

  schedulePrewarm(fnId: number, at: number): void {
    this.clock.schedule(at, () => void this.#prewarm(fnId));
  }

  evictZygote(node: TreeNode, mb: number): void {
    this.#trackDying(mb, this.imports ? this.imports.evicted(node) : Promise.resolve());
  }

  /** Serves waiters in order while the pool's drain allows. */
  #kickDrain(): void {
    if (this.#pool.queue.size === 0) return;
    if (this.#draining) {
      // something changed while a drain was waiting: it must look again
      this.#drainAgain = true;
      return;
    }
    this.#draining = true;
    void (async () => {
      const pool = this.#pool;
      try {
        do {
          this.#drainAgain = false;
          for (;;) {
            const r = pool.drainStep(this.clock.now());
            if (r === Route.Warm) this.#grant(pool.out.seq, { inst: pool.taken!, paused: pool.tookPaused });
            else if (r === Route.Cold) this.#grant(pool.out.seq, { newId: pool.newId });
            else if ((r === Route.Hold || pool.holding) && this.#dying.size > 0) {
              // its memory is still dying: wait for it, serving nobody else meanwhile
              const te = this.clock.now();
              await Promise.race(this.#dying);
              this.#stats.time('evict', this.clock.now() - te);
            } else break;
          }
        } while (this.#drainAgain && pool.queue.size > 0);
      } finally {
        this.#draining = false;
      }
    })();
  }

  /**
   * Stops: refuses new requests, stops what the backend has in flight
   * (installs, import timings, starts), answers waiting requests with 503,
   * destroys every sandbox and zygote, and waits until each is gone and
   * every sandbox being made has settled (a make that finishes after the
   * stop destroys its own sandbox).
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.clock.close?.();
    await this.#backend.abort?.();
    for (const seq of [...this.#waiters.keys()]) this.#grant(seq, { shutdown: true });
    const now = this.clock.now();
    for (const inst of [...this.#live]) this.#pool.destroy(inst, 'shutdown', now);
    await this.imports?.close();
    while (this.#making.size > 0 || this.#dying.size > 0) await Promise.all([...this.#making, ...this.#dying]);
    await this.imports?.close(); // a zygote made while a sandbox was being made
  }
}
