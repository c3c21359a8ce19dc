/**
 * TTL: the fixed keep-alive of commercial platforms (AWS Lambda, Azure
 * Functions and OpenWhisk keep an idle sandbox for about 10 to 20 minutes;
 * see Shahrad et al., ATC'20, §4). An idle sandbox is destroyed after
 * `keepAliveMs`; if memory runs short first, the one closest to expiry goes,
 * which for one fixed TTL is the one idle the longest.
 */
import { BasePolicy, SandboxList, type IdleDecision, type PolicyContext, type PolicyFactory, type SandboxView } from '../policy.js';

export class TtlPolicy extends BasePolicy {
  readonly name = 'ttl';
  readonly #idle = new SandboxList();
  readonly #decision: IdleDecision;

  constructor(keepAliveMs: number) {
    super();
    this.#decision = Object.freeze({ pause: false, keepAliveMs });
  }

  onBusy(sb: SandboxView): void {
    this.#idle.remove(sb);
  }

  // POLICY: every idle sandbox gets the same keep-alive.
  onIdle(sb: SandboxView): IdleDecision {
    this.#idle.push(sb);
    return this.#decision;
  }

  onDestroy(sb: SandboxView): void {
    this.#idle.remove(sb);
  }

  victim(): SandboxView | undefined {
    return this.#idle.first();
  }
}

export const ttl: PolicyFactory = {
  describe: 'fixed keep-alive (default 10 min); under memory pressure the oldest idle sandbox goes',
  source: 'fixed keep-alive of commercial platforms (Shahrad et al., USENIX ATC 2020, §4)',
  options: { keepAliveMs: { default: 600_000, min: 0, describe: 'how long an idle sandbox is kept, ms' } },
  create: (ctx: PolicyContext) => new TtlPolicy(ctx.options.keepAliveMs!),
};
