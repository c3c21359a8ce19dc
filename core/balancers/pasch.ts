/**
 * pasch, package-aware scheduling (Aumala, Boza, Gerace, Zhang, Wang,
 * Vakilinia, CCGrid 2019, built on OpenLambda): the function's largest
 * package is hashed to two candidate workers (two hash functions, as in
 * the power of two choices) and the less loaded one gets it, so a package
 * stays on few workers whose caches keep it; once the chosen worker is past
 * the load threshold, the least-loaded worker instead. A function without
 * packages is keyed by its name.
 */
import { firstHealthy, keyHash, leastLoaded, type Balancer, type BalancerFactory, type PlacementRequest, type WorkerView } from '../balancer.js';

class PackageAware implements Balancer {
  readonly name = 'pasch';
  constructor(readonly threshold: number) {}

  // POLICY: key = largest package (else the name); candidates hash1(key), hash2(key); fewer in flight wins; over threshold: least loaded
  pick(req: PlacementRequest, workers: readonly WorkerView[]): number {
    const n = workers.length;
    const key = req.packages[0] ?? req.fn;
    const a = firstHealthy(workers, keyHash(`1:${key}`) % n);
    if (a < 0) return -1;
    const b = firstHealthy(workers, keyHash(`2:${key}`) % n);
    const k = workers[b]!.inFlight < workers[a]!.inFlight ? b : a;
    if (workers[k]!.inFlight >= this.threshold) return leastLoaded(workers);
    return k;
  }
}

export const pasch: BalancerFactory = {
  reads: ['inFlight'],
  describe: "the function's largest package hashed to two workers, the less loaded wins; past a load threshold, the least loaded",
  source: 'Aumala et al., Beyond Load Balancing: Package-Aware Scheduling for Serverless Platforms (CCGrid 2019)',
  options: { threshold: { default: 4, min: 1, describe: 'requests in flight at which the package-affine choice gives way to the least-loaded worker' } },
  create: (ctx) => new PackageAware(ctx.options.threshold!),
};
