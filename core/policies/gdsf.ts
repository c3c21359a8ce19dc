/** GDSF, FaasCache's keep-alive policy; see greedy-dual.ts for the rule. */
import type { PolicyFactory } from '../policy.js';
import { GreedyDualPolicy } from './greedy-dual.js';

export const gdsf: PolicyFactory = {
  describe: 'Greedy-Dual-Size-Frequency: evict lowest clock + freq × cold-start cost / memory',
  source: 'FaasCache (Fuerst & Sharma, ASPLOS 2021); GDSF of Cherkasova (HP Labs, 1998)',
  options: {},
  create: () => new GreedyDualPolicy('gdsf', true),
};
