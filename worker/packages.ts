/**
 * The package cache (SOCK's install cache, OpenLambda's Pipsqueak): each
 * Python package a lambda's requirements.txt names is installed once, with
 * `pip install --no-deps --target`, inside an installer sandbox with its own
 * limits, into a folder of the shared packages directory; sandboxes that
 * asked for it mount that folder read-only at /packages/<key>.
 *
 * Unlike OpenLambda, dependencies are followed: after installing a package
 * the installer reads its METADATA, evaluates each `Requires-Dist` marker
 * in the sandbox's own Python, and the cache installs what remains, and so
 * on. A lambda's closure keeps the first package of each name it meets,
 * breadth first from its own requirements, so a lambda's pin wins over a
 * dependency's looser range.
 *
 * On disk: `<dir>/<key>/` is pip's target (what sandboxes mount) and
 * `<dir>/<key>.json` its description, written last, so a crash mid-install
 * leaves no half package behind; a restarted worker keeps its cache.
 */
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OlError, isOlError } from '../common/errors.js';
import { normalizeName, parseRequirement, type Requirement } from '../core/requirements.js';
import type { PackageMount } from './sandbox/api.js';
import type { JobSpec } from './sandbox/sock.js';
import type { WorkerStats } from './stats.js';

/** One installed requirement. */
export interface PackageInfo {
  /** Folder name: the normalised requirement. */
  key: string;
  /** The requirement as written (`name[extras] spec; marker`). */
  requirement: string;
  /** Normalised distribution name (PEP 503). */
  name: string;
  version: string;
  /** Dependencies whose markers hold here, as requirements. */
  requires: string[];
  /** Modules it provides (what a zygote imports for it). */
  topLevel: string[];
  /** Host folder to mount. */
  dir: string;
  installMs: number;
  /** Median time to import its modules in a fresh interpreter, with its dependencies; null if that failed. */
  importMs: number | null;
  /** The requirement's marker excluded it here: nothing installed, nothing mounted. */
  skipped?: boolean;
}

/** Runs installer and timing jobs in sandboxes (the sock pool does). */
export interface JobRunner {
  runJob(job: JobSpec): Promise<unknown>;
}

export interface PackageCacheOptions {
  dir: string;
  /** A package index URL, or a folder of wheels (pip --find-links). */
  index: string;
  runner: JobRunner;
  stats?: WorkerStats;
  uid: number;
  gid: number;
  memoryMb: number;
  timeLimitMs: number;
  log?: { warn(obj: unknown, msg?: string): void };
}

/** The cache key of a requirement: its normalised form, safe as a folder name. */
export function requirementKey(r: Requirement): string {
  let key = r.name;
  if (r.extras.length) key += `[${r.extras.join(',')}]`;
  if (r.spec) key += r.spec;
  key = key.replace(/[^A-Za-z0-9.,=!<>~*+[\]_-]/g, '_');
  if (r.marker) key += `;${createHash('sha256').update(r.marker).digest('hex').slice(0, 8)}`;
  return key;
}

/** Failed installs are remembered this long before the next request tries again. */
const FAILURE_TTL_MS = 10_000;

export class PackageCache {
  readonly #o: PackageCacheOptions;
  readonly #known = new Map<string, PackageInfo>();
  readonly #pending = new Map<string, Promise<PackageInfo>>();
  /** Import timings in flight, by key. */
  readonly #measuring = new Map<string, Promise<void>>();
  readonly #failed = new Map<string, { at: number; error: OlError }>();
  #seq = 0;

  constructor(o: PackageCacheOptions) {
    this.#o = o;
    mkdirSync(o.dir, { recursive: true });
    for (const f of readdirSync(o.dir)) {
      if (f.startsWith('.tmp-')) rmSync(join(o.dir, f), { recursive: true, force: true });
      if (!f.endsWith('.json')) continue;
      try {
        const info = JSON.parse(readFileSync(join(o.dir, f), 'utf8')) as PackageInfo;
        if (info.skipped || existsSync(info.dir)) this.#known.set(info.key, info);
      } catch {
        rmSync(join(o.dir, f), { force: true });
      }
    }
  }

