/**
 * hash: the lambda's name hashed onto the workers (affinity: one lambda's
 * requests share one worker's warm sandboxes, packages and zygotes). An
 * unhealthy home passes its lambdas to the next healthy worker. HAProxy's
 * `balance uri` with `hash-type map-based` does the same on the URI.
 */
import { firstHealthy, keyHash, type Balancer, type BalancerFactory, type PlacementRequest, type WorkerView } from '../balancer.js';

class HashBalancer implements Balancer {
  readonly name = 'hash';

  // POLICY: home = hash(name) mod n; if it is down, the next healthy worker after it
  pick(req: PlacementRequest, workers: readonly WorkerView[]): number {
    return firstHealthy(workers, keyHash(req.fn) % workers.length);
  }
}

export const hash: BalancerFactory = {
  describe: "the lambda's name hashed onto a worker (affinity); a down worker's lambdas go to the next",
  source: "lambda-name hashing (OpenLambda's cluster branch)",
  haproxy: 'balance uri (hash-type map-based)',
  options: {},
  create: () => new HashBalancer(),
};
