/**
 * The worker's sandboxes as the pool knows them (`Instance`), and how one
 * is made: the lambda's packages installed on first need, then forked from
 * its zygote (import cache) or created fresh by the backend; and what a
 * failed request did to its sandbox (timeout, out of memory, crash). The
 * lambda manager decides nothing here: it calls these when the core pool
 * has decided.
 */
import { OlError, isOlError } from '../common/errors.js';
import type { Clock } from '../core/clock.js';
import { PooledSandbox } from '../core/pool.js';
import type { SandboxLimits } from './config.js';
import type { ImportCache } from './import-cache.js';
import { PackageCache, type PackageInfo } from './packages.js';
import type { InvocationRecord } from './recorder.js';
import type { LambdaCode } from './registry.js';
import type { RuntimeRequest, Sandbox, SandboxPool as SandboxBackend, SandboxSpec } from './sandbox/api.js';
import type { WorkerStats } from './stats.js';

/** A sandbox in the pool: the pool's record, its real sandbox once made, and its code version. */
export class Instance extends PooledSandbox {
  sb: Sandbox | undefined;
  /** Serialises pause / unpause / destroy on this sandbox. */
  chain: Promise<void> = Promise.resolve();
  constructor(id: number, fnId: number, fn: string, memMb: number, createdAt: number, readonly version: string) {
    super(id, fnId, fn, memMb, createdAt);
  }
}

export interface MakerOptions {
  backend: SandboxBackend;
  packages: PackageCache | undefined;
  imports: ImportCache | undefined;
  stats: WorkerStats;
  clock: Clock;
}

export class SandboxMaker {
  readonly #o: MakerOptions;
  /** Each code version's installed closure. */
  readonly #closures = new Map<string, Promise<PackageInfo[]>>();

  constructor(o: MakerOptions) {
    this.#o = o;
  }

  /** The lambda's installed packages (installed on first need), for this code version. */
  closure(code: LambdaCode): Promise<PackageInfo[]> {
    if (code.requirements.length === 0) return Promise.resolve([]);
    const packages = this.#o.packages;
    if (!packages) return Promise.reject(new OlError('OL_ERR_PACKAGE', `lambda ${code.name} needs packages, but this worker has no package installer`));
    const key = `${code.name}@${code.version}`;
    let p = this.#closures.get(key);
    if (!p) {
      p = packages.closure(code.requirements, `lambda ${code.name}`);
      this.#closures.set(key, p);
      p.catch(() => this.#closures.delete(key)); // a failed install is tried again later
    }
    return p;
  }

  /**
   * Makes the sandbox of `inst` (a cold start or a pre-warm) and records its
   * cost in `rec`. Throws if it could not be made, or if the worker shut
   * down meanwhile (`inst` destroyed: the new sandbox is destroyed too).
   */
  async make(inst: Instance, code: LambdaCode, limits: SandboxLimits, rec: InvocationRecord, first?: RuntimeRequest): Promise<void> {
    const { clock, stats } = this.#o;
    const t0 = clock.now();
    try {
      const closure = await this.closure(code);
      const spec: SandboxSpec = {
        id: `${inst.id}-${code.name}`.slice(0, 64), lambda: code.name, codeDir: code.codeDir, env: code.env,
        memoryMb: limits.mem_mb, pids: limits.pids, cpuPercent: limits.cpu_percent, tmpMb: limits.tmp_mb,
        packages: PackageCache.mounts(closure), first,
      };
      rec.packages = closure.filter((p) => !p.skipped).map((p) => p.name);
      if (this.#o.imports) {
        const got = await this.#o.imports.create(spec, closure);
        inst.sb = got.sb;
        rec.zygote = got.node;
      } else {
        inst.sb = await this.#o.backend.create(spec);
      }
    } catch (e) {
      stats.count('start_failures');
      throw e;
    }
    if (inst.state === 'destroyed') {
      // the worker shut down while it was being made
      await inst.sb.destroy('shutdown').catch(() => {});
      throw new OlError('OL_ERR_SANDBOX', 'the worker is shutting down');
    }
    // a cold start's cost: installs on first need, zygotes made on the way, the sandbox itself
    const createMs = clock.now() - t0;
    inst.coldStartMs = createMs;
    rec.create_ms = createMs;
    stats.time('create', createMs);
    stats.count('sandboxes_created');
  }

  /** What the failure `e` of a request on `inst` was, as the error to answer with (counted in the stats). */
  async failure(inst: Instance, e: unknown, name: string, limits: SandboxLimits): Promise<OlError> {
    const stats = this.#o.stats;
    if (isOlError(e, 'OL_ERR_TIMEOUT')) {
      stats.count('timeouts');
      return new OlError('OL_ERR_TIMEOUT', `lambda ${name} ran past its time limit of ${limits.time_limit_ms} ms; its sandbox was killed`);
    }
    const diag = await inst.sb!.diagnose().catch(() => 'exited' as const);
    if (diag === 'oom') {
      stats.count('oom_kills');
      return new OlError('OL_ERR_OOM', `lambda ${name} ran out of memory (limit ${limits.mem_mb} MB) and the kernel killed its sandbox`);
    }
    stats.count('crashes');
    return new OlError('OL_ERR_CRASH', `the sandbox of lambda ${name} died while handling the request (its Python process exited: ${(e as Error).message})`);
  }
}
