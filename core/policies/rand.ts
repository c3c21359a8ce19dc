/** Uniformly random victim among idle sandboxes (seeded): a floor for comparisons. */
import { BasePolicy, KEEP, type IdleDecision, type PolicyContext, type PolicyFactory, type SandboxView } from '../policy.js';
import type { Rng } from '../../common/rng.js';

export class RandomPolicy extends BasePolicy {
  readonly name = 'rand';
  readonly #idle: SandboxView[] = [];
  readonly #rng: Rng;

  constructor(rng: Rng) {
    super();
    this.#rng = rng;
  }

  #remove(sb: SandboxView): void {
    const i = sb.policySlot as number | undefined;
    if (i === undefined || i < 0) return;
    const last = this.#idle.pop()!;
    if (last !== sb) {
      this.#idle[i] = last;
      last.policySlot = i;
    }
    sb.policySlot = -1;
  }

  onBusy(sb: SandboxView): void {
    this.#remove(sb);
  }

  onIdle(sb: SandboxView): IdleDecision {
    sb.policySlot = this.#idle.length;
    this.#idle.push(sb);
    return KEEP;
  }

  onDestroy(sb: SandboxView): void {
    this.#remove(sb);
  }

  // POLICY: any idle sandbox, uniformly
  victim(): SandboxView | undefined {
    const n = this.#idle.length;
    return n === 0 ? undefined : this.#idle[Math.floor(this.#rng() * n)];
  }
}

export const rand: PolicyFactory = {
  describe: 'a uniformly random idle sandbox (seeded), a floor to compare against',
  source: 'the RAND baseline of FaasCache (Fuerst & Sharma, ASPLOS 2021)',
  options: {},
  create: (ctx: PolicyContext) => new RandomPolicy(ctx.rng),
};
