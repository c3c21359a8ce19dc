/**
 * The simulator's configuration: every field, its default, and the checks
 * that turn a wrong value into an error naming the setting.
 */
import { badConfig } from '../common/errors.js';
import { resolvePolicyOptions } from '../core/policies/index.js';

/** What happens to an invocation that finds no memory for a new sandbox. */
export type QueueMode = 'wait' | 'drop';

export interface SimConfig {
  /** Policy name from the registry (`ol-sim policies`). */
  policy: string;
  /** Policy options (see each policy's `options`); defaults filled in. */
  policyOptions: Record<string, number>;
  /** The memory pool, MB. */
  memoryMb: number;
  /** CPU cores shared by running handlers; Infinity for no contention. */
  cores: number;
  /** `wait`: FIFO queue until memory frees; `drop`: count and discard. */
  queue: QueueMode;
  /** Requests one sandbox serves at once (OpenLambda's Python runtime: 1). */
  sandboxConcurrency: number;
  /**
   * Footprint of a paused sandbox, MB (OpenLambda's `downsize_paused_mem`
   * shrinks a paused sandbox's memory limit); null keeps the full size.
   */
  pausedMemMb: number | null;
  /** Use the trace's own cold-start times where it gives them (FaasCache mode). */
  coldFromTrace: boolean;
  /**
   * Treat a sandbox's creation as CPU work shared with running handlers
   * (processor sharing) instead of a pure delay: on a small machine,
   * concurrent cold starts and handlers compete for the same cores.
   */
  createOnCpu: boolean;
  /**
   * How many sandbox creations proceed at once; more wait their turn
   * (Infinity: all in parallel). Measured on real workers, creations
   * largely serialise (kernel locks on namespaces, mounts and cgroups).
   */
  createLanes: number;
  /**
   * CPU work the worker does for every request, and for every new sandbox,
   * that no request waits for, ms of one core: the worker's and the
   * client's own request handling; the zygote making its next spare and
   * the pool refilling its cgroups. It shares the cores with the handlers;
   * 0: none. `ol-exp calibrate` measures both as machine CPU
   * (`extra.backgroundCpu`).
   */
  callBackgroundCpuMs: number;
  coldBackgroundCpuMs: number;
  /**
   * CPU work a pause and the unpause after it cost the worker, that no
   * request waits for, ms of one core, charged when a sandbox is paused
   * (policies that pause idle sandboxes: openlambda). `ol-exp calibrate`
   * measures it as the CPU of a call that finds its sandbox paused beyond a
   * warm call's, as the experiment's cgroup counts it on sock and the
   * machine on docker (`extra.backgroundCpu.pauseMs`); 0: none.
   */
  pauseBackgroundCpuMs: number;
  /**
   * With createOnCpu: treat destroying a sandbox as CPU work (a job beside
   * the handlers) instead of a pure delay; its memory is dying, not free,
   * until that job ends, and a creation waits while reserved plus dying
   * memory is over the pool (the worker's rule). Under load, destroys
   * stretch like everything else, and so do the waits.
   */
  destroyOnCpu: boolean;
  /**
   * With createOnCpu: the CPU weight of a creation's job against a
   * handler's 1 (the worker forks sandboxes from zygotes whose CPU weight is
   * 32 times a sandbox's, so a fork is not stretched like the handlers
   * around it). 1: creations share the cores like handlers.
   */
  createCpuWeight: number;
  /**
   * With createOnCpu: ms of each creation's CPU work that run at a
   * handler's weight, after the weighted part (a forked sandbox's own
   * start-up once it has joined its cgroup: its root, its privileges, its
   * handler's import). The creation holds its lane through both parts, so
   * under load, when this part stretches like the handlers, the next
   * creations wait longer (the worker's zygote makes the next spare only
   * once the last sandbox is up). 0: all of it at createCpuWeight.
   */
  createSandboxMs: number;
  /**
   * With createOnCpu: ms a creation waits, holding its lane, before its CPU
   * work when it starts while the cores are all busy (as many jobs running
   * as cores). The worker's zygote, woken for each fork, does not take a
   * core from a busy handler at once, whatever its weight: measured,
   * forks beside spinning handlers cost this much beyond an idle machine's
   * besides their own part's stretch (ModelFigures.createLoaded). 0: none.
   */
  createBusyWaitMs: number;
  /**
   * The CPU scheduler's time slice, ms (sim/cpu.ts TimeSlicing): while jobs
   * wait for a core, each running one keeps it for this much work at most.
   * 0: fluid processor sharing (every job progresses at once). With
   * infinite cores no job waits, and it changes nothing.
   */
  cpuSliceMs: number;
  /**
   * A pause's freeze, wall ms: it ends `freezeMs` + `freezeLoadMs` × (CPU
   * jobs running / cores) after the sandbox goes paused, and a call that
   * takes the sandbox before then waits for the rest before its unpause
   * (the worker chains the unpause behind the pause in flight; a frozen
   * task must get a core to stop, so under load the freeze takes a
   * scheduler's wait). 0 and 0: no wait (profiles without the figure).
   */
  freezeMs: number;
  freezeLoadMs: number;
  /**
   * How much a cold start that does not fit evicts (core/pool.ts): the
   * shortfall (ol-lab's rule) or the new sandbox's full size (FaasCache-sim's).
   */
  evictTo: 'shortfall' | 'full';
  /** When room cannot be made, evict every idle sandbox before giving up (FaasCache-sim's rule; meant with queue drop). */
  flushOnFail: boolean;
  /** Every sandbox cost (create, fork, unpause, pause, destroy, dispatch) is zero, whatever the profile says (FaasCache-sim's). */
  zeroCosts: boolean;
  /** The run's one seed. */
  seed: number;
}

