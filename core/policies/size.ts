/** Largest sandbox first: frees the most memory per eviction. */
import type { PolicyFactory } from '../policy.js';
import { RankedPolicy } from './ranked.js';

export const size: PolicyFactory = {
  describe: 'largest memory first, ties to the oldest sandbox',
  source: 'the SIZE baseline of FaasCache (Fuerst & Sharma, ASPLOS 2021)',
  options: {},
  // POLICY: bigger sandboxes rank lower, so they are evicted first
  create: () => new RankedPolicy('size', (sb) => -sb.memMb),
};
