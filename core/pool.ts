/**
 * The pool rules, written once for the simulator and the worker: the
 * memory books (reserved, dying, evictable), which sandbox a request takes,
 * making room by evicting the policy's victims and then zygotes, keeping a
 * free margin, what happens to a sandbox that goes idle (pause, keep-alive,
 * pre-warm unload), the hand-over of a finishing sandbox to the oldest
 * waiter of its function, the FIFO drain whose head blocks while the memory
 * it was given is still dying, the pre-warm rule and the zygote reservation.
 *
 * Pure and synchronous: time comes in as `now`, and every action with a
 * cost or a wait (destroy, pause, a timer) goes out through `PoolEffects`,
 * which the simulator applies on its virtual clock and the worker with real
 * sandboxes on the wall clock. The policy is driven only from here, so both
 * sides give it the same events in the same order (docs/DESIGN.md).
 */
import { OlError } from '../common/errors.js';
import type { TreeNode, ImportTree } from './import-tree.js';
import { SandboxRecord, type DestroyReason, type IdleCause, type Policy } from './policy.js';
import { WaitQueue } from './queue.js';

/** A sandbox as the pool books it; the simulator and the worker extend it. */
export class PooledSandbox extends SandboxRecord {
  /** Memory it holds now, MB: `memMb`, or less while paused and downsized. */
  footprint: number;
  /** Requests running on it. */
  active = 0;
  /** Whether it is on its function's list of available sandboxes (idle, paused, or busy with a free slot). */
  listed = false;
  /** Its neighbours on that list: the one that became available before it, and after it. */
  availPrev: PooledSandbox | undefined = undefined;
  availNext: PooledSandbox | undefined = undefined;
  /** When its keep-alive ends (Infinity: none pending). */
  expiresAt = Infinity;
  constructor(id: number, fnId: number, fn: string, memMb: number, createdAt: number) {
    super(id, fnId, fn, memMb, createdAt);
    this.footprint = memMb;
  }
}

/** What the pool asks its side to carry out. */
export interface PoolEffects<S extends PooledSandbox> {
  /** Destroy `sb` (the books count its memory as dying until `destroyed` is called). */
  destroy(sb: S, reason: DestroyReason): void;
  /** Pause (freeze) `sb`. */
  pause(sb: S): void;
  /** Call `expire(sb, at)` at time `at`. */
  scheduleExpiry(sb: S, at: number): void;
  /** Pre-warm a sandbox of `fnId` at `at` (then ask `canPrewarm`). */
  schedulePrewarm(fnId: number, at: number): void;
  /** Destroy the zygote of `node` (its memory is dying until `destroyed`). */
  evictZygote(node: TreeNode, mb: number): void;
}

/** A decision, for logs and the parity test. */
export type PoolDecision =
  | 'warm' | 'unpause' | 'cold' | 'queue' | 'handover' | 'hold' | 'evict' | 'zygote-evict'
  | 'idle' | 'pause' | 'expire' | 'unload' | 'prewarm' | 'prewarm-skip' | 'destroy';

export interface PoolOptions<S extends PooledSandbox> {
  capacityMb: number;
  policy: Policy;
  effects: PoolEffects<S>;
  /** Requests one sandbox serves at once (OpenLambda's Python runtime: 1). */
  concurrency?: number;
  /** A paused sandbox's footprint (OpenLambda's downsize_paused_mem); null: unchanged. */
  pausedMemMb?: number | null;
  /** The import tree whose zygotes give memory back last. */
  tree?: ImportTree;
  zygoteMb?: number;
  /** Numbers of its own each waiter carries (WaitQueue). */
  payloadColumns?: number;
  /**
   * How much a cold start that does not fit evicts: until the shortfall is
   * free (`shortfall`, ol-lab's and OpenLambda's rule), or until victims
   * holding the new sandbox's full size are gone (`full`, FaasCache-sim's
   * rule, which over-evicts).
   */
  evictTo?: 'shortfall' | 'full';
  /**
   * When room cannot be made, evict every victim anyway before giving up
   * (FaasCache-sim's rule: an arrival it must drop first flushes the idle
   * pool). Off: nothing is evicted unless the room can be had.
   */
  flushOnFail?: boolean;
  /** Sees every decision (seq: the request's, or -1; sb: the sandbox's id, or -1). */
  log?: (kind: PoolDecision, fnId: number, sb: number, seq: number) => void;
}

