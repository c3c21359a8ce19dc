/**
 * Policies that evict the idle sandbox with the smallest fixed rank, where
 * the rank is computed when the sandbox goes idle; ties go to the older
 * sandbox (smaller id). `freq` and `size` are both this with a rank function.
 */
import { BasePolicy, KEEP, SandboxHeap, type IdleDecision, type SandboxView } from '../policy.js';

export class RankedPolicy extends BasePolicy {
  readonly name: string;
  readonly #heap = new SandboxHeap();
  readonly #rank: (sb: SandboxView, invocations: ArrayLike<number>) => number;
  #calls = new Float64Array(64);

  constructor(name: string, rank: (sb: SandboxView, invocations: ArrayLike<number>) => number) {
    super();
    this.name = name;
    this.#rank = rank;
  }

  override onInvoke(fnId: number): void {
    if (fnId >= this.#calls.length) {
      const c = new Float64Array(Math.max(fnId + 1, this.#calls.length * 2));
      c.set(this.#calls);
      this.#calls = c;
    }
    this.#calls[fnId]!++;
  }

  onBusy(sb: SandboxView): void {
    this.#heap.remove(sb);
  }

  onIdle(sb: SandboxView): IdleDecision {
    this.#heap.push(sb, this.#rank(sb, this.#calls));
    return KEEP;
  }

  onDestroy(sb: SandboxView): void {
    this.#heap.remove(sb);
  }

  victim(): SandboxView | undefined {
    return this.#heap.min();
  }
}