  /** Every package installed so far. */
  list(): PackageInfo[] {
    return [...this.#known.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  /** What sandboxes mount for these packages. */
  static mounts(pkgs: PackageInfo[]): PackageMount[] {
    return pkgs.filter((p) => !p.skipped).map((p) => ({ dir: p.dir, key: p.key }));
  }

  /**
   * Requirements and everything they depend on, installed, in order (the
   * given ones first); one package per name. Errors name `owner` (`lambda
   * x`, `import-cache node 0.1`) and the package.
   */
  async closure(requirements: string[], owner: string): Promise<PackageInfo[]> {
    const out: PackageInfo[] = [];
    const seen = new Set<string>();
    let level = requirements.map((l, i) => ({ req: parseRequirement(l, `${owner}: requirement ${i + 1}`), line: l, via: '' }));
    while (level.length > 0) {
      // the first of each name, in order: two dependencies of one level may name the same package
      const fresh: typeof level = [];
      for (const r of level) {
        if (seen.has(r.req.name)) continue;
        seen.add(r.req.name);
        fresh.push(r);
      }
      const infos = await Promise.all(fresh.map(async (r) => {
        try {
          return await this.get(r.req, r.line.trim());
        } catch (e) {
          const via = r.via ? ` (needed by ${r.via})` : '';
          const msg = `${owner}: package ${r.line.trim()}${via} could not be installed: ${(e as Error).message}`;
          throw new OlError(isOlError(e) && e.code === 'OL_ERR_BAD_REQUEST' ? 'OL_ERR_BAD_REQUEST' : 'OL_ERR_PACKAGE', msg);
        }
      }));
      const next: typeof level = [];
      for (const info of infos) {
        out.push(info);
        for (const dep of info.requires) next.push({ req: parseRequirement(dep, `package ${info.key}: Requires-Dist`), line: dep, via: info.key });
      }
      level = next;
    }
    await this.#measure(out);
    return out;
  }

  /** One requirement, installed once; concurrent askers share the install. */
  async get(req: Requirement, line: string): Promise<PackageInfo> {
    const key = requirementKey(req);
    const known = this.#known.get(key);
    if (known) {
      this.#o.stats?.count('package_cache_hits');
      return known;
    }
    const failed = this.#failed.get(key);
    if (failed && Date.now() - failed.at < FAILURE_TTL_MS) throw failed.error;
    let p = this.#pending.get(key);
    if (p) {
      this.#o.stats?.count('package_cache_hits');
      return p;
    }
    p = this.#install(key, req, line).finally(() => this.#pending.delete(key));
    this.#pending.set(key, p);
    return p;
  }

  #indexJob(): Pick<JobSpec, 'handlerDir' | 'network'> & { indexArgs: string[] } {
    const ix = this.#o.index;
    if (/^https?:\/\//.test(ix)) return { indexArgs: ['--index-url', ix], network: true };
    if (!existsSync(ix)) throw new OlError('OL_ERR_CONFIG', `package_index ${ix} does not exist (a folder of wheels, or an http(s) index URL)`);
    const st = statSync(ix);
    if (!st.isDirectory() || (st.mode & 0o005) !== 0o005) {
      throw new OlError('OL_ERR_CONFIG', `package_index ${ix} must be a folder the sandbox user can read (others need r-x; mode is ${(st.mode & 0o777).toString(8)})`);
    }
    return { indexArgs: ['--no-index', '--find-links', '/handler'], handlerDir: ix, network: false };
  }

  async #install(key: string, req: Requirement, line: string): Promise<PackageInfo> {
    const t0 = performance.now();
    const ix = this.#indexJob();
    const tmp = join(this.#o.dir, `.tmp-${process.pid}-${this.#seq++}`);
    mkdirSync(tmp, { recursive: true });
    chownSync(tmp, this.#o.uid, this.#o.gid);
    try {
      const r = (await this.#o.runner.runJob({
        id: `install-${this.#seq++}`,
        mode: 'install',
        config: { requirement: line, indexArgs: ix.indexArgs, extras: req.extras },
        hostDir: tmp,
        handlerDir: ix.handlerDir,
        network: ix.network,
        memoryMb: this.#o.memoryMb,
        timeLimitMs: this.#o.timeLimitMs,
      })) as { name?: string; version?: string; requires?: string[]; top_level?: string[]; skipped?: boolean };
      const dir = join(this.#o.dir, key);
      const info: PackageInfo = {
        key, requirement: line, name: normalizeName(r.name ?? req.name), version: r.version ?? '', requires: r.requires ?? [],
        topLevel: r.top_level ?? [], dir, installMs: performance.now() - t0, importMs: null, skipped: r.skipped ? true : undefined,
      };
      rmSync(dir, { recursive: true, force: true });
      if (info.skipped) rmSync(tmp, { recursive: true, force: true });
      else renameSync(tmp, dir);
      this.#save(info);
      this.#known.set(key, info);
      this.#o.stats?.count('package_installs');
      this.#o.stats?.time('install', info.installMs);
      return info;
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      this.#o.stats?.count('package_install_failures');
      const err = isOlError(e) ? new OlError(e.code === 'OL_ERR_HANDLER' ? 'OL_ERR_PACKAGE' : e.code, e.message.replace(/^install job \S+ failed to start:\n/, '')) : new OlError('OL_ERR_PACKAGE', String(e));
      this.#failed.set(key, { at: Date.now(), error: err });
      throw err;
    }
  }

  #save(info: PackageInfo): void {
    const file = join(this.#o.dir, `${info.key}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2) + '\n');
    renameSync(`${file}.tmp`, file);
  }

  /** Times the import of each new package, with the closure it came in mounted. */
  async #measure(closure: PackageInfo[]): Promise<void> {
    await Promise.all(closure.filter((p) => !p.skipped && p.importMs === null && p.topLevel.length > 0).map((p) => {
      let run = this.#measuring.get(p.key);
      if (!run) {
        run = this.#timeImport(p, closure).finally(() => this.#measuring.delete(p.key));
        this.#measuring.set(p.key, run);
      }
      return run;
    }));
  }

  async #timeImport(p: PackageInfo, closure: PackageInfo[]): Promise<void> {
    try {
      const r = (await this.#o.runner.runJob({
        id: `measure-${this.#seq++}`, mode: 'measure', config: { modules: p.topLevel, runs: 3 },
        packages: PackageCache.mounts(closure), memoryMb: this.#o.memoryMb, timeLimitMs: this.#o.timeLimitMs,
      })) as { import_ms: number };
      p.importMs = r.import_ms;
      this.#save(p);
    } catch (e) {
      this.#o.log?.warn({ err: e, package: p.key }, 'timing the import of a package failed');
    }
  }
}
