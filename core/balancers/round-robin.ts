/**
 * round-robin: each request to the next healthy worker in turn, whatever
 * it runs and however busy it is. OpenLambda's boss places this way; so
 * does HAProxy's `balance roundrobin`.
 */
import { firstHealthy, type Balancer, type BalancerFactory, type PlacementRequest, type WorkerView } from '../balancer.js';

class RoundRobin implements Balancer {
  readonly name = 'round-robin';
  #next = 0;

  // POLICY: the next healthy worker after the last one picked
  pick(_req: PlacementRequest, workers: readonly WorkerView[]): number {
    const k = firstHealthy(workers, this.#next);
    if (k >= 0) this.#next = (k + 1) % workers.length;
    return k;
  }
}

export const roundRobin: BalancerFactory = {
  describe: 'each request to the next healthy worker in turn',
  source: "OpenLambda's boss (go/boss)",
  haproxy: 'balance roundrobin',
  options: {},
  create: () => new RoundRobin(),
};