/**
 * What `route` and `drainStep` answer. Warm: an available sandbox was
 * taken (`taken`; a paused one if `tookPaused`). Cold: memory was made
 * (`evictions` victims) and reserved for a new sandbox. Wait: nothing now
 * (the request queues, or is dropped). Hold: the drain gave its head
 * memory that is still dying; it waits, holding the queue.
 */
export const Route = { Warm: 0, Cold: 1, Wait: 2, Hold: 3 } as const;
export type Route = (typeof Route)[keyof typeof Route];

/** The counters every side reports. */
export interface PoolCounts {
  evictions: number;
  zygoteEvictions: number;
  expirations: number;
  pauses: number;
  prewarms: number;
  prewarmsSkipped: number;
  prewarmUnloads: number;
  handovers: number;
}

/** Per-function flags: its sandboxes serve no more (retired); each serves one request (OpenLambda's `reuse-sandbox: false`). */
const RETIRED = 1, SINGLE_USE = 2;

export class SandboxPool<S extends PooledSandbox> {
  readonly policy: Policy;
  readonly capacityMb: number;
  readonly queue: WaitQueue;
  readonly counts: PoolCounts = { evictions: 0, zygoteEvictions: 0, expirations: 0, pauses: 0, prewarms: 0, prewarmsSkipped: 0, prewarmUnloads: 0, handovers: 0 };
  /** Memory reserved: live sandboxes' footprints, zygotes, reservations for sandboxes being made. */
  used = 0;
  /** Memory of sandboxes and zygotes being destroyed: not reserved, not yet free. */
  dying = 0;
  /** Footprints of idle and paused sandboxes. */
  evictable = 0;
  /** Sandboxes alive (admitted, not yet destroyed). */
  live = 0;
  /** The last `take`: the sandbox, whether it was paused, the victims made for its memory. */
  taken: S | undefined;
  tookPaused = false;
  /** The last `take` regrew a downsized paused sandbox to its full size. */
  regrown = false;
  /** Victims evicted by the last `makeRoom` through `route`, `take` or `drainStep`. */
  evictions = 0;
  /** The id of the sandbox the last Cold answer (or `canPrewarm`) decided to create: ids are the pool's, in decision order. */
  newId = -1;
  #nextId = 0;
  /** The waiter the last `drainStep` or `release` served: its number, function and memory, and its payload. */
  readonly out: { seq: number; fn: number; mem: number; cols: Float64Array };

  readonly #effects: PoolEffects<S>;
  readonly #conc: number;
  readonly #pausedMemMb: number | null;
  readonly #tree: ImportTree | undefined;
  readonly #zygoteMb: number;
  readonly #log: PoolOptions<S>['log'];
  readonly #ncols: number;
  readonly #evictFull: boolean;
  readonly #flushOnFail: boolean;
  /**
   * Per function, the newest of its available sandboxes, whose `availPrev`
   * links run back to the oldest: a list threaded through the sandboxes
   * themselves. A cluster of 100 workers over 10,000 functions kept a
   * million small arrays this way instead (and their backing stores).
   */
  readonly #newest: (S | undefined)[] = [];
  /** The functions whose list of available sandboxes is not empty, in no order, and where each is in it (-1: absent). */
  readonly #listedFns: number[] = [];
  readonly #listedAt: number[] = [];
  /** Per function: RETIRED, SINGLE_USE. */
  readonly #fnFlags: number[] = [];
  /** Whether any function has a flag (most pools never do: a release then reads no per-function table). */
  #anyFlags = false;
  /** The drain's head, given memory while dying memory still goes: it stays queued, and so does everyone behind it. */
  #held: { seq: number; pos: number; mem: number } | undefined;

