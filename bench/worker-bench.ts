/**
 * `npm run bench:worker`: the real worker's speed, each figure beside its
 * floor measured in the same run (medians of --n requests, default 200).
 *
 * - sock cold start: first request to a new noop lambda, to its response;
 *   floor: `unshare` of the same namespaces running `python3 -c pass`
 *   chrooted in the same base root.
 * - docker cold start; floor: `docker run --rm --network none ol-min
 *   python3 -c pass`.
 * - warm call (lru: idle sandboxes stay unpaused), timed after 2,000
 *   untimed calls (V8 optimizes the worker's request path meanwhile: a
 *   fresh worker's first 1,000 warm calls, also printed, take 2-4 times
 *   longer); floor: the same request sent straight to the sandbox's Unix
 *   socket, bypassing the worker, timed after the same warm-up.
 * - throughput with 16 concurrent clients on a noop lambda for --seconds,
 *   after 2 s of warm-up (the sandboxes 16 clients need are created); floor: the worker's own /status route under the same load.
 * - unpause to response (openlambda: idle sandboxes are paused); floor:
 *   the warm call.
 *
 * The worker runs as its own process (`ol-worker up`), the load from this
 * one, both on this machine's cores. Needs root and scripts/setup-host.sh.
 * Prints Markdown and writes bench-out/worker.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo } from '../common/machine.js';
import { projectPath } from '../common/paths.js';
import { benchTemp, pct, request, runMain, startWorker, stop, writeReport } from './common.js';
import { freePort } from '../experiments/worker-process.js';
import { defaultConfig } from '../worker/config.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const N = Number(arg('n', '200'));
const SECONDS = Number(arg('seconds', '10'));
/** Untimed warm calls before the timed ones (see the header). */
const WARMUP = Number(arg('warmup', '2000'));
const BASE = '/var/lib/ol-lab/ol-min';
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function timeCommand(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
  return performance.now() - t;
}

function setupDir(noops: number): string {
  const dir = benchTemp('ol-wbench-');
  const c = defaultConfig(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...c, mem_pool_mb: 16_000, limits: { ...c.limits, mem_mb: 32 }, queue_limit: 1000 }, null, 2));
  for (let i = 0; i < noops; i++) {
    mkdirSync(join(c.registry, `noop${i}`), { recursive: true });
    writeFileSync(join(c.registry, `noop${i}`, 'f.py'), 'def f(event):\n    return event\n');
  }
  return dir;
}

