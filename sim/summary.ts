/**
 * Turning a {@link SimResult} into the run's summary: a JSON object whose
 * bytes depend only on the trace, config, profile, seed, ol-lab version and
 * machine (no wall-clock times: those go in timing.json), and a text table.
 */
import type { MachineInfo } from '../common/machine.js';
import type { SimConfig } from './config.js';
import type { LatencyHistogram } from '../common/histogram.js';
import type { CostProfile } from './profile.js';
import type { SimResult } from './simulator.js';
import type { TraceSource } from '../traces/types.js';

/** Latency figures, ms. */
export interface LatencyFigures {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface FunctionSummary {
  fn: string;
  invocations: number;
  cold: number;
  warm: number;
  unpaused: number;
  queued: number;
  dropped: number;
  coldStartPct: number;
  latencyMs: { mean: number; p50: number; p99: number; max: number };
}

/** The run's summary (summary.json). */
export interface SimSummary {
  tool: 'ol-sim';
  olLabVersion: string;
  seed: number;
  config: SimConfig;
  profile: { name: string; source: string; costs: CostProfile['costs'] };
  trace: {
    format: string;
    location: string;
    sha256: string;
    options: Record<string, unknown>;
    functions: number;
    notes: string[];
  };
  machine: MachineInfo | null;
  results: {
    invocations: number;
    completed: number;
    coldStarts: number;
    warmHits: number;
    warm: number;
    unpaused: number;
    queued: number;
    dropped: number;
    droppedOversize: number;
    coldStartPct: number;
    droppedPct: number;
    evictions: number;
    expirations: number;
    pauses: number;
    prewarms: number;
    prewarmsSkipped: number;
    prewarmUnloads: number;
    sandboxesCreated: number;
    /** Package installs, zygotes, forks and import time saved (with --packages or --zygotes). */
    importCache?: Record<string, number>;
    latencyMs: LatencyFigures;
    queueWaitMs: { mean: number; max: number };
    simulatedMs: number;
    memory: {
      capacityMb: number;
      peakUsedMb: number;
      avgUsedMb: number;
      avgIdleMb: number;
      usedMbSeconds: number;
      idleMbSeconds: number;
    };
    cpuUtilisation: number | null;
    policy: Record<string, number>;
  };
  perFunction: FunctionSummary[];
  /** A simulated cluster's workers, balancer and spread (absent for one worker without --workers). */
  cluster?: ClusterSummary;
}

/** One worker of a simulated cluster. */
export interface WorkerSummary {
  worker: number;
  memoryMb: number;
  cores: number | 'infinite';
  invocations: number;
  coldStarts: number;
  coldStartPct: number;
  dropped: number;
  latencyMs: LatencyFigures;
  cpuUtilisation: number | null;
  peakUsedMb: number;
  avgUsedMb: number;
}

export interface ClusterSummary {
  workers: number;
  balancer: string;
  balancerOptions: Record<string, number>;
  hopMs: number;
  viewRefreshMs: number;
  /** The cores all workers shared (one machine), when they did; each worker's CPU figures are then the machine's. */
  sharedCores?: number | 'infinite';
  perWorker: WorkerSummary[];
  /** Invocations of the busiest worker over the mean (1: perfectly even). */
  imbalance: number;
  /** Over the functions: how many workers each ran on. */
  spread: { meanWorkersPerFunction: number; maxWorkersPerFunction: number; functionsOnOneWorker: number };
}

const r6 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x);

/** Latency figures from a histogram (NaN-free: 0 when it is empty). */
export function latencyFigures(h: LatencyHistogram): LatencyFigures {
  if (h.count === 0) return { mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    mean: r6(h.mean), p50: r6(h.percentile(50)), p90: r6(h.percentile(90)),
    p99: r6(h.percentile(99)), p999: r6(h.percentile(99.9)), max: r6(h.max),
  };
}

/** A cluster worker's line of the summary. */
export function workerSummary(worker: number, res: SimResult, memoryMb: number, cores: number): WorkerSummary {
  const span = Math.max(0, res.endMs - res.startMs);
  return {
    worker, memoryMb, cores: cores === Infinity ? 'infinite' : cores,
    invocations: res.invocations, coldStarts: res.cold, coldStartPct: res.invocations ? r6((100 * res.cold) / res.invocations) : 0,
    dropped: res.dropped, latencyMs: latencyFigures(res.latency),
    cpuUtilisation: cores === Infinity || span === 0 ? null : r6(res.cpuBusyCoreMs / (cores * span)),
    peakUsedMb: r6(res.peakUsedMb), avgUsedMb: span > 0 ? r6(res.memUsedMbMs / span) : 0,
  };
}