  constructor(o: PoolOptions<S>) {
    this.policy = o.policy;
    this.capacityMb = o.capacityMb;
    this.#effects = o.effects;
    this.#conc = o.concurrency ?? 1;
    this.#pausedMemMb = o.pausedMemMb ?? null;
    this.#tree = o.tree;
    this.#zygoteMb = o.zygoteMb ?? 0;
    this.#log = o.log;
    this.#ncols = o.payloadColumns ?? 0;
    this.#evictFull = o.evictTo === 'full';
    this.#flushOnFail = o.flushOnFail ?? false;
    this.queue = new WaitQueue(this.#ncols);
    this.out = { seq: -1, fn: -1, mem: 0, cols: new Float64Array(this.#ncols) };
  }

  /** Memory neither reserved nor dying, MB. */
  get free(): number {
    return this.capacityMb - this.used - this.dying;
  }

  /** Whether reserved plus dying memory is over the pool: a new sandbox must wait for the dying to go. */
  get overCommitted(): boolean {
    return this.used + this.dying > this.capacityMb + 1e-9;
  }

  /** Whether the drain's head holds the queue. */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  #ensureFn(fnId: number): void {
    while (this.#newest.length <= fnId) {
      this.#newest.push(undefined);
      this.#listedAt.push(-1);
      this.#fnFlags.push(0);
    }
  }

  // --- requests -------------------------------------------------------------

  /** A request of `fnId` arrived at `now`: the policy hears of it before any sandbox is chosen. */
  invoked(fnId: number, now: number): void {
    this.#ensureFn(fnId);
    this.policy.onInvoke(fnId, now);
  }

  /**
   * A request of `fnId` needing `mem` MB, announced with `invoked`: an available sandbox (Warm: `taken`), else, if no
   * one waits and room can be made, memory for a new one (Cold), else Wait.
   */
  route(fnId: number, mem: number, now: number, seq = -1): Route {
    if (this.take(fnId, now)) {
      this.#logTake(fnId, seq);
      return Route.Warm;
    }
    // POLICY: strict FIFO for memory: nobody overtakes a waiter
    if (this.queue.size === 0 && this.#room(mem, now)) {
      this.#decideCold(fnId, seq);
      return Route.Cold;
    }
    return Route.Wait;
  }

  #decideCold(fnId: number, seq: number): void {
    this.newId = this.#nextId++;
    this.#log?.('cold', fnId, this.newId, seq);
  }

  #logTake(fnId: number, seq: number): void {
    this.#log?.(this.tookPaused ? 'unpause' : 'warm', fnId, this.taken!.id, seq);
  }

  /** Queues a request that `route` sent to Wait, with up to three payload numbers; returns its queue position. */
  enqueue(seq: number, fnId: number, mem: number, c0 = 0, c1 = 0, c2 = 0): number {
    const pos = this.queue.push(seq, fnId, mem, c0, c1, c2);
    this.#log?.('queue', fnId, -1, seq);
    return pos;
  }

