/**
 * What a simulation reports: the event log's lines, each invocation's
 * record, the pool's state over time, the observers a caller may attach,
 * and the run's totals (sim/summary.ts formats them).
 */
import type { LatencyHistogram } from '../common/histogram.js';
import type { PoolDecision } from '../core/pool.js';

/** How an invocation got its sandbox. */
export type StartKind = 'warm' | 'unpaused' | 'cold' | 'dropped';

/** One line of the event log (tests and `--log`). */
export interface SimEvent {
  t: number;
  kind:
    | 'arrive' | 'warm' | 'unpause' | 'cold' | 'queue' | 'drop' | 'exec' | 'done'
    | 'idle' | 'pause' | 'evict' | 'expire' | 'prewarm' | 'prewarm-skip' | 'unload';
  fn: string;
  /** Invocation number (0-based, trace order), where the event concerns one. */
  inv?: number;
  /** Sandbox id, where the event concerns one. */
  sb?: number;
}

/** What is recorded of each invocation (`--invocations` CSV, the harness). */
export interface InvocationRecord {
  inv: number;
  fn: string;
  arrival: number;
  start: StartKind;
  /** Time spent waiting for memory. */
  queueMs: number;
  /** Cold start / unpause / dispatch before the handler ran (incl. evictions on the path). */
  startupMs: number;
  /** Handler time as stretched by CPU sharing. */
  execMs: number;
  /** Arrival to response. */
  latencyMs: number;
  sandbox: number;
}

/** The pool's state at one instant (memory-over-time series). */
export interface MemorySample {
  t: number;
  /** Core-ms of CPU work done since the start (handlers, creations, background; utilisation from differences). */
  cpuBusyCoreMs: number;
  usedMb: number;
  idleMb: number;
  sandboxes: number;
  busy: number;
  queued: number;
}

/** Optional observers (none of them changes the run), and the per-function cold work the validation harness sets. */
export interface SimHooks {
  log?: (e: SimEvent) => void;
  onInvocation?: (r: InvocationRecord) => void;
  /** Called with a sample every `seriesIntervalMs` of simulated time. */
  onSample?: (s: MemorySample) => void;
  seriesIntervalMs?: number;
  /**
   * Invocations whose sandbox dies as they end (a crash, an OOM kill, a
   * time limit): the sandbox is destroyed instead of going idle. Fault
   * injection for what-if runs and the parity test; none by default.
   */
  crashes?: (inv: number) => boolean;
  /** Sees every decision of the core pool (the parity test): request number or -1, sandbox id or -1. */
  decisions?: (kind: PoolDecision, fn: string, sb: number, seq: number) => void;
  /**
   * CPU work (ms) a function's handler does on a new sandbox's first
   * request, before its own execution time: imports, touching its memory.
   * The validation harness sets it from calibration.
   */
  coldWorkMs?: ArrayLike<number>;
  /**
   * The same work when the first request starts while other CPU jobs run
   * (page faults taken side by side cost more each: calibrated as
   * touchBusyMsPerMb); default: coldWorkMs.
   */
  coldWorkBusyMs?: ArrayLike<number>;
  /**
   * The touching of a first call priced by the host's free memory
   * (sim/free-memory.ts): its CPU is added to the first call's work besides
   * coldWorkMs (which then holds no touching), and each destroyed sandbox
   * whose first call ran gives its memory back to it.
   */
  firstTouch?: { touch(fnId: number, now: number): number; freed(fnId: number, now: number): void };
  /**
   * Time the answer takes to reach the client after a handler that ran
   * `execMs` returns, beyond the warm dispatch (which is measured around a
   * handler that does nothing), ms: on a virtual machine the worker's and
   * client's idle cores fall asleep while a handler works, and waking them
   * costs more the longer they slept. Added to the latency only: the
   * sandbox is free when its handler returns. The validation harness sets
   * it from calibration (extra.responseWake); none by default.
   */
  responseMs?: (execMs: number) => number;
}

/** Per-function results. */
export interface FunctionStats {
  invocations: number;
  cold: number;
  warm: number;
  unpaused: number;
  queued: number;
  dropped: number;
  latency: LatencyHistogram;
}

/** Everything a run produced, before formatting. */
export interface SimResult {
  invocations: number;
  completed: number;
  cold: number;
  warm: number;
  unpaused: number;
  queued: number;
  dropped: number;
  droppedOversize: number;
  evictions: number;
  expirations: number;
  pauses: number;
  prewarms: number;
  prewarmsSkipped: number;
  prewarmUnloads: number;
  sandboxesCreated: number;
  /** Sandboxes destroyed by an injected crash (SimHooks.crashes). */
  crashes: number;
  /** The package / import-cache model's counters (with --packages or --zygotes). */
  startup?: Record<string, number>;
  latency: LatencyHistogram;
  queueWaitMsTotal: number;
  queueWaitMsMax: number;
  /** First arrival to the end of the last invocation, ms. */
  startMs: number;
  endMs: number;
  /** Integral of memory in use (MB·ms) and of idle + paused memory ("wasted"). */
  memUsedMbMs: number;
  memIdleMbMs: number;
  peakUsedMb: number;
  cpuBusyCoreMs: number;
  perFunction: FunctionStats[];
  policyStats: Record<string, number>;
}

