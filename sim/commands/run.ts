/** `ol-sim run <policy>`: one simulation, a summary table, result files. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CsvWriter, us } from '../../common/csv-writer.js';
import { badConfig } from '../../common/errors.js';
import { simulate, type ClusterRunSpec } from '../run.js';
import type { SimHooks } from '../simulator.js';
import { formatSummary } from '../summary.js';
import { parseCores, parsePolicyOpts, progress, toConfig, toTraceOptions, type SimArgs } from './common.js';

interface RunArgs extends SimArgs {
  policy: string;
  memory: number;
  out?: string;
  invocations: boolean;
  series?: number;
  top: number;
  packages?: string;
  zygotes?: string;
  zygoteMem: number;
  importMs: number;
  workers?: number;
  balancer?: string;
  balancerOpt: string[];
  workerMemory?: number;
  workerCores?: string;
  cluster?: string;
  hopMs?: number;
  viewRefreshMs: number;
  sharedCores?: string;
}

/** The cluster the options describe, or undefined for one plain worker. */
export function clusterSpec(a: RunArgs): ClusterRunSpec | undefined {
  const wanted = a.workers !== undefined || a.cluster !== undefined || a.balancer !== undefined || a.workerMemory !== undefined || a.workerCores !== undefined || (a.balancerOpt ?? []).length > 0;
  if (!wanted) {
    if (a.sharedCores !== undefined) badConfig('shared-cores', 'is the cores a cluster\'s workers share: give --workers N (or --cluster FILE) too');
    return undefined;
  }
  if (a.compat) badConfig('workers', '--compat faascache simulates one worker, as FaasCache-sim does');
  let workers: { memoryMb?: number; cores?: number }[];
  if (a.cluster !== undefined) {
    if (a.workers !== undefined || a.workerMemory !== undefined || a.workerCores !== undefined) badConfig('cluster', 'give either --cluster FILE or --workers with --worker-memory / --worker-cores, not both');
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(a.cluster, 'utf8'));
    } catch (e) {
      badConfig('cluster', `${a.cluster} is not a readable JSON file (${(e as Error).message})`);
    }
    if (!Array.isArray(doc) || doc.length === 0) badConfig('cluster', `${a.cluster} must hold a non-empty list of workers [{"memoryMb": …, "cores": …}]`);
    workers = (doc as unknown[]).map((w, i) => {
      const o = w as Record<string, unknown>;
      if (typeof o !== 'object' || o === null) badConfig('cluster', `${a.cluster}: worker ${i} must be an object`);
      for (const k of Object.keys(o)) if (k !== 'memoryMb' && k !== 'cores') badConfig('cluster', `${a.cluster}: worker ${i}: "${k}" is not known (known: memoryMb, cores)`);
      const out: { memoryMb?: number; cores?: number } = {};
      if (o.memoryMb !== undefined) {
        if (typeof o.memoryMb !== 'number' || !(o.memoryMb > 0)) badConfig('cluster', `${a.cluster}: worker ${i}: memoryMb must be a number > 0, got ${JSON.stringify(o.memoryMb)}`);
        out.memoryMb = o.memoryMb;
      }
      if (o.cores !== undefined) out.cores = parseCores(String(o.cores));
      return out;
    });
  } else {
    const n = a.workers ?? 1;
    if (!Number.isInteger(n) || n < 1) badConfig('workers', `must be a whole number >= 1, got ${a.workers}`);
    if (a.workerMemory !== undefined && !(a.workerMemory > 0)) badConfig('worker-memory', `must be a number of MB > 0, got ${a.workerMemory}`);
    const cores = a.workerCores !== undefined ? parseCores(a.workerCores) : undefined;
    workers = Array.from({ length: n }, () => ({ ...(a.workerMemory !== undefined ? { memoryMb: a.workerMemory } : {}), ...(cores !== undefined ? { cores } : {}) }));
  }
  return {
    balancer: a.balancer ?? 'round-robin', balancerOptions: parsePolicyOpts(a.balancerOpt ?? [], 'balancer-opt'), workers,
    ...(a.hopMs !== undefined ? { hopMs: a.hopMs } : {}), ...(a.sharedCores !== undefined ? { sharedCores: parseCores(a.sharedCores) } : {}), viewRefreshMs: a.viewRefreshMs ?? 100,
  };
}

