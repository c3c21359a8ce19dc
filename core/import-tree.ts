/**
 * The import tree (SOCK's import cache, OpenLambda's zygote tree): the
 * spec a tree file holds, its validation, and the three decisions made on
 * it — which node a lambda forks from, which zygotes could give their
 * memory back, and which one goes first. The worker (real zygotes) and the
 * simulator (modelled zygotes) both keep their nodes here and only add how
 * a zygote is made; neither decides these things on its own.
 *
 * A node's zygote is "live" once it exists (in the simulator: from the
 * moment it is being made, with `readyAt` saying when it is usable); it can
 * give its memory back only when it is ready and no fork is using it.
 */
import { OlError } from '../common/errors.js';
import { parseRequirement } from './requirements.js';

/** A node of the tree file. */
export interface TreeNodeSpec {
  packages: string[];
  children?: TreeNodeSpec[];
  /** Ignored by the worker; fit-tree writes what the fit expected of the node. */
  [extra: string]: unknown;
}

/** Checks a tree (parsed JSON); errors name `where` and the node's path. */
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

/** One node and its zygote's state. */
export class TreeNode {
  readonly children: TreeNode[] = [];
  /** Its own packages and its ancestors' (requirement lines as written). */
  readonly all: string[];
  /** Normalised names of its own packages: what the lookup matches. */
  readonly ownNames: string[];
  /** Normalised names of `all`. */
  readonly allNames: Set<string>;
  /** A zygote exists (or, in the simulator, is being made). */
  live = false;
  /** When the zygote is usable (the simulator's; the worker's zygotes are live once ready). */
  readyAt = -Infinity;
  /** Forks using the zygote right now (it cannot be evicted meanwhile). */
  forking = 0;
  /** The simulator's stand-in for `forking`: the zygote is in use by forks until then. */
  pinnedUntil = -Infinity;
  /** When the zygote was made or last forked from. */
  lastUsed = 0;
  constructor(readonly id: string, readonly own: string[], readonly parent: TreeNode | undefined) {
    this.all = [...(parent?.all ?? []), ...own];
    this.ownNames = own.map((p) => parseRequirement(p).name);
    this.allNames = new Set([...(parent?.allNames ?? []), ...this.ownNames]);
  }
}

/** The tree's nodes and the rules on them. */
export class ImportTree {
  readonly root: TreeNode;
  readonly nodes: TreeNode[] = [];

  constructor(spec: TreeNodeSpec) {
    const build = (s: TreeNodeSpec, id: string, parent: TreeNode | undefined): TreeNode => {
      const n = new TreeNode(id, s.packages, parent);
      this.nodes.push(n);
      (s.children ?? []).forEach((c, i) => n.children.push(build(c, `${id}.${i}`, n)));
      return n;
    };
    this.root = build(spec, '0', undefined);
  }

  // POLICY: the deepest node whose packages the lambda has (first matching child first), never a package it did not ask for
  /** The nodes from the root down to the deepest one whose packages are all in `names` (normalised). */
  lookup(names: ReadonlySet<string>): TreeNode[] {
    const path = [this.root];
    for (;;) {
      const here = path.at(-1)!;
      const next = here.children.find((c) => c.ownNames.every((n) => names.has(n)));
      if (!next) return path;
      path.push(next);
    }
  }

  /** Whether `n`'s zygote could give its memory back at `now`: ready, and not forking. */
  static evictable(n: TreeNode, now: number): boolean {
    return n.live && n.readyAt <= now && n.forking === 0 && n.pinnedUntil <= now;
  }

  /** Zygotes that could give their memory back at `now`. */
  evictable(now: number): TreeNode[] {
    return this.nodes.filter((n) => ImportTree.evictable(n, now));
  }

  /** How many zygotes could give their memory back at `now`. */
  evictableCount(now: number): number {
    let k = 0;
    for (const n of this.nodes) if (ImportTree.evictable(n, now)) k++;
    return k;
  }

  /** Live zygotes. */
  liveCount(): number {
    let k = 0;
    for (const n of this.nodes) if (n.live) k++;
    return k;
  }

  // POLICY: leaves (no live child zygote) before their parents, then the least recently forked
  /** The zygote to evict at `now`, marked no longer live; undefined if none can go. */
  evictOne(now: number): TreeNode | undefined {
    const live = this.evictable(now);
    if (live.length === 0) return undefined;
    const leaves = live.filter((n) => !n.children.some((c) => c.live));
    const pick = (leaves.length ? leaves : live).reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
    pick.live = false;
    pick.readyAt = -Infinity;
    return pick;
  }
}
