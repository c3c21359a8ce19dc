/**
 * zygote-hash: the deepest import-tree node whose packages the lambda uses
 * is hashed onto a worker, so lambdas that fork from the same zygote share
 * a worker (and its zygote): OpenLambda's cluster branch tried this. A
 * lambda that matches no node below the root (or a cluster without a
 * tree) is keyed by its name instead, so not every such lambda lands on
 * one worker.
 */
import type { ImportTree } from '../import-tree.js';
import { firstHealthy, keyHash, type Balancer, type BalancerFactory, type PlacementRequest, type WorkerView } from '../balancer.js';

class ZygoteHash implements Balancer {
  readonly name = 'zygote-hash';
  readonly #memo = new Map<string, string>();
  constructor(readonly tree: ImportTree | undefined) {}

  #key(req: PlacementRequest): string {
    let k = this.#memo.get(req.fn);
    if (k === undefined) {
      const node = this.tree?.lookup(new Set(req.packages)).at(-1);
      k = node && node !== this.tree!.root ? `node:${node.id}` : `fn:${req.fn}`;
      this.#memo.set(req.fn, k);
    }
    return k;
  }

  // POLICY: home = hash(deepest matching tree node, else the name) mod n; a down home passes to the next healthy
  pick(req: PlacementRequest, workers: readonly WorkerView[]): number {
    return firstHealthy(workers, keyHash(this.#key(req)) % workers.length);
  }
}

export const zygoteHash: BalancerFactory = {
  describe: 'the deepest import-tree node the lambda forks from, hashed onto a worker (name if none)',
  source: "OpenLambda's cluster branch (zygote-node hashing)",
  options: {},
  create: (ctx) => new ZygoteHash(ctx.tree),
};