export async function runCommand(a: RunArgs): Promise<void> {
  if (a.compat === 'faascache') {
    const { compatRun, givenOptions } = await import('./compat.js');
    return compatRun({ trace: a.trace, json: a.json, out: a.out, top: a.top, policy: a.policy, memory: a.memory, given: givenOptions() });
  }
  const cluster = clusterSpec(a);
  if (cluster && (a.invocations || a.series !== undefined)) badConfig('workers', '--invocations and --series are per worker and not written for a simulated cluster yet; the summary has each worker\'s figures');
  if ((a.invocations || a.series !== undefined) && !a.out) badConfig('out', '--invocations and --series write files, so they need --out DIR');
  if (a.series !== undefined && !(a.series > 0)) badConfig('series', `must be a number of ms > 0, got ${a.series}`);
  if (a.out) mkdirSync(a.out, { recursive: true });
  const hooks: SimHooks = {};
  const writers: CsvWriter[] = [];
  if (a.out && a.invocations) {
    const w = new CsvWriter(join(a.out, 'invocations.csv'), ['inv', 'fn', 'arrival_ms', 'start', 'queue_ms', 'startup_ms', 'exec_ms', 'latency_ms', 'sandbox']);
    writers.push(w);
    hooks.onInvocation = (r) => w.row([r.inv, r.fn, us(r.arrival), r.start, us(r.queueMs), us(r.startupMs), us(r.execMs), us(r.latencyMs), r.sandbox]);
  }
  if (a.out && a.series !== undefined) {
    const w = new CsvWriter(join(a.out, 'memory.csv'), ['t_ms', 'used_mb', 'idle_mb', 'sandboxes', 'busy', 'queued']);
    writers.push(w);
    hooks.seriesIntervalMs = a.series;
    hooks.onSample = (s) => w.row([us(s.t), us(s.usedMb), us(s.idleMb), s.sandboxes, s.busy, s.queued]);
  }
  const bar = progress(!a.json);
  let out;
  try {
    out = await simulate({
      trace: a.trace,
      traceOptions: toTraceOptions(a),
      config: toConfig(a, a.policy, a.memory),
      profile: a.profile,
      hooks,
      imports: { packages: a.packages, zygotes: a.zygotes, zygoteMb: a.zygoteMem, defaultImportMs: a.importMs },
      ...(cluster ? { cluster } : {}),
      onBatch: (src) => bar.update(src.stats.bytesRead, src.stats.totalBytes, `${src.stats.invocations.toLocaleString('en-US')} invocations`),
    });
  } finally {
    bar.end();
    for (const w of writers) w.close();
  }
  const { summary, wallMs } = out;
  const timing = {
    wallMs: Math.round(wallMs),
    invocationsPerSecond: Math.round(summary.results.invocations / (wallMs / 1000)),
  };
  if (a.out) {
    writeFileSync(join(a.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    writeFileSync(join(a.out, 'timing.json'), JSON.stringify(timing, null, 2) + '\n');
    const c = summary.cluster;
    if (c) {
      // a cluster's figures per worker, for a spreadsheet or a plot
      const w = new CsvWriter(join(a.out, 'workers.csv'), ['worker', 'memory_mb', 'cores', 'invocations', 'cold_starts', 'cold_start_pct', 'dropped', 'p50_ms', 'p99_ms', 'cpu_utilisation', 'peak_used_mb', 'avg_used_mb']);
      for (const x of c.perWorker) {
        w.row([x.worker, x.memoryMb, x.cores, x.invocations, x.coldStarts, x.coldStartPct, x.dropped, x.latencyMs.p50, x.latencyMs.p99, x.cpuUtilisation ?? '', x.peakUsedMb, x.avgUsedMb]);
      }
      w.close();
    }
  }
  if (a.json) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  } else {
    process.stdout.write(formatSummary(summary, a.top) + '\n');
    process.stdout.write(`\n${summary.results.invocations.toLocaleString('en-US')} invocations in ${(wallMs / 1000).toFixed(2)} s (${timing.invocationsPerSecond.toLocaleString('en-US')}/s)${a.out ? `; results in ${a.out}${summary.cluster ? ' (per worker: workers.csv)' : ''}` : ''}\n`);
  }
}
