/** The ol-sim CLI end to end, as a user runs it (compiled, in a child process). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectPath } from '../../common/paths.js';
import { evictionPolicies } from '../../core/policies/index.js';
import { SAMPLE10 } from '../helpers.js';

const CLI = projectPath('dist', 'sim', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'ol-cli-'));

function olSim(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: projectPath() });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: projectPath(), stdio: 'inherit' });
});

describe('ol-sim', () => {
  it('run prints the summary table and writes result files', () => {
    const out = join(dir, 'run1');
    const r = olSim(['run', 'lru', '--trace', `azure2019:${SAMPLE10}`, '--memory', '8000', '--minutes', '1:120', '--out', out, '--invocations', '--series', '60000']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/invocations\s+completed\s+cold\s+cold %/);
    expect(r.out).toMatch(/latency ms\s+mean\s+p50\s+p90\s+p99\s+p99\.9\s+max/);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(s.config.policy).toBe('lru');
    const csv = readFileSync(join(out, 'invocations.csv'), 'utf8').trim().split('\n');
    expect(csv.length - 1).toBe(s.results.invocations);
    expect(csv[0]).toBe('inv,fn,arrival_ms,start,queue_ms,startup_ms,exec_ms,latency_ms,sandbox');
    const mem = readFileSync(join(out, 'memory.csv'), 'utf8').trim().split('\n');
    expect(mem.length - 1).toBeGreaterThanOrEqual(119);
  });

  it('--json gives the same summary as summary.json, byte for byte across runs', () => {
    const a = olSim(['run', 'gdsf', '--trace', `azure2019:${SAMPLE10}`, '--minutes', '60', '--json', '--out', join(dir, 'j1')]);
    const b = olSim(['run', 'gdsf', '--trace', `azure2019:${SAMPLE10}`, '--minutes', '60', '--json', '--out', join(dir, 'j2')]);
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    expect(readFileSync(join(dir, 'j1', 'summary.json'), 'utf8')).toBe(readFileSync(join(dir, 'j2', 'summary.json'), 'utf8'));
    expect(JSON.parse(a.out).results.invocations).toBeGreaterThan(0);
  });

  it('an unknown policy fails with the list of valid ones', () => {
    const r = olSim(['run', 'belady', '--trace', `azure2019:${SAMPLE10}`]);
    expect(r.code).toBe(2);
    for (const p of Object.keys(evictionPolicies)) expect(r.err).toContain(p);
    expect(r.err).toContain('belady');
  });

  it('a malformed trace line is a one-line error naming file, line and field', () => {
    const p = join(dir, 'bad.csv');
    writeFileSync(p, 't_ms,fn,dur_ms,mem_mb\n0,a,1,128\n1,a,1,lots\n');
    const r = olSim(['run', 'lru', '--trace', p]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(`ol-sim: error: ${p}:3: field "mem_mb": "lots" is not a number (use --skip-bad to skip such lines)`);
    const s = olSim(['run', 'lru', '--trace', p, '--skip-bad', '--json']);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.out).trace.notes[0]).toMatch(/skipped 1 malformed line/);
  });

  it('wrong config values are named', () => {
    expect(olSim(['run', 'lru', '--trace', `azure2019:${SAMPLE10}`, '--memory', '-5']).err).toMatch(/memory: must be a number of MB > 0/);
    expect(olSim(['run', 'lru', '--trace', `azure2019:${SAMPLE10}`, '--cores', 'many']).err).toMatch(/cores: must be a number > 0 or "infinite"/);
    expect(olSim(['run', 'ttl', '--trace', `azure2019:${SAMPLE10}`, '--policy-opt', 'ttl=5']).err).toMatch(/policy option ttl: policy ttl has options keepAliveMs/);
    expect(olSim(['run', 'lru', '--trace', join(dir, 'missing.csv')]).err).toMatch(/missing\.csv does not exist/);
  });

  it('gen writes a trace that run reads', () => {
    const p = join(dir, 'g.csv');
    const g = olSim(['gen', '--kind', 'bursty', '--functions', '20', '--invocations', '5000', '--rate', '50', '--out', p]);
    expect(g.code).toBe(0);
    expect(g.out).toMatch(/wrote 5,000 invocations of 20 functions/);
    const r = olSim(['run', 'ttl', '--trace', p, '--json']);
    expect(JSON.parse(r.out).results.invocations).toBe(5000);
  });

  it('sweep runs the grid on worker threads and prints one table', () => {
    const out = join(dir, 'sw');
    const r = olSim(['sweep', '--trace', `azure2019:${SAMPLE10}`, '--minutes', '1:120', '--policies', 'lru,gdsf,ttl,hist', '--memory', '1000:4000:1000', '--cores', 'infinite', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/memory MB\s+lru\s+gdsf\s+ttl\s+hist/);
    expect(r.out).toMatch(/16 simulations/);
    const sweep = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8'));
    expect(sweep.rows).toHaveLength(16);
    // the same cell run alone gives the same counts
    const one = JSON.parse(olSim(['run', 'gdsf', '--trace', `azure2019:${SAMPLE10}`, '--minutes', '1:120', '--memory', '2000', '--cores', 'infinite', '--json']).out);
    const cell = sweep.rows.find((x: { policy: string; memoryMb: number }) => x.policy === 'gdsf' && x.memoryMb === 2000);
    expect(cell.coldStarts).toBe(one.results.coldStarts);
    expect(readFileSync(join(out, 'sweep.csv'), 'utf8').split('\n')[0]).toMatch(/^policy,memoryMb,invocations,coldStarts,coldStartPct/);
  });

  it('--compat faascache: run and sweep give FaasCache-sim\'s own counts and record its input\'s fingerprints', () => {
    const out = join(dir, 'fc');
    const r = olSim(['run', 'gdsf', '--compat', 'faascache', '--trace', `azure2019:${SAMPLE10}`, '--memory', '8000', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/gdsf runs FaasCache's GD; 8,000 MB/);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    // ../shared/faascache: GD at 8,000 MB on the 10-function sample
    expect([s.cold, s.warm, s.dropped, s.evictions]).toEqual([1304, 64939, 3343, 1298]);
    expect(s.trace.fingerprints.rowTime).toBe('d16ec1a841dbd2b3d2b85bd7f0e906a3bf768fa8646cc99d0b1e28f02f760171');
    const w = olSim(['sweep', '--compat', 'faascache', '--trace', SAMPLE10, '--policies', 'lru,lnd', '--memory', '4000,32000', '--json']);
    expect(w.code).toBe(0);
    const rows = JSON.parse(w.out).rows.map((x: { policy: string; memoryMb: number; cold: number; warm: number; dropped: number }) => [x.policy, x.memoryMb, x.cold, x.warm, x.dropped]);
    expect(rows).toEqual([['lru', 4000, 1596, 62542, 5448], ['lru', 32000, 65, 69521, 0], ['lnd', 4000, 1622, 62524, 5440], ['lnd', 32000, 108, 69478, 0]]);
  });

  it('--compat faascache refuses, by name, options and policies it cannot honour', () => {
    const t = `azure2019:${SAMPLE10}`;
    expect(olSim(['run', 'lru', '--compat', 'faascache', '--trace', t, '--cores', '2']).err).toMatch(/--cores: has no meaning under --compat faascache \(FaasCache-sim has infinite CPUs\)/);
    expect(olSim(['run', 'lru', '--compat', 'faascache', '--trace', t, '--queue', 'wait']).err).toMatch(/--queue: has no meaning under --compat faascache/);
    expect(olSim(['run', 'rand', '--compat', 'faascache', '--trace', t]).err).toMatch(/RAND draws from numpy's unseeded generator/);
    expect(olSim(['run', 'openlambda', '--compat', 'faascache', '--trace', t]).err).toMatch(/--compat faascache has no policy "openlambda"/);
    expect(olSim(['run', 'lru', '--compat', 'faascache', '--trace', 'csv:x.csv']).err).toMatch(/reads azure2019 samples only, got format csv/);
  });

  it('policies lists every policy, one line each', () => {
    const r = olSim(['policies']);
    expect(r.code).toBe(0);
    for (const [p, f] of Object.entries(evictionPolicies)) expect(r.out).toMatch(new RegExp(`^${p}\\s+${f.describe.slice(0, 20).replace(/[()]/g, '.')}`, 'm'));
  });

  it('balancers lists every balancer and what of the workers it sees', () => {
    const r = olSim(['balancers']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ {2}ch-bl: .*\n {6}sees: in-flight counts \(exact\)$/m);
    expect(r.out).toMatch(/^ {2}hermod: .*\n {6}sees: in-flight counts \(exact\), kept sandboxes \(polled\)$/m);
    expect(r.out).toMatch(/^ {2}round-robin: .*\n {6}sees: nothing of the workers but their health$/m);
    const j = JSON.parse(olSim(['balancers', '--json']).out) as Record<string, { reads: string[] }>;
    expect(j.openwhisk!.reads).toEqual(['freeMb']);
    expect(j.hash!.reads).toEqual([]);
  });

  it('--help works on every command', () => {
    for (const c of ['run', 'sweep', 'gen', 'policies']) {
      const r = olSim([c, '--help']);
      expect(r.code, c).toBe(0);
      expect(r.out, c).toMatch(/--help/);
    }
  });
});