async function closedLoop(clients: number, seconds: number, send: () => Promise<{ status: number }>): Promise<{ rps: number; errors: number }> {
  const until = performance.now() + seconds * 1000;
  let ok = 0, errors = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < until) {
      const r = await send();
      if (r.status === 200) ok++; else errors++;
    }
  }));
  return { rps: ok / ((performance.now() - t0) / 1000), errors };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:worker needs root');
  const lines: string[] = [];
  const say = (s = '') => { lines.push(s); process.stdout.write(s + '\n'); };
  const m = await machineInfo();
  say('## Worker benchmark (`npm run bench:worker`)');
  say();
  say(`Machine: ${m.cpu}, ${m.cores} logical cores, ${Math.round(m.memTotalMb / 1024)} GiB, ${m.os}, kernel ${m.kernel}, Node ${m.node}. Run ${new Date().toISOString().slice(0, 10)}; n = ${N} per median.`);
  say();
  say('| measurement | p50 ms | p90 ms | floor (same run) | floor p50 ms | ratio |');
  say('|---|---:|---:|---|---:|---:|');
  const row = (what: string, xs: number[], floorName: string, floor: number[]) => {
    const a = pct(xs, 50), f = pct(floor, 50);
    say(`| ${what} | ${a.toFixed(2)} | ${pct(xs, 90).toFixed(2)} | ${floorName} | ${f.toFixed(2)} | ${(a / f).toFixed(2)} |`);
  };

  for (const backend of ['sock', 'docker'] as const) {
    const dir = setupDir(N);
    const port = await freePort();
    const w = await startWorker(dir, port, [`sandbox="${backend}"`, 'policy="lru"']);
    try {
      // cold starts, interleaved with their floor so both see the same machine state
      const cold: number[] = [], floor: number[] = [];
      for (let i = 0; i < N; i++) {
        cold.push(await timed(async () => {
          const r = await request({ host: '127.0.0.1', port, path: `/run/noop${i}` });
          if (r.status !== 200) throw new Error(`noop${i}: ${r.status} ${r.text}`);
        }));
        floor.push(backend === 'sock'
          ? timeCommand('unshare', ['--mount', '--pid', '--ipc', '--uts', '--net', '--fork', 'chroot', BASE, 'python3', '-c', 'pass'])
          : timeCommand('docker', ['run', '--rm', '--network', 'none', 'ol-min', 'python3', '-c', 'pass']));
      }
      row(`${backend} cold start`, cold, backend === 'sock' ? 'unshare + chroot python3 -c pass' : 'docker run --rm --network none ol-min python3 -c pass', floor);
      if (backend === 'sock') {
        // warm: noop0's sandbox is idle and unpaused (lru); floor: its socket directly
        const warm: number[] = [], direct: number[] = [];
        // floor: the same runtime and handler, run directly (no worker, no namespaces)
        const fdir = benchTemp('ol-floor-');
        writeFileSync(join(fdir, 'f.py'), 'def f(event):\n    return event\n');
        const sockPath = join(fdir, 'ol.sock');
        const rt = spawn('/usr/bin/python3', ['-I', '-S', projectPath('worker', 'runtime', 'init.py'), JSON.stringify({ mode: 'plain', socket: sockPath, handlerDir: fdir })], { stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise((r) => rt.stdout!.once('data', r));
        // a fresh worker's first calls run before V8 has optimized its request path: timed apart
        const early: number[] = [];
        for (let i = 0; i < WARMUP; i++) {
          const ms = await timed(() => request({ host: '127.0.0.1', port, path: '/run/noop0' }));
          if (i < 1000) early.push(ms);
        }
        for (let i = 0; i < Math.max(N, 1000); i++) {
          warm.push(await timed(() => request({ host: '127.0.0.1', port, path: '/run/noop0' })));
        }
        await new Promise((r) => setTimeout(r, 50));
        for (let i = 0; i < WARMUP; i++) await request({ socketPath: sockPath, path: '/run/noop0', agent: undefined });
        for (let i = 0; i < Math.max(N, 1000); i++) {
          direct.push(await timed(() => request({ socketPath: sockPath, path: '/run/noop0', agent: undefined })));
        }
        rt.kill('SIGKILL');
        row('sock warm call', warm, 'same request to the same runtime run directly', direct);
        say(`| (sock warm call: a fresh worker's first 1,000 calls) | ${pct(early, 50).toFixed(2)} | ${pct(early, 90).toFixed(2)} | | | |`);
        // warm-up: let the worker create the sandboxes 16 clients need
        await closedLoop(16, 2, () => request({ host: '127.0.0.1', port, path: '/run/noop1' }));
        const tput = await closedLoop(16, SECONDS, () => request({ host: '127.0.0.1', port, path: '/run/noop1' }));
        const tfloor = await closedLoop(16, SECONDS, () => request({ host: '127.0.0.1', port, path: '/status', method: 'GET' }, ''));
        say(`| sock throughput, 16 clients, ${SECONDS} s | ${Math.round(tput.rps)} req/s | | worker /status, same load | ${Math.round(tfloor.rps)} req/s | ${(tput.rps / tfloor.rps).toFixed(2)} |`);
        if (tput.errors) say(`|  (errors during the throughput run: ${tput.errors}) | | | | | |`);
      }
    } finally {
      await stop(w);
    }
    if (backend === 'sock') {
      // unpause: openlambda pauses every idle sandbox
      const dir2 = setupDir(2);
      const port2 = await freePort();
      const w2 = await startWorker(dir2, port2, ['policy="openlambda"']);
      try {
        await request({ host: '127.0.0.1', port: port2, path: '/run/noop0' });
        const unp: number[] = [];
        for (let i = 0; i < N; i++) {
          await new Promise((r) => setTimeout(r, 10)); // let the pause land
          unp.push(await timed(() => request({ host: '127.0.0.1', port: port2, path: '/run/noop0' })));
        }
        const stats = JSON.parse((await request({ host: '127.0.0.1', port: port2, path: '/stats', method: 'GET' }, '')).text);
        say(`| sock unpause to response | ${pct(unp, 50).toFixed(2)} | ${pct(unp, 90).toFixed(2)} | (freezer thaw alone, worker's unpause stage) | ${stats.stages.unpause.p50_ms.toFixed(2)} | |`);
        if (stats.counters.unpaused < N) say(`|  (only ${stats.counters.unpaused} of ${N} calls found their sandbox paused) | | | | | |`);
      } finally {
        await stop(w2);
      }
    }
  }
  writeReport('worker', lines);
}

runMain(main);
