/**
 * `ol-sim run|sweep … --compat faascache`: FaasCache-sim's semantics
 * (sim/faascache.ts) on an Azure 2019 sample converted its way
 * (traces/faascache.ts). Options that describe ol-lab's own model (cores,
 * queue, profile, packages, zygotes, the azure2019 reader's choices) have
 * no meaning there: given explicitly, they are refused by name, except the
 * profile, whose costs FaasCache takes as zero anyway.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../../common/errors.js';
import { machineInfo } from '../../common/machine.js';
import { olLabVersion } from '../../common/version.js';
import { faasCachePolicy, simulateFaasCache, type FaasCacheResult } from '../faascache.js';
import { faasCacheFingerprints, readFaasCacheTrace, type FaasCacheTrace } from '../../traces/faascache.js';
import { sweepTable, table } from '../summary.js';
import { parseMemoryList } from '../sweep.js';

/** The options named on the command line, by yargs' camel-case name (`--no-x` and `--x=v` included). */
export function givenOptions(argv: string[] = process.argv.slice(2)): Set<string> {
  const out = new Set<string>();
  for (const t of argv) {
    const m = /^--(?:no-)?([a-z][a-z0-9-]*)/.exec(t);
    if (m) out.add(m[1]!.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
  }
  return out;
}

/** What a compat run needs of the parsed arguments. */
export interface CompatArgs {
  trace: string;
  json: boolean;
  out?: string;
  top?: number;
  /** Arguments the user gave on the command line, by yargs' camel-case name (to refuse those with no meaning here). */
  given: Set<string>;
}

const MEANINGLESS: Record<string, string> = {
  cores: 'FaasCache-sim has infinite CPUs',
  queue: 'FaasCache-sim drops an arrival it cannot place',
  sandboxConcurrency: 'a FaasCache container serves one call at a time',
  pausedMem: 'FaasCache-sim does not pause',
  coldFromTrace: 'FaasCache-sim always takes the cold time from the trace',
  createLanes: 'FaasCache-sim creates containers at once',
  createOnCpu: 'FaasCache-sim has no CPU model',
  policyOpt: 'FaasCache-sim\'s policies take no options',
  arrivals: 'FaasCache-sim places arrivals evenly in each minute its own way',
  duration: 'FaasCache-sim takes the Average as the warm time',
  functions: 'FaasCache-sim keeps every function invoked more than once',
  minutes: 'FaasCache-sim replays the whole day',
  memMb: 'FaasCache-sim reads azure2019 samples only',
  skipBad: 'a FaasCache input with a bad line is refused, not skipped',
  packages: 'FaasCache-sim has no packages',
  zygotes: 'FaasCache-sim has no zygotes',
  zygoteMem: 'FaasCache-sim has no zygotes',
  importMs: 'FaasCache-sim has no packages',
  invocations: 'FaasCache-sim keeps counts, not a record per invocation',
  series: 'FaasCache-sim keeps counts, not a memory series',
  seed: 'FaasCache-sim is deterministic',
  dropSingle: '--compat faascache applies it itself, with all of FaasCache-sim\'s rules',
  evictTo: '--compat faascache applies FaasCache-sim\'s rule (full) itself',
  flushOnFail: '--compat faascache applies it itself, with all of FaasCache-sim\'s rules',
  zeroCosts: '--compat faascache applies it itself, with all of FaasCache-sim\'s rules',
};

function checkArgs(a: CompatArgs): string {
  for (const [name, why] of Object.entries(MEANINGLESS)) {
    if (a.given.has(name)) {
      const flag = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      throw new OlError('OL_ERR_CONFIG', `--${flag}: has no meaning under --compat faascache (${why})`);
    }
  }
  const m = /^(?:([a-z0-9]+):)?(.*)$/.exec(a.trace)!;
  if (m[1] && m[1] !== 'azure2019') throw new OlError('OL_ERR_CONFIG', `trace: --compat faascache reads azure2019 samples only, got format ${m[1]}`);
  return m[2]!;
}

function summaryOf(tr: FaasCacheTrace, r: FaasCacheResult, policyName: string) {
  const pct = (x: number) => Math.round((10000 * x) / r.invocations) / 100;
  return {
    policy: policyName, faascachePolicy: r.policy, memoryMb: r.memoryMb, invocations: r.invocations,
    cold: r.cold, warm: r.warm, dropped: r.dropped, evictions: r.evictions,
    coldPct: pct(r.cold), droppedPct: pct(r.dropped),
    perFunction: r.perFunction,
  };
}

function traceRecord(tr: FaasCacheTrace) {
  return {
    files: tr.files, functions: tr.functions.length, invocations: tr.fn.length,
    fingerprints: faasCacheFingerprints(tr), skippedRows: tr.skipped,
  };
}

export async function compatRun(a: CompatArgs & { policy: string; memory: number }): Promise<void> {
  const path = checkArgs(a);
  const fcPolicy = faasCachePolicy(a.policy);
  const tr = readFaasCacheTrace(path);
  const r = simulateFaasCache(tr, fcPolicy, a.memory);
  const s = summaryOf(tr, r, a.policy);
  const record = {
    tool: 'ol-sim run --compat faascache', olLabVersion: olLabVersion(), semantics: 'FaasCache-sim (aFuerst/faascache-sim, code/split/LambdaScheduler.py)',
    trace: traceRecord(tr), ...s, machine: await machineInfo(),
  };
  if (a.out) {
    mkdirSync(a.out, { recursive: true });
    writeFileSync(join(a.out, 'summary.json'), JSON.stringify(record, null, 2) + '\n');
    writeFileSync(join(a.out, 'timing.json'), JSON.stringify({ loopMs: Math.round(r.loopMs), invocationsPerSecond: Math.round(r.invocations / (r.loopMs / 1000)) }, null, 2) + '\n');
  }
  if (a.json) {
    process.stdout.write(JSON.stringify(record, null, 2) + '\n');
    return;
  }
  const out: string[] = [];
  out.push(`FaasCache-sim's semantics (--compat faascache): ${a.policy} runs FaasCache's ${fcPolicy}; ${a.memory.toLocaleString('en-US')} MB; infinite CPUs; no dispatch or destroy costs`);
  out.push(`trace ${path}: ${tr.functions.length} functions, ${tr.fn.length.toLocaleString('en-US')} invocations${tr.skipped.length ? `; ${tr.skipped.length} CSV row(s) left out as FaasCache-sim leaves them` : ''}`);
  out.push('');
  out.push(table([
    ['invocations', 'cold', 'warm', 'dropped', 'cold %', 'dropped %', 'evictions'],
    [r.invocations, r.cold, r.warm, r.dropped, s.coldPct.toFixed(2), s.droppedPct.toFixed(2), r.evictions].map((x) => x.toLocaleString('en-US')),
  ]));
  const top = [...r.perFunction].sort((x, y) => (y.cold + y.warm + y.dropped) - (x.cold + x.warm + x.dropped)).slice(0, a.top ?? 10);
  out.push('');
  out.push(table([['function', 'cold', 'warm', 'dropped', 'evictions'], ...top.map((f) => [f.name.slice(0, 16), f.cold, f.warm, f.dropped, f.evictions].map(String))]));
  out.push('');
  out.push(`${r.invocations.toLocaleString('en-US')} invocations in ${(r.loopMs / 1000).toFixed(2)} s (${Math.round(r.invocations / (r.loopMs / 1000)).toLocaleString('en-US')}/s)${a.out ? `; results in ${a.out}` : ''}`);
  process.stdout.write(out.join('\n') + '\n');
}

export async function compatSweep(a: CompatArgs & { policies: string; memory: string }): Promise<void> {
  const path = checkArgs(a);
  const policies = a.policies.split(',').map((s) => s.trim()).filter(Boolean);
  const fc = policies.map(faasCachePolicy); // every name checked before the first run
  const memories = parseMemoryList(a.memory);
  const tr = readFaasCacheTrace(path);
  const t0 = performance.now();
  const rows = [];
  for (let i = 0; i < policies.length; i++) {
    for (const mb of memories) {
      const { perFunction: _p, ...s } = summaryOf(tr, simulateFaasCache(tr, fc[i]!, mb), policies[i]!);
      rows.push(s);
    }
  }
  const wallMs = performance.now() - t0;
  const record = {
    tool: 'ol-sim sweep --compat faascache', olLabVersion: olLabVersion(), semantics: 'FaasCache-sim (aFuerst/faascache-sim, code/split/LambdaScheduler.py)',
    trace: traceRecord(tr), policies, memoriesMb: memories, machine: await machineInfo(), rows,
  };
  if (a.out) {
    mkdirSync(a.out, { recursive: true });
    writeFileSync(join(a.out, 'sweep.json'), JSON.stringify(record, null, 2) + '\n');
    const cols = ['policy', 'faascachePolicy', 'memoryMb', 'invocations', 'cold', 'warm', 'dropped', 'evictions', 'coldPct', 'droppedPct'] as const;
    writeFileSync(join(a.out, 'sweep.csv'), [cols.join(','), ...rows.map((r) => cols.map((c) => r[c]).join(','))].join('\n') + '\n');
  }
  if (a.json) {
    process.stdout.write(JSON.stringify(record, null, 2) + '\n');
    return;
  }
  const byCell = new Map(rows.map((r) => [`${r.policy}@${r.memoryMb}`, r]));
  process.stdout.write(`cold-start % (dropped % where any) by memory and policy, FaasCache-sim's semantics; trace ${path}\n\n`);
  process.stdout.write(sweepTable(policies, memories, (p, m) => byCell.get(`${p}@${m}`)!) + '\n');
  process.stdout.write(`\n${rows.length} simulations, ${(rows.length * tr.fn.length).toLocaleString('en-US')} invocations in ${(wallMs / 1000).toFixed(1)} s${a.out ? `; results in ${a.out}` : ''}\n`);
}
