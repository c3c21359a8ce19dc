/**
 * The import cache (SOCK's zygotes, as OpenLambda's import-cache tree): a
 * tree of nodes, each naming packages; a node's zygote is a sandbox whose
 * Python has imported its packages and those of its ancestors, and serves
 * fork requests. A new sandbox of a lambda is forked from the deepest node
 * whose packages the lambda's own closure contains (never a package it did
 * not ask for, directly or through a dependency; the same installed folder,
 * so the same version), and imports only the rest itself.
 *
 * Zygotes are made lazily, on the first cold start that wants them: the
 * root one from a fresh interpreter, the others forked from their parent's
 * zygote. They take `zygote_mem_mb` each from the worker's memory pool,
 * only from free memory (a zygote never evicts a sandbox), and give it back
 * when memory runs short (least recently forked first, leaves before their
 * parents) or when they die; a dead zygote is made again when next needed.
 *
 * The tree file (`import_tree`), e.g. from `ol-exp fit-tree`:
 * `{"packages": [], "children": [{"packages": ["numpy"], "children": []}]}`.
 */
import { isOlError } from '../common/errors.js';
import type { Clock } from '../core/clock.js';
import { ImportTree, type TreeNode, type TreeNodeSpec } from '../core/import-tree.js';
import { PackageCache, type PackageInfo } from './packages.js';
import type { Sandbox, SandboxSpec } from './sandbox/api.js';
import type { SockPool, SockZygote } from './sandbox/sock.js';
import type { WorkerStats } from './stats.js';

/** What the worker keeps of a node beside the core's state: the zygote itself and how it is made. */
interface ZState {
  zygote: SockZygote | undefined;
  creating: Promise<SockZygote | undefined> | undefined;
  /** Installed closure of the node's packages, once known. */
  closure: PackageInfo[] | undefined;
  failedAt: number;
}

/** How the manager lends memory to zygotes (its core pool's books). */
export interface ZygoteMemory {
  /** Takes `mb` from free memory, without evicting; false if there is not that much. */
  tryReserve(mb: number): boolean;
  /** Gives `mb` back once `gone` settles (the zygote is destroyed). */
  release(mb: number, gone: Promise<void>): void;
}

export interface ImportCacheOptions {
  tree: TreeNodeSpec;
  clock: Clock;
  pool: SockPool;
  packages: PackageCache;
  memory: ZygoteMemory;
  stats: WorkerStats;
  zygoteMb: number;
  pids: number;
  tmpMb: number;
  log?: { warn(obj: unknown, msg?: string): void };
}

/**
 * Whether a zygote whose fork just failed is gone or going: a zygote killed
 * a moment ago still lists its processes until they have exited.
 */
