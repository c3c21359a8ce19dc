/**
 * The lambda manager: turns a request into a sandbox and a reply. Per
 * lambda it keeps the idle and paused sandboxes (instances) of the current
 * code version; a request takes the most recently idle one (unpausing it)
 * or creates a new one, whose memory comes from the pool (`mem_pool_mb`),
 * evicting the victims the policy names. The keep-alive / eviction policy
 * is the simulator's own object (sim/policies), driven here by the wall
 * clock: this module only carries out its decisions.
 *
 * A request that finds no memory waits in one FIFO queue (as in the
 * simulator); each lambda may have at most `queue_limit` waiting, beyond
 * which requests get 429. One request at a time per sandbox, as
 * OpenLambda's Python runtime serves.
 */
import { appendFileSync } from 'node:fs';
import { OlError, isOlError } from '../common/errors.js';
import { WallClock } from '../sim/clock.js';
import { SandboxRecord, type IdleCause, type Policy } from '../sim/policy.js';
import { createPolicy } from '../sim/policies/index.js';
import { makeRng } from '../sim/rng.js';
import type { SandboxLimits, WorkerConfig } from './config.js';
import { methodAllowed } from './lambda-config.js';
import type { LambdaCode, Registry } from './registry.js';
import { ImportCache, loadTree } from './import-cache.js';
import { PackageCache, type PackageInfo } from './packages.js';
import type { FirstRequest, RuntimeReply, Sandbox, SandboxPool, SandboxSpec } from './sandbox/api.js';
import type { SockPool } from './sandbox/sock.js';
import type { WorkerStats } from './stats.js';

/** How a request got its sandbox. */
export type StartKind = 'warm' | 'unpaused' | 'cold';

class Instance extends SandboxRecord {
  sb: Sandbox | undefined;
  /** Serialises pause / unpause / destroy on this sandbox. */
  chain: Promise<void> = Promise.resolve();
  /** Bumped whenever the instance is taken, so stale expiry timers do nothing. */
  gen = 0;
  constructor(id: number, fnId: number, fn: string, memMb: number, createdAt: number, readonly version: string) {
    super(id, fnId, fn, memMb, createdAt);
  }
}

interface Waiter {
  fnId: number;
  code: LambdaCode;
  memMb: number;
  grant: (g: { inst?: Instance; reserved?: boolean; handover?: boolean }) => void;
}

/** One invocation's record (with `record` on, one JSON line each). */
export interface InvocationRecord {
  lambda: string;
  arrival_ms: number;
  start: StartKind | 'failed';
  queue_ms: number;
  create_ms: number;
  unpause_ms: number;
  handler_ms: number;
  total_ms: number;
  status: number;
  /** Installed packages of the lambda (its closure), by name. */
  packages?: string[];
  /** On a cold start: the import-cache node its sandbox was forked from; null when it started fresh. */
  zygote?: string | null;
}

export interface ManagerOptions {
  config: WorkerConfig;
  pool: SandboxPool;
  registry: Registry;
  stats: WorkerStats;
  log?: { warn(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void };
}

export class LambdaManager {
  readonly clock = new WallClock();
  readonly policy: Policy;
  readonly #c: WorkerConfig;
  readonly #pool: SandboxPool;
  readonly #registry: Registry;
  readonly #stats: WorkerStats;
  readonly #log: ManagerOptions['log'];
  readonly #fnIds = new Map<string, number>();
  readonly #avail: Instance[][] = [];
  readonly #live = new Set<Instance>();
  readonly #queue: Waiter[] = [];
  readonly #queuedPerFn: number[] = [];
  #used = 0;
  #nextId = 0;
  #draining = false;
  #drainAgain = false;
  #closed = false;
  /** Memory of sandboxes being destroyed: no longer reserved, not yet free. */
  #dyingMb = 0;
  readonly #dying = new Set<Promise<void>>();
  readonly packages: PackageCache | undefined;
  readonly imports: ImportCache | undefined;
  /** Each code version's installed closure. */
  readonly #closures = new Map<string, Promise<PackageInfo[]>>();

