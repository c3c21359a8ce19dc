/**
 * The policy contract shared by the simulator and the real worker. A policy
 * is a small synchronous object: it hears sandbox lifecycle events and
 * answers two questions, "what to do with a sandbox that just went idle?"
 * and "which idle or paused sandbox goes next?". It never touches files,
 * timers, containers or `Date.now()`: time arrives as the `now` argument, so
 * the same object runs on the simulator's virtual clock and on the worker's
 * wall clock (see docs/DESIGN.md).
 *
 * Event order for one sandbox, guaranteed by the core pool (core/pool.ts),
 * which alone drives a policy: `onCreate`, then `onBusy` for a sandbox made
 * for a request (or `onIdle` with cause `prewarmed` for a pre-warmed one),
 * then any number of (`onIdle`, `onBusy`) alternations, then `onDestroy`
 * exactly once, from any state: a busy sandbox that dies (crash, OOM kill,
 * time limit) is destroyed without a pretended `onIdle`, and `onDestroy`
 * sees the state it died in (`sb.state`). `victim()` only ever returns a
 * sandbox that is idle or paused, that is, one whose last event was `onIdle`.
 */
import type { Rng } from '../common/rng.js';

/** Where a sandbox is in its life. */
export type SandboxState = 'creating' | 'idle' | 'paused' | 'busy' | 'destroyed';

/** What a policy may read of a sandbox. Times are ms on the driving clock. */
export interface SandboxView {
  /** Unique within one pool, increasing in creation order (used to break ties). */
  readonly id: number;
  /** Dense index of the sandbox's function (0..functions-1). */
  readonly fnId: number;
  /** The function's name. */
  readonly fn: string;
  /** Memory the sandbox holds when not paused, MB. */
  readonly memMb: number;
  readonly state: SandboxState;
  readonly createdAt: number;
  /** When the sandbox last became idle (or was created, before its first use). */
  readonly lastUsedAt: number;
  /** Requests served so far. */
  readonly uses: number;
  /** What creating this sandbox cost, ms: the latency a cold start pays. */
  readonly coldStartMs: number;
  /** Scratch space owned by the active policy; pools never read or write it. */
  policySlot: unknown;
}

/**
 * The fields every pool's sandbox record carries for the policy; the
 * simulator and the worker extend it with their own bookkeeping.
 */
export class SandboxRecord implements SandboxView {
  state: SandboxState = 'creating';
  lastUsedAt: number;
  uses = 0;
  coldStartMs = 0;
  policySlot: unknown = undefined;
  constructor(
    readonly id: number,
    readonly fnId: number,
    readonly fn: string,
    readonly memMb: number,
    readonly createdAt: number,
  ) {
    this.lastUsedAt = createdAt;
  }
}

/** A policy's answer when a sandbox goes idle. */
export interface IdleDecision {
  /** Pause (freeze) it now; a paused sandbox costs an unpause on its next use. */
  pause: boolean;
  /** Destroy it after this long idle; `Infinity` keeps it until evicted. */
  keepAliveMs: number;
  /**
   * Pre-warming (Shahrad et al.): destroy the sandbox now, create a fresh one
   * for the same function this many ms later, and keep that one idle for
   * `keepAliveMs`. Absent or 0: no pre-warming.
   */
  prewarmAfterMs?: number;
}

/** Why a sandbox went idle: its request finished, or it was pre-warmed. */
export type IdleCause = 'finished' | 'prewarmed';

/** Why a sandbox was destroyed. */
export type DestroyReason = 'evicted' | 'expired' | 'prewarm-unload' | 'error' | 'shutdown';

/** What a policy is built with. */
export interface PolicyContext {
  /** The memory pool size, MB. */
  readonly capacityMb: number;
  /** A seeded stream for policies that randomise (rand). */
  readonly rng: Rng;
  /** Policy options after defaults and validation (see {@link PolicyFactory.options}). */
  readonly options: Readonly<Record<string, number>>;
}

/** A keep-alive / eviction policy (one instance per pool). */
export interface Policy {
  readonly name: string;
  /**
   * Memory (MB) the pool should keep free ahead of need by evicting victims
   * early; 0 means evict only when a new sandbox needs the room.
   */
  readonly freeTargetMb: number;
  /** A request for function `fnId` arrived, before any sandbox was chosen. */
  onInvoke(fnId: number, now: number): void;
  /** A sandbox was created (its memory is reserved from now on). */
  onCreate(sb: SandboxView, now: number): void;
  /** The sandbox starts serving requests (it was idle, paused or new). */
  onBusy(sb: SandboxView, now: number): void;
  /** The sandbox has no request left; the answer says what to do with it. */
  onIdle(sb: SandboxView, now: number, cause: IdleCause): IdleDecision;
  /** The sandbox is gone; forget it. */
  onDestroy(sb: SandboxView, now: number, reason: DestroyReason): void;
  /** The next sandbox to evict among the idle and paused ones, or undefined. */
  victim(now: number): SandboxView | undefined;
  /** Policy-specific counters for the run summary. */
  stats(): Record<string, number>;
}

/** A named option of a policy, always numeric. */
export interface PolicyOption {
  default: number;
  describe: string;
  min?: number;
  max?: number;
}

