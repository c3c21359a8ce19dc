/** random: a healthy worker drawn uniformly (the baseline of load-balancing studies). */
import type { Rng } from '../../common/rng.js';
import type { Balancer, BalancerFactory, PlacementRequest, WorkerView } from '../balancer.js';

class RandomBalancer implements Balancer {
  readonly name = 'random';
  constructor(readonly rng: Rng) {}

  // POLICY: uniform over the healthy workers (one draw per request)
  pick(_req: PlacementRequest, workers: readonly WorkerView[]): number {
    let healthy = 0;
    for (const w of workers) if (w.healthy) healthy++;
    if (healthy === 0) return -1;
    let k = Math.floor(this.rng() * healthy);
    for (const w of workers) {
      if (!w.healthy) continue;
      if (k-- === 0) return w.index;
    }
    return -1;
  }
}

export const random: BalancerFactory = {
  describe: 'a healthy worker drawn uniformly at random',
  source: 'the classic baseline (e.g. Mitzenmacher, "The Power of Two Choices", 2001)',
  options: {},
  create: (ctx) => new RandomBalancer(ctx.rng),
};
