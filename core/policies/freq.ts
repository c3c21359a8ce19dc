/** LFU over functions: evict a sandbox of the least-invoked function. */
import type { PolicyFactory } from '../policy.js';
import { RankedPolicy } from './ranked.js';

export const freq: PolicyFactory = {
  describe: 'least frequently invoked function first (LFU), ties to the oldest sandbox',
  source: 'the FREQ baseline of FaasCache (Fuerst & Sharma, ASPLOS 2021)',
  options: {},
  // POLICY: the function's invocation count so far, when its sandbox went idle
  create: () => new RankedPolicy('freq', (sb, calls) => calls[sb.fnId] ?? 0),
};
