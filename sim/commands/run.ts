/** `ol-sim run <policy>`: one simulation, a summary table, result files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CsvWriter, us } from '../../common/csv-writer.js';
import { badConfig } from '../../common/errors.js';
import { simulate } from '../run.js';
import type { SimHooks } from '../simulator.js';
import { formatSummary } from '../summary.js';
import { progress, toConfig, toTraceOptions, type SimArgs } from './common.js';

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
}

export async function runCommand(a: RunArgs): Promise<void> {
  if (a.compat === 'faascache') {
    const { compatRun, givenOptions } = await import('./compat.js');
    return compatRun({ trace: a.trace, json: a.json, out: a.out, top: a.top, policy: a.policy, memory: a.memory, given: givenOptions() });
  }
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
  }
  if (a.json) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  } else {
    process.stdout.write(formatSummary(summary, a.top) + '\n');
    process.stdout.write(`\n${summary.results.invocations.toLocaleString('en-US')} invocations in ${(wallMs / 1000).toFixed(2)} s (${timing.invocationsPerSecond.toLocaleString('en-US')}/s)${a.out ? `; results in ${a.out}` : ''}\n`);
  }
}
