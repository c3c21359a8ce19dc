/**
 * `npm run bench:cluster`: the simulated cluster's speed and memory. A
 * generated trace of --invocations (default 100 million) over --functions
 * (default 10,000) is written to a CSV file, then simulated on --workers
 * (default 100) worker models behind each of --balancers (default
 * round-robin, ch-bl), each run in a child process on one core that
 * streams the file and reports its wall time and peak RSS. Infinite cores
 * and drop (as the single-worker streaming benchmark), --worker-memory MB
 * per worker (default 640: the 64,000 MB of that benchmark split 100
 * ways). Writes bench-out/cluster.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineInfo } from '../common/machine.js';
import { projectPath } from '../common/paths.js';
import { simulate } from '../sim/run.js';
import { runMain, writeReport } from './common.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};

async function child(): Promise<void> {
  const file = process.argv[process.argv.indexOf('--child') + 1]!;
  const workers = Number(arg('workers', '100'));
  const memoryMb = Number(arg('worker-memory', '640'));
  const out = await simulate({
    trace: `csv:${file}`, config: { policy: 'lru', memoryMb, cores: Infinity, queue: 'drop' }, machine: false,
    cluster: { balancer: arg('balancer', 'round-robin'), workers: Array.from({ length: workers }, () => ({})) },
  });
  const r = out.summary.results, c = out.summary.cluster!;
  process.stdout.write(JSON.stringify({ invocations: r.invocations, wallMs: out.wallMs, maxRssBytes: process.resourceUsage().maxRSS * 1024, cold: r.coldStarts, dropped: r.dropped, imbalance: c.imbalance }) + '\n');
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) return child();
  const n = Number(arg('invocations', '100000000'));
  const functions = Number(arg('functions', '10000'));
  const workers = Number(arg('workers', '100'));
  const memoryMb = Number(arg('worker-memory', '640'));
  const balancers = arg('balancers', 'round-robin,ch-bl').split(',');
  const lines: string[] = [];
  const say = (s = '') => { lines.push(s); process.stdout.write(s + '\n'); };
  const m = await machineInfo();
  say('## Cluster simulator benchmark (`npm run bench:cluster`)');
  say();
  say(`Machine: ${m.cpu}, ${m.cores} logical cores, ${Math.round(m.memTotalMb / 1024)} GiB, ${m.os}, Node ${m.node}. Run ${new Date().toISOString().slice(0, 10)}.`);
  const dir = join(tmpdir(), `ol-cbench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const file = join(dir, 'trace.csv');
    const t0 = performance.now();
    execFileSync(process.execPath, [projectPath('dist', 'sim', 'cli.js'), 'gen', '--kind', 'poisson', '--functions', String(functions), '--invocations', String(n), '--rate', '100', '--seed', '1', '--out', file], { stdio: ['ignore', 'ignore', 'inherit'] });
    say();
    say(`Trace: \`ol-sim gen --kind poisson --functions ${functions} --invocations ${n} --rate 100 --seed 1\`, ${(statSync(file).size / 2 ** 30).toFixed(2)} GiB, written in ${((performance.now() - t0) / 1000).toFixed(0)} s. ${workers} workers of ${memoryMb} MB, lru, infinite cores, drop.`);
    say();
    say('| balancer | invocations | cold % | imbalance | wall s | invocations/s | peak RSS MiB |');
    say('|---|---:|---:|---:|---:|---:|---:|');
    for (const b of balancers) {
      const r = spawnSync(process.execPath, [process.argv[1]!, '--child', file, '--balancer', b, '--workers', String(workers), '--worker-memory', String(memoryMb)], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
      const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
      say(`| ${b} | ${j.invocations.toLocaleString('en-US')} | ${((100 * j.cold) / j.invocations).toFixed(2)} | ${j.imbalance.toFixed(3)} | ${(j.wallMs / 1000).toFixed(1)} | ${Math.round(j.invocations / (j.wallMs / 1000)).toLocaleString('en-US')} | ${Math.round(j.maxRssBytes / 2 ** 20)} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  writeReport('cluster', lines);
}

runMain(main);
