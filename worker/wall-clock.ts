/**
 * The wall clock the worker (and the boss) run the core's decisions on.
 */
import { VirtualClock, type Clock, type ClockCallback } from '../core/clock.js';

/**
 * The real clock: `now()` is milliseconds since construction (monotonic,
 * from `performance.now()`), and callbacks wait on Node's timers. As SimPy's
 * RealtimeEnvironment, it is the virtual kernel with another way of
 * waiting: due callbacks are kept in a {@link VirtualClock} and run by its
 * `run(until)`, so callbacks due together run in the same order (time,
 * priority, then scheduling order) on both clocks. Scheduling is a heap
 * insertion; the timer is re-armed only for a callback due sooner.
 */
export class WallClock implements Clock {
  readonly #origin = performance.now();
  #due = new VirtualClock(0, 64);
  #timer: NodeJS.Timeout | undefined;
  #armedAt = Infinity;
  #closed = false;

  now(): number {
    return performance.now() - this.#origin;
  }

  schedule<A>(at: number, fn: ClockCallback<A>, arg?: A, priority = 0): void {
    if (this.#closed) return;
    this.#due.schedule(Math.max(at, this.#due.now()), fn, arg, priority);
    if (at < this.#armedAt) this.#arm();
  }

  /** Cancels every pending callback (used when a worker shuts down); later ones are ignored. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
    this.#due = new VirtualClock(0, 1);
  }

  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.#due.peekTime();
    this.#armedAt = next;
    if (next === Infinity) return;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, next - this.now()));
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    this.#due.run(Math.max(this.now(), this.#due.now()));
    if (!this.#closed) this.#arm();
  }
}
