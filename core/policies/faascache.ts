/**
 * FaasCache-sim's own keep-alive policies (Fuerst & Sharma, ASPLOS'21;
 * aFuerst/faascache-sim `LambdaScheduler.py`) as ol-lab policies, for
 * running its rules inside ol-lab's model one at a time (`fc-gd`, `fc-lru`,
 * `fc-ttl`, `fc-lnd`, `fc-freq`, `fc-size`). What makes them FaasCache's
 * rather than ol-lab's `gdsf`, `lru`, `ttl` and `lnd`:
 *
 * - a function's priority is computed when one of its calls starts to be
 *   served, and given to all of its sandboxes (not fixed per sandbox when
 *   it goes idle);
 * - GD's frequency is the calls served by the function's sandboxes now in
 *   the pool (a sandbox evicted takes its calls with it), and its cost the
 *   sandbox's cold-start cost; the clock becomes the last victim's priority;
 * - LRU and TTL rank by the function's last call start; TTL keeps an idle
 *   sandbox until 10 minutes after its last call started (FaasCache-sim
 *   purges such sandboxes only at the function's next arrival; here the
 *   pool expires them on time, which frees their memory sooner);
 * - LND is Landlord with a sandbox's credit set to its function's run time
 *   (FaasCache-sim's choice) and rent charged as each victim is chosen
 *   (FaasCache-sim charges it once per eviction round).
 *
 * The exact FaasCache-sim, its heap order and lazy bookkeeping included, is
 * `ol-sim … --compat faascache` (sim/faascache.ts); docs/SIMULATOR.md says
 * how far ol-lab's model with all of these rules lands from it.
 */
import { BasePolicy, KEEP, SandboxHeap, type DestroyReason, type IdleDecision, type PolicyFactory, type SandboxView } from '../policy.js';

type Kind = 'GD' | 'LRU' | 'TTL' | 'LND' | 'FREQ' | 'SIZE';
const TTL_MS = 10 * 60 * 1000;

interface FcSlot { served: number; startedAt: number }

export class FaasCachePolicy extends BasePolicy {
  readonly name: string;
  readonly #kind: Kind;
  readonly #heap = new SandboxHeap();
  /** Per sandbox id: calls it served, when its last call started. */
  readonly #slot = new Map<number, FcSlot>();
  /** Per function: its priority, the calls its pooled sandboxes served, its last run time (LND), its idle sandboxes. */
  #prio: number[] = [];
  #freq: number[] = [];
  #runMs: number[] = [];
  /** Per function: its cold-start cost, as its last sandbox to go idle measured it (-1: none has yet). */
  #cost: number[] = [];
  #idle: Set<SandboxView>[] = [];
  #clock = 0;

  constructor(name: string, kind: Kind) {
    super();
    this.name = name;
    this.#kind = kind;
  }

