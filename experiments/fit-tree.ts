/**
 * Forklift (Caraza-Harter et al., WoSC'24): fit an import-cache tree to the
 * packages lambdas really use. Input: which packages each lambda's
 * sandboxes load and how often it is called; the import cost of each
 * package. Output: the tree JSON the worker loads (`import_tree`).
 *
 * The fit is greedy and best-first. Every call sits at the deepest node
 * whose packages it has (as the worker's lookup does, first matching child
 * first). A split (node n, package p) creates a child of n holding p; the
 * calls at n that use p move into it, and each of them no longer pays p's
 * import at its cold start. Its gain is therefore the sum over those calls
 * of calls × import_ms(p). The fit repeats the split of largest gain
 * anywhere in the tree until the tree has `nodes` nodes or no split gains
 * anything; ties go to the package named first in sort order, so the fit
 * is deterministic.
 *
 * Call counts stand in for cold starts: a lambda called more often also
 * starts more sandboxes under the same policy. Import costs measured in a
 * fresh interpreter include the package's own dependencies, so a chain of
 * nodes counts a shared dependency more than once; the fit still orders
 * packages rightly when dependencies are cheap next to what needs them.
 */
import { OlError } from '../common/errors.js';
import type { Usage } from '../traces/packages.js';
import type { TreeNodeSpec } from '../core/import-tree.js';
import { normalizeName } from '../core/requirements.js';

/** The fitted tree; each node also says what the fit expects of it. */
export interface FittedNode extends TreeNodeSpec {
  packages: string[];
  children: FittedNode[];
  /** Calls whose deepest node this is. */
  calls: number;
  /** Import time those calls save per cold start, summed (calls × ms). */
  gain_ms: number;
}

interface Work {
  node: FittedNode;
  path: Set<string>;
  /** Indexes of the usages sitting here. */
  here: number[];
}

/** Fits a tree of at most `nodes` nodes (the root included). */
export function fitTree(usage: Usage[], importMs: (pkg: string) => number, nodes: number): FittedNode {
  if (!Number.isInteger(nodes) || nodes < 1) throw new OlError('OL_ERR_CONFIG', `--nodes must be a whole number >= 1, got ${nodes}`);
  const root: FittedNode = { packages: [], children: [], calls: 0, gain_ms: 0 };
  const work: Work[] = [{ node: root, path: new Set(), here: usage.map((_, i) => i) }];
  const pkgSets = usage.map((u) => new Set(u.packages));
  let count = 1;
  while (count < nodes) {
    let best: { w: Work; pkg: string; gain: number } | undefined;
    for (const w of work) {
      const gain = new Map<string, number>();
      for (const i of w.here) {
        for (const p of usage[i]!.packages) if (!w.path.has(p)) gain.set(p, (gain.get(p) ?? 0) + usage[i]!.calls * importMs(p));
      }
      for (const [pkg, g] of gain) {
        if (g > 0 && (!best || g > best.gain || (g === best.gain && pkg < best.pkg))) best = { w, pkg, gain: g };
      }
    }
    if (!best) break;
    const { w, pkg, gain } = best;
    const child: FittedNode = { packages: [pkg], children: [], calls: 0, gain_ms: Math.round(gain * 1000) / 1000 };
    w.node.children.push(child);
    const moved = w.here.filter((i) => pkgSets[i]!.has(pkg));
    w.here = w.here.filter((i) => !pkgSets[i]!.has(pkg));
    work.push({ node: child, path: new Set([...w.path, pkg]), here: moved });
    count++;
  }
  for (const w of work) w.node.calls = w.here.reduce((s, i) => s + usage[i]!.calls, 0);
  return root;
}

/** Import time saved per round of every lambda's cold start with this tree: Σ calls × import of the packages its node holds. */
export function treeGain(tree: TreeNodeSpec, usage: Usage[], importMs: (pkg: string) => number): number {
  let total = 0;
  for (const u of usage) {
    const have = new Set(u.packages);
    let node = tree;
    const held: string[] = [...node.packages];
    for (;;) {
      const next = (node.children ?? []).find((c) => c.packages.every((p) => have.has(normalizeName(p))));
      if (!next) break;
      held.push(...next.packages);
      node = next;
    }
    total += u.calls * held.reduce((s, p) => s + importMs(normalizeName(p)), 0);
  }
  return total;
}
