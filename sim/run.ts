/**
 * One simulation from a trace spec to a summary: the thin shell the CLI,
 * the sweep workers, the benchmark and the tests share. Writes no files.
 */
import { machineInfo, type MachineInfo } from '../common/machine.js';
import { olLabVersion } from '../common/version.js';
import { openTrace, type OpenTraceOptions } from '../traces/index.js';
import type { TraceSource } from '../traces/types.js';
import { resolveSimConfig, type SimConfig } from './config.js';
import { OlError } from '../common/errors.js';
import { readUsage } from '../traces/packages.js';
import { loadTree } from '../traces/tree-file.js';
import { ImportCacheModel, type StartupModel } from './import-cache.js';
import { compileProfile, constantProfile, loadProfile, modelFigures, type CostModel, type CostProfile } from './profile.js';
import { makeRng } from '../common/rng.js';
import { Simulator, type SimHooks, type SimResult } from './simulator.js';
import { clusterShape, summarise, workerSummary, type ClusterSummary, type SimSummary } from './summary.js';

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
  /** Package imports and zygotes (sim/import-cache.ts), from files. */
  imports?: ImportSpec;
  /** Or a startup model already built (the harness builds one from its plan). */
  startup?: StartupModel;
  /** Called after each batch of invocations (progress). */
  onBatch?: (source: TraceSource) => void;
  /** A simulated cluster instead of one worker. */
  cluster?: ClusterRunSpec;
}

export interface ClusterRunSpec {
  balancer: string;
  balancerOptions?: Record<string, number>;
  /** Workers and their sizes (memory and cores default to the run's). */
  workers: { memoryMb?: number; cores?: number }[];
  hopMs?: number;
  viewRefreshMs?: number;
  /** Each worker's own hooks (the harness numbers each worker's records back to the trace's); else `hooks` for all. */
  hooksFor?: (i: number) => SimHooks;
  /** Each worker's own startup model, built by the caller (the harness builds them from its plan); else from `imports`. */
  startupFor?: (i: number) => StartupModel | undefined;
  /** Each function's packages, for package- and tree-aware balancers, when the startup models are the caller's. */
  fnPackages?: (readonly string[] | undefined)[];
  tree?: import('../core/import-tree.js').ImportTree;
  onPlace?: (inv: number, worker: number) => void;
  /** The names the front hashes (ClusterSpec.placementNames). */
  placementNames?: string[];
  /** The workers share one machine of this many cores (ClusterSpec.sharedCores). */
  sharedCores?: number;
}

export interface ImportSpec {
  /** Package usage JSONL (traces/packages.ts), by function name. */
  packages?: string;
  /** Import-cache tree JSON. */
  zygotes?: string;
  zygoteMb?: number;
  /** Import ms of a package the usage file prices not. */
  defaultImportMs?: number;
}

