/**
 * `npm run bench:sim`: the simulator's speed and memory figures.
 *
 * 1. Every policy over the 140-function Azure 2019 sample (1.47 million
 *    invocations) at 8,000 MB, in two configurations: FaasCache-comparable
 *    (infinite cores, drop when no memory) and ol-lab's default (2 cores,
 *    FIFO queue). Each figure is the median of --repeat runs, each run in
 *    this one process on one core, timed from the first trace read to the
 *    last invocation simulated (trace expansion included).
 * 2. A generated trace of --stream-invocations (default 100 million)
 *    invocations over 1,000 functions, written to a CSV file first, then
 *    streamed through the simulator in a child process whose peak RSS is
 *    reported (from getrusage).
 *
 * Prints a Markdown report and writes it to bench-out/sim.md.
 * Options: --trace DIR/140 (default ../shared/traces/azure2019-sample/140),
 * --repeat N (default 3), --stream-invocations N (0 skips part 2),
 * --stream-repeat N (default 1), --keep (keep the generated CSV).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineInfo } from '../common/machine.js';
import { projectPath } from '../common/paths.js';
import { median } from '../common/stats.js';
import { runMain, writeReport } from './common.js';
import { evictionPolicies } from '../core/policies/index.js';
import { simulate } from '../sim/run.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}


async function child(): Promise<void> {
  // child mode: stream one trace through the simulator, report speed and peak RSS
  const trace = arg('child', '');
  const out = await simulate({ trace, config: { policy: arg('policy', 'lru'), memoryMb: 64_000, cores: Infinity, queue: 'drop' }, machine: false });
  const rss = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ invocations: out.summary.results.invocations, wallMs: out.wallMs, maxRssBytes: rss, cold: out.summary.results.coldStarts, dropped: out.summary.results.dropped }) + '\n');
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) return child();
  const trace = arg('trace', projectPath('..', 'shared', 'traces', 'azure2019-sample', '140'));
  const repeat = Number(arg('repeat', '3'));
  const streamN = Number(arg('stream-invocations', '100000000'));
  const streamRepeat = Number(arg('stream-repeat', '1'));
  const lines: string[] = [];
  const say = (s = '') => { lines.push(s); process.stdout.write(s + '\n'); };
  const m = await machineInfo();
  say(`## Simulator benchmark (\`npm run bench:sim\`)`);
  say();
  say(`Machine: ${m.cpu}, ${m.cores} logical cores, ${Math.round(m.memTotalMb / 1024)} GiB, ${m.os}, Node ${m.node}. Run ${new Date().toISOString().slice(0, 10)}.`);
  say();
  say(`### Azure 2019, 140 functions, 8,000 MB (median of ${repeat} runs each)`);
  say();
  say('| policy | config | invocations | cold % | dropped % | wall s (median) | invocations/s (median) |');
  say('|---|---|---:|---:|---:|---:|---:|');
  const configs = [
    { label: 'infinite cores, drop', cores: Infinity, queue: 'drop' as const },
    { label: '2 cores, FIFO queue', cores: 2, queue: 'wait' as const },
  ];
  for (const c of configs) {
    for (const policy of Object.keys(evictionPolicies)) {
      const walls: number[] = [];
      let last;
      for (let i = 0; i < repeat; i++) {
        last = await simulate({ trace: `azure2019:${trace}`, config: { policy, memoryMb: 8000, cores: c.cores, queue: c.queue }, machine: false });
        walls.push(last.wallMs);
      }
      const r = last!.summary.results;
      const w = median(walls);
      say(`| ${policy} | ${c.label} | ${r.invocations.toLocaleString('en-US')} | ${r.coldStartPct.toFixed(2)} | ${r.droppedPct.toFixed(2)} | ${(w / 1000).toFixed(3)} | ${Math.round(r.invocations / (w / 1000)).toLocaleString('en-US')} |`);
    }
  }
  if (streamN > 0) {
    say();
    say(`### ${streamN.toLocaleString('en-US')} generated invocations over 1,000 functions, streamed from a CSV file`);
    say();
    const dir = join(tmpdir(), `ol-bench-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'stream.csv');
    const cli = projectPath('dist', 'sim', 'cli.js');
    const t0 = performance.now();
    execFileSync(process.execPath, [cli, 'gen', '--kind', 'poisson', '--functions', '1000', '--invocations', String(streamN), '--rate', '100', '--seed', '1', '--out', file], { stdio: ['ignore', 'ignore', 'inherit'] });
    const genS = (performance.now() - t0) / 1000;
    const size = statSync(file).size;
    say(`Trace: \`ol-sim gen --kind poisson --functions 1000 --invocations ${streamN} --rate 100 --seed 1\`, ${(size / 2 ** 30).toFixed(2)} GiB, written in ${genS.toFixed(0)} s.`);
    say();
    say(`| policy | invocations | cold % | wall s (median of ${streamRepeat}) | invocations/s | peak RSS MiB (max) |`);
    say('|---|---:|---:|---:|---:|---:|');
    for (const policy of ['lru', 'gdsf']) {
      const runs = [];
      for (let i = 0; i < streamRepeat; i++) {
        const r = spawnSync(process.execPath, [process.argv[1]!, '--child', file, '--policy', policy], { encoding: 'utf8', maxBuffer: 1 << 20 });
        if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
        runs.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
      }
      const j = runs[0];
      const w = median(runs.map((x) => x.wallMs));
      const rss = Math.max(...runs.map((x) => x.maxRssBytes));
      say(`| ${policy} | ${j.invocations.toLocaleString('en-US')} | ${((100 * j.cold) / j.invocations).toFixed(2)} | ${(w / 1000).toFixed(1)} | ${Math.round(j.invocations / (w / 1000)).toLocaleString('en-US')} | ${Math.round(rss / 2 ** 20)} |`);
    }
    say();
    say('(64,000 MB, infinite cores, drop; the child process reads the file in 1 MiB chunks, so its memory does not grow with the trace.)');
    if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  }
  writeReport('sim', lines);
}

runMain(main);
