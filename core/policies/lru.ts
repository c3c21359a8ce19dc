/**
 * LRU: keep every idle sandbox until memory runs short, then evict the one
 * idle the longest. The classic baseline of FaasCache (Fuerst & Sharma,
 * ASPLOS'21, §6) and of caching studies generally.
 */
import { BasePolicy, KEEP, SandboxList, type IdleDecision, type PolicyFactory, type SandboxView } from '../policy.js';

export class LruPolicy extends BasePolicy {
  readonly name = 'lru';
  readonly #idle = new SandboxList();

  onBusy(sb: SandboxView): void {
    this.#idle.remove(sb);
  }

  // POLICY: an idle sandbox joins the tail; the head is the least recently used.
  onIdle(sb: SandboxView): IdleDecision {
    this.#idle.push(sb);
    return KEEP;
  }

  onDestroy(sb: SandboxView): void {
    this.#idle.remove(sb);
  }

  victim(): SandboxView | undefined {
    return this.#idle.first();
  }
}

export const lru: PolicyFactory = {
  describe: 'least recently used idle sandbox is evicted when memory runs short; no expiry',
  source: 'classic LRU, as the baseline in FaasCache (Fuerst & Sharma, ASPLOS 2021)',
  options: {},
  create: () => new LruPolicy(),
};