  /** Makes room for `mem` and reserves it; false (nothing evicted) when it cannot be had. */
  #room(mem: number, now: number): boolean {
    const k = this.makeRoom(mem, now);
    if (k < 0) return false;
    this.evictions = k;
    this.reserve(mem);
    return true;
  }

  // POLICY: the most recently idle sandbox of the function serves first
  /**
   * Takes an available sandbox of `fnId` (announced with `invoked`; most recently idle first) and
   * makes it busy: unpaused (`tookPaused`), regrown to full size if it was
   * downsized (evicting for that: `evictions`). Undefined when none is
   * available, or a downsized one cannot get its memory back.
   */
  take(fnId: number, now: number): S | undefined {
    const sb = this.#newest[fnId];
    if (sb === undefined) return undefined;
    this.evictions = 0;
    this.regrown = false;
    if (sb.state === 'paused' && sb.footprint < sb.memMb) {
      const extra = sb.memMb - sb.footprint;
      if (this.capacityMb - this.used + this.evictable - sb.footprint < extra) return undefined;
    }
    // off the list before any eviction below changes it
    this.#unlist(sb);
    if (sb.state === 'busy') {
      // concurrency > 1: a busy sandbox with a free slot
      this.tookPaused = false;
    } else {
      this.tookPaused = sb.state === 'paused';
      this.evictable -= sb.footprint;
      sb.state = 'busy';
      sb.expiresAt = Infinity;
      this.policy.onBusy(sb, now);
      if (sb.footprint < sb.memMb) {
        const k = this.makeRoom(sb.memMb - sb.footprint, now);
        if (k < 0) throw new OlError('OL_ERR_INVARIANT', `no memory to unpause sandbox ${sb.id} after checking there was`);
        this.evictions = k;
        this.regrown = true;
        this.used += sb.memMb - sb.footprint;
        sb.footprint = sb.memMb;
        this.#checkCapacity(now);
      }
    }
    sb.active++;
    if (sb.active < this.#conc) this.#addAvailable(sb);
    this.taken = sb;
    return sb;
  }

  /** A new sandbox, whose memory `route` or `drainStep` reserved, starts serving its first request. */
  admit(sb: S, now: number): void {
    this.#ensureFn(sb.fnId);
    this.live++;
    sb.active = 1;
    sb.state = 'busy';
    this.policy.onCreate(sb, now);
    this.policy.onBusy(sb, now);
    if (this.#conc > 1) this.#addAvailable(sb);
  }

  /** A new sandbox is up (its first request may run): evict ahead of need among the sandboxes idle by then. */
  up(now: number): void {
    this.keepFree(now);
  }

  /**
   * A request on `sb` finished at `now`. The sandbox goes to the oldest
   * waiter of its function if there is one (true: `out` names the waiter,
   * taken from the queue; the sandbox stays busy), else idle as the policy
   * says, or is destroyed if its function was retired or its sandboxes are
   * single-use.
   */
  release(sb: S, now: number): boolean {
    sb.active--;
    sb.uses++;
    if (this.#anyFlags && this.#fnFlags[sb.fnId] !== 0) {
      if (sb.active === 0) this.destroy(sb, 'expired', now);
      return false;
    }
    // POLICY: a finishing sandbox goes straight to the oldest waiter of its own function
    if (this.queue.size > 0 && this.queue.countOf(sb.fnId) > 0) {
      const pos = this.queue.oldestOf(sb.fnId);
      this.#takeOut(pos);
      if (this.#held && this.#held.seq === this.out.seq) {
        this.used -= this.#held.mem;
        this.#held = undefined;
      }
      sb.active++;
      this.counts.handovers++;
      this.#log?.('handover', sb.fnId, sb.id, this.out.seq);
      return true;
    }
    if (sb.active === 0) {
      if (sb.listed) this.#unlist(sb);
      this.#goIdle(sb, now, 'finished');
    } else if (!sb.listed) {
      this.#addAvailable(sb);
    }
    return false;
  }

  /** Copies the waiter at `pos` into `out` and takes it from the queue. */
  #takeOut(pos: number): void {
    this.queue.read(pos, this.out);
    this.queue.take(pos);
  }

  /**
   * One step of the FIFO drain: serves the head with an available sandbox
   * (Warm: `taken`, `out`), or with memory for a new one (Cold: `out`,
   * `evictions`), or gives it memory that is still dying (Hold: it stays
   * queued, holding the queue, until `drainStep` finds the memory gone, then
   * Cold with that reservation). Wait: nothing to do now.
   */
  drainStep(now: number): Route {
    const q = this.queue;
    if (this.#held) {
      if (this.overCommitted) return Route.Wait;
      const h = this.#held;
      this.#held = undefined;
      this.#takeOut(h.pos);
      this.evictions = 0;
      this.#decideCold(this.out.fn, this.out.seq);
      return Route.Cold;
    }
    if (q.size === 0) return Route.Wait;
    const pos = q.head;
    const fnId = q.fn(pos);
    if (this.take(fnId, now)) {
      this.#takeOut(pos);
      this.#logTake(fnId, this.out.seq);
      return Route.Warm;
    }
    // POLICY: strict FIFO for memory: the head waits, and so does everyone behind it
    const mem = q.mem(pos);
    if (!this.#room(mem, now)) return Route.Wait;
    if (this.overCommitted) {
      this.#held = { seq: q.seq(pos), pos, mem };
      this.#log?.('hold', fnId, -1, q.seq(pos));
      return Route.Hold;
    }
    this.#takeOut(pos);
    this.#decideCold(fnId, this.out.seq);
    return Route.Cold;
  }

  // --- memory ---------------------------------------------------------------

  /** Reserves `mb` (checked against the pool). */
  reserve(mb: number, now = NaN): void {
    this.used += mb;
    this.#checkCapacity(now);
  }

  /** Gives back a reservation that was not used. */
  unreserve(mb: number): void {
    this.used -= mb;
  }

  /** Memory that was dying is free now. */
  destroyed(mb: number): void {
    this.dying -= mb;
  }

  /**
   * Makes `needMb` free of reservations by evicting the policy's victims,
   * then zygotes. Returns how many it evicted, or -1 (evicting nothing)
   * when even all of them would not be enough.
   */
  makeRoom(needMb: number, now: number): number {
    if (this.capacityMb - this.used >= needMb) return 0;
    if (!this.#canFree(needMb, now)) return this.#flushOnFail ? this.#flush(now) : -1;
    let k = 0;
    // POLICY: evict until the shortfall is free, or (evictTo full) until victims holding the whole need are gone
    let freed = 0;
    while (this.#evictFull ? freed < needMb || this.capacityMb - this.used < needMb : this.capacityMb - this.used < needMb) {
      const v = this.policy.victim(now) as S | undefined;
      if (v) {
        freed += v.footprint;
        this.#evict(v, now);
      } else {
        if (this.capacityMb - this.used >= needMb) break;
        // POLICY: no sandbox left to evict: zygotes give their memory back last
        const node = this.#tree?.evictOne(now);
        if (!node) return -1;
        this.used -= this.#zygoteMb;
        this.dying += this.#zygoteMb;
        freed += this.#zygoteMb;
        this.counts.zygoteEvictions++;
        this.#log?.('zygote-evict', -1, -1, -1);
        this.#effects.evictZygote(node, this.#zygoteMb);
      }
      k++;
    }
    return k;
  }

  // POLICY (flushOnFail, FaasCache-sim): room that cannot be had still costs every idle sandbox
  /** Evicts every victim the policy offers; returns -1 (the room was not made). */
  #flush(now: number): number {
    let k = 0;
    for (let v = this.policy.victim(now) as S | undefined; v; v = this.policy.victim(now) as S | undefined) {
      this.#evict(v, now);
      k++;
    }
    this.evictions = k;
    return -1;
  }

  // POLICY: a request larger than the whole pool never runs; under flushOnFail (FaasCache-sim) it first flushes the idle pool
  /** Whether `mem` exceeds the pool (the request cannot run); under flushOnFail, every idle sandbox is evicted first. */
  oversize(mem: number, now: number): boolean {
    if (mem <= this.capacityMb) return false;
    if (this.#flushOnFail) this.#flush(now);
    return true;
  }

  /** Whether `needMb` can be had by evicting: idle sandboxes first, then zygotes (asked only when those are not enough). */
  #canFree(needMb: number, now: number): boolean {
    const short = needMb - (this.capacityMb - this.used + this.evictable);
    return short <= 0 || (this.#tree ? this.#tree.evictableCount(now) * this.#zygoteMb : 0) >= short;
  }

  // POLICY: evict ahead of need while the policy wants memory free (OpenLambda's 20%)
  /** Evicts the policy's victims while less than its free target is unreserved. */
  keepFree(now: number): void {
    const target = this.policy.freeTargetMb;
    if (target <= 0) return;
    while (this.capacityMb - this.used < target) {
      const v = this.policy.victim(now) as S | undefined;
      if (!v) return;
      this.#evict(v, now);
    }
  }

  // POLICY: a zygote takes free memory only (never evicting, never counting dying memory as free)
  /** Reserves `mb` for a zygote if that much is free; false otherwise. */
  tryReserveZygote(mb: number): boolean {
    if (this.free < mb) return false;
    this.used += mb;
    return true;
  }

  /** A zygote is gone: its memory is dying until `destroyed`. */
  zygoteGone(mb: number): void {
    this.used -= mb;
    this.dying += mb;
  }

  // --- idle sandboxes ---------------------------------------------------------

  #goIdle(sb: S, now: number, cause: IdleCause): void {
    sb.lastUsedAt = now;
    sb.state = 'idle';
    const d = this.policy.onIdle(sb, now, cause);
    this.evictable += sb.footprint;
    if (cause === 'finished' && d.prewarmAfterMs !== undefined && d.prewarmAfterMs > 0) {
      // unload now, load again just before the next call is expected
      this.counts.prewarmUnloads++;
      this.#log?.('unload', sb.fnId, sb.id, -1);
      this.destroy(sb, 'prewarm-unload', now);
      this.#effects.schedulePrewarm(sb.fnId, now + d.prewarmAfterMs);
      return;
    }
    this.#log?.('idle', sb.fnId, sb.id, -1);
    if (d.pause) {
      sb.state = 'paused';
      this.counts.pauses++;
      if (this.#pausedMemMb !== null) this.downsize(sb, this.#pausedMemMb);
      this.#log?.('pause', sb.fnId, sb.id, -1);
      this.#effects.pause(sb);
    }
    this.#addAvailable(sb);
    if (d.keepAliveMs !== Infinity) {
      sb.expiresAt = now + d.keepAliveMs;
      this.#effects.scheduleExpiry(sb, sb.expiresAt);
    }
  }

  /**
   * POLICY: a paused sandbox holds `mb` of the pool instead of its full
   * memory (OpenLambda's downsize_paused_mem): the simulator passes its
   * modelled footprint (`pausedMemMb`) as it pauses; the worker, what the
   * frozen sandbox really uses, once its limit is lowered. Taking it back
   * regrows it to full size first (`route`). No-op unless paused and smaller.
   */
  downsize(sb: S, mb: number): void {
    if (sb.state !== 'paused' || !(mb < sb.footprint)) return;
    this.used -= sb.footprint - mb;
    this.evictable -= sb.footprint - mb;
    sb.footprint = mb;
  }

  /** A keep-alive timer set for `at` fired: destroys the sandbox unless it was used or destroyed since (true if it did). */
  expire(sb: S, at: number, now: number): boolean {
    if (sb.expiresAt !== at || (sb.state !== 'idle' && sb.state !== 'paused')) return false;
    this.counts.expirations++;
    this.#log?.('expire', sb.fnId, sb.id, -1);
    this.destroy(sb, 'expired', now);
    return true;
  }

  // POLICY: pre-warming uses free memory only, never evicts, and waits while requests queue
  /** Whether a pre-warm of `mem` MB may start now; reserves the memory if so. */
  canPrewarm(fnId: number, mem: number): boolean {
    if (this.queue.size > 0 || this.free < mem) {
      this.counts.prewarmsSkipped++;
      this.#log?.('prewarm-skip', fnId, -1, -1);
      return false;
    }
    this.used += mem;
    this.newId = this.#nextId++;
    return true;
  }

  /** A pre-warmed sandbox, whose memory `canPrewarm` reserved (and numbered `newId`), is being made. */
  admitPrewarm(sb: S, now: number): void {
    this.#ensureFn(sb.fnId);
    this.live++;
    this.counts.prewarms++;
    this.#log?.('prewarm', sb.fnId, sb.id, -1);
    this.policy.onCreate(sb, now);
  }

  /** A pre-warmed sandbox is ready: idle until used or expired. */
  prewarmed(sb: S, now: number): void {
    this.#goIdle(sb, now, 'prewarmed');
  }

  // --- destruction ---------------------------------------------------------------

  #evict(v: S, now: number): void {
    if (v.state !== 'idle' && v.state !== 'paused') {
      throw new OlError('OL_ERR_INVARIANT', `policy ${this.policy.name} chose sandbox ${v.id}, which is ${v.state}, as a victim`);
    }
    this.counts.evictions++;
    this.#log?.('evict', v.fnId, v.id, -1);
    this.destroy(v, 'evicted', now);
  }

  /**
   * Destroys `sb` in any state: idle, paused, or busy (a crash, an OOM kill,
   * a time limit, a failed start: the policy hears `onDestroy` with the
   * sandbox still in its last state, never a pretended `onIdle`).
   */
  destroy(sb: S, reason: DestroyReason, now: number): void {
    if (sb.state === 'destroyed') return;
    if (sb.listed) this.#unlist(sb);
    if (sb.state === 'idle' || sb.state === 'paused') this.evictable -= sb.footprint;
    this.used -= sb.footprint;
    this.dying += sb.footprint;
    this.live--;
    sb.expiresAt = Infinity;
    this.policy.onDestroy(sb, now, reason);
    sb.state = 'destroyed';
    if (reason !== 'evicted' && reason !== 'expired' && reason !== 'prewarm-unload') this.#log?.('destroy', sb.fnId, sb.id, -1);
    this.#effects.destroy(sb, reason);
  }

  /**
   * A function's sandboxes must serve no more (the worker: its code
   * changed): the available ones are destroyed now, busy ones when they
   * finish.
   */
  retire(fnId: number, now: number): void {
    this.#ensureFn(fnId);
    this.#fnFlags[fnId]! |= RETIRED;
    this.#anyFlags = true;
    for (let sb = this.#newest[fnId]; sb !== undefined; sb = this.#newest[fnId]) this.destroy(sb, 'expired', now);
  }

  /**
   * POLICY: a function whose sandboxes serve one request each (OpenLambda's
   * `reuse-sandbox: false`): a sandbox is destroyed when its request ends,
   * never kept, paused or handed to a waiter.
   */
  singleUse(fnId: number): void {
    this.#ensureFn(fnId);
    this.#fnFlags[fnId]! |= SINGLE_USE;
    this.#anyFlags = true;
  }

  /** Available sandboxes of every function (shutdown, invariant checks). */
  *available(): IterableIterator<S> {
    const list: S[] = [];
    for (const newest of this.#newest) {
      if (newest === undefined) continue;
      for (let sb: S | undefined = newest; sb !== undefined; sb = sb.availPrev as S | undefined) list.push(sb);
      // oldest first, as they became available
      for (let i = list.length - 1; i >= 0; i--) yield list[i]!;
      list.length = 0;
    }
  }

  /**
   * Idle or paused sandboxes per function, for the functions that have any
   * (a cluster front's view of kept sandboxes): visits only the functions
   * with a sandbox available, not every function the pool has seen.
   */
  idleCounts(): Map<number, number> {
    const out = new Map<number, number>();
    for (const fn of this.#listedFns) {
      let c = 0;
      for (let sb = this.#newest[fn]; sb !== undefined; sb = sb.availPrev as S | undefined) if (sb.state === 'idle' || sb.state === 'paused') c++;
      if (c > 0) out.set(fn, c);
    }
    return out;
  }

  /** Puts `sb` on its function's list as the newest (`take` serves the newest: the most recently idle). */
  #addAvailable(sb: S): void {
    const fn = sb.fnId;
    const top = this.#newest[fn];
    if (top === undefined) {
      this.#listedAt[fn] = this.#listedFns.length;
      this.#listedFns.push(fn);
    }
    sb.availPrev = top;
    sb.availNext = undefined;
    if (top !== undefined) top.availNext = sb;
    this.#newest[fn] = sb;
    sb.listed = true;
  }

  /**
   * Takes `sb` off its function's list; the others keep the order they
   * became available in. (An array with the last one moved into the gap
   * made that one the least recent, and the next take passed it over.)
   */
  #unlist(sb: S): void {
    const prev = sb.availPrev, next = sb.availNext;
    if (prev !== undefined) prev.availNext = next;
    if (next !== undefined) next.availPrev = prev;
    else {
      this.#newest[sb.fnId] = prev as S | undefined;
      if (prev === undefined) {
        // its function has none left: off the list of functions with some (the last one moved into its place)
        const fns = this.#listedFns, at = this.#listedAt[sb.fnId]!, last = fns.pop()!;
        if (last !== sb.fnId) {
          fns[at] = last;
          this.#listedAt[last] = at;
        }
        this.#listedAt[sb.fnId] = -1;
      }
    }
    sb.availPrev = undefined;
    sb.availNext = undefined;
    sb.listed = false;
  }

  #checkCapacity(now: number): void {
    if (this.used > this.capacityMb + 1e-6) {
      throw new OlError('OL_ERR_INVARIANT', `memory in use ${this.used} MB exceeds the pool's ${this.capacityMb} MB at t=${now}`);
    }
  }

  /** The books agree with the sandboxes; throws OL_ERR_INVARIANT naming what does not. */
  checkInvariants(): void {
    let idle = 0;
    for (const sb of this.available()) if (sb.state === 'idle' || sb.state === 'paused') idle += sb.footprint;
    if (Math.abs(idle - this.evictable) > 1e-6) throw new OlError('OL_ERR_INVARIANT', `idle memory books ${this.evictable} MB but idle sandboxes hold ${idle} MB`);
    const withSome = this.#newest.reduce((n, sb) => n + (sb !== undefined ? 1 : 0), 0);
    if (withSome !== this.#listedFns.length || this.#listedFns.some((fn, i) => this.#newest[fn] === undefined || this.#listedAt[fn] !== i)) {
      throw new OlError('OL_ERR_INVARIANT', `the list of functions with sandboxes available (${this.#listedFns.length}) does not match their lists (${withSome})`);
    }
    if (this.used < -1e-6) throw new OlError('OL_ERR_INVARIANT', `memory in use is negative (${this.used} MB)`);
    if (this.dying < -1e-6) throw new OlError('OL_ERR_INVARIANT', `dying memory is negative (${this.dying} MB)`);
  }
}
