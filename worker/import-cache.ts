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
import { readFileSync } from 'node:fs';
import { OlError, isOlError } from '../common/errors.js';
import { PackageCache, parseRequirement, type PackageInfo } from './packages.js';
import type { Sandbox, SandboxSpec } from './sandbox/api.js';
import type { SockPool, SockZygote } from './sandbox/sock.js';
import type { WorkerStats } from './stats.js';

/** A node of the tree file. */
export interface TreeNodeSpec {
  packages: string[];
  children?: TreeNodeSpec[];
  /** Ignored by the worker; fit-tree writes what the fit expected of the node. */
  [extra: string]: unknown;
}

/** Checks a tree (parsed JSON); errors name the file and the node's path. */
export function validateTree(t: unknown, where: string, path = 'root'): TreeNodeSpec {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new OlError('OL_ERR_CONFIG', `${where}: node ${path} must be an object with "packages" and "children"`);
  const n = t as Record<string, unknown>;
  if (!Array.isArray(n.packages) || n.packages.some((p) => typeof p !== 'string')) {
    throw new OlError('OL_ERR_CONFIG', `${where}: node ${path}: "packages" must be a list of package names`);
  }
  for (const p of n.packages as string[]) parseRequirement(p, `${where}: node ${path}`);
  if (n.children !== undefined && !Array.isArray(n.children)) throw new OlError('OL_ERR_CONFIG', `${where}: node ${path}: "children" must be a list`);
  ((n.children as unknown[]) ?? []).forEach((c, i) => validateTree(c, where, `${path}.${i}`));
  return n as TreeNodeSpec;
}

/** Reads and checks a tree file; '' gives the root alone (a zygote with nothing but the runtime). */
export function loadTree(file: string): TreeNodeSpec {
  if (!file) return { packages: [], children: [] };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new OlError('OL_ERR_CONFIG', `import_tree ${file}: ${(e as Error).message}`);
  }
  return validateTree(json, `import_tree ${file}`);
}

class ZNode {
  readonly children: ZNode[] = [];
  /** Its own packages and its ancestors' (requirement lines). */
  readonly all: string[];
  /** Normalised names of `own`, what the lookup matches. */
  readonly ownNames: string[];
  zygote: SockZygote | undefined;
  creating: Promise<SockZygote | undefined> | undefined;
  /** Installed closure of `all`, once known. */
  closure: PackageInfo[] | undefined;
  failedAt = -Infinity;
  lastUsed = 0;
  forking = 0;
  constructor(readonly id: string, readonly own: string[], readonly parent: ZNode | undefined) {
    this.all = [...(parent?.all ?? []), ...own];
    this.ownNames = own.map((p) => parseRequirement(p).name);
  }
}

/** How the manager lends memory to zygotes. */
export interface ZygoteMemory {
  /** Takes `mb` from free memory, without evicting; false if there is not that much. */
  tryReserve(mb: number): boolean;
  /** Gives `mb` back once `gone` settles (the zygote is destroyed). */
  release(mb: number, gone: Promise<void>): void;
}

export interface ImportCacheOptions {
  tree: TreeNodeSpec;
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
  readonly root: ZNode;
  readonly #o: ImportCacheOptions;
  readonly #nodes: ZNode[] = [];
  #seq = 0;
  #closed = false;

  constructor(o: ImportCacheOptions) {
    this.#o = o;
    const build = (spec: TreeNodeSpec, id: string, parent: ZNode | undefined): ZNode => {
      const n = new ZNode(id, spec.packages, parent);
      this.#nodes.push(n);
      (spec.children ?? []).forEach((c, i) => n.children.push(build(c, `${id}.${i}`, n)));
      return n;
    };
    this.root = build(o.tree, '0', undefined);
  }

  /** The nodes from the root down to the deepest one whose packages the lambda has (by name). */
  lookup(names: Set<string>): ZNode[] {
    const path = [this.root];
    for (;;) {
      const here = path.at(-1)!;
      const next = here.children.find((c) => c.ownNames.every((n) => names.has(n)));
      if (!next) return path;
      path.push(next);
    }
  }

