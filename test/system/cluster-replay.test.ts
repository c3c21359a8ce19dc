/**
 * The harness on a real cluster (root, scripts/setup-host.sh, HAProxy):
 * `ol-exp real --workers N --balancer B` behind ol-boss and behind HAProxy,
 * the same plan simulated, compared per worker; the boss's hop measured.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeUnlessMounted } from '../../common/fs.js';
import { projectPath } from '../../common/paths.js';
import { measureHop } from '../../experiments/hop.js';
import { defaultConfig } from '../../worker/config.js';
import { readRun } from '../../experiments/run-files.js';
import { prerequisites } from './real-worker.js';

const cli = projectPath('dist', 'experiments', 'cli.js');
const PLAN = ['--functions', '4', '--minutes', '1:10', '--time-scale', '60', '--memory', '1024'];
const dir = mkdtempSync(join(tmpdir(), 'ol-cluster-replay-'));
afterAll(() => removeUnlessMounted(dir));

const exp = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const clusterDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('ol-exp-cluster-') || d.startsWith('ol-exp-hop-'));
/**
 * What a replay's cluster left: its workers' cgroup roots in any hierarchy,
 * processes started in its folder, and the folder (other test files run
 * workers of their own meanwhile, so only this cluster's are counted).
 */
function leftovers(stdout: string, workers: number): string[] {
  const m = / in (\/\S*ol-exp-cluster-\w+)/.exec(stdout);
  if (!m) return ['the replay did not say where its cluster was'];
  const d = m[1]!;
  const left: string[] = [];
  if (existsSync(d)) left.push(d);
  for (let i = 0; i < workers; i++) {
    const root = defaultConfig(join(d, `worker-${i}`)).cgroup_root;
    for (const c of ['cpu', 'memory', 'pids', 'freezer', 'unified']) if (existsSync(join('/sys/fs/cgroup', c, root))) left.push(`${c}/${root}`);
  }
  for (const pid of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(d)) left.push(`process ${pid}`);
    } catch { /* gone */ }
  }
  return left;
}

