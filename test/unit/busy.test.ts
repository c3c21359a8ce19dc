/** The machine-busy meter (common/cpu-usage.ts): what is the experiment's and what is other work, on made-up /proc readings. */
import { describe, expect, it } from 'vitest';
import { BusyMeter, otherShare, parseProcStat, type ProcCpu } from '../../common/cpu-usage.js';
import { cpuacctLine, cpuacctPath, unifiedPath } from '../../common/cpu-accounting.js';

/** A fake /proc: processes and the machine's busy counter, changed between samples. */
function fakeProc(start: Record<number, ProcCpu>, cgroups: Record<number, string> = {}) {
  const state = { procs: new Map(Object.entries(start).map(([k, v]) => [Number(k), { ...v }])), machine: 0, cgroups };
  const read = { procs: () => new Map([...state.procs].map(([k, v]) => [k, { ...v }])), machine: () => state.machine, cgroup: (pid: number) => state.cgroups[pid] ?? '0::/user.slice\n' };
  return { state, read };
}
const p = (ppid: number, ownMs: number, reapedMs = 0, comm = 'x'): ProcCpu => ({ ppid, comm, ownMs, reapedMs });

describe('BusyMeter', () => {
  it('splits the machine into the experiment\'s tree and the rest', () => {
    const f = fakeProc({ 1: p(0, 0), 10: p(1, 0), 11: p(10, 0), 20: p(1, 0) });
    const m = new BusyMeter({ roots: [10] }, f.read);
    f.state.procs.get(10)!.ownMs += 30;
    f.state.procs.get(11)!.ownMs += 70; // the worker's child
    f.state.procs.get(20)!.ownMs += 50; // someone else
    f.state.machine += 170; // 20 ms the kernel's own
    const iv = m.sample();
    expect(iv.experimentMs).toBe(100);
    expect(iv.otherMs).toBe(70);
  });

  it('keeps a child that exits counted once: through its parent\'s reaped time', () => {
    const f = fakeProc({ 10: p(1, 0), 11: p(10, 40) });
    const m = new BusyMeter({ roots: [10] }, f.read);
    // the child ran 60 ms more and was reaped: its 100 ms move to the parent's reaped time
    f.state.procs.delete(11);
    f.state.procs.get(10)!.reapedMs += 100;
    f.state.machine += 60;
    const iv = m.sample();
    expect(iv.experimentMs).toBe(60);
    expect(iv.otherMs).toBe(0);
  });

  it('keeps a process reaped by someone else at its last reading (no negative time)', () => {
    const f = fakeProc({ 10: p(1, 0), 30: p(2, 500, 0, 'runc') }, {});
    const m = new BusyMeter({ roots: [10], comms: ['runc'] }, f.read);
    f.state.procs.delete(30);
    f.state.machine += 10;
    const iv = m.sample();
    expect(iv.experimentMs).toBe(0);
    expect(iv.otherMs).toBe(10);
    f.state.procs.get(10)!.ownMs += 20;
    f.state.machine += 20;
    expect(m.sample().experimentMs).toBe(20);
  });

  it('keeps counting a process of the experiment that init adopted (a sandbox whose parent was killed)', () => {
    const f = fakeProc({ 10: p(1, 0), 11: p(10, 0), 12: p(11, 100) });
    const m = new BusyMeter({ roots: [10] }, f.read);
    // 11 is killed and reaped by 10; 12, orphaned, is adopted by init (1) and runs 40 ms more
    f.state.procs.delete(11);
    f.state.procs.get(12)!.ppid = 1;
    f.state.procs.get(12)!.ownMs += 40;
    f.state.machine += 40;
    const iv = m.sample();
    expect(iv.experimentMs).toBe(40);
    expect(iv.otherMs).toBe(0);
    // then init reaps it: its time stays counted, nothing goes negative
    f.state.procs.delete(12);
    f.state.machine += 5;
    expect(m.sample()).toMatchObject({ experimentMs: 0, otherMs: 5 });
  });

  it('does not take a reused pid for the process that had it', () => {
    const f = fakeProc({ 10: p(1, 0), 11: { ...p(10, 0), start: 5 } });
    const m = new BusyMeter({ roots: [10] }, f.read);
    f.state.procs.set(11, { ...p(1, 30), start: 9 }); // another process, adopted by init, now holds pid 11
    f.state.machine += 30;
    expect(m.sample()).toMatchObject({ experimentMs: 0, otherMs: 30 });
  });

  it('counts processes by command name and by cgroup', () => {
    const f = fakeProc({ 10: p(1, 0), 40: p(1, 0, 0, 'dockerd'), 41: p(2, 0), 42: p(2, 0) }, { 41: '0::/system.slice/docker-abc.scope\n' });
    const m = new BusyMeter({ roots: [10], comms: ['dockerd'], cgroups: ['/docker-'] }, f.read);
    for (const pid of [40, 41, 42]) f.state.procs.get(pid)!.ownMs += 10;
    f.state.machine += 30;
    const iv = m.sample();
    expect(iv.experimentMs).toBe(20);
    expect(iv.otherMs).toBe(10);
  });

  it('gives other work in cores and as a share', () => {
    expect(otherShare({ wallMs: 1000, machineMs: 1500, experimentMs: 500, otherMs: 1000 }, 2)).toEqual({ otherCores: 1, share: 0.5 });
  });
});

