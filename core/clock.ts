/**
 * Clocks. Policy and scheduling code asks a {@link Clock} for the time and
 * for callbacks; it never calls `Date.now()` or `setTimeout` itself. The
 * simulator drives it with a {@link VirtualClock} (a SimPy-style kernel: now,
 * schedule, step, run), the real worker with worker/wall-clock.ts, which is
 * this kernel with another way of waiting, so decision code cannot tell
 * them apart.
 */

/** A callback scheduled on a clock; `arg` is passed through untouched. */
export type ClockCallback<A = any> = (arg: A) => void;

/** The time source shared by the simulator and the worker. Times are in ms. */
export interface Clock {
  /** Current time in milliseconds (virtual, or since the clock was made). */
  now(): number;
  /**
   * Runs `fn(arg)` at time `at` (never before `now()`). Among callbacks due at
   * the same time, lower `priority` runs first, then the one scheduled first.
   */
  schedule<A>(at: number, fn: ClockCallback<A>, arg?: A, priority?: number): void;
}

// Priority and sequence number are packed in one float64 key so the heap
// compares two numbers per entry: priority * 2^40 + seq stays an exact
// integer below 2^53 for priorities < 8192 and 10^12 scheduled events.
const SEQ_SPAN = 2 ** 40;
const MAX_PRIORITY = 8191;

/**
 * A deterministic event kernel: a binary min-heap keyed by (time, priority,
 * sequence number), stored in parallel typed arrays so that scheduling does
 * not allocate. Ties always break the same way, so a run is reproducible.
 */
export class VirtualClock implements Clock {
  #now = 0;
  #seq = 0;
  #size = 0;
  #time: Float64Array;
  #key: Float64Array;
  #fn: (ClockCallback | undefined)[];
  #arg: unknown[];

  constructor(start = 0, initialCapacity = 1024) {
    this.#now = start;
    this.#time = new Float64Array(initialCapacity);
    this.#key = new Float64Array(initialCapacity);
    this.#fn = new Array(initialCapacity);
    this.#arg = new Array(initialCapacity);
  }

  now(): number {
    return this.#now;
  }

  /** Number of callbacks waiting. */
  get pending(): number {
    return this.#size;
  }

  schedule<A>(at: number, fn: ClockCallback<A>, arg?: A, priority = 0): void {
    if (!(at >= this.#now)) {
      throw new RangeError(`cannot schedule at ${at}, before now (${this.#now})`);
    }
    if (priority < 0 || priority > MAX_PRIORITY || !Number.isInteger(priority)) {
      throw new RangeError(`priority must be an integer in 0..${MAX_PRIORITY}, got ${priority}`);
    }
    if (this.#size === this.#time.length) this.#grow();
    const key = priority * SEQ_SPAN + this.#seq++;
    // sift up
    let i = this.#size++;
    const time = this.#time, keys = this.#key, fns = this.#fn, args = this.#arg;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = time[p]!;
      if (pt < at || (pt === at && keys[p]! < key)) break;
      time[i] = pt; keys[i] = keys[p]!; fns[i] = fns[p]; args[i] = args[p];
      i = p;
    }
    time[i] = at; keys[i] = key; fns[i] = fn as ClockCallback; args[i] = arg;
  }

  /** Time of the next callback, or +Infinity when none is waiting. */
  peekTime(): number {
    return this.#size > 0 ? this.#time[0]! : Infinity;
  }

  /** Priority of the next callback (meaningful only when one is waiting). */
  peekPriority(): number {
    return Math.floor(this.#key[0]! / SEQ_SPAN);
  }

  /**
   * Advances to the time of the next callback and runs it. Returns false when
   * nothing is waiting.
   */
  step(): boolean {
    if (this.#size === 0) return false;
    const time = this.#time, keys = this.#key, fns = this.#fn, args = this.#arg;
    const at = time[0]!;
    const fn = fns[0]!;
    const arg = args[0];
    const n = --this.#size;
    if (n > 0) {
      // move the last entry to the root and sift it down
      const lt = time[n]!, lk = keys[n]!, lf = fns[n], la = args[n];
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        const r = c + 1;
        if (r < n && (time[r]! < time[c]! || (time[r] === time[c] && keys[r]! < keys[c]!))) c = r;
        const ct = time[c]!;
        if (lt < ct || (lt === ct && lk < keys[c]!)) break;
        time[i] = ct; keys[i] = keys[c]!; fns[i] = fns[c]; args[i] = args[c];
        i = c;
      }
      time[i] = lt; keys[i] = lk; fns[i] = lf; args[i] = la;
    }
    fns[n] = undefined;
    args[n] = undefined;
    this.#now = at;
    fn(arg);
    return true;
  }

  /**
   * Moves the clock forward to `t` without running anything; used by drivers
   * that merge another ordered source (a trace) with this heap.
   */
  advanceTo(t: number): void {
    if (t < this.#now) throw new RangeError(`cannot move the clock back from ${this.#now} to ${t}`);
    this.#now = t;
  }

  /** Runs callbacks until none is left, or until the next one is after `until`. */
  run(until = Infinity): void {
    while (this.#size > 0 && this.#time[0]! <= until) this.step();
    if (until !== Infinity && until > this.#now) this.#now = until;
  }

  #grow(): void {
    const cap = this.#time.length * 2;
    const t = new Float64Array(cap); t.set(this.#time); this.#time = t;
    const k = new Float64Array(cap); k.set(this.#key); this.#key = k;
    this.#fn.length = cap;
    this.#arg.length = cap;
  }
}