  /** Live zygotes and their memory (for /stats). */
  gauges(): { zygotes: number; zygote_mem_mb: number } {
    const n = this.#nodes.filter((x) => x.zygote).length;
    return { zygotes: n, zygote_mem_mb: n * this.#o.zygoteMb };
  }

  /** Memory zygotes hold that eviction could free now. */
  evictableMb(): number {
    return this.#nodes.filter((n) => n.zygote && n.forking === 0).length * this.#o.zygoteMb;
  }

  /**
   * Destroys one zygote to free memory: the least recently forked of those
   * with no live child zygote (else of all), never one forking right now.
   */
  evictOne(): { mb: number; gone: Promise<void> } | undefined {
    const live = this.#nodes.filter((n) => n.zygote && n.forking === 0);
    if (live.length === 0) return undefined;
    const leaves = live.filter((n) => !n.children.some((c) => c.zygote));
    const pick = (leaves.length ? leaves : live).reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
    const z = pick.zygote!;
    pick.zygote = undefined;
    this.#o.stats.count('zygote_evictions');
    return { mb: this.#o.zygoteMb, gone: z.destroy().catch(() => {}) };
  }

  /**
   * Creates the sandbox of `spec`, forked from the best zygote for its
   * closure, or fresh when none can be had. Returns the node it came from.
   */
  async create(spec: SandboxSpec, closure: PackageInfo[]): Promise<{ sb: Sandbox; node: string | null }> {
    const names = new Set(closure.filter((p) => !p.skipped).map((p) => p.name));
    const keys = new Set(closure.map((p) => p.key));
    for (let attempt = 0; attempt < 2; attempt++) {
      const got = await this.#zygoteFor(this.lookup(names), keys);
      if (!got) break;
      const { node, zygote } = got;
      node.forking++;
      node.lastUsed = performance.now();
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
  async #zygoteFor(path: ZNode[], keys: Set<string>): Promise<{ node: ZNode; zygote: SockZygote } | undefined> {
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i]!;
      const z = await this.#ensure(node);
      if (z && node.closure!.every((p) => keys.has(p.key))) return { node, zygote: z };
    }
    return undefined;
  }

  #drop(node: ZNode): void {
    const z = node.zygote;
    if (!z) return;
    node.zygote = undefined;
    this.#o.memory.release(this.#o.zygoteMb, z.destroy().catch(() => {}));
  }

  /** The node's zygote, made (with its ancestors') if need be; undefined if it cannot be had now. */
  #ensure(node: ZNode): Promise<SockZygote | undefined> {
    if (node.zygote) {
      if (node.zygote.alive()) return Promise.resolve(node.zygote);
      this.#o.stats.count('zygote_deaths');
      this.#drop(node);
    }
    if (this.#closed || performance.now() - node.failedAt < RETRY_MS) return Promise.resolve(undefined);
    node.creating ??= this.#make(node).finally(() => { node.creating = undefined; });
    return node.creating;
  }

  async #make(node: ZNode): Promise<SockZygote | undefined> {
    const t0 = performance.now();
    try {
      node.closure ??= await this.#o.packages.closure(node.all, `import-cache node ${node.id}`);
      const parent = node.parent ? await this.#ensure(node.parent) : undefined;
      if (node.parent && !parent) return undefined;
      if (!this.#o.memory.tryReserve(this.#o.zygoteMb)) {
        this.#o.stats.count('zygote_no_memory');
        return undefined;
      }
      const inParent = new Set((node.parent?.closure ?? []).map((p) => p.key));
      const imports = node.closure.filter((p) => !p.skipped && !inParent.has(p.key)).flatMap((p) => p.topLevel);
      let z: SockZygote;
      try {
        z = await this.#o.pool.createZygote({
          id: `zygote-${node.id}-${this.#seq++}`, packages: PackageCache.mounts(node.closure), imports,
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
      node.zygote = z;
      node.lastUsed = performance.now();
      this.#o.stats.count('zygotes_created');
      this.#o.stats.time('zygote', performance.now() - t0);
      return z;
    } catch (e) {
      node.failedAt = performance.now();
      this.#o.stats.count('zygote_failures');
      this.#o.log?.warn({ err: e, node: node.id, packages: node.all }, 'a zygote could not be made; its lambdas start without it');
      return undefined;
    }
  }

  /** Destroys every zygote. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#nodes.map((n) => n.creating?.catch(() => {})));
    for (const n of this.#nodes) this.#drop(n);
  }

}
