/**
 * hermod (Kaffes, Yadwadkar, Kozyrakis, SoCC 2022): at low load, pack —
 * send the request to the busiest worker still under the load threshold,
 * preferring one that keeps a warm sandbox of the function — so fewer
 * workers hold sandboxes and more requests find one warm; once every
 * worker is at the threshold, spread to the least loaded.
 */
import { leastLoaded, type Balancer, type BalancerFactory, type PlacementRequest, type WorkerView } from '../balancer.js';

class Hermod implements Balancer {
  readonly name = 'hermod';
  constructor(readonly threshold: number) {}

  // POLICY: under the threshold: warm first, then the most loaded (lowest index on a tie); none under it: least loaded
  pick(req: PlacementRequest, workers: readonly WorkerView[]): number {
    let best = -1, bestWarm = false;
    for (const w of workers) {
      if (!w.healthy || w.inFlight >= this.threshold) continue;
      const warm = w.warm(req.fn) > 0;
      if (best < 0 || (warm && !bestWarm) || (warm === bestWarm && w.inFlight > workers[best]!.inFlight)) {
        best = w.index;
        bestWarm = warm;
      }
    }
    return best >= 0 ? best : leastLoaded(workers);
  }
}

export const hermod: BalancerFactory = {
  describe: 'below a load threshold pack onto busy workers (warm ones first); above it, the least loaded',
  source: 'Kaffes et al., Hermod: Principled and Practical Scheduling for Serverless Functions (SoCC 2022)',
  reads: ['inFlight', 'warm'],
  options: { threshold: { default: 2, min: 1, describe: 'requests in flight at which a worker counts as full for packing (about its cores)' } },
  create: (ctx) => new Hermod(ctx.options.threshold!),
};
