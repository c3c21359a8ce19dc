/**
 * The simulator's model of the package cache and the import cache (the
 * worker's worker/packages.ts and worker/import-cache.ts): what a cold
 * start costs when functions import packages.
 *
 * - Package install: the first cold start that needs a package pays its
 *   install time (`installMs`, default 0: a warm package cache), once.
 * - Without a tree, a cold start is a fresh sandbox: `create` +
 *   `runtimeStart` + the import time of every package of the function.
 * - With a tree (`--zygotes`), the function's node is the deepest one whose
 *   packages it has (first matching child first, as the worker looks up). A
 *   cold start forks from that node's zygote: `fork` (the profile's, else
 *   `create`) + the import time of the function's packages the node lacks.
 *   A node without a zygote gets one first, and so do its ancestors,
 *   each on the critical path of this cold start: the root costs `create`
 *   + `runtimeStart` + its imports, any other node `fork` + its own imports.
 *   A cold start that finds its zygote still being made waits for it.
 * - Zygotes take `zygoteMb` each from the memory pool when they are made,
 *   and only from free memory (else the cold start uses the nearest
 *   ancestor that has one, or starts fresh), as the worker does. As in the
 *   worker, when a new sandbox needs memory and the policy has no idle
 *   sandbox left to evict, zygotes give theirs back: the least recently
 *   forked of those without a live child zygote first, never one still
 *   being made; the next cold start that wants it makes it again. The
 *   model never lets a zygote die otherwise.
 */
import { ImportTree, type TreeNode, type TreeNodeSpec } from '../core/import-tree.js';
import { normalizeName } from '../core/requirements.js';
import type { CostSampler } from './profile.js';
import type { Rng } from '../common/rng.js';

/** What the simulator asks of a startup model. */
export interface StartupModel {
  /**
   * The cold start of a sandbox of `fnId` at `now`, ms. `fresh` samples a
   * fresh sandbox (create + runtimeStart); `tryReserve` takes memory for a
   * zygote from the pool if it is free.
   */
  coldStartMs(fnId: number, now: number, fresh: () => number, tryReserve: (mb: number) => boolean): number;
  /** The import tree whose zygotes the pool evicts last (core/pool.ts), and each zygote's memory. */
  readonly tree?: ImportTree;
  readonly zygoteMb?: number;
  /** The pool evicted one of the tree's zygotes. */
  zygoteEvicted?(): void;
  /** Counters for the summary. */
  stats(): Record<string, number>;
}

export interface ImportModelOptions {
  tree?: TreeNodeSpec;
  /** Each function's packages (its closure), by function id; undefined: none. */
  fnPackages: (string[] | undefined)[];
  importMs: (pkg: string) => number;
  installMs: (pkg: string) => number;
  /** A fork from a zygote, without imports. */
  fork: CostSampler;
  zygoteMb: number;
  rng: Rng;
}

export class ImportCacheModel implements StartupModel {
  readonly #o: ImportModelOptions;
  readonly tree: ImportTree | undefined;
  readonly zygoteMb: number;
  readonly #installed = new Set<string>();
  readonly #nodeOf: (TreeNode | null)[] = [];
  readonly #pkgs: string[][];
  /** A zygote was refused memory during the current cold start. */
  #refused = false;
  readonly #counts = { freshStarts: 0, zygoteForks: 0, zygotesCreated: 0, zygoteEvictions: 0, zygoteNoMemory: 0 /* cold starts that found no memory for a zygote they wanted */, packageInstalls: 0, importMsSaved: 0 };

  constructor(o: ImportModelOptions) {
    this.#o = o;
    this.zygoteMb = o.zygoteMb;
    this.#pkgs = o.fnPackages.map((p) => [...new Set((p ?? []).map(normalizeName))]);
    this.tree = o.tree ? new ImportTree(o.tree) : undefined;
  }

