/**
 * One simulation from a trace spec to a summary: the thin shell the CLI,
 * the sweep workers, the benchmark and the tests share. Writes no files.
 */
import { machineInfo, type MachineInfo } from '../common/machine.js';
import { olLabVersion } from '../common/version.js';
import { openTrace, type OpenTraceOptions } from '../traces/index.js';
import type { TraceSource } from '../traces/types.js';
import { resolveSimConfig, type SimConfig } from './config.js';
import { compileProfile, loadProfile, type CostProfile } from './profile.js';
import { Simulator, type SimHooks, type SimResult } from './simulator.js';
import { summarise, type SimSummary } from './summary.js';

export interface RunSpec {
  /** `format:path`, a bare path, or `gen:…`; or an already opened source. */
  trace: string | TraceSource;
  traceOptions?: OpenTraceOptions;
  config: Partial<SimConfig>;
  /** A profile object, a path, or undefined for the bundled default. */
  profile?: CostProfile | string;
  hooks?: SimHooks;
  /** Include the machine description (slow to gather; default true). */
  machine?: boolean;
  /** Called after each batch of invocations (progress). */
  onBatch?: (source: TraceSource) => void;
}

export interface RunOutput {
  summary: SimSummary;
  result: SimResult;
  source: TraceSource;
  /** Wall-clock time of the simulation proper, ms (not in the summary). */
  wallMs: number;
}

/** Runs one simulation. */
export async function simulate(spec: RunSpec): Promise<RunOutput> {
  const config = resolveSimConfig({ ...spec.config });
  const profile = typeof spec.profile === 'object' ? spec.profile : loadProfile(spec.profile);
  const source = typeof spec.trace === 'string'
    ? openTrace(spec.trace, { seed: config.seed, coldFromTrace: config.coldFromTrace, ...spec.traceOptions })
    : spec.trace;
  const machinePromise: Promise<MachineInfo | null> = spec.machine === false ? Promise.resolve(null) : machineInfo();
  const sim = new Simulator(config, compileProfile(profile), source.functions, spec.hooks);
  const t0 = performance.now();
  const result = sim.run(source.batches(), spec.onBatch ? () => spec.onBatch!(source) : undefined);
  const wallMs = performance.now() - t0;
  const summary = summarise(result, { config, profile, source, machine: await machinePromise, version: olLabVersion() });
  return { summary, result, source, wallMs };
}
