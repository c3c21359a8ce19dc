/**
 * `npm run bench:costs`: the machine costs the worker's fast paths are made
 * of, measured the way docs/BENCHMARKS.md explains them (medians of --n):
 *
 * - a copy-on-write page fault (a forked Python writing one byte per page
 *   of a 40 MB buffer its parent had written);
 * - fork(), clone(2) with the pid, net, ipc and uts namespaces, setns(2)
 *   into a mount namespace, unshare(2) of the mount namespace, each in a
 *   child of a Python process, from before the call to the child's report;
 * - a cgroup v1/v2 freezer: freezing a sleeping process (write, then wait
 *   until frozen) and thawing it (the write alone), first with no other
 *   group frozen (v1: no anchor group; another worker running on the
 *   machine would keep one frozen), then as the worker runs it;
 * - a sandbox's cgroup made on the spot against one renamed from the
 *   groups the v1 driver makes ahead;
 * - in the worker's own process, without HTTP: a call that finds its
 *   sandbox paused (openlambda) and one that finds it idle (lru), each
 *   15 ms after the previous one, through `LambdaManager.invoke`.
 *
 * Needs root and scripts/setup-host.sh. Prints Markdown and writes
 * bench-out/costs.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineInfo } from '../common/machine.js';
import { defaultConfig } from '../worker/config.js';
import { makePoolFor } from '../worker/pools.js';
import { cgroupDriver } from '../worker/sandbox/cgroups.js';
import { buildApp } from '../worker/server.js';
import { pct, runMain, writeReport } from './common.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const N = Number(arg('n', '30'));

const PY = String.raw`
import ctypes, json, os, sys, time
n = int(sys.argv[1])
c = ctypes.CDLL(None, use_errno=True)
api = ctypes.PyDLL(None)
NS, UTS, IPC, PID, NET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000
host = os.open('/proc/self/ns/mnt', os.O_RDONLY)
out = {}
def child_time(name, body):
    xs = []
    for _ in range(n):
        r, w = os.pipe()
        t = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            body()
            os.write(w, b'%.6f' % ((time.perf_counter() - t) * 1000)); os._exit(0)
        os.close(w)
        xs.append(float(os.read(r, 64))); os.close(r)
        os.waitpid(pid, 0)
    out[name] = xs
child_time('fork', lambda: None)
child_time('fork + setns(mount)', lambda: c.setns(host, NS))
child_time('fork + unshare(mount)', lambda: c.unshare(NS))
xs = []
for _ in range(n):
    r, w = os.pipe()
    t = time.perf_counter()
    api.PyOS_BeforeFork()
    pid = api.syscall({'x86_64': 56, 'aarch64': 220}[os.uname().machine], PID | NET | IPC | UTS | 17, 0, 0, 0, 0)
    if pid == 0:
        api.PyOS_AfterFork_Child()
        os.write(w, b'%.6f' % ((time.perf_counter() - t) * 1000)); os._exit(0)
    api.PyOS_AfterFork_Parent()
    os.close(w)
    xs.append(float(os.read(r, 64))); os.close(r)
    os.waitpid(pid, 0)
out['clone(pid, net, ipc, uts)'] = xs
b = bytearray(40 * 1024 * 1024)
for i in range(0, len(b), 4096): b[i] = 1
xs = []
for _ in range(max(3, n // 10)):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        t = time.perf_counter()
        for i in range(0, len(b), 4096): b[i] = 2
        os.write(w, b'%.6f' % ((time.perf_counter() - t) * 1e6 / (len(b) // 4096))); os._exit(0)
    os.close(w)
    xs.append(float(os.read(r, 64))); os.close(r)
    os.waitpid(pid, 0)
out['cow_us_per_page'] = xs
print(json.dumps(out))
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f2 = (x: number) => x.toFixed(2);

async function freezer(anchor: boolean): Promise<{ freeze: number[]; thaw: number[] }> {
  const d = cgroupDriver(`ol-lab/bench-costs-${process.pid}`, 'auto', undefined, { freezerAnchor: anchor });
  const g = d.create('frz', { memoryMb: 64, pids: 16, cpuPercent: 100 });
  const p = spawn('/usr/bin/python3', ['-c', 'import time\nwhile True: time.sleep(0.001)'], { stdio: 'ignore' });
  const freeze: number[] = [], thaw: number[] = [];
  try {
    await sleep(100);
    for (const f of g.procsFiles) writeFileSync(f, String(p.pid));
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      await g.freeze();
      freeze.push(performance.now() - t);
      await sleep(10);
      t = performance.now();
      await g.thaw();
      thaw.push(performance.now() - t);
      await sleep(5);
    }
  } finally {
    await g.destroy();
    d.removeRoot();
  }
  return { freeze, thaw };
}

/**
 * A sandbox's cgroup made on the spot (mkdirs and limit writes) against one
 * renamed into place from the groups the v1 driver makes ahead (each create
 * 60 ms after the last, so the refill is done); v2 makes none: both rows
 * are then made on the spot.
 */
