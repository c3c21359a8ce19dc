/**
 * `npm run bench:sandbox-cpu`: CPU the worker and its sandboxes spend
 * around the handlers, as the experiment's own cgroup counts it (this
 * process, the worker, its zygotes and sandboxes; common/cpu-accounting.ts),
 * each batch less the group's rate over an idle window just before it:
 *
 * - pause: side-by-side pairs of fresh workers holding one noop lambda,
 *   lru (the sandbox stays idle) and openlambda (paused after each call,
 *   unpaused by the next), each answering --calls noop calls 20 ms apart
 *   after 40 unmeasured ones: CPU per call, and openlambda's excess, which
 *   `ol-exp calibrate` stores as `extra.backgroundCpu.pauseMs`;
 * - first calls at once: an lru worker with synthetic lambdas (128 MB
 *   limit) answering first calls one at a time (10, 200 ms apart) or k at
 *   once (two rounds), touching 0 or 40 MB: CPU per call, the handlers'
 *   own (what they report of themselves), the rest, and the handlers'
 *   touch CPU per MB.
 *
 * Needs root and scripts/setup-host.sh (sock sandboxes) and a cgroup the
 * harness can join (cgroup v1 cpuacct or the v2 hierarchy). Options:
 * --pairs N (3), --calls N (200). Prints Markdown and writes
 * bench-out/sandbox-cpu.md.
 */
import { joinCpuGroup, type CpuGroup } from '../common/cpu-accounting.js';
import { machineInfo } from '../common/machine.js';
import { median } from '../common/stats.js';
import { call, cpuPerOp, NOOP } from '../experiments/calibrate.js';
import { handlerTimes, SYNTHETIC_LAMBDA } from '../experiments/real.js';
import { spawnWorker, type WorkerProcess } from '../experiments/worker-process.js';
import { runMain, writeReport } from './common.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const PAIRS = Number(arg('pairs', '3'));
const CALLS = Number(arg('calls', '200'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f = (x: number, d = 2) => x.toFixed(d);

async function post(base: URL, name: string, body: string): Promise<string> {
  const r = await fetch(new URL(`/run/${name}`, base), { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return r.text();
}

async function withWorker<T>(w: WorkerProcess, fn: (w: WorkerProcess) => Promise<T>): Promise<T> {
  try {
    return await fn(w);
  } finally {
    await w.stop();
  }
}

async function pauses(group: CpuGroup, lines: string[]): Promise<void> {
  lines.push(`### A pause's CPU: ${PAIRS} pairs of fresh workers, ${CALLS} noop calls each, 20 ms apart`, '',
    '| pair | lru: CPU per call, ms (batches) | openlambda | openlambda − lru |', '|---:|---|---|---:|');
  const diffs: number[] = [];
  for (let pair = 1; pair <= PAIRS; pair++) {
    const per: Record<string, { med: number; batches: number[] }> = {};
    for (const policy of ['lru', 'openlambda']) {
      const w = await spawnWorker({ sandbox: 'sock', policy, mem_pool_mb: 4000, limits: { mem_mb: 64 } }, [{ name: 'noop0', src: NOOP }]);
      per[policy] = await withWorker(w, async () => {
        for (let i = 0; i < 40; i++) { await sleep(20); await call(w.base, 'noop0'); }
        const r = await cpuPerOp(CALLS, async (from, to) => { for (let i = from; i < to; i++) { await sleep(20); await call(w.base, 'noop0'); } }, group);
        return { med: median(r.groupBatches), batches: r.groupBatches };
      });
    }
    const d = per.openlambda!.med - per.lru!.med;
    diffs.push(d);
    const cell = (p: string) => `${f(per[p]!.med, 3)} (${per[p]!.batches.map((x) => f(x)).join(', ')})`;
    lines.push(`| ${pair} | ${cell('lru')} | ${cell('openlambda')} | ${f(d, 3)} |`);
  }
  lines.push('', `Median excess: ${f(median(diffs), 3)} ms per call.`, '');
}

async function firstCalls(group: CpuGroup, lines: string[]): Promise<void> {
  const lambdas = Array.from({ length: 200 }, (_, i) => ({ name: `s${i}`, src: SYNTHETIC_LAMBDA, yaml: 'limits:\n  mem_mb: 128\n' }));
  const w = await spawnWorker({ sandbox: 'sock', policy: 'lru', mem_pool_mb: 40_000, limits: { mem_mb: 128 } }, lambdas);
  lines.push('### First calls, one at a time or k at once', '',
    '| touch MB | at once | calls | CPU per call, ms | handler\'s own | beyond the handler | handler touch CPU per MB |', '|---:|---:|---:|---:|---:|---:|---:|');
  await withWorker(w, async () => {
    let next = 0;
    await post(w.base, `s${next++}`, JSON.stringify({ dur_ms: 1 }));
    await sleep(1000);
    for (const mb of [0, 40]) {
      for (const k of [1, 10, 30]) {
        let cpu = 0, own = 0, touch = 0, n = 0;
        for (let round = 0; round < (k === 1 ? 1 : 2); round++) {
          await sleep(1000);
          const i0 = group.usageMs(), t0 = performance.now();
          await sleep(500);
          const idleRate = (group.usageMs() - i0) / (performance.now() - t0);
          const g0 = group.usageMs(), t1 = performance.now();
          const body = JSON.stringify({ dur_ms: 0, touch_mb: mb });
          const texts: string[] = [];
          if (k === 1) {
            for (let i = 0; i < 10; i++) { texts.push(await post(w.base, `s${next++}`, body)); await sleep(200); }
          } else {
            texts.push(...await Promise.all(Array.from({ length: k }, () => post(w.base, `s${next++}`, body))));
          }
          await sleep(500); // the last spares' clones and cgroup refills
          cpu += group.usageMs() - g0 - idleRate * (performance.now() - t1);
          for (const t of texts) {
            const h = handlerTimes(t);
            if (!h) throw new Error(`a synthetic lambda answered without its handler times: ${t.slice(0, 200)}`);
            own += h[0] + h[2];
            touch += h[0];
            n++;
          }
        }
        lines.push(`| ${mb} | ${k} | ${n} | ${f(cpu / n, 1)} | ${f(own / n, 1)} | ${f((cpu - own) / n, 1)} | ${mb > 0 ? f(touch / n / mb) : '—'} |`);
      }
    }
  });
  lines.push('');
}

async function main(): Promise<void> {
  const acct = joinCpuGroup();
  if (!acct) throw new Error('bench:sandbox-cpu needs a cgroup it can join (run as root on cgroup v1 with cpuacct, or v2)');
  const m = await machineInfo();
  const lines = [`## Sandbox CPU around the handlers (${new Date().toISOString()}, ${m.cpu}, ${m.cores} cores)`, ''];
  try {
    await pauses(acct.group, lines);
    await firstCalls(acct.group, lines);
  } finally {
    acct.release();
  }
  process.stdout.write(lines.join('\n') + '\n');
  writeReport('sandbox-cpu', lines);
}

runMain(main);
