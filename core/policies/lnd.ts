/**
 * Landlord (Young, Algorithmica 2002) with the credit reset to the full cost
 * on every use: GreedyDual-Size, FaasCache's frequency-free variant.
 */
import type { PolicyFactory } from '../policy.js';
import { GreedyDualPolicy } from './greedy-dual.js';

export const lnd: PolicyFactory = {
  describe: 'Landlord / GreedyDual-Size: evict lowest clock + cold-start cost / memory',
  source: 'Young, "On-line file caching", Algorithmica 2002; as compared in FaasCache (ASPLOS 2021)',
  options: {},
  create: () => new GreedyDualPolicy('lnd', false),
};
