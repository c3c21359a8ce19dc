/**
 * OpenLambda's SOCK evictor (`src/worker/sandbox/evictors.go`): a sandbox is
 * paused the moment it goes idle; the evictor destroys paused sandboxes in
 * the order they were paused, oldest first, and works ahead of need so that
 * about 20% of the memory pool stays free for new sandboxes (OpenLambda's
 * FREE_SANDBOXES_PERCENT_GOAL). Running sandboxes are never chosen here:
 * OpenLambda evicts them only in a critical shortage and fails the request,
 * which this model leaves to the queue instead.
 */
import { BasePolicy, SandboxList, type IdleDecision, type PolicyContext, type PolicyFactory, type SandboxView } from '../policy.js';

const PAUSE: IdleDecision = Object.freeze({ pause: true, keepAliveMs: Infinity });

export class OpenLambdaPolicy extends BasePolicy {
  readonly name = 'openlambda';
  override readonly freeTargetMb: number;
  readonly #paused = new SandboxList();

  constructor(capacityMb: number, freeFraction: number) {
    super();
    // POLICY: why 20%? New sandboxes start without waiting for an eviction.
    this.freeTargetMb = capacityMb * freeFraction;
  }

  onBusy(sb: SandboxView): void {
    this.#paused.remove(sb);
  }

  // POLICY: pause at once; victims in pause order
  onIdle(sb: SandboxView): IdleDecision {
    this.#paused.push(sb);
    return PAUSE;
  }

  onDestroy(sb: SandboxView): void {
    this.#paused.remove(sb);
  }

  victim(): SandboxView | undefined {
    return this.#paused.first();
  }
}

export const openlambda: PolicyFactory = {
  describe: "OpenLambda's evictor: pause idle sandboxes at once, evict oldest paused, keep ~20% free",
  source: 'open-lambda/open-lambda, src/worker/sandbox/evictors.go (SOCKEvictor)',
  options: { freeFraction: { default: 0.2, min: 0, max: 1, describe: 'fraction of the pool kept free by evicting ahead of need' } },
  create: (ctx: PolicyContext) => new OpenLambdaPolicy(ctx.capacityMb, ctx.options.freeFraction!),
};
