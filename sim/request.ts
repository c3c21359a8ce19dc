/**
 * The simulator's records of sandboxes and of requests in flight.
 */
import { PooledSandbox } from '../core/pool.js';
import type { StartKind } from './results.js';

/** A simulated sandbox: the pool's record as it is. */
export class SimSandbox extends PooledSandbox {
  /** Its first call has started (and touched its memory). */
  touched = false;
  /** When its last pause's freeze ends (SimConfig.freezeMs): a call taking it earlier waits until then. */
  frozenAt = -Infinity;
}

/**
 * One invocation in flight (or a CPU job nothing waits for: a destroy, the
 * worker's background work), with what the pool decided for it.
 */
export class Request {
  sb: SimSandbox | undefined = undefined;
  kind: StartKind = 'cold';
  queueMs = 0;
  startupMs = 0;
  execStart = 0;
  /** With createOnCpu: its sandbox's creation is the CPU job running now, begun at `beginAt`. */
  creating = false;
  /** The first request on a new sandbox: its handler does the function's cold work (coldWorkMs) too. */
  firstOnSandbox = false;
  /** With createSandboxMs: the creation's weighted part is done; its part at a handler's weight runs now. */
  sandboxPart = false;
  /** CPU work off any request's path (the zygote's next spare, the worker's own bookkeeping): nothing waits for it. */
  background = false;
  /** destroyOnCpu: this background job is a destroy; `mem` MB are dying until it ends. */
  destroy = false;
  beginAt = 0;
  /** A cluster sharing one machine's cores (CpuShare): the worker whose job this is. */
  owner = 0;
  /**
   * A time before which this request cannot end (its completion is at or
   * after it): arrival plus its handler's work at first, tightened as its
   * start-up is scheduled. A cluster front that reads loads wakes a worker
   * only when one of these is due (Simulator.doneBound).
   */
  notBefore: number;
  /** Its place in the worker's list of requests in flight (Simulator.doneBound), -1 when not listed. */
  liveIx = -1;
  constructor(
    readonly seq: number,
    readonly fnId: number,
    readonly arrival: number,
    public dur: number,
    readonly mem: number,
    readonly init: number,
  ) {
    this.notBefore = below(arrival + dur);
  }
}

/**
 * A little under `t`: a completion computed by the CPU model's running
 * tags may come out a few rounding steps before the sum it equals in exact
 * arithmetic, and a bound must never be above the completion.
 */
export function below(t: number): number {
  return t - 1e-6 - Math.abs(t) * 1e-9;
}