  /**
   * A function's packages (normalised names), the heaviest first by import
   * time (the size the model knows), for package-aware placement.
   */
  packagesOf(fnId: number): string[] {
    const ps = this.#pkgs[fnId] ?? [];
    return ps.map((p, i) => [p, this.#o.importMs(p), i] as const).sort((a, b) => b[1] - a[1] || a[2] - b[2]).map((x) => x[0]);
  }

  /** The node a function's cold starts fork from (the tree's lookup), or null without a tree. */
  nodeOf(fnId: number): string | null {
    return this.#lookup(fnId)?.id ?? null;
  }

  #lookup(fnId: number): TreeNode | null {
    if (this.#nodeOf[fnId] !== undefined) return this.#nodeOf[fnId]!;
    const n = this.tree ? this.tree.lookup(new Set(this.#pkgs[fnId] ?? [])).at(-1)! : null;
    this.#nodeOf[fnId] = n;
    return n;
  }

  #imports(pkgs: Iterable<string>): number {
    let ms = 0;
    for (const p of pkgs) ms += this.#o.importMs(p);
    return ms;
  }

  #install(pkgs: Iterable<string>): number {
    let ms = 0;
    for (const p of pkgs) {
      if (this.#installed.has(p)) continue;
      this.#installed.add(p);
      this.#counts.packageInstalls++;
      ms += this.#o.installMs(p);
    }
    return ms;
  }

  /** Makes `n`'s zygote (and its ancestors') if it can; when it is ready, or undefined. */
  #ensure(n: TreeNode, now: number, fresh: () => number, tryReserve: (mb: number) => boolean): number | undefined {
    if (n.live) return n.readyAt;
    let start = now;
    if (n.parent) {
      const p = this.#ensure(n.parent, now, fresh, tryReserve);
      if (p === undefined) return undefined;
      start = Math.max(now, p);
    }
    if (!tryReserve(this.#o.zygoteMb)) {
      this.#refused = true;
      return undefined;
    }
    const install = this.#install(n.ownNames);
    const make = n.parent ? this.#o.fork(this.#o.rng) : fresh();
    n.live = true;
    n.readyAt = start + install + make + this.#imports(n.ownNames);
    n.lastUsed = n.readyAt; // as the worker: made when ready
    this.#counts.zygotesCreated++;
    return n.readyAt;
  }

  coldStartMs(fnId: number, now: number, fresh: () => number, tryReserve: (mb: number) => boolean): number {
    this.#refused = false;
    const ms = this.#coldStart(fnId, now, fresh, tryReserve);
    if (this.#refused) this.#counts.zygoteNoMemory++;
    return ms;
  }

  #coldStart(fnId: number, now: number, fresh: () => number, tryReserve: (mb: number) => boolean): number {
    const pkgs = this.#pkgs[fnId] ?? [];
    // as the worker: the function's packages are installed first, then its zygote is found or made
    const install = this.#install(pkgs);
    const t = now + install;
    for (let n = this.#lookup(fnId); n; n = n.parent ?? null) {
      const ready = this.#ensure(n, t, fresh, tryReserve);
      if (ready === undefined) continue;
      this.#counts.zygoteForks++;
      // as the worker: the fork starts once the zygote is ready, and pins it until the fork is done
      const forkAt = Math.max(ready, t);
      const fork = this.#o.fork(this.#o.rng);
      n.lastUsed = forkAt;
      n.pinnedUntil = Math.max(n.pinnedUntil, forkAt + fork);
      const rest = pkgs.filter((p) => !n!.allNames.has(p));
      this.#counts.importMsSaved += this.#imports(pkgs) - this.#imports(rest);
      return forkAt - now + fork + this.#imports(rest);
    }
    this.#counts.freshStarts++;
    return install + fresh() + this.#imports(pkgs);
  }

  zygoteEvicted(): void {
    this.#counts.zygoteEvictions++;
  }

  stats(): Record<string, number> {
    return { ...this.#counts, importMsSaved: Math.round(this.#counts.importMsSaved * 1000) / 1000 };
  }
}
