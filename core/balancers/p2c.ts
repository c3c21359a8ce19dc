/**
 * p2c, the power of two choices: two distinct healthy workers drawn at
 * random, the one with fewer requests in flight wins (the first on a tie).
 * Mitzenmacher's result: exponentially shorter maximum queues than one
 * random choice. Knative's activator and Envoy's least_request use it.
 */
import type { Rng } from '../../common/rng.js';
import type { Balancer, BalancerFactory, PlacementRequest, ViewTotals, WorkerView } from '../balancer.js';

class PowerOfTwo implements Balancer {
  readonly name = 'p2c';
  readonly #healthy: number[] = [];
  constructor(readonly rng: Rng) {}

  // POLICY: two distinct uniform draws among the healthy; fewer in flight wins, the first draw on a tie
  pick(_req: PlacementRequest, workers: readonly WorkerView[], totals?: ViewTotals): number {
    // every worker healthy (the front's sums say so): the healthy are the workers themselves, in order, and the
    // draws pick the same two without listing them (a simulated front of 100 workers spent a tenth of its run
    // listing them)
    const all = totals !== undefined && totals.healthy === workers.length;
    const h = this.#healthy;
    if (!all) {
      h.length = 0;
      for (const w of workers) if (w.healthy) h.push(w.index);
    }
    const n = all ? workers.length : h.length;
    if (n === 0) return -1;
    if (n === 1) return all ? 0 : h[0]!;
    const i = Math.floor(this.rng() * n);
    let j = Math.floor(this.rng() * (n - 1));
    if (j >= i) j++;
    const a = workers[all ? i : h[i]!]!, b = workers[all ? j : h[j]!]!;
    return b.inFlight < a.inFlight ? b.index : a.index;
  }
}

export const p2c: BalancerFactory = {
  reads: ['inFlight'],
  describe: 'two random healthy workers, the one with fewer requests in flight wins',
  source: "Mitzenmacher, The Power of Two Choices (IEEE TPDS 2001); Knative's activator, Envoy's least_request",
  options: {},
  create: (ctx) => new PowerOfTwo(ctx.rng),
};
