/**
 * openwhisk: Apache OpenWhisk's sharding balancer. A function's home
 * worker is hash(name) mod n; from there it steps through the workers by a
 * step size co-prime with n (chosen by the same hash), taking the first with
 * room for a sandbox of the function; if none has room, a random healthy
 * worker (OpenWhisk then lets the invoker queue).
 */
import type { Rng } from '../../common/rng.js';
import { keyHash, type Balancer, type BalancerFactory, type PlacementRequest, type WorkerView } from '../balancer.js';

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Step sizes co-prime with n (1..n), as OpenWhisk's pairwiseCoprimeNumbersUntil picks them. */
export function coprimeSteps(n: number): number[] {
  const out: number[] = [];
  for (let s = 1; s <= n; s++) if (out.every((x) => gcd(x, s) === 1) && gcd(s, n) === 1) out.push(s);
  return out;
}

class ShardingBalancer implements Balancer {
  readonly name = 'openwhisk';
  readonly #steps: number[];
  constructor(workers: number, readonly rng: Rng) {
    this.#steps = coprimeSteps(Math.max(1, workers));
  }

  // POLICY: home = h mod n, step = steps[h mod |steps|]; first healthy with freeMb >= the sandbox's memory; else random healthy
  pick(req: PlacementRequest, workers: readonly WorkerView[]): number {
    const n = workers.length;
    const h = keyHash(req.fn);
    const step = this.#steps[h % this.#steps.length]!;
    for (let i = 0, k = h % n; i < n; i++, k = (k + step) % n) {
      const w = workers[k]!;
      if (w.healthy && w.freeMb >= req.memMb) return k;
    }
    const healthy = workers.filter((w) => w.healthy);
    if (healthy.length === 0) return -1;
    return healthy[Math.floor(this.rng() * healthy.length)]!.index;
  }
}

export const openwhisk: BalancerFactory = {
  describe: "home worker by hash, then co-prime steps to the first with room for the sandbox; else random",
  source: "Apache OpenWhisk's ShardingContainerPoolBalancer",
  reads: ['freeMb'],
  options: {},
  create: (ctx) => new ShardingBalancer(ctx.workers, ctx.rng),
};