  constructor(o: ManagerOptions) {
    this.#c = o.config;
    this.#pool = o.pool;
    this.#registry = o.registry;
    this.#stats = o.stats;
    this.#log = o.log;
    this.policy = createPolicy(o.config.policy, {
      capacityMb: o.config.mem_pool_mb, rng: makeRng(1, 'worker/policy'), options: o.config.policy_options,
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
        tree: loadTree(c.import_tree), pool: o.pool as SockPool, packages: this.packages, stats: o.stats,
        zygoteMb: c.zygote_mem_mb, pids: c.limits.pids, tmpMb: c.limits.tmp_mb, log: o.log,
        memory: {
          tryReserve: (mb) => {
            // free memory only, as the simulator's model: a zygote never evicts a sandbox
            if (this.#closed || this.#c.mem_pool_mb - this.#used - this.#dyingMb < mb) return false;
            this.#used += mb;
            return true;
          },
          release: (mb, gone) => this.#releaseLater(mb, gone),
        },
      });
    }
  }

  /** Memory leaves the reservation now and becomes free once `gone` settles. */
  #releaseLater(mb: number, gone: Promise<void>): void {
    this.#used -= mb;
    this.#dyingMb += mb;
    const done = gone.then(() => {
      this.#dying.delete(done);
      this.#dyingMb -= mb;
      this.#kickDrain();
    });
    this.#dying.add(done);
  }

  /** The lambda's installed packages (installed on first need), for this code version. */
  #closure(code: LambdaCode): Promise<PackageInfo[]> {
    if (code.requirements.length === 0) return Promise.resolve([]);
    if (!this.packages) return Promise.reject(new OlError('OL_ERR_PACKAGE', `lambda ${code.name} needs packages, but this worker has no package installer`));
    const key = `${code.name}@${code.version}`;
    let p = this.#closures.get(key);
    if (!p) {
      p = this.packages.closure(code.requirements, `lambda ${code.name}`);
      this.#closures.set(key, p);
      p.catch(() => this.#closures.delete(key)); // a failed install is tried again later
    }
    return p;
  }

  /** Gauges for /stats and /metrics. */
  gauges(): Record<string, number> {
    let idle = 0, paused = 0, busy = 0;
    for (const i of this.#live) {
      if (i.state === 'idle') idle++;
      else if (i.state === 'paused') paused++;
      else busy++;
    }
    return {
      mem_pool_mb: this.#c.mem_pool_mb, mem_used_mb: this.#used + this.#dyingMb, mem_reserved_mb: this.#used, sandboxes_idle: idle, sandboxes_paused: paused,
      sandboxes_busy: busy, queue_length: this.#queue.length, ...(this.imports?.gauges() ?? { zygotes: 0, zygote_mem_mb: 0 }),
    };
  }

