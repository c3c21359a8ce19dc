/**
 * A worker stopped in the middle of its work leaves nothing behind: `down`
 * (SIGTERM), and SIGKILL followed by `up`, while a package installs, while
 * the installed package's import is timed, while a zygote imports it, and
 * while a replay's requests are running, on both backends. What is left is
 * counted independently of the worker's own census: every cgroup under the
 * worker's roots in every hierarchy, every process whose /proc/<pid>/cgroup
 * names them, mounts of the worker's folder, containers with its label,
 * and sandbox and job folders.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectPath } from '../../common/paths.js';
import { buildWheels } from '../../experiments/wheels.js';
import { freePort } from '../../experiments/worker-process.js';
import { defaultConfig, type WorkerConfig } from '../../worker/config.js';
import { prerequisites } from './real-worker.js';

const CLI = projectPath('dist', 'worker', 'cli.js');


/** Everything of the worker's that exists now, counted from the outside. */
interface Left {
  cgroups: string[];
  processes: number[];
  mounts: number;
  containers: number;
  dirs: string[];
}

function cgroupsOf(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    out.push(d);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  for (const h of readdirSync('/sys/fs/cgroup')) {
    for (const r of [root, `${root}-jobs`]) walk(join('/sys/fs/cgroup', h, r));
  }
  return out;
}

function census(c: WorkerConfig): Left {
  const processes: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cg = readFileSync(`/proc/${p}/cgroup`, 'utf8');
      if (cg.includes(`/${c.cgroup_root}/`) || cg.includes(`/${c.cgroup_root}-jobs/`)) processes.push(Number(p));
    } catch { /* gone */ }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(c.worker_dir)).length;
  const ps = spawnSync('docker', ['ps', '-aq', '--filter', `label=ol-lab.worker=${c.worker_dir}`], { encoding: 'utf8' });
  const containers = ps.status === 0 ? ps.stdout.split('\n').filter(Boolean).length : 0;
  const dirs: string[] = [];
  for (const sub of ['sandboxes', 'jobs']) {
    const d = join(c.worker_dir, sub);
    if (existsSync(d)) for (const e of readdirSync(d)) dirs.push(join(sub, e));
  }
  return { cgroups: cgroupsOf(c.cgroup_root), processes, mounts, containers, dirs };
}

const NOTHING: Left = { cgroups: [], processes: [], mounts: 0, containers: 0, dirs: [] };

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A worker folder: a package whose import takes 2.5 s, a lambda that needs it, and one that sleeps. */
function workerDir(backend: 'sock' | 'docker', port: number): WorkerConfig {
  const dir = mkdtempSync(join(tmpdir(), 'ol-stop-'));
  made.push(dir);
  const wheels = join(dir, 'wheels');
  buildWheels(wheels, [{ name: 'slow-import', importMs: 2500 }]);
  chmodSync(dir, 0o755);
  chmodSync(wheels, 0o755);
  writeFileSync(join(dir, 'tree.json'), JSON.stringify({ packages: [], children: [{ packages: ['slow-import'], children: [] }] }));
  const c: WorkerConfig = {
    ...defaultConfig(dir), port, sandbox: backend, log_level: 'warn', package_index: wheels, mem_pool_mb: 2048, zygote_mem_mb: 96,
    import_tree: backend === 'sock' ? join(dir, 'tree.json') : '',
  };
  c.limits = { ...c.limits, mem_mb: 96, time_limit_ms: 60_000 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 2));
  mkdirSync(join(c.registry, 'needs-pkg'), { recursive: true });
  writeFileSync(join(c.registry, 'needs-pkg', 'f.py'), 'import slow_import\ndef f(e):\n    return slow_import.NAME\n');
  writeFileSync(join(c.registry, 'needs-pkg', 'requirements.txt'), 'slow-import\n');
  mkdirSync(join(c.registry, 'sleeps'), { recursive: true });
  writeFileSync(join(c.registry, 'sleeps', 'f.py'), 'import time\ndef f(e):\n    time.sleep(5)\n    return 1\n');
  return c;
}

async function up(c: WorkerConfig): Promise<ChildProcess> {
  const p = spawn(process.execPath, [CLI, 'up', '--path', c.worker_dir], { stdio: 'ignore' });
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${c.port}/status`)).ok) return p;
    } catch { /* starting */ }
    if (p.exitCode !== null) throw new Error(`the worker exited at start (${p.exitCode})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the worker did not start');
}

function down(c: WorkerConfig): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'down', '--path', c.worker_dir], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

/** Waits until the worker is in the middle of `phase`; false if it never got there. */
async function reach(c: WorkerConfig, phase: string): Promise<boolean> {
  const want = phase === 'replay' ? /\/[0-9]+-sleeps$/ : new RegExp(`/${phase}-[^/]*$`);
  for (let i = 0; i < 600; i++) {
    if (cgroupsOf(c.cgroup_root).some((d) => want.test(d))) return true;
    if (phase === 'replay' && spawnSync('docker', ['ps', '-q', '--filter', `label=ol-lab.worker=${c.worker_dir}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).length >= 3) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

const PHASES: Record<'sock' | 'docker', string[]> = {
  sock: ['install', 'measure', 'zygote', 'replay'],
  docker: ['install', 'measure', 'replay'],
};

for (const backend of ['sock', 'docker'] as const) {
  describe(`a worker stopped mid-work leaves nothing behind (${backend} backend)`, () => {
    for (const phase of PHASES[backend]) {
      for (const how of ['down', 'SIGKILL, then up and down'] as const) {
        it(`${how}, during ${phase === 'replay' ? 'a replay (requests running)' : `a package's ${phase}`}`, async () => {
          const missing = prerequisites(backend, { [CLI]: 'no build; run npm run build' });
          if (missing) throw new Error(missing);
          const c = workerDir(backend, await freePort());
          let worker = await up(c);
          const calls: Promise<unknown>[] = [];
          try {
            if (phase === 'replay') {
              for (let i = 0; i < 3; i++) calls.push(fetch(`http://127.0.0.1:${c.port}/run/sleeps`, { method: 'POST' }).catch((e) => e));
            } else {
              calls.push(fetch(`http://127.0.0.1:${c.port}/run/needs-pkg`, { method: 'POST' }).catch((e) => e));
            }
            expect(await reach(c, phase), `the worker never reached its ${phase}`).toBe(true);
            if (how === 'down') {
              const r = down(c);
              expect(r.status, r.stderr).toBe(0);
            } else {
              worker.kill('SIGKILL');
              await new Promise((r) => worker.once('exit', r));
              worker = await up(c);
              // up removed what the killed worker left, before it served
              const afterUp = census(c);
              expect(afterUp.processes.filter((p) => p !== worker.pid)).toEqual([]);
              expect(afterUp.containers).toBe(0);
              expect(afterUp.dirs).toEqual([]);
              const r = down(c);
              expect(r.status, r.stderr).toBe(0);
            }
            await Promise.all(calls);
            expect(census(c)).toEqual(NOTHING);
          } finally {
            if (worker.exitCode === null && worker.signalCode === null) {
              worker.kill('SIGKILL');
              await new Promise((r) => worker.once('exit', r));
            }
            // whatever a failure left: the next case must start clean
            if (JSON.stringify(census(c)) !== JSON.stringify(NOTHING)) {
              const again = await up(c).catch(() => undefined);
              if (again) down(c);
            }
          }
        }, 120_000);
      }
    }
  });
}