describe('parseProcStat', () => {
  it('reads a command name with spaces and parentheses', () => {
    const s = "123 (a (b) c) S 7 1 1 0 -1 4194560 100 0 0 0 25 5 3 2 20 0 1 0 10 0 0";
    expect(parseProcStat(s)).toEqual({ ppid: 7, comm: 'a (b) c', ownMs: 300, reapedMs: 50, start: 10 });
  });
});

describe('BusyMeter with an accounting cgroup', () => {
  it('counts the group\'s processes through the group: a sandbox that ends unseen, or after the last look, is not other work', () => {
    const f = fakeProc({ 10: p(1, 0), 11: p(10, 0), 40: p(1, 0, 0, 'runc') });
    const held = new Set([10, 11]);
    const g = { usage: 1000, usageMs() { return this.usage; }, holds: (pid: number) => held.has(pid) };
    const m = new BusyMeter({ roots: [10], comms: ['runc'], group: g }, f.read);
    // the harness and worker run 50 ms; a sandbox forked and detached (reaped by init) runs 80 ms
    // and ends between two samples; runc, outside the group, 20 ms; the kernel 10 ms
    f.state.procs.get(10)!.ownMs += 20;
    f.state.procs.get(11)!.ownMs += 30;
    f.state.procs.get(40)!.ownMs += 20;
    g.usage += 50 + 80;
    f.state.machine += 50 + 80 + 20 + 10;
    const iv = m.sample();
    expect(iv.experimentMs).toBe(150); // not 70: the unseen sandbox's 80 ms count, the tree's 50 once
    expect(iv.otherMs).toBe(10);
    // a group process that exits is neither kept at its last reading nor counted twice
    f.state.procs.delete(11);
    g.usage += 5;
    f.state.machine += 5;
    expect(m.sample().experimentMs).toBe(5);
  });

  it('reads the cpuacct line of /proc/<pid>/cgroup, alone or co-mounted', () => {
    expect(cpuacctPath('12:pids:/a\n4:cpuacct:/ol-exp-acct-7\n3:cpu:/b\n0::/c\n')).toBe('/ol-exp-acct-7');
    expect(cpuacctPath('5:cpu,cpuacct:/x/y\n')).toBe('/x/y');
    expect(cpuacctPath('0::/user.slice\n')).toBeUndefined();
    // only a cpuacct mounted alone is used: with cpu, a group would also be a scheduling group
    expect(cpuacctLine('4:cpuacct:/\n')).toEqual({ path: '/', alone: true });
    expect(cpuacctLine('5:cpu,cpuacct:/\n')).toEqual({ path: '/', alone: false });
    // the unified hierarchy's line, beside v1 or alone
    expect(unifiedPath('4:cpuacct:/\n0::/ol-exp-acct-7\n')).toBe('/ol-exp-acct-7');
    expect(unifiedPath('0::/user.slice/a.scope\n')).toBe('/user.slice/a.scope');
    expect(unifiedPath('4:cpuacct:/\n')).toBeUndefined();
  });
});