  #fn(fnId: number): void {
    while (this.#idle.length <= fnId) {
      this.#idle.push(new Set());
      this.#prio.push(0);
      this.#freq.push(0);
      this.#runMs.push(0);
      this.#cost.push(-1);
    }
  }

  // a new sandbox's cost is known on both sides (simulator and worker) only once it is up: the function's
  // cost is the last one measured when a sandbox went idle, as FaasCache-sim's is the trace's, per function
  #priority(fnId: number, sb: SandboxView, now: number): number {
    const cost = Math.max(0, this.#cost[fnId]!);
    switch (this.#kind) {
      case 'LRU': case 'TTL': return now;
      case 'GD': return this.#clock + (this.#freq[fnId]! * cost) / sb.memMb;
      case 'FREQ': return this.#clock + this.#freq[fnId]! * cost;
      case 'SIZE': return this.#clock + this.#freq[fnId]! / sb.memMb;
      case 'LND': return this.#runMs[fnId]!;
    }
  }

  override onCreate(sb: SandboxView): void {
    this.#fn(sb.fnId);
    this.#slot.set(sb.id, { served: 0, startedAt: sb.createdAt });
  }

  // POLICY (FaasCache-sim): the priority is computed as a call starts and shared by all the function's sandboxes
  onBusy(sb: SandboxView, now: number): void {
    this.#heap.remove(sb);
    this.#idle[sb.fnId]!.delete(sb);
    const s = this.#slot.get(sb.id)!;
    s.served++;
    s.startedAt = now;
    this.#freq[sb.fnId]!++;
    const p = this.#priority(sb.fnId, sb, now);
    this.#prio[sb.fnId] = p;
    if (this.#kind === 'LND') return;
    for (const o of this.#idle[sb.fnId]!) {
      this.#heap.remove(o);
      this.#heap.push(o, p);
    }
  }

  onIdle(sb: SandboxView, now: number): IdleDecision {
    const s = this.#slot.get(sb.id)!;
    this.#idle[sb.fnId]!.add(sb);
    if (this.#cost[sb.fnId]! < 0 && (this.#kind === 'GD' || this.#kind === 'FREQ')) {
      // the function's first cost: its priority, computed without one, is computed again
      this.#cost[sb.fnId] = sb.coldStartMs;
      this.#prio[sb.fnId] = this.#priority(sb.fnId, sb, now);
      for (const o of this.#idle[sb.fnId]!) if (o !== sb) { this.#heap.remove(o); this.#heap.push(o, this.#prio[sb.fnId]!); }
    } else if (sb.uses <= 1) {
      this.#cost[sb.fnId] = sb.coldStartMs;
    }
    if (this.#kind === 'LND') {
      // the credit: the function's run time (the call just served, start to finish)
      if (s.served > 0) this.#runMs[sb.fnId] = now - s.startedAt;
      this.#heap.push(sb, this.#runMs[sb.fnId]!);
    } else {
      this.#heap.push(sb, this.#prio[sb.fnId]!);
    }
    // POLICY (FaasCache-sim TTL): kept until 10 minutes after its last call started
    if (this.#kind === 'TTL') return { pause: false, keepAliveMs: Math.max(0, s.startedAt + TTL_MS - now) };
    return KEEP;
  }

  onDestroy(sb: SandboxView, _now: number, reason: DestroyReason): void {
    const key = this.#heap.keyOf(sb);
    // POLICY (FaasCache-sim): the clock becomes the last victim's priority
    if (reason === 'evicted' && key !== undefined && this.#kind !== 'LND') this.#clock = key;
    this.#heap.remove(sb);
    this.#idle[sb.fnId]?.delete(sb);
    const s = this.#slot.get(sb.id);
    if (s) this.#freq[sb.fnId] = this.#freq[sb.fnId]! - s.served;
    this.#slot.delete(sb.id);
  }

  victim(): SandboxView | undefined {
    if (this.#kind !== 'LND' || this.#heap.size === 0) return this.#heap.min();
    // POLICY (Landlord): every idle sandbox pays rent at the lowest credit per MB; the one left with none goes
    let delta = Infinity;
    const all: SandboxView[] = [];
    for (const set of this.#idle) for (const sb of set) {
      all.push(sb);
      delta = Math.min(delta, this.#heap.keyOf(sb)! / sb.memMb);
    }
    for (const sb of all) {
      const k = this.#heap.keyOf(sb)! - delta * sb.memMb;
      this.#heap.remove(sb);
      this.#heap.push(sb, Math.max(0, k));
    }
    return this.#heap.min();
  }

  override stats(): Record<string, number> {
    return this.#kind === 'LND' ? {} : { clock: this.#clock };
  }
}

const SOURCE = 'FaasCache-sim (Fuerst & Sharma, ASPLOS 2021; aFuerst/faascache-sim LambdaScheduler.py), its rules inside ol-lab\'s model';
const make = (name: string, kind: Kind, describe: string): PolicyFactory => ({
  describe, source: SOURCE, options: {}, create: () => new FaasCachePolicy(name, kind),
});

export const fcGd = make('fc-gd', 'GD', 'FaasCache\'s GD: clock + calls served by the function\'s pooled sandboxes × cold-start cost / memory, set as a call starts, shared by the function\'s sandboxes');
export const fcLru = make('fc-lru', 'LRU', 'FaasCache\'s LRU: the function\'s last call start, shared by its sandboxes');
export const fcTtl = make('fc-ttl', 'TTL', 'FaasCache\'s TTL: kept 10 min from its last call start; under pressure the function whose last call started first goes');
export const fcLnd = make('fc-lnd', 'LND', 'FaasCache\'s Landlord: credit = the function\'s run time, rent at the lowest credit per MB');
export const fcFreq = make('fc-freq', 'FREQ', 'FaasCache\'s FREQ: clock + calls served × cold-start cost');
export const fcSize = make('fc-size', 'SIZE', 'FaasCache\'s SIZE: clock + calls served / memory');
