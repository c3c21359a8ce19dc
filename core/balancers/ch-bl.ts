/**
 * ch-bl, consistent hashing with bounded loads (Mirrokni, Thorup and
 * Zadimoghaddam, SODA 2018): the lambda's name is hashed onto a ring of
 * virtual nodes and the request goes to the first worker clockwise whose
 * load after taking it stays within ceil(c x average), the average counting
 * this request too. Affinity while it is cheap, spill-over when a home is
 * hot. HAProxy's `hash-type consistent` with `hash-balance-factor`
 * (factor = 100 c) applies the same bound.
 */
import { HashRing, keyHash, sumViews, type Balancer, type BalancerFactory, type PlacementRequest, type ViewTotals, type WorkerView } from '../balancer.js';

class BoundedLoads implements Balancer {
  readonly name = 'ch-bl';
  readonly #ring: HashRing;
  constructor(workers: number, readonly c: number, vnodes: number) {
    this.#ring = new HashRing(workers, vnodes);
  }

  // POLICY: first worker clockwise from hash(name) with inFlight + 1 <= ceil(c * (total + 1) / healthy)
  pick(req: PlacementRequest, workers: readonly WorkerView[], totals?: ViewTotals): number {
    // the front's running sums when it keeps them (a simulated cluster of 100 workers spent a tenth of its time adding them)
    const { healthy, inFlight: total } = totals ?? sumViews(workers);
    if (healthy === 0) return -1;
    const bound = Math.ceil((this.c * (total + 1)) / healthy);
    let first = -1;
    const ring = this.#ring;
    // where the name's walk starts: the same every call of the lambda, so kept in the request when the front reuses it
    ring.beginAt(req.memo ??= ring.position(keyHash(req.fn)));
    for (let k = ring.next(); k >= 0; k = ring.next()) {
      const w = workers[k]!;
      if (!w.healthy) continue;
      if (first < 0) first = k;
      if (w.inFlight + 1 <= bound) return k;
    }
    return first; // unreachable with c >= 1: some worker is at or below the average
  }
}

export const chBl: BalancerFactory = {
  reads: ['inFlight'],
  describe: 'consistent hashing of the name, spilling clockwise past workers over c x the average load',
  source: 'Mirrokni, Thorup, Zadimoghaddam, Consistent Hashing with Bounded Loads (SODA 2018)',
  haproxy: 'hash-type consistent, hash-balance-factor 100c',
  options: {
    c: { default: 1.25, min: 1, describe: 'load bound as a multiple of the average in-flight load (HAProxy: hash-balance-factor / 100)' },
    vnodes: { default: 100, min: 1, max: 10_000, describe: 'points per worker on the ring' },
  },
  create: (ctx) => new BoundedLoads(ctx.workers, ctx.options.c!, ctx.options.vnodes!),
};
