/**
 * least-loaded: the healthy worker with the fewest requests in flight,
 * ties broken round-robin (as HAProxy's `balance leastconn` does).
 */
import { leastLoaded as pickLeast, type Balancer, type BalancerFactory, type PlacementRequest, type WorkerView } from '../balancer.js';

class LeastLoaded implements Balancer {
  readonly name = 'least-loaded';
  #from = 0;

  // POLICY: fewest in flight; among equals, the first from a cursor that moves on each pick
  pick(_req: PlacementRequest, workers: readonly WorkerView[]): number {
    const k = pickLeast(workers, this.#from);
    if (k >= 0) this.#from = (k + 1) % workers.length;
    return k;
  }
}

export const leastLoaded: BalancerFactory = {
  reads: ['inFlight'],
  describe: 'the healthy worker with the fewest requests in flight (ties round-robin)',
  source: 'join-the-shortest-queue',
  haproxy: 'balance leastconn',
  options: {},
  create: () => new LeastLoaded(),
};
