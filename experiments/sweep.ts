/**
 * `ol-exp sweep`: policies × memory sizes on the simulator, with the two
 * classic charts: cold-start % against memory (FaasCache, ASPLOS'21,
 * Fig. 7 style) and cold starts against wasted (idle) memory-time, the
 * trade-off Serverless in the Wild (ATC'20) plots as a Pareto front.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lineChart } from '../reports/charts.js';
import { writeHtml, writePdf, type ReportDoc } from '../reports/document.js';
import { machineInfo } from '../common/machine.js';
import { parseMemoryList, sweep, type ClusterAxes } from '../sim/sweep.js';
import type { SweepRow } from '../sim/sweep-worker.js';

export async function runSweepReport(o: { trace: string; policies: string[]; memory: string; cores: string; queue: 'wait' | 'drop'; seed: number; out: string; log: (s: string) => void; cluster?: ClusterAxes }): Promise<string[]> {
  const memories = parseMemoryList(o.memory);
  const cores = /^inf/i.test(o.cores) ? Infinity : Number(o.cores);
  if (o.cluster) return clusterSweepReport({ ...o, memories, cores, cluster: o.cluster });
  o.log(`simulating ${o.policies.length} policies × ${memories.length} memory sizes`);
  const rows = await sweep({ trace: o.trace, config: { cores, queue: o.queue, seed: o.seed } }, o.policies, memories);
  mkdirSync(o.out, { recursive: true });
  const cold = await lineChart({
    title: 'Misses (cold starts + dropped) against memory', x: 'memory pool (MB)', y: 'cold starts + dropped (% of invocations)', yMin: 0,
    series: o.policies.map((p) => ({ label: p, points: rows.filter((r) => r.policy === p).map((r): [number, number] => [r.memoryMb, r.coldStartPct + r.droppedPct]) })),
  });
  const pareto = await lineChart({
    title: 'Misses against wasted memory-time (each point a memory size)', x: 'idle memory-time (GB·s)', y: 'cold starts + dropped (% of invocations)', yMin: 0,
    series: o.policies.map((p) => ({ label: p, points: rows.filter((r) => r.policy === p).map((r): [number, number] => [r.idleMbSeconds / 1000, r.coldStartPct + r.droppedPct]).sort((a, b) => a[0] - b[0]) })),
  });
  writeFileSync(join(o.out, 'cold-vs-memory.png'), cold);
  writeFileSync(join(o.out, 'pareto.png'), pareto);
  const cols = ['policy', 'memoryMb', 'invocations', 'coldStarts', 'coldStartPct', 'dropped', 'droppedPct', 'idleMbSeconds', 'p50Ms', 'p99Ms'] as const;
  writeFileSync(join(o.out, 'sweep.csv'), [cols.join(','), ...rows.map((r) => cols.map((c) => r[c]).join(','))].join('\n') + '\n');
  const doc: ReportDoc = {
    title: `ol-lab sweep: ${o.policies.join(', ')} on ${o.trace}`,
    summary: `${rows.length} simulations: cores ${o.cores}, queue ${o.queue}, seed ${o.seed}, trace sha256 ${rows[0]?.traceSha256 ?? ''}.`,
    sections: [
      { heading: 'Setup', rows: [['trace', o.trace], ['memory sizes (MB)', memories.join(', ')], ['machine', JSON.stringify(await machineInfo())]] },
      {
        heading: 'Cold-start % by memory',
        rows: memories.map((m): [string, string] => [`${m} MB`, o.policies.map((p) => {
          const r = rows.find((x) => x.policy === p && x.memoryMb === m)!;
          return `${p} ${r.coldStartPct.toFixed(2)}% cold${r.dropped ? ` + ${r.droppedPct.toFixed(2)}% dropped` : ''}`;
        }).join('   ')]),
      },
    ],
    charts: [{ file: 'cold-vs-memory.png', title: 'Cold starts against memory', png: cold }, { file: 'pareto.png', title: 'Cold starts against wasted memory-time', png: pareto }],
  };
  await writePdf(doc, join(o.out, 'sweep.pdf'));
  writeHtml(doc, join(o.out, 'sweep.html'));
  return ['sweep.pdf', 'sweep.html', 'sweep.csv', 'cold-vs-memory.png', 'pareto.png'];
}

/**
 * A cluster sweep: balancers × worker counts (× policies × memory per
 * worker), with cold-start % and p99 against the number of workers, one
 * line per balancer (and per policy and memory size when there are
 * several), and the load imbalance the same way.
 */