/** Invocations of the busiest worker over the mean; how many workers each function ran on. */
export function clusterShape(perWorker: WorkerSummary[], spread: { workers: number }[]): Pick<ClusterSummary, 'imbalance' | 'spread'> {
  const inv = perWorker.map((w) => w.invocations);
  const mean = inv.reduce((a, b) => a + b, 0) / inv.length;
  const ws = spread.map((s) => s.workers);
  return {
    imbalance: mean > 0 ? r6(Math.max(...inv) / mean) : 0,
    spread: {
      meanWorkersPerFunction: ws.length ? r6(ws.reduce((a, b) => a + b, 0) / ws.length) : 0,
      maxWorkersPerFunction: ws.length ? Math.max(...ws) : 0,
      functionsOnOneWorker: ws.filter((x) => x === 1).length,
    },
  };
}

/** Builds the summary object. */
export function summarise(
  res: SimResult,
  ctx: { config: SimConfig; profile: CostProfile; source: TraceSource; machine: MachineInfo | null; version: string },
): SimSummary {
  const span = Math.max(0, res.endMs - res.startMs);
  const perFunction: FunctionSummary[] = res.perFunction.map((f, i) => ({
    fn: ctx.source.functions[i]!.name,
    invocations: f.invocations,
    cold: f.cold,
    warm: f.warm,
    unpaused: f.unpaused,
    queued: f.queued,
    dropped: f.dropped,
    coldStartPct: f.invocations ? r6((100 * f.cold) / f.invocations) : 0,
    latencyMs: f.latency.count
      ? { mean: r6(f.latency.mean), p50: r6(f.latency.percentile(50)), p99: r6(f.latency.percentile(99)), max: r6(f.latency.max) }
      : { mean: 0, p50: 0, p99: 0, max: 0 },
  }));
  return {
    tool: 'ol-sim',
    olLabVersion: ctx.version,
    seed: ctx.config.seed,
    config: { ...ctx.config, cores: ctx.config.cores === Infinity ? ('infinite' as unknown as number) : ctx.config.cores },
    profile: { name: ctx.profile.name, source: ctx.profile.source, costs: ctx.profile.costs },
    trace: {
      format: ctx.source.format,
      location: ctx.source.location,
      sha256: ctx.source.hash(),
      options: ctx.source.options,
      functions: ctx.source.functions.length,
      notes: ctx.source.notes(),
    },
    machine: ctx.machine,
    results: {
      invocations: res.invocations,
      completed: res.completed,
      coldStarts: res.cold,
      warmHits: res.warm + res.unpaused,
      warm: res.warm,
      unpaused: res.unpaused,
      queued: res.queued,
      dropped: res.dropped,
      droppedOversize: res.droppedOversize,
      coldStartPct: res.invocations ? r6((100 * res.cold) / res.invocations) : 0,
      droppedPct: res.invocations ? r6((100 * res.dropped) / res.invocations) : 0,
      evictions: res.evictions,
      expirations: res.expirations,
      pauses: res.pauses,
      prewarms: res.prewarms,
      prewarmsSkipped: res.prewarmsSkipped,
      prewarmUnloads: res.prewarmUnloads,
      sandboxesCreated: res.sandboxesCreated,
      ...(res.startup ? { importCache: res.startup } : {}),
      latencyMs: latencyFigures(res.latency),
      queueWaitMs: { mean: res.queued ? r6(res.queueWaitMsTotal / res.queued) : 0, max: r6(res.queueWaitMsMax) },
      simulatedMs: r6(span),
      memory: {
        capacityMb: ctx.config.memoryMb,
        peakUsedMb: r6(res.peakUsedMb),
        avgUsedMb: span > 0 ? r6(res.memUsedMbMs / span) : 0,
        avgIdleMb: span > 0 ? r6(res.memIdleMbMs / span) : 0,
        usedMbSeconds: r6(res.memUsedMbMs / 1000),
        idleMbSeconds: r6(res.memIdleMbMs / 1000),
      },
      cpuUtilisation: ctx.config.cores === Infinity || span === 0 ? null : r6(res.cpuBusyCoreMs / (ctx.config.cores * span)),
      policy: res.policyStats,
    },
    perFunction,
  };
}

function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return String(x);
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Renders rows as an aligned text table (first column left, others right). */
/** A sweep's table: one row per memory size, one column per policy, each cell the cold-start % (and dropped % where any). */
export function sweepTable(policies: string[], memories: number[], cell: (policy: string, memoryMb: number) => { coldPct: number; droppedPct: number; dropped: number }): string {
  return table([
    ['memory MB', ...policies],
    ...memories.map((m) => [String(m), ...policies.map((p) => {
      const r = cell(p, m);
      return r.coldPct.toFixed(2) + (r.dropped > 0 ? ` (${r.droppedPct.toFixed(1)})` : '');
    })]),
  ]);
}