/** One row of a policy registry. */
export interface PolicyFactory {
  /** One line for `ol-sim policies`. */
  describe: string;
  /** The paper or system the policy follows. */
  source: string;
  options: Record<string, PolicyOption>;
  create(ctx: PolicyContext): Policy;
}

/**
 * Intrusive doubly-linked list over sandboxes, for policies that evict in
 * insertion order (LRU, TTL, OpenLambda's FIFO of paused sandboxes). The
 * node lives in `policySlot`, so every operation is O(1) and allocation-free
 * after the first insertion of a sandbox.
 */
export class SandboxList {
  #head: ListNode | undefined;
  #tail: ListNode | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends `sb` at the tail (it must not be in a list). */
  push(sb: SandboxView): void {
    let node = sb.policySlot as ListNode | undefined;
    if (!node) sb.policySlot = node = { sb, prev: undefined, next: undefined, inList: false, key: 0 };
    if (node.inList) throw new Error(`sandbox ${sb.id} is already listed`);
    node.inList = true;
    node.prev = this.#tail;
    node.next = undefined;
    if (this.#tail) this.#tail.next = node; else this.#head = node;
    this.#tail = node;
    this.#size++;
  }

  /** Removes `sb` if it is in the list; returns whether it was. */
  remove(sb: SandboxView): boolean {
    const node = sb.policySlot as ListNode | undefined;
    if (!node || !node.inList) return false;
    if (node.prev) node.prev.next = node.next; else this.#head = node.next;
    if (node.next) node.next.prev = node.prev; else this.#tail = node.prev;
    node.prev = node.next = undefined;
    node.inList = false;
    this.#size--;
    return true;
  }

  /** The sandbox at the head (oldest insertion), or undefined. */
  first(): SandboxView | undefined {
    return this.#head?.sb;
  }

  *[Symbol.iterator](): IterableIterator<SandboxView> {
    for (let n = this.#head; n; n = n.next) yield n.sb;
  }
}

interface ListNode {
  sb: SandboxView;
  prev: ListNode | undefined;
  next: ListNode | undefined;
  inList: boolean;
  key: number;
}

/**
 * Indexed binary min-heap over sandboxes keyed by a number, ties broken by
 * sandbox id (so runs are deterministic). The heap position lives in
 * `policySlot`, which makes removal of an arbitrary sandbox O(log n).
 */
export class SandboxHeap {
  #items: HeapNode[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** Inserts `sb` with priority `key` (it must not be in the heap). */
  push(sb: SandboxView, key: number): void {
    let node = sb.policySlot as HeapNode | undefined;
    if (!node) sb.policySlot = node = { sb, key, pos: -1 };
    if (node.pos >= 0) throw new Error(`sandbox ${sb.id} is already in the heap`);
    node.key = key;
    node.pos = this.#items.length;
    this.#items.push(node);
    this.#up(node.pos);
  }

  /** Removes `sb` if present; returns whether it was. */
  remove(sb: SandboxView): boolean {
    const node = sb.policySlot as HeapNode | undefined;
    if (!node || node.pos < 0) return false;
    const items = this.#items;
    const i = node.pos;
    const last = items.pop()!;
    node.pos = -1;
    if (last !== node) {
      items[i] = last;
      last.pos = i;
      this.#down(i);
      this.#up(last.pos);
    }
    return true;
  }

  /** The sandbox with the smallest key, or undefined. */
  min(): SandboxView | undefined {
    return this.#items[0]?.sb;
  }

  /** The smallest key (meaningful only when not empty). */
  minKey(): number {
    return this.#items[0]?.key ?? Infinity;
  }

  /** The key `sb` was inserted with, or undefined when it is not in the heap. */
  keyOf(sb: SandboxView): number | undefined {
    const node = sb.policySlot as HeapNode | undefined;
    return node && node.pos >= 0 ? node.key : undefined;
  }

  #less(a: HeapNode, b: HeapNode): boolean {
    return a.key < b.key || (a.key === b.key && a.sb.id < b.sb.id);
  }

  #up(i: number): void {
    const items = this.#items;
    const node = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (!this.#less(node, parent)) break;
      items[i] = parent; parent.pos = i;
      i = p;
    }
    items[i] = node; node.pos = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const node = items[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.#less(items[c + 1]!, items[c]!)) c++;
      const child = items[c]!;
      if (!this.#less(child, node)) break;
      items[i] = child; child.pos = i;
      i = c;
    }
    items[i] = node; node.pos = i;
  }
}

interface HeapNode {
  sb: SandboxView;
  key: number;
  pos: number;
}

/** A policy that never acts on `onInvoke`/`onCreate`/`onBusy` beyond these defaults. */
export abstract class BasePolicy implements Policy {
  abstract readonly name: string;
  freeTargetMb = 0;
  onInvoke(_fnId: number, _now: number): void {}
  onCreate(_sb: SandboxView, _now: number): void {}
  abstract onBusy(sb: SandboxView, now: number): void;
  abstract onIdle(sb: SandboxView, now: number, cause: IdleCause): IdleDecision;
  abstract onDestroy(sb: SandboxView, now: number, reason: DestroyReason): void;
  abstract victim(now: number): SandboxView | undefined;
  stats(): Record<string, number> {
    return {};
  }
}

/** Keep forever, do not pause: the answer of pure eviction policies. */
export const KEEP: IdleDecision = Object.freeze({ pause: false, keepAliveMs: Infinity });