export const simDefaults: SimConfig = {
  policy: 'lru',
  policyOptions: {},
  memoryMb: 32_000,
  cores: 2,
  queue: 'wait',
  sandboxConcurrency: 1,
  pausedMemMb: null,
  coldFromTrace: false,
  createOnCpu: false,
  createLanes: Infinity,
  callBackgroundCpuMs: 0,
  coldBackgroundCpuMs: 0,
  pauseBackgroundCpuMs: 0,
  destroyOnCpu: false,
  createCpuWeight: 1,
  createSandboxMs: 0,
  createBusyWaitMs: 0,
  cpuSliceMs: 0,
  freezeMs: 0,
  freezeLoadMs: 0,
  evictTo: 'shortfall',
  flushOnFail: false,
  zeroCosts: false,
  seed: 1,
};

/** Fills defaults and validates; every error names the setting. */
export function resolveSimConfig(given: Partial<SimConfig>): SimConfig {
  const c: SimConfig = { ...simDefaults, ...given };
  if (!(typeof c.memoryMb === 'number' && c.memoryMb > 0 && Number.isFinite(c.memoryMb))) badConfig('memory', `must be a number of MB > 0, got ${c.memoryMb}`);
  if (!(typeof c.cores === 'number' && c.cores > 0)) badConfig('cores', `must be a number > 0 or "infinite", got ${c.cores}`);
  if (c.queue !== 'wait' && c.queue !== 'drop') badConfig('queue', `must be wait or drop, got ${c.queue}`);
  if (!(Number.isInteger(c.sandboxConcurrency) && c.sandboxConcurrency >= 1)) badConfig('sandbox-concurrency', `must be a whole number >= 1, got ${c.sandboxConcurrency}`);
  if (c.pausedMemMb !== null && !(c.pausedMemMb >= 0 && Number.isFinite(c.pausedMemMb))) badConfig('paused-mem', `must be a number of MB >= 0, got ${c.pausedMemMb}`);
  if (!Number.isInteger(c.seed)) badConfig('seed', `must be a whole number, got ${c.seed}`);
  if (!(c.createLanes === Infinity || (Number.isInteger(c.createLanes) && c.createLanes >= 1))) badConfig('create-lanes', `must be a whole number >= 1 or Infinity, got ${c.createLanes}`);
  if (!(c.callBackgroundCpuMs >= 0 && Number.isFinite(c.callBackgroundCpuMs))) badConfig('call-background-cpu', `must be a number of ms >= 0, got ${c.callBackgroundCpuMs}`);
  if (!(c.coldBackgroundCpuMs >= 0 && Number.isFinite(c.coldBackgroundCpuMs))) badConfig('cold-background-cpu', `must be a number of ms >= 0, got ${c.coldBackgroundCpuMs}`);
  if (!(c.pauseBackgroundCpuMs >= 0 && Number.isFinite(c.pauseBackgroundCpuMs))) badConfig('pause-background-cpu', `must be a number of ms >= 0, got ${c.pauseBackgroundCpuMs}`);
  if (c.destroyOnCpu && !c.createOnCpu) badConfig('destroy-on-cpu', 'needs create-on-cpu: creations must be CPU jobs to wait for dying memory');
  if (!(c.createCpuWeight >= 1 && Number.isFinite(c.createCpuWeight))) badConfig('create-cpu-weight', `must be a number >= 1, got ${c.createCpuWeight}`);
  if (!(c.createSandboxMs >= 0 && Number.isFinite(c.createSandboxMs))) badConfig('create-sandbox-ms', `must be a number of ms >= 0, got ${c.createSandboxMs}`);
  if (c.createSandboxMs > 0 && !c.createOnCpu) badConfig('create-sandbox-ms', 'needs create-on-cpu: only creations run as CPU jobs have parts');
  if (!(c.createBusyWaitMs >= 0 && Number.isFinite(c.createBusyWaitMs))) badConfig('create-busy-wait-ms', `must be a number of ms >= 0, got ${c.createBusyWaitMs}`);
  if (c.createBusyWaitMs > 0 && !c.createOnCpu) badConfig('create-busy-wait-ms', 'needs create-on-cpu: only creations run as CPU jobs wait for a core');
  if (!(c.cpuSliceMs >= 0 && Number.isFinite(c.cpuSliceMs))) badConfig('cpu-slice-ms', `must be a number of ms >= 0, got ${c.cpuSliceMs}`);
  if (!(c.freezeMs >= 0 && Number.isFinite(c.freezeMs))) badConfig('freeze-ms', `must be a number of ms >= 0, got ${c.freezeMs}`);
  if (!(c.freezeLoadMs >= 0 && Number.isFinite(c.freezeLoadMs))) badConfig('freeze-load-ms', `must be a number of ms >= 0, got ${c.freezeLoadMs}`);
  if (c.evictTo !== 'shortfall' && c.evictTo !== 'full') badConfig('evict-to', `must be shortfall or full, got ${JSON.stringify(c.evictTo)}`);
  if (typeof c.flushOnFail !== 'boolean') badConfig('flush-on-fail', `must be true or false, got ${JSON.stringify(c.flushOnFail)}`);
  if (typeof c.zeroCosts !== 'boolean') badConfig('zero-costs', `must be true or false, got ${JSON.stringify(c.zeroCosts)}`);
  c.policyOptions = resolvePolicyOptions(c.policy, c.policyOptions);
  return c;
}
