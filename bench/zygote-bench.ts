/**
 * `npm run bench:zygote`: cold start of a lambda whose package import alone
 * takes at least 100 ms (a wheel built here that burns --import-ms of CPU
 * when imported), started fresh vs forked from a zygote that imported it.
 *
 * Two workers run side by side on this machine, one with the import cache
 * off and one with a tree whose node holds the package; each gets --n
 * lambdas with the same requirements.txt, and their first requests
 * alternate between the two workers, so both see the same machine state.
 * Packages are installed and zygotes made by a warm-up lambda first (those
 * costs are reported apart). Also: the root zygote's path (a noop lambda
 * with no packages) against the fresh one, and a bare fork of a Python
 * process on this machine, the floor of any fork path.
 *
 * Needs root and scripts/setup-host.sh. Prints Markdown and writes
 * bench-out/zygote.md.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo } from '../common/machine.js';
import { benchTemp, pct, request, runMain, startWorker, stop, writeReport } from './common.js';
import { buildWheels } from '../experiments/wheels.js';
import { freePort } from '../experiments/worker-process.js';
import { defaultConfig } from '../worker/config.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const N = Number(arg('n', '60'));
const IMPORT_MS = Number(arg('import-ms', '150'));

function call(port: number, path: string, method = 'POST', body = '{}'): Promise<{ status: number; text: string }> {
  return request({ host: '127.0.0.1', port, path, method }, body);
}

async function cold(port: number, name: string): Promise<number> {
  const t = performance.now();
  const r = await call(port, `/run/${name}`);
  if (r.status !== 200) throw new Error(`${name} on port ${port}: ${r.status} ${r.text}`);
  return performance.now() - t;
}

const HANDLER = 'import heavy_pkg\ndef f(event):\n    return heavy_pkg.NAME\n';
const NOOP = 'def f(event):\n    return event\n';

function workerDir(wheels: string, importCache: boolean): string {
  const dir = benchTemp('ol-zbench-');
  const c = defaultConfig(dir);
  writeFileSync(join(dir, 'tree.json'), JSON.stringify({ packages: [], children: [{ packages: ['heavy-pkg'], children: [] }] }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    ...c, mem_pool_mb: 16_000, policy: 'lru', limits: { ...c.limits, mem_mb: 64 }, package_index: wheels,
    import_cache: importCache, import_tree: join(dir, 'tree.json'), zygote_mem_mb: 256,
  }, null, 2));
  for (let i = 0; i <= N; i++) {
    for (const [prefix, src, req] of [['heavy', HANDLER, 'heavy-pkg\n'], ['noop', NOOP, '']] as const) {
      mkdirSync(join(c.registry, `${prefix}${i}`), { recursive: true });
      writeFileSync(join(c.registry, `${prefix}${i}`, 'f.py'), src);
      if (req) writeFileSync(join(c.registry, `${prefix}${i}`, 'requirements.txt'), req);
    }
  }
  return dir;
}

/** A bare os.fork() of a Python process that has imported the package, to the child's exit: the floor of a fork path here. */
function bareFork(wheelsDir: string): number[] {
  const site = benchTemp('ol-zbench-site-');
  spawnSync('/usr/bin/python3', ['-m', 'pip', 'install', '-q', '--no-index', '--find-links', wheelsDir, '--target', site, 'heavy-pkg'], { stdio: 'ignore' });
  const code = `import sys, os, time, json\nsys.path.insert(0, ${JSON.stringify(site)})\nimport heavy_pkg\nout = []\nfor i in range(${N}):\n    t = time.perf_counter()\n    pid = os.fork()\n    if pid == 0:\n        os._exit(0)\n    os.waitpid(pid, 0)\n    out.append((time.perf_counter() - t) * 1000)\nprint(json.dumps(out))\n`;
  const r = spawnSync('/usr/bin/python3', ['-I', '-S', '-c', code], { encoding: 'utf8' });
  return JSON.parse(r.stdout) as number[];
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:zygote needs root');
  const lines: string[] = [];
  const say = (s = '') => { lines.push(s); process.stdout.write(s + '\n'); };
  const m = await machineInfo();
  const wheels = benchTemp('ol-zbench-wheels-');
  chmodSync(wheels, 0o755); // the installer runs pip as the sandbox user
  buildWheels(wheels, [{ name: 'heavy-pkg', importMs: IMPORT_MS }]);
  const freshDir = workerDir(wheels, false);
  const forkDir = workerDir(wheels, true);
  const port = await freePort(), port2 = await freePort();
  const [wf, wz] = await Promise.all([startWorker(freshDir, port), startWorker(forkDir, port2)]);
  try {
    // warm-up: installs the package into each worker's cache, makes the zygotes
    const setupFresh = await cold(port, 'heavy0');
    const setupFork = await cold(port2, 'heavy0');
    await cold(port, 'noop0');
    await cold(port2, 'noop0');
    const fresh: number[] = [], forked: number[] = [], noopFresh: number[] = [], noopForked: number[] = [];
    for (let i = 1; i <= N; i++) {
      fresh.push(await cold(port, `heavy${i}`));
      forked.push(await cold(port2, `heavy${i}`));
      noopFresh.push(await cold(port, `noop${i}`));
      noopForked.push(await cold(port2, `noop${i}`));
    }
    const statsZ = JSON.parse((await call(port2, '/stats', 'GET', '')).text);
    const statsF = JSON.parse((await call(port, '/stats', 'GET', '')).text);
    const floor = bareFork(wheels);
    say('## Zygote benchmark (`npm run bench:zygote`)');
    say();
    say(`Machine: ${m.cpu}, ${m.cores} logical cores, ${Math.round(m.memTotalMb / 1024)} GiB, ${m.os}, kernel ${m.kernel}, Node ${m.node}. Run ${new Date().toISOString().slice(0, 10)}; n = ${N} cold starts per row, the two workers' requests alternating. The package's import burns ${IMPORT_MS} ms of CPU.`);
    say();
    say('| cold start, first request to response | p50 ms | p90 ms | worker\'s create stage p50 ms |');
    say('|---|---:|---:|---:|');
    say(`| heavy lambda, fresh sandbox (import_cache off) | ${pct(fresh, 50).toFixed(2)} | ${pct(fresh, 90).toFixed(2)} | ${statsF.stages.create.p50_ms.toFixed(2)} (all lambdas) |`);
    say(`| heavy lambda, forked from the zygote of node [heavy-pkg] | ${pct(forked, 50).toFixed(2)} | ${pct(forked, 90).toFixed(2)} | ${statsZ.stages.create.p50_ms.toFixed(2)} (all lambdas) |`);
    say(`| noop lambda, fresh sandbox | ${pct(noopFresh, 50).toFixed(2)} | ${pct(noopFresh, 90).toFixed(2)} | |`);
    say(`| noop lambda, forked from the root zygote | ${pct(noopForked, 50).toFixed(2)} | ${pct(noopForked, 90).toFixed(2)} | |`);
    say(`| floor: bare os.fork() + exit of a Python that imported the package | ${pct(floor, 50).toFixed(2)} | ${pct(floor, 90).toFixed(2)} | |`);
    say();
    say(`Speed-up of the forked path, heavy lambda: ${(pct(fresh, 50) / pct(forked, 50)).toFixed(1)}× at p50; noop lambda: ${(pct(noopFresh, 50) / pct(noopForked, 50)).toFixed(1)}×.`);
    say(`Warm-up (not in the rows): first heavy lambda, fresh worker ${setupFresh.toFixed(0)} ms (package install); zygote worker ${setupFork.toFixed(0)} ms (install, root zygote, node zygote). Zygote worker counters: ${statsZ.counters.zygote_forks} forks, ${statsZ.counters.zygote_fallbacks} fresh fallbacks, ${statsZ.counters.zygotes_created} zygotes, ${statsZ.counters.package_installs} installs, ${statsZ.counters.package_cache_hits} cache hits.`);
  } finally {
    await Promise.all([stop(wf), stop(wz)]);
  }
  writeReport('zygote', lines);
}

runMain(main);
