/**
 * The cgroup drivers against fake hierarchies in a temporary directory:
 * which files they write for each limit, on v1 and on v2 (this project's
 * machines are v1, so v2 is checked here and v1 also for real in
 * worker-real.test.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupDriver } from '../../worker/sandbox/cgroups.js';

const limits = { memoryMb: 128, pids: 32, cpuPercent: 50 };

describe('cgroup drivers', () => {
  it('v2: one group with memory.max, swap off, pids.max, cpu.max; freeze via cgroup.freeze', async () => {
    const m = mkdtempSync(join(tmpdir(), 'cg2-'));
    writeFileSync(join(m, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    const d = cgroupDriver('ol-lab/w1', 'auto', m);
    expect(d.version).toBe(2);
    expect(readFileSync(join(m, 'cgroup.subtree_control'), 'utf8')).toBe('+memory +pids +cpu');
    const g = d.create('sb1', limits);
    const dir = join(m, 'ol-lab', 'w1', 'sb1');
    writeFileSync(join(dir, 'memory.swap.max'), 'max');
    const g2 = d.create('sb1', limits); // memory.swap.max now exists
    expect(readFileSync(join(dir, 'memory.max'), 'utf8')).toBe(String(128 * 2 ** 20));
    expect(readFileSync(join(dir, 'memory.swap.max'), 'utf8')).toBe('0');
    expect(readFileSync(join(dir, 'pids.max'), 'utf8')).toBe('32');
    expect(readFileSync(join(dir, 'cpu.max'), 'utf8')).toBe('50000 100000');
    expect(readFileSync(join(dir, 'cpu.weight'), 'utf8')).toBe('25');
    d.create('zyg', { ...limits, memoryMb: Infinity, cpuShares: 8192 });
    expect(readFileSync(join(m, 'ol-lab', 'w1', 'zyg', 'cpu.weight'), 'utf8')).toBe('800');
    expect(readFileSync(join(m, 'ol-lab', 'w1', 'zyg', 'memory.max'), 'utf8')).toBe('max');
    expect(g.procsFiles).toEqual([join(dir, 'cgroup.procs')]);
    writeFileSync(join(dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    await g2.freeze();
    expect(readFileSync(join(dir, 'cgroup.freeze'), 'utf8')).toBe('1');
    await g2.thaw();
    expect(readFileSync(join(dir, 'cgroup.freeze'), 'utf8')).toBe('0');
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    expect(g2.oomKills()).toBe(1);
    expect(d.list()).toEqual(['sb1', 'zyg']);
  });

  it('v1: a group per controller, with the v1 limit files', async () => {
    const m = mkdtempSync(join(tmpdir(), 'cg1-'));
    for (const c of ['memory', 'pids', 'cpu', 'freezer']) mkdirSync(join(m, c));
    const d = cgroupDriver('ol-lab/w1', 'auto', m);
    expect(d.version).toBe(1);
    const g = d.create('sb1', limits);
    const p = (c: string, f: string) => readFileSync(join(m, c, 'ol-lab', 'w1', 'sb1', f), 'utf8');
    expect(p('memory', 'memory.limit_in_bytes')).toBe(String(128 * 2 ** 20));
    expect(p('pids', 'pids.max')).toBe('32');
    expect(p('cpu', 'cpu.cfs_quota_us')).toBe('50000');
    expect(p('cpu', 'cpu.cfs_period_us')).toBe('100000');
    expect(p('cpu', 'cpu.shares')).toBe('256');
    expect(g.procsFiles).toHaveLength(4);
    d.create('zyg', { ...limits, memoryMb: Infinity, cpuShares: 8192 });
    expect(readFileSync(join(m, 'cpu', 'ol-lab', 'w1', 'zyg', 'cpu.shares'), 'utf8')).toBe('8192');
    expect(existsSync(join(m, 'memory', 'ol-lab', 'w1', 'zyg', 'memory.limit_in_bytes'))).toBe(false);
    writeFileSync(join(m, 'freezer', 'ol-lab', 'w1', 'sb1', 'freezer.state'), 'FROZEN\n');
    await g.freeze();
    writeFileSync(join(m, 'memory', 'ol-lab', 'w1', 'sb1', 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    expect(g.oomKills()).toBe(2);
    // an empty group kept frozen beside the sandboxes (see V1_ANCHOR), never listed as one
    expect(readFileSync(join(m, 'freezer', 'ol-lab', 'w1', '.frozen-anchor', 'freezer.state'), 'utf8')).toBe('FROZEN');
    expect(d.list()).toEqual(['sb1', 'zyg']);
    const bare = cgroupDriver('ol-lab/w2', 'v1', m, { freezerAnchor: false });
    expect(existsSync(join(m, 'freezer', 'ol-lab', 'w2', '.frozen-anchor'))).toBe(false);
    expect(bare.list()).toEqual([]);
  });

  it('v1: groups made ahead with the same limits are renamed into place, never listed, and go with the root', async () => {
    const m = mkdtempSync(join(tmpdir(), 'cg1-'));
    for (const c of ['memory', 'pids', 'cpu', 'freezer']) mkdirSync(join(m, c));
    const d = cgroupDriver('ol-lab/w1', 'v1', m);
    d.create('sb1', limits);
    await new Promise((r) => setTimeout(r, 150)); // the refill runs 20 ms after a create
    const spares = readdirSync(join(m, 'pids', 'ol-lab', 'w1')).filter((n) => n.startsWith('.spare-'));
    expect(spares).toHaveLength(2);
    for (const c of ['memory', 'pids', 'cpu', 'freezer']) for (const sp of spares) expect(existsSync(join(m, c, 'ol-lab', 'w1', sp))).toBe(true);
    expect(d.list()).toEqual(['sb1']);
    d.create('sb2', limits);
    const p = (c: string, f: string) => readFileSync(join(m, c, 'ol-lab', 'w1', 'sb2', f), 'utf8');
    expect(p('memory', 'memory.limit_in_bytes')).toBe(String(128 * 2 ** 20));
    expect(p('cpu', 'cpu.shares')).toBe('256');
    expect(readdirSync(join(m, 'memory', 'ol-lab', 'w1')).filter((n) => n.startsWith('.spare-'))).toHaveLength(1);
    // other limits: made on the spot, with their own values
    d.create('sb3', { ...limits, pids: 7 }, false);
    expect(readFileSync(join(m, 'pids', 'ol-lab', 'w1', 'sb3', 'pids.max'), 'utf8')).toBe('7');
    expect(d.list()).toEqual(['sb1', 'sb2', 'sb3']);
  });

  it('v1 on this machine: a spare group becomes a sandbox\'s, and nothing is left after removeRoot', async (ctx) => {
    if (process.getuid?.() !== 0 || !existsSync('/sys/fs/cgroup/pids/cgroup.procs')) return ctx.skip();
    const root = `ol-lab/test-spares-${process.pid}`;
    const d = cgroupDriver(root, 'v1');
    const a = d.create('a', limits);
    await new Promise((r) => setTimeout(r, 200));
    const b = d.create('b', limits);
    expect(readFileSync(join('/sys/fs/cgroup/pids', root, 'b', 'pids.max'), 'utf8').trim()).toBe('32');
    expect(readFileSync(join('/sys/fs/cgroup/cpu', root, 'b', 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
    expect(d.list()).toEqual(['a', 'b']);
    await a.destroy();
    await b.destroy();
    d.create('c', limits); // a refill is due 20 ms from now: removeRoot must win over it
    await d.remove('c');
    d.removeRoot();
    await new Promise((r) => setTimeout(r, 200));
    for (const c of ['memory', 'pids', 'cpu', 'freezer']) expect(existsSync(join('/sys/fs/cgroup', c, root))).toBe(false);
  });

  it('asking for v2 on a v1 machine is a clear error', () => {
    const m = mkdtempSync(join(tmpdir(), 'cg1-'));
    expect(() => cgroupDriver('x', 'v2', m)).toThrow(/cgroup v2 was asked for, but .* is not a unified hierarchy/);
    expect(() => cgroupDriver('x', 'v1', m)).toThrow(/cgroup v1 controller memory is not mounted/);
  });
});
