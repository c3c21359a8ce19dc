/**
 * The simulator's records of sandboxes and of requests in flight.
 */
import { PooledSandbox } from '../core/pool.js';
import type { StartKind } from './results.js';

/** A simulated sandbox: the pool's record as it is. */
export class SimSandbox extends PooledSandbox {
  /** Its first call has started (and touched its memory). */
  touched = false;
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
  constructor(
    readonly seq: number,
    readonly fnId: number,
    readonly arrival: number,
    public dur: number,
    readonly mem: number,
    readonly init: number,
  ) {}
}

