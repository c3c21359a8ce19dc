/** `ol-sim sweep`: policies × memory sizes, one table of cold-start %. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { badConfig } from '../../common/errors.js';
import { machineInfo } from '../../common/machine.js';
import { olLabVersion } from '../../common/version.js';
import { resolveSimConfig } from '../config.js';
import { sweepTable, table } from '../summary.js';
import { parseMemoryList, sweep, type ClusterAxes } from '../sweep.js';
import { progress, toConfig, toTraceOptions, type SimArgs } from './common.js';

interface SweepArgs extends SimArgs {
  policies: string;
  memory: string;
  jobs?: number;
  out?: string;
  balancers?: string;
  workers?: string;
  hopMs?: number;
}

/** The cluster axes the options ask for, checked; undefined for plain single-worker cells. */
export function clusterAxes(a: Pick<SweepArgs, 'balancers' | 'workers' | 'hopMs' | 'compat'>): ClusterAxes | undefined {
  if (a.balancers === undefined && a.workers === undefined) return undefined;
  if (a.compat) badConfig('balancers', '--compat faascache simulates one worker, as FaasCache-sim does');
  const balancers = (a.balancers ?? 'round-robin').split(',').map((s) => s.trim()).filter(Boolean);
  const workers = (a.workers ?? '1').split(',').map((s) => Number(s.trim()));
  if (workers.some((n) => !Number.isInteger(n) || n < 1 || n > 1000)) badConfig('workers', `expected a comma list of whole numbers from 1 to 1000, got ${JSON.stringify(a.workers)}`);
  return { balancers, workers, ...(a.hopMs !== undefined ? { hopMs: a.hopMs } : {}) };
}

export async function sweepCommand(a: SweepArgs): Promise<void> {
  if (a.compat === 'faascache') {
    const { compatSweep, givenOptions } = await import('./compat.js');
    const given = givenOptions();
    if (given.has('jobs')) given.delete('jobs'); // one process does it: a compat sweep is seconds
    return compatSweep({ trace: a.trace, json: a.json, out: a.out, policies: a.policies, memory: a.memory, given });
  }
  const policies = a.policies.split(',').map((s) => s.trim()).filter(Boolean);
  const memories = parseMemoryList(a.memory);
  // validate the shared part of the config once, before starting threads
  for (const p of policies) resolveSimConfig({ ...toConfig(a, p, memories[0]!), policyOptions: {} });
  const config = toConfig(a, policies[0]!, memories[0]!);
  const cluster = clusterAxes(a);
  const bar = progress(!a.json);
  const t0 = performance.now();
  let rows;
  try {
    rows = await sweep(
      { trace: a.trace, traceOptions: toTraceOptions(a), config, ...(a.profile ? { profile: a.profile } : {}) },
      policies, memories, a.jobs, (d, t) => bar.update(d, t, `${d}/${t} simulations`), cluster,
    );
  } finally {
    bar.end();
  }
  const wallMs = performance.now() - t0;
  const record = {
    tool: 'ol-sim sweep', olLabVersion: olLabVersion(), seed: a.seed, trace: a.trace, traceSha256: rows[0]?.traceSha256,
    policies, memoriesMb: memories, ...(cluster ? { cluster } : {}), config: { ...config, policy: undefined, memoryMb: undefined, cores: a.cores },
    machine: await machineInfo(), rows: rows.map(({ wallMs: _w, traceSha256: _h, ...r }) => r),
  };
  if (a.out) {
    mkdirSync(a.out, { recursive: true });
    writeFileSync(join(a.out, 'sweep.json'), JSON.stringify(record, null, 2) + '\n');
    const cols = [...(cluster ? ['balancer', 'workers', 'imbalance'] as const : []), 'policy', 'memoryMb', 'invocations', 'coldStarts', 'coldStartPct', 'dropped', 'droppedPct', 'queued', 'evictions', 'p50Ms', 'p99Ms', 'usedMbSeconds', 'idleMbSeconds'] as const;
    writeFileSync(join(a.out, 'sweep.csv'), [cols.join(','), ...rows.map((r) => cols.map((c) => r[c]).join(','))].join('\n') + '\n');
  }
  if (a.json) {
    process.stdout.write(JSON.stringify(record, null, 2) + '\n');
    return;
  }
  if (cluster) {
    process.stdout.write(`clusters: cold-start % / p99 ms by workers (rows) and balancer (columns); memory per worker; trace ${a.trace}, cores ${a.cores} per worker, queue ${a.queue}, seed ${a.seed}\n`);
    for (const p of policies) {
      for (const m of memories) {
        process.stdout.write(`\npolicy ${p}, ${m} MB per worker\n`);
        const cell = (b: string, w: number) => rows.find((r) => r.policy === p && r.memoryMb === m && r.balancer === b && r.workers === w)!;
        process.stdout.write(table([['workers', ...cluster.balancers], ...cluster.workers.map((w) => [String(w), ...cluster.balancers.map((b) => `${cell(b, w).coldStartPct.toFixed(2)} / ${cell(b, w).p99Ms.toFixed(0)}`)])]) + '\n');
      }
    }
    process.stdout.write(`\n${rows.length} simulations, ${rows.reduce((s, r) => s + r.invocations, 0).toLocaleString('en-US')} invocations in ${(wallMs / 1000).toFixed(1)} s${a.out ? `; results in ${a.out}` : ''}\n`);
    return;
  }
  const byCell = new Map(rows.map((r) => [`${r.policy}@${r.memoryMb}`, r]));
  process.stdout.write(`cold-start % (dropped % where any) by memory and policy; trace ${a.trace}, cores ${a.cores}, queue ${a.queue}, seed ${a.seed}\n\n`);
  process.stdout.write(sweepTable(policies, memories, (p, m) => {
    const r = byCell.get(`${p}@${m}`)!;
    return { coldPct: r.coldStartPct, droppedPct: r.droppedPct, dropped: r.dropped };
  }) + '\n');
  const sims = rows.length;
  const inv = rows.reduce((s, r) => s + r.invocations, 0);
  process.stdout.write(`\n${sims} simulations, ${inv.toLocaleString('en-US')} invocations in ${(wallMs / 1000).toFixed(1)} s${a.out ? `; results in ${a.out}` : ''}\n`);
}
