/**
 * What a cold start costs the machine beyond its own handler, alone and
 * when many start at once (the start of a replay asks for ~60 sandboxes in
 * a few seconds). For each burst size B: B first calls of the harness's
 * synthetic lambda at once, on a sock worker with the replay's policy;
 * the machine's busy CPU over the burst (/proc/stat, less the idle rate
 * measured just before) minus the CPU the handlers report for themselves
 * (touching memory and working), per cold start; and the worker process's
 * own share. `ol-exp calibrate` prices a cold start from one-at-a-time
 * calls; this says how far that holds in a burst.
 *
 *   node dist/bench/burst-overhead.js [--mix] [--touch MB] [--policy P] B [B ...]
 *
 * --mix: the lambdas cycle through five (memory limit, MB touched, ms of
 * work) like the bundled plan's busiest functions, instead of one kind
 * (64 MB limit, --touch MB, no work). Needs root and scripts/setup-host.sh.
 */
import { machineBusyMs, processCpuMs } from '../common/cpu-usage.js';
import { SYNTHETIC_LAMBDA, handlerTimes } from '../experiments/real.js';
import { spawnWorker } from '../experiments/worker-process.js';
import { request } from './common.js';

function usage(why: string): never {
  process.stderr.write(`burst-overhead: ${why}\nusage: node dist/bench/burst-overhead.js [--mix] [--touch MB] [--policy P] B [B ...]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let mix = false, touch = 16, policy = 'openlambda';
const sizes: number[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--mix') mix = true;
  else if (a === '--touch') touch = Number(args[++i]);
  else if (a === '--policy') policy = args[++i] ?? '';
  else if (/^\d+$/.test(a) && Number(a) >= 1) sizes.push(Number(a));
  else usage(`unexpected argument "${a}"`);
}
if (!(touch >= 0 && touch <= 48)) usage('--touch: MB between 0 and 48 (the sandboxes have 64 MB)');
if (sizes.length === 0) usage('name at least one burst size');

/** [memory limit MB, MB touched, ms of work]: the bundled plan's busiest functions (memory x 0.1, touching a quarter). */
const KINDS: [number, number, number][] = mix ? [[64, 16, 0], [146, 36.5, 300], [199, 49.75, 0], [130, 32.5, 20], [64, 16, 10]] : [[64, touch, 0]];
const kind = (i: number) => KINDS[i % KINDS.length]!;
const total = sizes.reduce((a, b) => a + b, 0);
const lambdas = Array.from({ length: total + 1 }, (_, i) => ({ name: `b${i}`, src: SYNTHETIC_LAMBDA, yaml: `limits:\n  mem_mb: ${kind(i)[0]}\n` }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const w = await spawnWorker({ sandbox: 'sock', policy, mem_pool_mb: 16_000, limits: { mem_mb: 64 } }, lambdas);
const call = async (name: string, body: string) => {
  const r = await request({ host: w.base.hostname, port: Number(w.base.port), path: `/run/${name}` }, body);
  if (r.status !== 200) throw new Error(`${name}: status ${r.status}: ${r.text.slice(0, 200)}`);
  const t = handlerTimes(r.text);
  if (!t) throw new Error(`${name}: the reply holds no handler times: ${r.text.slice(0, 200)}`);
  return t[0] + t[2]; // the handler's own CPU: touching, then working
};
try {
  // the worker's first sandbox makes the root zygote: not part of any burst
  await call(`b${total}`, JSON.stringify({ dur_ms: 1 }));
  await sleep(1500);
  process.stdout.write(`sock worker, policy ${policy}, ${mix ? `mixed kinds ${JSON.stringify(KINDS)}` : `64 MB sandboxes touching ${touch} MB`}\n`);
  process.stdout.write('    B  wall ms  machine CPU ms  handlers ms  beyond handlers per cold start ms  worker process per cold start ms\n');
  let next = 0;
  for (const B of sizes) {
    const i0 = machineBusyMs(), t0 = performance.now();
    await sleep(500);
    const idle = (machineBusyMs() - i0) / (performance.now() - t0);
    const b0 = machineBusyMs(), wk0 = processCpuMs(w.child.pid!) ?? 0, s = performance.now();
    const names = Array.from({ length: B }, () => next++);
    const own = await Promise.all(names.map((i) => { const [, mb, ms] = kind(i); return call(`b${i}`, JSON.stringify({ dur_ms: ms, touch_mb: mb })); }));
    const wall = performance.now() - s;
    await sleep(400); // the zygote's next spare, the cgroup refill, the pauses
    const busy = machineBusyMs() - b0 - idle * (performance.now() - s), wk = (processCpuMs(w.child.pid!) ?? 0) - wk0;
    const h = own.reduce((a, b) => a + b, 0);
    process.stdout.write(`${String(B).padStart(5)}  ${wall.toFixed(0).padStart(7)}  ${busy.toFixed(0).padStart(14)}  ${h.toFixed(0).padStart(11)}  ${((busy - h) / B).toFixed(1).padStart(33)}  ${(wk / B).toFixed(1).padStart(32)}\n`);
    await sleep(1000);
  }
} finally {
  await w.stop();
}
