/**
 * `npm run bench:faascache`: the speed of `--compat faascache` (FaasCache-
 * sim's semantics, sim/faascache.ts): every FaasCache policy over an Azure
 * 2019 sample at several memory sizes, timed over the simulation loop alone
 * (the trace is converted once, before). Each figure is the median of
 * --repeat runs in this one process.
 *
 * Options: --trace DIR/N (default ../shared/traces/azure2019-sample/140),
 * --memory 1000,4000,… (MB), --repeat N (default 3).
 * Prints Markdown and writes bench-out/faascache.md.
 */
import { machineInfo } from '../common/machine.js';
import { projectPath } from '../common/paths.js';
import { median } from '../common/stats.js';
import { runMain, writeReport } from './common.js';
import { FAASCACHE_POLICIES, simulateFaasCache } from '../sim/faascache.js';
import { readFaasCacheTrace } from '../traces/faascache.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};

async function main(): Promise<void> {
  const trace = arg('trace', projectPath('..', 'shared', 'traces', 'azure2019-sample', '140'));
  const sizes = arg('memory', '1000,4000,16000,32000,64000').split(',').map(Number);
  const repeat = Number(arg('repeat', '3'));
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
  say('| policy | memory MB | cold | warm | dropped | loop s | invocations/s |');
  say('|---|---:|---:|---:|---:|---:|---:|');
  const all: number[] = [];
  for (const policy of FAASCACHE_POLICIES) {
    for (const mb of sizes) {
      const ms: number[] = [];
      let last;
      for (let r = 0; r < repeat; r++) {
        last = simulateFaasCache(tr, policy, mb);
        ms.push(last.loopMs);
      }
      const med = median(ms);
      const rate = tr.fn.length / (med / 1000);
      all.push(rate);
      say(`| ${policy} | ${mb.toLocaleString('en-US')} | ${last!.cold.toLocaleString('en-US')} | ${last!.warm.toLocaleString('en-US')} | ${last!.dropped.toLocaleString('en-US')} | ${(med / 1000).toFixed(3)} | ${Math.round(rate).toLocaleString('en-US')} |`);
    }
  }
  say();
  say(`Median over the table: ${Math.round(median(all)).toLocaleString('en-US')} invocations/s; slowest ${Math.round(Math.min(...all)).toLocaleString('en-US')}.`);
  writeReport('faascache', lines);
}

runMain(main);
