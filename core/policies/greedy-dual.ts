/**
 * Greedy-Dual family (Cao & Irani, USITS'97; Cherkasova, HP TR 1998), as
 * FaasCache (Fuerst & Sharma, ASPLOS'21) applies it to keep-alive: every idle
 * sandbox has priority = clock + frequency × cost / size, the lowest goes
 * first, and the clock becomes the priority of the last victim, so sandboxes
 * idle since long ago age out. Cost is what creating the sandbox cost (its
 * cold start), size its memory, frequency the invocations of its function
 * since the function last had no sandbox at all (reset when its last sandbox
 * goes). Without the frequency term this is GreedyDual-Size, which is Young's
 * Landlord with the credit reset to the full cost on every hit (`lnd`).
 */
import { BasePolicy, KEEP, SandboxHeap, type DestroyReason, type IdleDecision, type SandboxView } from '../policy.js';

export class GreedyDualPolicy extends BasePolicy {
  readonly name: string;
  readonly #useFrequency: boolean;
  readonly #heap = new SandboxHeap();
  #clock = 0;
  #freq = new Float64Array(64);
  #live = new Int32Array(64);
  #evictions = 0;

  constructor(name: string, useFrequency: boolean) {
    super();
    this.name = name;
    this.#useFrequency = useFrequency;
  }

  #ensure(fnId: number): void {
    if (fnId < this.#freq.length) return;
    let cap = this.#freq.length;
    while (cap <= fnId) cap *= 2;
    const f = new Float64Array(cap); f.set(this.#freq); this.#freq = f;
    const l = new Int32Array(cap); l.set(this.#live); this.#live = l;
  }

  override onInvoke(fnId: number): void {
    this.#ensure(fnId);
    this.#freq[fnId]!++;
  }

  override onCreate(sb: SandboxView): void {
    this.#ensure(sb.fnId);
    this.#live[sb.fnId]!++;
  }

  onBusy(sb: SandboxView): void {
    this.#heap.remove(sb);
  }

  // POLICY: priority is fixed when the sandbox goes idle (its last use).
  onIdle(sb: SandboxView): IdleDecision {
    const cost = sb.coldStartMs;
    const weight = this.#useFrequency ? this.#freq[sb.fnId]! : 1;
    this.#heap.push(sb, this.#clock + (weight * cost) / sb.memMb);
    return KEEP;
  }

  onDestroy(sb: SandboxView, _now: number, reason: DestroyReason): void {
    const key = this.#heap.keyOf(sb);
    if (reason === 'evicted' && key !== undefined) {
      // POLICY: the clock inflates to the victim's priority.
      this.#clock = Math.max(this.#clock, key);
      this.#evictions++;
    }
    this.#heap.remove(sb);
    if (--this.#live[sb.fnId]! === 0) this.#freq[sb.fnId] = 0;
  }

  victim(): SandboxView | undefined {
    return this.#heap.min();
  }

  override stats(): Record<string, number> {
    return { clock: this.#clock };
  }
}
