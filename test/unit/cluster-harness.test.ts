/**
 * The harness's cluster runs (ol-exp sim/real/compare --workers N
 * --balancer B): the simulated cluster records every invocation of the
 * plan once, under its trace number, with the worker the core balancer
 * chose for the lambda's registered name; one worker with no hop is the
 * single-worker run; compare refuses runs whose cluster settings differ and
 * gives figures per worker.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { projectPath } from '../../common/paths.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeUnlessMounted } from '../../common/fs.js';
import { makeRng } from '../../common/rng.js';
import { createBalancer } from '../../core/balancers/index.js';
import { compareRuns, incompatibility } from '../../experiments/compare.js';
import { buildPlan, type PlanOptions } from '../../experiments/plan.js';
import { workerIndex } from '../../experiments/real.js';
import { writeComparisonReport } from '../../experiments/report.js';
import { readRun, type RunInfo } from '../../experiments/run-files.js';
import { runSim } from '../../experiments/sim.js';
import { constantProfile, loadProfile } from '../../sim/profile.js';
import { SAMPLE10 } from '../helpers.js';

const opts = (over: Partial<PlanOptions> = {}): PlanOptions => ({
  trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 20] }, timeScale: 60, durationScale: 0.02, seed: 1, minMemMb: 64, memScale: 0.25, ...over,
});
const dir = mkdtempSync(join(tmpdir(), 'ol-cluster-harness-'));
afterAll(() => removeUnlessMounted(dir));

const csvRows = (d: string) => readFileSync(join(d, 'invocations.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));

describe('ol-exp sim --workers N --balancer B', () => {
  const p = buildPlan(opts());
  const profile = constantProfile({ create: 40, warmDispatch: 1, unpause: 3 });

  it('records each invocation of the plan once, under its trace number and plan arrival, with the worker the balancer chose for the lambda\'s name', async () => {
    const out = join(dir, 'hash3');
    await runSim({ plan: p, out, policy: 'lru', memoryMb: 1024, cores: 2, profile, cluster: { workers: 3, balancer: 'hash', hopMs: 0.5 } });
    const run = readRun(out);
    expect(run.info.cluster).toEqual({ workers: 3, balancer: 'hash', balancerOptions: {}, front: 'boss', viewRefreshMs: 100, hopMs: 0.5, sharedCores: 2 });
    expect(run.rows.map((r) => r.inv).sort((a, b) => a - b)).toEqual(Array.from({ length: p.n }, (_, i) => i));
    // the worker of each invocation is the core hash balancer's pick for the lambda name the real front sees
    const hash = createBalancer('hash', { workers: 3, rng: makeRng(1, 'x') });
    const views = [0, 1, 2].map((index) => ({ index, healthy: true, inFlight: 0, freeMb: 0, warm: () => 0 }));
    for (const r of run.rows) {
      const f = p.functions.find((x) => x.name === r.fn)!;
      expect(r.worker).toBe(hash.pick({ fn: f.lambda, memMb: f.memMb, packages: [] }, views));
      expect(r.arrivalMs).toBeCloseTo(p.t[r.inv]!, 2);
      // the hop is in the latency: no answer comes sooner than it
      expect(r.latencyMs).toBeGreaterThanOrEqual(0.5);
    }
    expect(new Set(run.rows.map((r) => r.worker)).size).toBeGreaterThan(1);
  });

  it('one worker with no hop gives the single-worker run, number for number', async () => {
    const one = join(dir, 'one'), plain = join(dir, 'plain');
    await runSim({ plan: p, out: plain, policy: 'openlambda', memoryMb: 2048, cores: 2, profile: loadProfile(), createOnCpu: true });
    await runSim({ plan: p, out: one, policy: 'openlambda', memoryMb: 2048, cores: 2, profile: loadProfile(), createOnCpu: true, cluster: { workers: 1, balancer: 'least-loaded', hopMs: 0 } });
    const a = csvRows(plain), b = csvRows(one);
    expect(b.map((r) => r.slice(0, 8))).toEqual(a);
    expect(b.every((r) => r[8] === '0')).toBe(true);
    expect(readFileSync(join(one, 'memory.csv'), 'utf8')).toBe(readFileSync(join(plain, 'memory.csv'), 'utf8'));
  });

  it('the profile\'s measured hop is the default; an explicit one wins', async () => {
    const measured = { ...profile, extra: { hopMs: 0.75 } };
    await runSim({ plan: p, out: join(dir, 'hop-a'), policy: 'lru', memoryMb: 1024, cores: 2, profile: measured, cluster: { workers: 2, balancer: 'round-robin' } });
    await runSim({ plan: p, out: join(dir, 'hop-b'), policy: 'lru', memoryMb: 1024, cores: 2, profile: measured, cluster: { workers: 2, balancer: 'round-robin', hopMs: 2 } });
    expect(readRun(join(dir, 'hop-a')).info.cluster!.hopMs).toBe(0.75);
    expect(readRun(join(dir, 'hop-b')).info.cluster!.hopMs).toBe(2);
  });
});

describe('ol-exp compare on cluster runs', () => {
  const p = buildPlan(opts());
  const profile = constantProfile({ create: 40, warmDispatch: 1, unpause: 3 });

  it('refuses runs whose cluster settings differ, naming the setting', () => {
    const base = { planSha256: 'p', traceSha256: 't', seed: 1, policy: 'lru', memoryMb: 1024, plan: {} } as RunInfo;
    const c = { workers: 3, balancer: 'ch-bl', balancerOptions: { c: 1.25 }, front: 'boss' as const, viewRefreshMs: 100 };
    expect(incompatibility({ ...base, cluster: c }, { ...base, cluster: { ...c, hopMs: 0.4 } })).toBeUndefined();
    expect(incompatibility({ ...base, cluster: c }, base)).toMatch(/one is a cluster run \(3 workers, ch-bl\) and the other one worker/);
    expect(incompatibility({ ...base, cluster: c }, { ...base, cluster: { ...c, workers: 2 } })).toMatch(/different numbers of workers \(3 vs 2\)/);
    expect(incompatibility({ ...base, cluster: c }, { ...base, cluster: { ...c, balancer: 'hash' } })).toMatch(/different balancers \(ch-bl vs hash\)/);
    expect(incompatibility({ ...base, cluster: c }, { ...base, cluster: { ...c, balancerOptions: { c: 2 } } })).toMatch(/balancers have different options/);
    expect(incompatibility({ ...base, cluster: c }, { ...base, cluster: { ...c, front: 'haproxy' } })).toMatch(/different fronts \(boss vs haproxy/);
    expect(incompatibility({ ...base, cluster: c }, { ...base, cluster: { ...c, viewRefreshMs: 50 } })).toMatch(/at different intervals \(100 vs 50 ms\)/);
  });

  it('gives figures per worker, the imbalance and the load per minute; pairs by load behind HAProxy\'s hashing', async () => {
    const sim = join(dir, 'cmp-sim');
    await runSim({ plan: p, out: sim, policy: 'lru', memoryMb: 1024, cores: 2, profile, cluster: { workers: 3, balancer: 'hash' } });
    const s = readRun(sim);
    // a "real" run: the simulated rows with the workers renamed 0→2, 1→0, 2→1, as HAProxy's own hash might place them
    const rename = [2, 0, 1];
    const r = { ...s, info: { ...s.info, kind: 'real' as const, cluster: { ...s.info.cluster!, front: 'haproxy' as const, hopMs: undefined } }, rows: s.rows.map((x) => ({ ...x, worker: rename[x.worker!]! })) };
    const asSim = { ...s, info: { ...s.info, cluster: { ...s.info.cluster!, front: 'haproxy' as const } } };
    const a = compareRuns(r, asSim);
    const c = a.cluster!;
    expect(c.matchedBy).toBe('load');
    // paired busiest with busiest: the same counts on both sides
    for (const w of c.perWorker) {
      expect(w.real.invocations).toBe(w.sim.invocations);
      expect(w.real.coldStarts).toBe(w.sim.coldStarts);
    }
    expect(c.perWorker.map((w) => w.real.invocations)).toEqual([...c.perWorker.map((w) => w.real.invocations)].sort((x, y) => y - x));
    expect(c.perWorker.reduce((t, w) => t + w.real.invocations, 0)).toBe(p.n);
    const counts = c.perWorker.map((w) => w.real.invocations);
    expect(c.imbalance.real).toBeCloseTo(Math.max(...counts) / (p.n / 3), 9);
    expect(c.imbalance.sim).toBeCloseTo(c.imbalance.real, 9);
    for (let i = 0; i < 3; i++) expect(c.loadPerMinute.reduce((t, m) => t + m.real[i]!, 0)).toBe(counts[i]);
    // behind the boss the same hash is the simulator's: paired by index
    const byIndex = compareRuns({ ...s, info: { ...s.info, kind: 'real' } }, s).cluster!;
    expect(byIndex.matchedBy).toBe('index');
    expect(byIndex.perWorker.map((w) => w.real.worker)).toEqual([0, 1, 2]);
    // the report has the per-worker charts and section
    const files = await writeComparisonReport(join(dir, 'cmp-report'), a, r, asSim);
    expect(files).toEqual(expect.arrayContaining(['workers-load.png', 'workers.png']));
    const html = readFileSync(join(dir, 'cmp-report', 'report.html'), 'utf8');
    expect(html).toContain('Per worker');
    expect(html).toContain('paired by load');
  });

  it('reads a cluster run\'s worker column, and names the file and line of a bad one', async () => {
    const out = join(dir, 'bad');
    await runSim({ plan: p, out, policy: 'lru', memoryMb: 1024, cores: 2, profile, cluster: { workers: 2, balancer: 'round-robin' } });
    const path = join(out, 'invocations.csv');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[3] = lines[3]!.replace(/,\d+$/, ',5');
    writeFileSync(path, lines.join('\n'));
    expect(() => readRun(out)).toThrow(/invocations\.csv:4: field "worker": "5" is not a worker of this 2-worker cluster/);
    lines[3] = lines[3]!.replace(/,5$/, ',');
    writeFileSync(path, lines.join('\n'));
    expect(readRun(out).rows[2]!.worker).toBe(-1);
  });
});

describe('ol-exp sweep --balancers --workers', () => {
  it('simulates every balancer at every cluster size and charts cold starts, p99 and imbalance against workers', async () => {
    const out = join(dir, 'sweep');
    // through the CLI: the sweep's threads run the built code
    const r = spawnSync(process.execPath, [projectPath('dist', 'experiments', 'cli.js'), 'sweep', '--trace', `azure2019:${SAMPLE10}`, '--policies', 'lru', '--memory', '1500', '--balancers', 'round-robin,hash', '--workers', '1,3', '--hop-ms', '0', '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['sweep.pdf', 'sweep.html', 'sweep.csv', 'cluster-cold.png', 'cluster-p99.png', 'cluster-imbalance.png']) expect(existsSync(join(out, f))).toBe(true);
    const lines = readFileSync(join(out, 'sweep.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('balancer,workers,policy,memoryMb,invocations,coldStarts,coldStartPct,dropped,droppedPct,imbalance,p50Ms,p99Ms,idleMbSeconds');
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.map((r) => `${r[0]}/${r[1]}`)).toEqual(['round-robin/1', 'round-robin/3', 'hash/1', 'hash/3']);
    // one worker is one worker whatever the balancer; three behind hash keep each function on one: fewer cold starts than round-robin
    expect(rows[0]!.slice(4, 9)).toEqual(rows[2]!.slice(4, 9));
    expect(Number(rows[3]![5])).toBeLessThan(Number(rows[1]![5]));
  });
});

describe('the worker a front names', () => {
  it('reads the boss\'s index and HAProxy\'s server name', () => {
    expect(workerIndex('2', 3)).toBe(2);
    expect(workerIndex('w0', 3)).toBe(0);
    expect(workerIndex('w3', 3)).toBe('');
    expect(workerIndex('', 3)).toBe('');
    expect(workerIndex('abc', 3)).toBe('');
  });
});
