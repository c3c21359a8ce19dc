/**
 * Re-simulates a stored real run many times, with its calibrated profile
 * and with variants of it, and prints the simulator's median cold starts
 * beside the real run's: how much one profile figure moves the prediction.
 *
 *   node dist/bench/resimulate.js RUN_REAL PROFILE [--replicas 61] [name='{"extra":{...}}' ...]
 *
 * A variant's JSON is merged into the profile: `extra` key by key, other
 * keys replaced (e.g. cores='{"extra":{"cores":1.8}}'). Output folders go
 * under a temporary directory that is removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlan, type PlanOptions } from '../experiments/plan.js';
import { readRepeats } from '../experiments/repeats.js';
import { summarizeRun } from '../experiments/figures.js';
import { readRun } from '../experiments/run-files.js';
import { runSimReplicated } from '../experiments/sim.js';
import { loadProfile, type CostProfile } from '../sim/profile.js';
import { takeOption } from './common.js';

function usage(why: string): never {
  process.stderr.write(`resimulate: ${why}\nusage: node dist/bench/resimulate.js RUN_REAL PROFILE [--replicas N] [name='{"extra":{...}}' ...]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const replicasArg = takeOption(args, '--replicas', usage) ?? '61';
const replicas = Number(replicasArg);
if (!(Number.isInteger(replicas) && replicas >= 1)) usage(`--replicas: a whole number >= 1, got ${replicasArg}`);
const [realDir, profilePath, ...variantArgs] = args;
if (!realDir || !profilePath) usage('needs a real run folder and a profile');
const variants: { name: string; patch: { extra?: Record<string, unknown> } & Record<string, unknown> }[] = [{ name: 'as calibrated', patch: {} }];
for (const v of variantArgs) {
  const i = v.indexOf('=');
  if (i <= 0) usage(`variant "${v}": expected name=JSON`);
  try {
    variants.push({ name: v.slice(0, i), patch: JSON.parse(v.slice(i + 1)) });
  } catch (e) {
    usage(`variant "${v.slice(0, i)}": not JSON (${(e as Error).message})`);
  }
}

const real = readRun(realDir);
if (real.info.kind !== 'real') usage(`${realDir} is a ${real.info.kind} run, not a real one`);
const runs = readRepeats(realDir, 'runs.json');
const realCold = summarizeRun(real.rows).coldStarts;
const plan = buildPlan(real.info.plan as unknown as PlanOptions);
const base = loadProfile(profilePath);
const work = mkdtempSync(join(tmpdir(), 'ol-resim-'));
process.stdout.write(`real run ${realDir}: ${realCold} cold starts${runs ? ` (the median of replays ${runs.list.map((r) => r.coldStarts).join(', ')})` : ''}\n`);
process.stdout.write(`${replicas} replications per variant, profile ${profilePath}\n`);
try {
  for (const [k, v] of variants.entries()) {
    const { extra, ...top } = v.patch;
    const profile: CostProfile = { ...base, ...top, extra: { ...(base.extra ?? {}), ...(extra ?? {}) } };
    const cores = Number(profile.extra?.cores);
    if (!(cores > 0)) usage(`variant "${v.name}": the profile has no extra.cores`);
    const got = await runSimReplicated({ plan, out: join(work, String(k)), policy: real.info.policy, memoryMb: real.info.memoryMb, cores, profile, backend: 'sock', createOnCpu: true, replicas, profilePath });
    const cs = (got.replicas.length ? got.replicas.map((r) => r.coldStarts) : [summarizeRun(readRun(join(work, String(k))).rows).coldStarts]).sort((a, b) => a - b);
    const at = (q: number) => cs[Math.min(cs.length - 1, Math.floor(q * cs.length))]!;
    const med = cs[Math.floor((cs.length - 1) / 2)]!;
    const err = ((med - realCold) / realCold) * 100;
    process.stdout.write(`${v.name.padEnd(16)} cold starts: median ${med} (quartiles ${at(0.25)}-${at(0.75)}, range ${cs[0]}-${cs[cs.length - 1]}), ${err >= 0 ? '+' : ''}${err.toFixed(1)}% of real\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