export function table(rows: string[][], leftColumns = 1): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (c < leftColumns ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

/** The summary table `ol-sim run` prints. */
export function formatSummary(s: SimSummary, topFunctions = 10): string {
  const r = s.results;
  const l = r.latencyMs;
  const cores = s.config.cores as unknown;
  const lines: string[] = [];
  lines.push(`ol-sim ${s.olLabVersion}  policy=${s.config.policy}  memory=${fmt(s.config.memoryMb)} MB  cores=${cores}  queue=${s.config.queue}  seed=${s.seed}`);
  lines.push(`trace ${s.trace.format}:${s.trace.location}  (${fmt(s.trace.functions, 0)} functions, sha256 ${s.trace.sha256.slice(0, 12)}…)  profile=${s.profile.name}`);
  for (const n of s.trace.notes) lines.push(`  note: ${n}`);
  lines.push('');
  lines.push(table([
    ['invocations', 'completed', 'cold', 'cold %', 'warm hits', 'unpaused', 'queued', 'dropped', 'evictions'],
    [fmt(r.invocations, 0), fmt(r.completed, 0), fmt(r.coldStarts, 0), fmt(r.coldStartPct, 3), fmt(r.warmHits, 0), fmt(r.unpaused, 0), fmt(r.queued, 0), fmt(r.dropped, 0), fmt(r.evictions, 0)],
  ]));
  lines.push('');
  lines.push(table([
    ['latency ms', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'],
    ['', fmt(l.mean, 3), fmt(l.p50, 3), fmt(l.p90, 3), fmt(l.p99, 3), fmt(l.p999, 3), fmt(l.max, 3)],
  ]));
  lines.push('');
  const m = r.memory;
  lines.push(table([
    ['memory MB', 'capacity', 'peak used', 'avg used', 'avg idle (wasted)', 'used MB·s', 'idle MB·s'],
    ['', fmt(m.capacityMb, 0), fmt(m.peakUsedMb, 0), fmt(m.avgUsedMb, 1), fmt(m.avgIdleMb, 1), fmt(m.usedMbSeconds, 0), fmt(m.idleMbSeconds, 0)],
  ]));
  if (r.importCache) {
    const z = r.importCache;
    lines.push(`import cache: ${fmt(z.zygoteForks ?? 0, 0)} cold starts forked from zygotes, ${fmt(z.freshStarts ?? 0, 0)} fresh; ${fmt(z.zygotesCreated ?? 0, 0)} zygotes made (${fmt(z.zygoteNoMemory ?? 0, 0)} refused for memory, ${fmt(z.zygoteEvictions ?? 0, 0)} evicted); ${fmt(z.packageInstalls ?? 0, 0)} package installs; import time saved ${fmt((z.importMsSaved ?? 0) / 1000, 1)} s`);
  }
  lines.push(`simulated ${fmt(r.simulatedMs / 1000, 1)} s; queue wait mean ${fmt(r.queueWaitMs.mean, 1)} ms, max ${fmt(r.queueWaitMs.max, 1)} ms; CPU utilisation ${r.cpuUtilisation === null ? 'n/a (infinite cores)' : fmt(100 * r.cpuUtilisation, 1) + '%'}`);
  if (s.cluster) {
    const c = s.cluster;
    lines.push('');
    lines.push(`cluster: ${c.workers} workers, balancer ${c.balancer}${Object.keys(c.balancerOptions).length ? ` (${Object.entries(c.balancerOptions).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}, hop ${fmt(c.hopMs, 3)} ms, view refreshed every ${fmt(c.viewRefreshMs, 0)} ms${c.sharedCores !== undefined ? `, sharing ${c.sharedCores} cores (each worker's CPU % is the machine's)` : ''}; imbalance (max/mean invocations) ${fmt(c.imbalance, 3)}; functions on 1 worker: ${fmt(c.spread.functionsOnOneWorker, 0)}, workers per function mean ${fmt(c.spread.meanWorkersPerFunction, 2)}, max ${c.spread.maxWorkersPerFunction}`);
    lines.push(table([
      ['worker', 'memory MB', 'cores', 'invocations', 'cold %', 'dropped', 'p50 ms', 'p99 ms', 'CPU %', 'peak MB'],
      ...c.perWorker.map((w) => [String(w.worker), fmt(w.memoryMb, 0), String(w.cores), fmt(w.invocations, 0), fmt(w.coldStartPct, 3), fmt(w.dropped, 0), fmt(w.latencyMs.p50, 2), fmt(w.latencyMs.p99, 2), w.cpuUtilisation === null ? 'n/a' : fmt(100 * w.cpuUtilisation, 1), fmt(w.peakUsedMb, 0)]),
    ]));
  }
  if (s.perFunction.length > 0 && topFunctions > 0) {
    lines.push('');
    const top = [...s.perFunction].sort((a, b) => b.invocations - a.invocations).slice(0, topFunctions);
    lines.push(table([
      [`top ${top.length} of ${s.perFunction.length} functions`, 'invocations', 'cold', 'cold %', 'dropped', 'p50 ms', 'p99 ms'],
      ...top.map((f) => [f.fn.length > 24 ? f.fn.slice(0, 23) + '…' : f.fn, fmt(f.invocations, 0), fmt(f.cold, 0), fmt(f.coldStartPct, 2), fmt(f.dropped, 0), fmt(f.latencyMs.p50, 2), fmt(f.latencyMs.p99, 2)]),
    ]));
  }
  return lines.join('\n');
}
