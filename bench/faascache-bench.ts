/**
 * `npm run bench:faascache`: the speed of `--compat faascache` (FaasCache-
 * sim's semantics, sim/faascache.ts): every FaasCache policy over an Azure
 * 2019 sample at several memory sizes, timed over the simulation loop alone
 * (the trace is converted once, before). Each figure is the median of
 * --repeat runs in this one process.
 *
 * Options: --trace DIR/N (default ../shared/traces/azure2019-sample/140),
 * --memory 1000,4000,… (MB), --repeat N (default 3), --against DIR: another
 * built ol-lab checkout (its dist/sim/faascache.js), run alternately with
 * this one in the same process, each cell's ratio and whether every count
 * (cold, warm, dropped, evictions, per function) is the same.
 * Prints Markdown and writes bench-out/faascache.md.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OlError } from '../common/errors.js';
import { machineInfo } from '../common/machine.js';
import { projectPath } from '../common/paths.js';
import { median } from '../common/stats.js';
import { runMain, writeReport } from './common.js';
import { FAASCACHE_POLICIES, simulateFaasCache, type FaasCacheResult } from '../sim/faascache.js';
import { readFaasCacheTrace } from '../traces/faascache.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};

async function main(): Promise<void> {
  const trace = arg('trace', projectPath('..', 'shared', 'traces', 'azure2019-sample', '140'));
  const sizes = arg('memory', '1000,4000,16000,32000,64000').split(',').map(Number);
  const repeat = Number(arg('repeat', '3'));
  if (!Number.isInteger(repeat) || repeat < 1) throw new OlError('OL_ERR_CONFIG', `--repeat: a whole number >= 1, got "${arg('repeat', '3')}"`);
  const bad = sizes.find((mb) => !(mb > 0));
  if (bad !== undefined) throw new OlError('OL_ERR_CONFIG', `--memory: MB > 0 each, got "${arg('memory', '')}"`);
  const againstDir = arg('against', '');
  let other: typeof simulateFaasCache | undefined;
  if (againstDir) {
    const file = resolve(againstDir, 'dist', 'sim', 'faascache.js');
    if (!existsSync(file)) throw new OlError('OL_ERR_CONFIG', `--against: ${file} not found (build that checkout first: npm run build)`);
    other = ((await import(pathToFileURL(file).href)) as { simulateFaasCache: typeof simulateFaasCache }).simulateFaasCache;
  }
  const lines: string[] = [];
  const say = (s = '') => { lines.push(s); process.stdout.write(s + '\n'); };
  const m = await machineInfo();
  const t0 = performance.now();
  const tr = readFaasCacheTrace(trace);
  const readMs = performance.now() - t0;
  say('## FaasCache-sim compatibility mode (`npm run bench:faascache`)');
  say();
  say(`Machine: ${m.cpu}, ${m.cores} logical cores, ${Math.round(m.memTotalMb / 1024)} GiB, ${m.os}, Node ${m.node}. Run ${new Date().toISOString().slice(0, 10)}.`);
  say(`Trace ${trace}: ${tr.functions.length} functions, ${tr.fn.length.toLocaleString('en-US')} invocations, converted in ${(readMs / 1000).toFixed(2)} s. Loop time only, median of ${repeat}.`);
  say();
  if (other) say(`Against ${resolve(againstDir)}: run alternately with this build, each figure the median of ${repeat}; ratio = its loop time / ours.`);
  say();
  say(`| policy | memory MB | cold | warm | dropped | loop s | invocations/s |${other ? ' against: loop s | ratio | same counts |' : ''}`);
  say(`|---|---:|---:|---:|---:|---:|---:|${other ? '---:|---:|---|' : ''}`);
  const all: number[] = [], ratios: number[] = [];
  let differ = 0;
  const sameCounts = (a: FaasCacheResult, b: FaasCacheResult) => a.cold === b.cold && a.warm === b.warm && a.dropped === b.dropped && a.evictions === b.evictions
    && JSON.stringify(a.perFunction) === JSON.stringify(b.perFunction);
  for (const policy of FAASCACHE_POLICIES) {
    for (const mb of sizes) {
      const ms: number[] = [], theirs: number[] = [];
      let last: FaasCacheResult | undefined, same = true;
      for (let r = 0; r < repeat; r++) {
        last = simulateFaasCache(tr, policy, mb);
        ms.push(last.loopMs);
        if (other) {
          const o = other(tr, policy, mb);
          theirs.push(o.loopMs);
          same &&= sameCounts(last, o);
        }
      }
      const med = median(ms);
      const rate = tr.fn.length / (med / 1000);
      all.push(rate);
      let extra = '';
      if (other) {
        const ratio = median(theirs) / med;
        ratios.push(ratio);
        if (!same) differ++;
        extra = ` ${(median(theirs) / 1000).toFixed(3)} | ${ratio.toFixed(2)} | ${same ? 'yes' : 'NO'} |`;
      }
      say(`| ${policy} | ${mb.toLocaleString('en-US')} | ${last!.cold.toLocaleString('en-US')} | ${last!.warm.toLocaleString('en-US')} | ${last!.dropped.toLocaleString('en-US')} | ${(med / 1000).toFixed(3)} | ${Math.round(rate).toLocaleString('en-US')} |${extra}`);
    }
  }
  say();
  say(`Median over the table: ${Math.round(median(all)).toLocaleString('en-US')} invocations/s; slowest ${Math.round(Math.min(...all)).toLocaleString('en-US')}.`);
  if (other) say(`Against the other build: median ratio ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}); counts ${differ === 0 ? 'the same in every cell' : `DIFFERENT in ${differ} cell(s)`}.`);
  writeReport('faascache', lines);
}

runMain(main);