/** Builds the startup model for the trace's functions. */
export function importModel(spec: ImportSpec, functions: { name: string }[], costs: CostModel, seed: number | string): { model: ImportCacheModel; notes: string[] } {
  const notes: string[] = [];
  const byName = new Map<string, string[]>();
  let importMs = new Map<string, number>();
  let installMs = new Map<string, number>();
  if (spec.packages) {
    const u = readUsage(spec.packages);
    for (const x of u.usage) byName.set(x.lambda, x.packages);
    importMs = u.importMs;
    installMs = u.installMs;
    const known = new Set(functions.map((f) => f.name));
    const missing = [...byName.keys()].filter((n) => !known.has(n));
    if (missing.length === byName.size && byName.size > 0) {
      throw new OlError('OL_ERR_CONFIG', `--packages ${spec.packages}: none of its ${byName.size} lambdas is a function of the trace (first: ${missing[0]})`);
    }
    if (missing.length) notes.push(`${missing.length} lambdas of ${spec.packages} are not in the trace`);
  }
  const tree = spec.zygotes ? loadTree(spec.zygotes) : undefined;
  const rng = makeRng(seed, 'sim/import-cache');
  const model = new ImportCacheModel({
    tree,
    fnPackages: functions.map((f) => byName.get(f.name)),
    importMs: (p) => importMs.get(p) ?? spec.defaultImportMs ?? 0,
    installMs: (p) => installMs.get(p) ?? 0,
    fork: costs.fork ?? costs.sample.create,
    zygoteMb: spec.zygoteMb ?? 128,
    rng,
  });
  if (tree && !costs.fork) notes.push('the profile has no "fork" cost: forks cost "create"');
  return { model, notes };
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
  // zeroCosts (FaasCache-sim's rule): no sandbox operation costs anything, whatever profile was named
  const profile = config.zeroCosts ? constantProfile({}, 'zero-costs') : typeof spec.profile === 'object' ? spec.profile : loadProfile(spec.profile);
  const source = typeof spec.trace === 'string'
    ? openTrace(spec.trace, { seed: config.seed, coldFromTrace: config.coldFromTrace, ...spec.traceOptions })
    : spec.trace;
  const machinePromise: Promise<MachineInfo | null> = spec.machine === false ? Promise.resolve(null) : machineInfo();
  const costs = compileProfile(profile);
  const imports = spec.imports && (spec.imports.packages || spec.imports.zygotes) ? importModel(spec.imports, source.functions, costs, config.seed) : undefined;
  if (imports && spec.startup) throw new OlError('OL_ERR_CONFIG', 'give the import model as files (imports) or built (startup), not both');
  const onBatch = spec.onBatch ? () => spec.onBatch!(source) : undefined;
  let result: SimResult;
  let cluster: ClusterSummary | undefined;
  let summaryConfig = config;
  const t0 = performance.now();
  if (spec.cluster) {
    const cs = spec.cluster;
    if (spec.startup) throw new OlError('OL_ERR_CONFIG', 'a simulated cluster builds one import model per worker: give the import model as files (--packages, --zygotes) or one per worker (cluster.startupFor)');
    if (imports && cs.startupFor) throw new OlError('OL_ERR_CONFIG', 'give the cluster\'s import models as files (imports) or built per worker (cluster.startupFor), not both');
    // the front's hop: as given, else the profile's measured one (ol-exp calibrate --hop), else 0
    const hopMs = cs.hopMs ?? modelFigures(profile).hopMs;
    const shapes = cs.workers.map((w) => ({ memoryMb: w.memoryMb ?? config.memoryMb, cores: cs.sharedCores ?? w.cores ?? config.cores }));
    const perWorker = cs.startupFor ?? ((i: number) => (imports ? importModel(spec.imports!, source.functions, costs, i === 0 ? config.seed : `${config.seed}#w${i}`).model : undefined));
    const fnPackages = cs.fnPackages ?? (imports ? source.functions.map((_, i) => imports.model.packagesOf(i)) : undefined);
    // loaded only for a cluster: a plain run starts as fast as before
    const { ClusterSimulator } = await import('./cluster.js');
    const { resolveBalancerOptions } = await import('../core/balancers/index.js');
    const sim = new ClusterSimulator(config, costs, source.functions, {
      balancer: cs.balancer, balancerOptions: cs.balancerOptions, workers: shapes, hopMs, viewRefreshMs: cs.viewRefreshMs ?? 100,
      fnPackages, tree: cs.tree ?? imports?.model.tree, ...(cs.onPlace ? { onPlace: cs.onPlace } : {}), ...(cs.placementNames ? { placementNames: cs.placementNames } : {}), ...(cs.sharedCores !== undefined ? { sharedCores: cs.sharedCores } : {}),
    }, cs.hooksFor ?? spec.hooks, perWorker);
    const out = sim.run(source.batches(), onBatch);
    result = out.total;
    const perWorkerSummary = out.workers.map((r, i) => workerSummary(i, r, shapes[i]!.memoryMb, shapes[i]!.cores));
    cluster = {
      workers: shapes.length, balancer: cs.balancer, balancerOptions: resolveBalancerOptions(cs.balancer, cs.balancerOptions),
      hopMs, viewRefreshMs: cs.viewRefreshMs ?? 100, ...(cs.sharedCores !== undefined ? { sharedCores: cs.sharedCores === Infinity ? 'infinite' as const : cs.sharedCores } : {}), perWorker: perWorkerSummary, ...clusterShape(perWorkerSummary, out.spread),
    };
    summaryConfig = { ...config, memoryMb: shapes.reduce((a, w) => a + w.memoryMb, 0), cores: cs.sharedCores ?? shapes.reduce((a, w) => a + w.cores, 0) };
  } else {
    const sim = new Simulator(config, costs, source.functions, spec.hooks, imports?.model ?? spec.startup);
    result = sim.run(source.batches(), onBatch);
  }
  const wallMs = performance.now() - t0;
  const summary = summarise(result, { config: summaryConfig, profile, source, machine: await machinePromise, version: olLabVersion() });
  if (cluster) summary.cluster = cluster;
  if (imports) {
    summary.trace.notes.push(`import cache model: packages ${spec.imports!.packages ?? '(none)'}, zygotes ${spec.imports!.zygotes ?? '(none: fresh sandboxes)'}`, ...imports.notes);
  }
  return { summary, result, source, wallMs };
}