async function groupCreate(): Promise<{ made: number[]; renamed: number[]; version: 1 | 2 }> {
  const limits = { memoryMb: 64, pids: 16, cpuPercent: 100 };
  const time = async (spares: boolean): Promise<{ xs: number[]; version: 1 | 2 }> => {
    const d = cgroupDriver(`ol-lab/bench-costs-${process.pid}`, 'auto', undefined, { spares });
    const xs: number[] = [];
    try {
      for (let i = 0; i < N; i++) {
        await sleep(60);
        const t = performance.now();
        const g = d.create(`g${i}`, limits);
        xs.push(performance.now() - t);
        await g.destroy();
      }
    } finally {
      d.removeRoot();
    }
    return { xs, version: d.version };
  };
  const made = await time(false);
  const renamed = await time(true);
  return { made: made.xs, renamed: renamed.xs.slice(1), version: made.version };
}

async function pausedCalls(policy: string): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ol-costs-'));
  const c = { ...defaultConfig(dir), policy, mem_pool_mb: 16_000, limits: { ...defaultConfig(dir).limits, mem_mb: 64 } };
  mkdirSync(join(c.registry, 'noop'), { recursive: true });
  writeFileSync(join(c.registry, 'noop', 'f.py'), 'def f(event):\n    return event\n');
  chmodSync(dir, 0o755);
  const w = buildApp({ config: c, pool: await makePoolFor(c) });
  const xs: number[] = [];
  try {
    await w.manager.invoke('noop', { method: 'POST', path: '/run/noop', body: Buffer.from('1') });
    for (let i = 0; i < Math.max(N, 100); i++) {
      await sleep(15);
      const t = performance.now();
      await w.manager.invoke('noop', { method: 'POST', path: '/run/noop', body: Buffer.from('1') });
      xs.push(performance.now() - t);
    }
  } finally {
    await w.app.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return xs;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:costs needs root');
  const lines: string[] = [];
  const say = (s = '') => { lines.push(s); process.stdout.write(s + '\n'); };
  const m = await machineInfo();
  const r = spawnSync('/usr/bin/python3', ['-I', '-S', '-c', PY, String(N)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the Python part failed: ${r.stderr}`);
  const py = JSON.parse(r.stdout) as Record<string, number[]>;
  const bare = await freezer(false);
  const fz = await freezer(true);
  const groups = await groupCreate();
  const paused = await pausedCalls('openlambda');
  const idle = await pausedCalls('lru');
  say('## Machine costs (`npm run bench:costs`)');
  say();
  say(`Machine: ${m.cpu}, ${m.cores} logical cores, ${Math.round(m.memTotalMb / 1024)} GiB, ${m.os}, kernel ${m.kernel}, Node ${m.node}. Run ${new Date().toISOString().slice(0, 10)}; n = ${N}.`);
  say();
  say('| cost | p50 | p90 |');
  say('|---|---:|---:|');
  say(`| copy-on-write page fault, µs | ${f2(pct(py.cow_us_per_page!, 50))} | ${f2(pct(py.cow_us_per_page!, 90))} |`);
  for (const k of ['fork', 'clone(pid, net, ipc, uts)', 'fork + setns(mount)', 'fork + unshare(mount)']) {
    say(`| ${k}, to the child's first line, ms | ${f2(pct(py[k]!, 50))} | ${f2(pct(py[k]!, 90))} |`);
  }
  say(`| freezer, no other group frozen: freeze and wait until frozen, ms | ${f2(pct(bare.freeze, 50))} | ${f2(pct(bare.freeze, 90))} |`);
  say(`| freezer, no other group frozen: thaw (the write), ms | ${f2(pct(bare.thaw, 50))} | ${f2(pct(bare.thaw, 90))} |`);
  say(`| freezer as the worker runs it (v1: beside its frozen anchor group): freeze, ms | ${f2(pct(fz.freeze, 50))} | ${f2(pct(fz.freeze, 90))} |`);
  say(`| freezer as the worker runs it: thaw, ms | ${f2(pct(fz.thaw, 50))} | ${f2(pct(fz.thaw, 90))} |`);
  say(`| a sandbox's cgroup (v${groups.version}) made on the spot, ms | ${f2(pct(groups.made, 50))} | ${f2(pct(groups.made, 90))} |`);
  say(`| a sandbox's cgroup (v${groups.version}) from those made ahead${groups.version === 1 ? ' (renamed)' : ' (v2: made on the spot too)'}, ms | ${f2(pct(groups.renamed, 50))} | ${f2(pct(groups.renamed, 90))} |`);
  say(`| in-process call finding its sandbox paused (openlambda), ms | ${f2(pct(paused, 50))} | ${f2(pct(paused, 90))} |`);
  say(`| in-process call finding its sandbox idle (lru), ms | ${f2(pct(idle, 50))} | ${f2(pct(idle, 90))} |`);
  writeReport('costs', lines);
}

runMain(main);