  #fnId(name: string): number {
    let id = this.#fnIds.get(name);
    if (id === undefined) {
      id = this.#fnIds.size;
      this.#fnIds.set(name, id);
      this.#avail.push([]);
      this.#queuedPerFn.push(0);
    }
    return id;
  }

  #limits(code: LambdaCode): SandboxLimits {
    return { ...this.#c.limits, ...code.config.limits };
  }

  /** Runs one request; throws OlError for every failure, with its status. */
  async invoke(name: string, method: string, path: string, body: Buffer): Promise<RuntimeReply & { start: StartKind }> {
    if (this.#closed) throw new OlError('OL_ERR_SANDBOX', 'the worker is shutting down');
    const arrival = this.clock.now();
    const rec: InvocationRecord = { lambda: name, arrival_ms: Date.now(), start: 'failed', queue_ms: 0, create_ms: 0, unpause_ms: 0, handler_ms: 0, total_ms: 0, status: 500 };
    this.#stats.count('requests');
    try {
      const code = await this.#registry.get(name);
      if (!methodAllowed(code.config, method)) {
        throw new OlError('OL_ERR_METHOD', `lambda ${name} does not accept ${method} (ol.yaml allows ${code.config.methods.join(', ')})`);
      }
      const limits = this.#limits(code);
      const fnId = this.#fnId(name);
      this.policy.onInvoke(fnId, arrival);
      const got = await this.#acquire(code, fnId, limits, rec, { method, path, body });
      const inst = got.inst;
      rec.start = got.kind;
      this.#stats.count(got.kind);
      const th = this.clock.now();
      let reply: RuntimeReply;
      try {
        reply = await inst.sb!.invoke(method, path, body, limits.time_limit_ms);
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
      rec.status = isOlError(e) ? e.statusCode : 500;
      throw e;
    } finally {
      rec.total_ms = this.clock.now() - arrival;
      this.#stats.time('total', rec.total_ms);
      if (this.#c.record) {
        try {
          appendFileSync(this.#c.record_path, JSON.stringify(rec) + '\n');
        } catch (e) {
          this.#log?.error({ err: e }, `cannot append to ${this.#c.record_path}`);
        }
      }
    }
  }

  /** Turns a failed runtime call into the error to report; the sandbox is destroyed. */
  async #failed(inst: Instance, e: unknown, name: string, limits: SandboxLimits): Promise<OlError> {
    let err: OlError;
    if (isOlError(e, 'OL_ERR_TIMEOUT')) {
      this.#stats.count('timeouts');
      err = new OlError('OL_ERR_TIMEOUT', `lambda ${name} ran past its time limit of ${limits.time_limit_ms} ms; its sandbox was killed`);
    } else {
      const diag = await inst.sb!.diagnose().catch(() => 'exited' as const);
      if (diag === 'oom') {
        this.#stats.count('oom_kills');
        err = new OlError('OL_ERR_OOM', `lambda ${name} ran out of memory (limit ${limits.mem_mb} MB) and the kernel killed its sandbox`);
      } else {
        this.#stats.count('crashes');
        err = new OlError('OL_ERR_CRASH', `the sandbox of lambda ${name} died while handling the request (its Python process exited: ${(e as Error).message})`);
      }
    }
    this.#busyToGone(inst);
    await this.#destroy(inst, 'error');
    return err;
  }

  /** Gets a sandbox for the request: warm, unpaused or new. */
  async #acquire(code: LambdaCode, fnId: number, limits: SandboxLimits, rec: InvocationRecord, first: FirstRequest): Promise<{ inst: Instance; kind: StartKind }> {
    for (;;) {
      const inst = this.#takeAvailable(fnId, code.version);
      if (inst) {
        const kind = await this.#wake(inst, rec);
        if (kind) return { inst, kind };
        continue; // it could not be unpaused and was destroyed: try again
      }
      break;
    }
    const tq = this.clock.now();
    let grant: { inst?: Instance; reserved?: boolean; handover?: boolean } = { reserved: false };
    if (this.#queue.length === 0 && (await this.#reserve(limits.mem_mb))) grant = { reserved: true };
    if (!grant.reserved) {
      if (this.#queuedPerFn[fnId]! >= this.#c.queue_limit) {
        this.#stats.count('rejected_queue_full');
        throw new OlError('OL_ERR_QUEUE_FULL', `lambda ${code.name} has ${this.#queuedPerFn[fnId]} requests waiting (queue_limit ${this.#c.queue_limit}); try again later`);
      }
      this.#stats.count('queued');
      this.#queuedPerFn[fnId]!++;
      grant = await new Promise((resolve) => this.#queue.push({ fnId, code, memMb: limits.mem_mb, grant: resolve }));
      this.#queuedPerFn[fnId]!--;
      this.#kickDrain();
    }
    rec.queue_ms = this.clock.now() - tq;
    this.#stats.time('queue', rec.queue_ms);
    if (grant.handover) return { inst: grant.inst!, kind: 'warm' };
    if (grant.inst) {
      const kind = await this.#wake(grant.inst, rec);
      if (kind) return { inst: grant.inst, kind };
      return this.#acquire(code, fnId, limits, rec, first);
    }
    return { inst: await this.#create(code, fnId, limits, rec, first), kind: 'cold' };
  }

  #takeAvailable(fnId: number, version: string): Instance | undefined {
    const list = this.#avail[fnId]!;
    while (list.length > 0) {
      const inst = list.pop()!;
      if (inst.version === version) return inst;
      // old code: this sandbox will never serve again
      void this.#destroy(inst, 'expired');
    }
    return undefined;
  }

  /** Marks an available instance busy and unpauses it if needed; undefined if it had to go. */
  async #wake(inst: Instance, rec: InvocationRecord): Promise<StartKind | undefined> {
    const wasPaused = inst.state === 'paused';
    inst.state = 'busy';
    inst.gen++;
    this.policy.onBusy(inst, this.clock.now());
    if (!wasPaused) {
      await inst.chain; // a pause may still be in flight
      if (inst.sb === undefined) return undefined;
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
      this.#busyToGone(inst);
      await this.#destroy(inst, 'error');
      return undefined;
    }
    rec.unpause_ms = this.clock.now() - t;
    this.#stats.time('unpause', rec.unpause_ms);
    return 'unpaused';
  }

  /**
   * Makes room for `memMb` (evicting victims) and reserves it; false if it
   * cannot. The decision is synchronous, so concurrent requests never pick
   * the same victims or count the same free memory; then, so that sandboxes
   * never physically exceed the pool, it waits until dying sandboxes are gone.
   */
  async #reserve(memMb: number): Promise<boolean> {
    const cap = this.#c.mem_pool_mb;
    if (cap - this.#used < memMb) {
      let evictable = this.imports?.evictableMb() ?? 0;
      for (const list of this.#avail) for (const i of list) evictable += i.memMb;
      if (cap - this.#used + evictable < memMb) return false;
      let evicted = 0;
      while (cap - this.#used < memMb) {
        const v = this.policy.victim(this.clock.now()) as Instance | undefined;
        if (!v) {
          // no sandbox left to evict: zygotes give their memory back last
          const z = this.imports?.evictOne();
          if (!z) break;
          this.#releaseLater(z.mb, z.gone);
          continue;
        }
        this.#removeAvailable(v);
        this.#gone(v, 'evicted');
        void this.#destroy(v, 'evicted', false); // moves its memory from used to dying at once
        evicted++;
      }
      if (evicted) this.#stats.count('evictions', evicted);
      if (cap - this.#used < memMb) return false;
    }
    this.#used += memMb;
    if (this.#used + this.#dyingMb > cap) {
      const te = this.clock.now();
      while (this.#used + this.#dyingMb > cap && this.#dying.size > 0) await Promise.race(this.#dying);
      this.#stats.time('evict', this.clock.now() - te);
    }
    return true;
  }

  /** A new sandbox; `first`: the request that asked for it (a forked sandbox gets it ahead, see SandboxSpec.first). */
  async #create(code: LambdaCode, fnId: number, limits: SandboxLimits, rec: InvocationRecord, first?: FirstRequest): Promise<Instance> {
    const now = this.clock.now();
    const inst = new Instance(this.#nextId++, fnId, code.name, limits.mem_mb, now, code.version);
    this.#live.add(inst);
    this.policy.onCreate(inst, now);
    this.policy.onBusy(inst, now);
    inst.state = 'busy';
    const t0 = this.clock.now();
    try {
      const closure = await this.#closure(code);
      const spec: SandboxSpec = {
        id: `${inst.id}-${code.name}`.slice(0, 64), lambda: code.name, codeDir: code.codeDir, env: code.config.environment,
        memoryMb: limits.mem_mb, pids: limits.pids, cpuPercent: limits.cpu_percent, tmpMb: limits.tmp_mb,
        packages: PackageCache.mounts(closure), first,
      };
      rec.packages = closure.filter((p) => !p.skipped).map((p) => p.name);
      if (this.imports) {
        const got = await this.imports.create(spec, closure);
        inst.sb = got.sb;
        rec.zygote = got.node;
      } else {
        inst.sb = await this.#pool.create(spec);
      }
    } catch (e) {
      this.#stats.count('start_failures');
      this.#busyToGone(inst);
      this.#live.delete(inst);
      this.#used -= inst.memMb;
      this.#kickDrain();
      throw e;
    }
    // a cold start's cost: installs on first need, zygotes made on the way, the sandbox itself
    const createMs = this.clock.now() - t0;
    inst.coldStartMs = createMs;
    rec.create_ms = createMs;
    this.#stats.time('create', createMs);
    this.#stats.count('sandboxes_created');
    this.#keepFree();
    return inst;
  }

  /** A busy instance is finished with: give it to a waiter of its lambda, or let the policy decide. */
  #release(inst: Instance, cause: IdleCause = 'finished'): void {
    const now = this.clock.now();
    inst.uses += cause === 'finished' ? 1 : 0;
    inst.lastUsedAt = now;
    if (this.#closed) { void this.#destroy(inst, 'shutdown'); return; }
    const current = this.#registry.peekVersion(inst.fn);
    if (current !== undefined && current !== inst.version) {
      inst.state = 'idle';
      this.#busyToGone(inst);
      void this.#destroy(inst, 'expired');
      return;
    }
    // a request of the same lambda is waiting: hand the sandbox over directly
    const wi = this.#queue.findIndex((w) => w.fnId === inst.fnId && w.code.version === inst.version);
    if (wi >= 0 && cause === 'finished') {
      const [w] = this.#queue.splice(wi, 1);
      // the sandbox stays busy: to the policy it simply serves one more request
      inst.gen++;
      w!.grant({ inst, handover: true });
      return;
    }
    inst.state = 'idle';
    const d = this.policy.onIdle(inst, now, cause);
    if (cause === 'finished' && d.prewarmAfterMs !== undefined && d.prewarmAfterMs > 0) {
      this.#gone(inst, 'prewarm-unload');
      void this.#destroy(inst, 'prewarm-unload');
      this.clock.schedule(now + d.prewarmAfterMs, () => void this.#prewarm(inst.fn, inst.fnId));
      return;
    }
    if (d.pause) {
      inst.state = 'paused';
      this.#stats.count('pauses');
      inst.chain = inst.chain.then(() => inst.sb!.pause()).catch((e) => {
        this.#log?.warn({ err: e, sandbox: inst.sb?.id }, 'pause failed; destroying the sandbox');
        if (inst.state === 'paused') {
          this.#removeAvailable(inst);
          this.#gone(inst, 'error');
          void this.#destroy(inst, 'error');
        }
      });
    }
    this.#addAvailable(inst);
    if (d.keepAliveMs !== Infinity) {
      const gen = inst.gen;
      this.clock.schedule(now + d.keepAliveMs, () => {
        if (inst.gen !== gen || (inst.state !== 'idle' && inst.state !== 'paused')) return;
        this.#stats.count('expirations');
        this.#removeAvailable(inst);
        this.#gone(inst, 'expired');
        void this.#destroy(inst, 'expired');
      });
    }
    this.#kickDrain();
  }

  async #prewarm(name: string, fnId: number): Promise<void> {
    if (this.#closed) return;
    let code: LambdaCode;
    try {
      code = await this.#registry.get(name);
    } catch {
      return;
    }
    const limits = this.#limits(code);
    // POLICY: pre-warming uses free memory only; it never evicts
    if (this.#c.mem_pool_mb - this.#used < limits.mem_mb || this.#queue.length > 0) return;
    this.#used += limits.mem_mb;
    const rec = { create_ms: 0 } as InvocationRecord;
    try {
      const inst = await this.#create(code, fnId, limits, rec);
      this.#stats.count('prewarms');
      this.#release(inst, 'prewarmed');
    } catch (e) {
      this.#log?.warn({ err: e, lambda: name }, 'pre-warm failed');
    }
  }

  /** Evicts ahead of need while the policy wants memory free (OpenLambda's 20%). */
  #keepFree(): void {
    const target = this.policy.freeTargetMb;
    while (target > 0 && this.#c.mem_pool_mb - this.#used < target) {
      const v = this.policy.victim(this.clock.now()) as Instance | undefined;
      if (!v) return;
      this.#removeAvailable(v);
      this.#gone(v, 'evicted');
      this.#stats.count('evictions');
      void this.#destroy(v, 'evicted'); // its memory leaves the reservation at once
    }
  }

  #addAvailable(inst: Instance): void {
    this.#avail[inst.fnId]!.push(inst);
  }

  #removeAvailable(inst: Instance): void {
    const list = this.#avail[inst.fnId]!;
    const i = list.lastIndexOf(inst);
    if (i >= 0) list.splice(i, 1);
  }

  /** A busy instance leaves the policy's view (it never went idle). */
  #busyToGone(inst: Instance): void {
    inst.state = 'idle';
    this.policy.onIdle(inst, this.clock.now(), 'finished');
    this.#gone(inst, 'error');
  }

  #gone(inst: Instance, reason: 'evicted' | 'expired' | 'prewarm-unload' | 'error' | 'shutdown'): void {
    if (inst.state === 'destroyed') return;
    inst.state = 'destroyed';
    inst.gen++;
    this.policy.onDestroy(inst, this.clock.now(), reason);
  }

  /** Destroys the sandbox and frees its memory; never throws. */
  async #destroy(inst: Instance, reason: 'evicted' | 'expired' | 'prewarm-unload' | 'error' | 'shutdown', drain = true): Promise<void> {
    this.#removeAvailable(inst);
    this.#gone(inst, reason);
    if (!this.#live.has(inst)) return;
    this.#live.delete(inst);
    // from now on its memory is no longer reserved, only dying
    this.#used -= inst.memMb;
    this.#dyingMb += inst.memMb;
    inst.chain = inst.chain.then(() => inst.sb?.destroy(reason)).catch((e) => {
      this.#log?.error({ err: e, sandbox: inst.sb?.id }, 'destroy failed');
    });
    const done = inst.chain;
    this.#dying.add(done);
    await done;
    this.#dying.delete(done);
    this.#dyingMb -= inst.memMb;
    inst.sb = undefined;
    this.#stats.count('sandboxes_destroyed');
    if (drain) this.#kickDrain();
  }

  /** Serves waiters in order while sandboxes or memory allow. */
  #kickDrain(): void {
    if (this.#queue.length === 0) return;
    if (this.#draining) {
      // something changed while a drain was waiting: it must look again
      this.#drainAgain = true;
      return;
    }
    this.#draining = true;
    void (async () => {
      try {
        do {
          this.#drainAgain = false;
          while (this.#queue.length > 0) {
            const w = this.#queue[0]!;
            const inst = this.#takeAvailable(w.fnId, w.code.version);
            if (inst) {
              this.#queue.shift();
              w.grant({ inst });
              continue;
            }
            if (!(await this.#reserve(w.memMb))) break;
            // while we waited, the waiter may have been handed a sandbox
            const i = this.#queue.indexOf(w);
            if (i < 0) {
              this.#used -= w.memMb;
              continue;
            }
            this.#queue.splice(i, 1);
            w.grant({ reserved: true });
          }
        } while (this.#drainAgain && this.#queue.length > 0);
      } finally {
        this.#draining = false;
      }
    })();
  }

  /** Destroys every sandbox (shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    this.clock.close();
    await Promise.all([...this.#live].map((i) => this.#destroy(i, 'shutdown', false)));
    await this.imports?.close();
    await Promise.all(this.#dying);
  }
}