describe('ol-exp real on a cluster, simulated and compared (sock, needs root)', () => {
  it('behind ol-boss with hash: each lambda on the worker the simulator puts it on; every call answered; per-worker figures; nothing left', () => {
    const why = prerequisites('sock');
    if (why) throw new Error(why);
    const before = clusterDirs();
    const real = exp('real', ...PLAN, '--workers', '3', '--balancer', 'hash', '--out', join(dir, 'real'));
    expect(real.status, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/started a 3-worker sock cluster behind ol-boss \(balancer hash/);
    const r = readRun(join(dir, 'real'));
    expect(r.info.cluster).toEqual({ workers: 3, balancer: 'hash', balancerOptions: {}, front: 'boss', viewRefreshMs: 100 });
    expect(r.rows.length).toBe(r.info.invocations);
    expect(r.rows.every((x) => x.status === 200 && x.worker! >= 0)).toBe(true);
    // each worker kept its own records, and between them every call
    const records = [0, 1, 2].map((i) => join(dir, 'real', `worker-records-${i}.jsonl`)).filter(existsSync);
    expect(records.map((f) => readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).length).reduce((a, b) => a + b, 0)).toBe(r.rows.length);
    const sim = exp('sim', ...PLAN, '--workers', '3', '--balancer', 'hash', '--replicas', '1', '--out', join(dir, 'sim'));
    expect(sim.status, sim.stderr).toBe(0);
    const s = readRun(join(dir, 'sim'));
    const home = (rows: typeof r.rows) => new Map(rows.map((x) => [x.fn, x.worker]));
    // hash: one worker per lambda, the same one the simulated front (the same core balancer) chose
    for (const fn of new Set(r.rows.map((x) => x.fn))) expect(new Set(r.rows.filter((x) => x.fn === fn).map((x) => x.worker)).size).toBe(1);
    expect(home(r.rows)).toEqual(home(s.rows));
    const cmp = exp('compare', join(dir, 'real'), join(dir, 'sim'), '--out', join(dir, 'report'));
    expect(cmp.status, cmp.stderr).toBe(0);
    expect(cmp.stdout).toMatch(/per worker \(by index\): /);
    const a = JSON.parse(readFileSync(join(dir, 'report', 'agreement.json'), 'utf8')) as { cluster: { perWorker: { real: { invocations: number }; sim: { invocations: number } }[] } };
    for (const w of a.cluster.perWorker) expect(w.real.invocations).toBe(w.sim.invocations);
    expect(existsSync(join(dir, 'report', 'workers-load.png'))).toBe(true);
    // runs of other cluster settings are refused
    const other = exp('sim', ...PLAN, '--workers', '3', '--balancer', 'round-robin', '--replicas', '1', '--out', join(dir, 'sim-rr'));
    expect(other.status).toBe(0);
    const refused = exp('compare', join(dir, 'real'), join(dir, 'sim-rr'), '--out', join(dir, 'report-rr'));
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/different balancers \(hash vs round-robin\)/);
    // the cluster's folder, processes and cgroups are gone
    expect(clusterDirs().filter((d) => !before.includes(d))).toEqual([]);
    expect(leftovers(real.stdout, 3)).toEqual([]);
  }, 180_000);

  it('behind HAProxy with ch-bl: every call answered and attributed to a worker; paired by load', () => {
    const why = prerequisites('sock');
    if (why) throw new Error(why);
    if (spawnSync('haproxy', ['-v']).status !== 0) throw new Error('needs Debian\'s haproxy (scripts/setup-host.sh installs it)');
    const real = exp('real', ...PLAN, '--workers', '2', '--balancer', 'ch-bl', '--front', 'haproxy', '--out', join(dir, 'hreal'));
    expect(real.status, real.stderr).toBe(0);
    const r = readRun(join(dir, 'hreal'));
    expect(r.info.cluster!.front).toBe('haproxy');
    // the offending rows, if any, are what a failure shows
    expect(r.rows.filter((x) => !(x.status === 200 && (x.worker === 0 || x.worker === 1))), r.info.notes.join('\n')).toEqual([]);
    const sim = exp('sim', ...PLAN, '--workers', '2', '--balancer', 'ch-bl', '--front', 'haproxy', '--replicas', '1', '--out', join(dir, 'hsim'));
    expect(sim.status, sim.stderr).toBe(0);
    const cmp = exp('compare', join(dir, 'hreal'), join(dir, 'hsim'), '--out', join(dir, 'hreport'));
    expect(cmp.status, cmp.stderr).toBe(0);
    expect(cmp.stdout).toMatch(/per worker \(paired by load\)/);
    // a simulation of the boss's front is not one of HAProxy's
    const boss = exp('sim', ...PLAN, '--workers', '2', '--balancer', 'ch-bl', '--replicas', '1', '--out', join(dir, 'hsim-boss'));
    expect(boss.status).toBe(0);
    const refused = exp('compare', join(dir, 'hreal'), join(dir, 'hsim-boss'), '--out', join(dir, 'hreport2'));
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/different fronts \(haproxy vs boss/);
    // HAProxy runs only its own algorithms
    const bad = exp('real', ...PLAN, '--workers', '2', '--balancer', 'pasch', '--front', 'haproxy', '--out', join(dir, 'bad'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--front haproxy runs round-robin, least-loaded, hash, ch-bl; --balancer pasch is the boss's only/);
    expect(leftovers(real.stdout, 2)).toEqual([]);
  }, 180_000);

  it('the hop through the boss: paired warm calls, a figure of a few ms at most on loopback', async () => {
    const why = prerequisites('sock');
    if (why) throw new Error(why);
    const h = await measureHop({ backend: 'sock', n: 12, log: () => {} });
    expect(h.hopSamples).toHaveLength(12);
    expect(h.hopMs).toBeGreaterThanOrEqual(0);
    expect(h.throughMs).toBeGreaterThan(h.straightMs * 0.5);
    expect(h.hopMs).toBeLessThan(50);
    expect(clusterDirs()).toEqual([]);
  }, 120_000);
});