async function diesSoon(z: SockZygote): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    if (!z.alive()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** After a zygote fails to start, its node is skipped this long. */
const RETRY_MS = 10_000;

export class ImportCache {
  /** The nodes and the rules on them (lookup, which zygote goes), shared with the simulator. */
  readonly tree: ImportTree;
  readonly #o: ImportCacheOptions;
  readonly #state = new Map<TreeNode, ZState>();
  #seq = 0;
  #closed = false;

  constructor(o: ImportCacheOptions) {
    this.#o = o;
    this.tree = new ImportTree(o.tree);
    for (const n of this.tree.nodes) this.#state.set(n, { zygote: undefined, creating: undefined, closure: undefined, failedAt: -Infinity });
  }

  #st(n: TreeNode): ZState {
    return this.#state.get(n)!;
  }

  /** Live zygotes and their memory (for /stats). */
  gauges(): { zygotes: number; zygote_mem_mb: number } {
    const n = this.tree.liveCount();
    return { zygotes: n, zygote_mem_mb: n * this.#o.zygoteMb };
  }

  /** The core pool chose `node`'s zygote to give its memory back: destroys it; settles when it is gone. */
  evicted(node: TreeNode): Promise<void> {
    const st = this.#st(node);
    const z = st.zygote;
    st.zygote = undefined;
    this.#o.stats.count('zygote_evictions');
    return z ? z.destroy().catch(() => {}) : Promise.resolve();
  }

  /**
   * Creates the sandbox of `spec`, forked from the best zygote for its
   * closure, or fresh when none can be had. Returns the node it came from.
   */
  async create(spec: SandboxSpec, closure: PackageInfo[]): Promise<{ sb: Sandbox; node: string | null }> {
    const names = new Set(closure.filter((p) => !p.skipped).map((p) => p.name));
    const keys = new Set(closure.map((p) => p.key));
    for (let attempt = 0; attempt < 2; attempt++) {
      const got = await this.#zygoteFor(this.tree.lookup(names), keys);
      if (!got) break;
      const { node, zygote } = got;
      node.forking++;
      node.lastUsed = this.#o.clock.now();
      try {
        const sb = await this.#o.pool.create({ ...spec, zygote });
        this.#o.stats.count('zygote_forks');
        return { sb, node: node.id };
      } catch (e) {
        // the lambda's fault (its import failed, or it died starting), unless the zygote is dying
        if (isOlError(e, 'OL_ERR_HANDLER') || !(await diesSoon(zygote))) throw e;
        this.#o.stats.count('zygote_deaths');
        this.#o.log?.warn({ err: e, zygote: zygote.id }, 'a zygote died; it will be made again');
        this.#drop(node);
      } finally {
        node.forking--;
      }
    }
    this.#o.stats.count('zygote_fallbacks');
    return { sb: await this.#o.pool.create(spec), node: null };
  }

  /** The deepest zygote on the path that can be had and whose installed packages the lambda has too. */
  async #zygoteFor(path: TreeNode[], keys: Set<string>): Promise<{ node: TreeNode; zygote: SockZygote } | undefined> {
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i]!;
      const z = await this.#ensure(node);
      if (z && this.#st(node).closure!.every((p) => keys.has(p.key))) return { node, zygote: z };
    }
    return undefined;
  }

  #drop(node: TreeNode): void {
    const st = this.#st(node);
    const z = st.zygote;
    if (!z) return;
    st.zygote = undefined;
    node.live = false;
    this.#o.memory.release(this.#o.zygoteMb, z.destroy().catch(() => {}));
  }

  /** The node's zygote, made (with its ancestors') if need be; undefined if it cannot be had now. */
  #ensure(node: TreeNode): Promise<SockZygote | undefined> {
    const st = this.#st(node);
    if (st.zygote) {
      if (st.zygote.alive()) return Promise.resolve(st.zygote);
      this.#o.stats.count('zygote_deaths');
      this.#drop(node);
    }
    if (this.#closed || performance.now() - st.failedAt < RETRY_MS) return Promise.resolve(undefined);
    st.creating ??= this.#make(node).finally(() => { st.creating = undefined; });
    return st.creating;
  }

  async #make(node: TreeNode): Promise<SockZygote | undefined> {
    const st = this.#st(node);
    const t0 = performance.now();
    try {
      st.closure ??= await this.#o.packages.closure(node.all, `import-cache node ${node.id}`);
      const parent = node.parent ? await this.#ensure(node.parent) : undefined;
      if (node.parent && !parent) return undefined;
      if (!this.#o.memory.tryReserve(this.#o.zygoteMb)) {
        this.#o.stats.count('zygote_no_memory');
        return undefined;
      }
      const inParent = new Set((node.parent ? this.#st(node.parent).closure ?? [] : []).map((p) => p.key));
      const imports = st.closure.filter((p) => !p.skipped && !inParent.has(p.key)).flatMap((p) => p.topLevel);
      let z: SockZygote;
      try {
        z = await this.#o.pool.createZygote({
          id: `zygote-${node.id}-${this.#seq++}`, packages: PackageCache.mounts(st.closure), imports,
          memoryMb: this.#o.zygoteMb, pids: this.#o.pids, tmpMb: this.#o.tmpMb,
        }, parent);
      } catch (e) {
        this.#o.memory.release(this.#o.zygoteMb, Promise.resolve());
        throw e;
      }
      if (this.#closed) {
        this.#o.memory.release(this.#o.zygoteMb, z.destroy());
        return undefined;
      }
      st.zygote = z;
      node.live = true;
      node.lastUsed = this.#o.clock.now();
      this.#o.stats.count('zygotes_created');
      this.#o.stats.time('zygote', performance.now() - t0);
      return z;
    } catch (e) {
      st.failedAt = performance.now();
      this.#o.stats.count('zygote_failures');
      this.#o.log?.warn({ err: e, node: node.id, packages: node.all }, 'a zygote could not be made; its lambdas start without it');
      return undefined;
    }
  }

  /** Destroys every zygote. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#state.values()].map((st) => st.creating?.catch(() => {})));
    for (const n of this.tree.nodes) this.#drop(n);
  }
}