async function clusterSweepReport(o: { trace: string; policies: string[]; memories: number[]; cores: number; queue: 'wait' | 'drop'; seed: number; out: string; log: (s: string) => void; cluster: ClusterAxes }): Promise<string[]> {
  const c = o.cluster;
  o.log(`simulating ${c.balancers.length} balancers × ${c.workers.length} cluster sizes × ${o.policies.length} policies × ${o.memories.length} memory sizes (per worker)`);
  const rows = await sweep({ trace: o.trace, config: { cores: o.cores, queue: o.queue, seed: o.seed } }, o.policies, o.memories, undefined, undefined, c);
  mkdirSync(o.out, { recursive: true });
  const many = o.policies.length > 1 || o.memories.length > 1;
  const lines = c.balancers.flatMap((balancer) => o.policies.flatMap((policy) => o.memories.map((memoryMb) => ({ balancer, policy, memoryMb }))));
  const series = (y: (r: SweepRow) => number) => lines.map((l) => ({
    label: many ? `${l.balancer} (${l.policy}, ${l.memoryMb} MB)` : l.balancer,
    points: rows.filter((r) => r.balancer === l.balancer && r.policy === l.policy && r.memoryMb === l.memoryMb).map((r): [number, number] => [r.workers!, y(r)]).sort((a, b) => a[0] - b[0]),
  }));
  const per = `${many ? '' : `${o.policies[0]}, ${o.memories[0]} MB per worker; `}${o.queue === 'drop' ? 'drops counted as misses' : 'queued'}`;
  const charts = [
    { file: 'cluster-cold.png', title: 'Cold starts against cluster size, per balancer', png: await lineChart({ title: `Misses (cold starts + dropped) against workers (${per})`, x: 'workers', y: 'cold starts + dropped (% of invocations)', yMin: 0, series: series((r) => r.coldStartPct + r.droppedPct) }) },
    { file: 'cluster-p99.png', title: 'p99 latency against cluster size, per balancer', png: await lineChart({ title: `p99 latency against workers (${per})`, x: 'workers', y: 'p99 latency (ms)', yMin: 0, series: series((r) => r.p99Ms) }) },
    { file: 'cluster-imbalance.png', title: 'Load imbalance against cluster size, per balancer', png: await lineChart({ title: 'Busiest worker\'s invocations over the mean', x: 'workers', y: 'imbalance (max / mean)', yMin: 1, series: series((r) => r.imbalance ?? 1) }) },
  ];
  for (const ch of charts) writeFileSync(join(o.out, ch.file), ch.png);
  const cols = ['balancer', 'workers', 'policy', 'memoryMb', 'invocations', 'coldStarts', 'coldStartPct', 'dropped', 'droppedPct', 'imbalance', 'p50Ms', 'p99Ms', 'idleMbSeconds'] as const;
  writeFileSync(join(o.out, 'sweep.csv'), [cols.join(','), ...rows.map((r) => cols.map((k) => r[k] ?? '').join(','))].join('\n') + '\n');
  const doc: ReportDoc = {
    title: `ol-lab cluster sweep: ${c.balancers.join(', ')} on ${o.trace}`,
    summary: `${rows.length} simulated clusters: ${c.workers.join(', ')} workers; policies ${o.policies.join(', ')}; memory per worker ${o.memories.join(', ')} MB; cores per worker ${o.cores}, queue ${o.queue}, seed ${o.seed}, hop ${c.hopMs ?? 'the profile\'s'} ms; trace sha256 ${rows[0]?.traceSha256 ?? ''}.`,
    sections: [
      { heading: 'Setup', rows: [['trace', o.trace], ['machine', JSON.stringify(await machineInfo())]] },
      {
        heading: 'Per cluster',
        rows: rows.map((r): [string, string] => [`${r.balancer}, ${r.workers} workers, ${r.policy}, ${r.memoryMb} MB`, `${r.coldStartPct.toFixed(2)}% cold${r.dropped ? ` + ${r.droppedPct.toFixed(2)}% dropped` : ''}, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(1)} ms, imbalance ${(r.imbalance ?? 1).toFixed(3)}`]),
      },
    ],
    charts,
  };
  await writePdf(doc, join(o.out, 'sweep.pdf'));
  writeHtml(doc, join(o.out, 'sweep.html'));
  return ['sweep.pdf', 'sweep.html', 'sweep.csv', ...charts.map((ch) => ch.file)];
}
