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
import { parseMemoryList, sweep } from '../sim/sweep.js';

export async function runSweepReport(o: { trace: string; policies: string[]; memory: string; cores: string; queue: 'wait' | 'drop'; seed: number; out: string; log: (s: string) => void }): Promise<string[]> {
  const memories = parseMemoryList(o.memory);
  const cores = /^inf/i.test(o.cores) ? Infinity : Number(o.cores);
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
