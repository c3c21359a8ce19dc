/**
 * How well the real worker agrees with itself: the ceiling for any
 * simulator's fidelity targets. Reads the replays of several real runs of
 * one plan (`ol-exp real --runs N` / `validate`, each folder's runs.json),
 * and resamples them (seeded) the way the harness compares: two
 * independent sets of k replays, each reduced to the run the harness keeps
 * (the median by cold starts), held to the targets against each other.
 *
 *   node dist/bench/reproducibility.js RUN [RUN ...] [--k 3,5,9,15,25] [--resamples 10000]
 *
 * Prints each real folder's replays, then (1) k replays drawn from all
 * real folders' replays pooled, for each k: replays at any hour; (2) every
 * ordered pair of real folders, each resampled as it was run: one
 * `validate` at one hour against another at another hour; (3) for each
 * simulated folder given (`ol-exp sim --replicas`, same plan), its
 * replications resampled against k real replays from the pool: how often
 * the simulator meets the targets where (1) says how often the worker
 * meets them against itself.
 */
import { readRepeats } from '../experiments/repeats.js';
import { readRun } from '../experiments/run-files.js';
import { agreementShare } from '../experiments/uncertainty.js';
import { percentile as pct } from '../common/stats.js';
import type { RepeatFigures } from '../experiments/repeats.js';
import { takeOption } from './common.js';

function usage(why: string): never {
  process.stderr.write(`reproducibility: ${why}\nusage: node dist/bench/reproducibility.js RUN_REAL [RUN_REAL ...] [--k 3,5,9,15,25] [--resamples 10000]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const ks = (takeOption(args, '--k', usage) ?? '3,5,9,15,25').split(',').map(Number);
const resamples = Number(takeOption(args, '--resamples', usage) ?? '10000');
if (!ks.every((k) => Number.isInteger(k) && k >= 1)) usage('--k: whole numbers >= 1, comma-separated');
if (!(Number.isInteger(resamples) && resamples >= 100)) usage('--resamples: a whole number >= 100');
if (args.length === 0) usage('name at least one real run folder');

const runs: { dir: string; list: RepeatFigures[] }[] = [];
const sims: { dir: string; list: RepeatFigures[] }[] = [];
let planSha: string | undefined;
for (const dir of args) {
  const info = readRun(dir).info;
  if (planSha && info.planSha256 !== planSha) usage(`${dir} is of another plan (${info.planSha256.slice(0, 12)}, not ${planSha.slice(0, 12)}): only runs of one plan say how the worker agrees with itself`);
  planSha = info.planSha256;
  const file = info.kind === 'real' ? 'runs.json' : 'replicas.json';
  const r = readRepeats(dir, file);
  if (!r) usage(`${dir} has no ${file}: it was run once`);
  (info.kind === 'real' ? runs : sims).push({ dir, list: r.list });
}
if (runs.length === 0) usage('name at least one real run folder');

const pc = (x: number) => `${Math.round(x * 100)}%`.padStart(5);
for (const r of runs) process.stdout.write(`${r.dir}: cold starts ${r.list.map((x) => x.coldStarts).join(', ')}\n`);
const pooled = runs.flatMap((r) => r.list).map((x, index) => ({ ...x, index }));
const cold = pooled.map((x) => x.coldStarts).sort((a, b) => a - b);
const med = pct(cold, 50);
const mad = pct(cold.map((c) => Math.abs(c - med)).sort((a, b) => a - b), 50);
process.stdout.write(`\n${pooled.length} replays of plan ${planSha!.slice(0, 12)} from ${runs.length} runs: cold starts median ${med}, quartiles ${pct(cold, 25)}-${pct(cold, 75)}, range ${cold[0]}-${cold[cold.length - 1]}; one replay's spread (1.4826 x MAD) ${((1.4826 * mad) / med * 100).toFixed(1)}% of the median\n`);
process.stdout.write(`\n(1) two sets of k replays drawn from the pool, ${resamples} times: share meeting each target against each other\n`);
process.stdout.write('    k  cold starts (±5%)  p50 (±10%)  p99 (±25%)  all three\n');
for (const k of ks) {
  const s = agreementShare(pooled, pooled, { resamples, kA: k, kB: k });
  process.stdout.write(`${String(k).padStart(5)}  ${pc(s.coldStarts).padStart(17)}  ${pc(s.p50).padStart(10)}  ${pc(s.p99).padStart(10)}  ${pc(s.all).padStart(9)}\n`);
}
if (runs.length >= 2) {
  process.stdout.write(`\n(2) one run against another, each resampled as it was run (${resamples} times per pair)\n`);
  const all: number[] = [], coldShares: number[] = [];
  for (let i = 0; i < runs.length; i++) {
    for (let j = 0; j < runs.length; j++) {
      if (i === j) continue;
      const s = agreementShare(runs[i]!.list, runs[j]!.list, { resamples });
      all.push(s.all);
      coldShares.push(s.coldStarts);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  process.stdout.write(`    over ${all.length} ordered pairs: cold starts within ±5% in ${pc(mean(coldShares)).trim()} on average, all three targets in ${pc(mean(all)).trim()}\n`);
}
if (sims.length) {
  process.stdout.write(`\n(3) each simulated run's replications, resampled, against k replays drawn from the pool (${resamples} times)\n`);
  process.stdout.write(`    run${' '.repeat(Math.max(0, Math.max(...sims.map((x) => x.dir.length)) - 3))}  k  cold starts (±5%)  p50 (±10%)  p99 (±25%)  all three\n`);
  for (const sim of sims) {
    for (const k of ks) {
      const s = agreementShare(sim.list, pooled, { resamples, kB: k });
      process.stdout.write(`    ${sim.dir.padEnd(Math.max(3, ...sims.map((x) => x.dir.length)))}${String(k).padStart(3)}  ${pc(s.coldStarts).padStart(17)}  ${pc(s.p50).padStart(10)}  ${pc(s.p99).padStart(10)}  ${pc(s.all).padStart(9)}\n`);
    }
  }
}
