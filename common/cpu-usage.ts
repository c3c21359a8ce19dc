/**
 * CPU time from /proc (Linux): the whole machine's busy time and one
 * process's own, in ms. The harness samples both during a replay
 * (`cpu.csv`) and the calibration measures costs with the first.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { CpuGroup } from './cpu-accounting.js';

/** USER_HZ: the unit of /proc's CPU times (100 on every Linux this runs on). */
const TICK_MS = 10;

/** CPU time the whole machine has spent busy (every CPU, user + system + interrupts + steal), ms. */
export function machineBusyMs(stat = readFileSync('/proc/stat', 'utf8')): number {
  const f = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/);
  if (f[0] !== 'cpu' || f.length < 8) throw new Error(`/proc/stat: unexpected first line ${JSON.stringify(f.join(' '))}`);
  const v = f.slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: all but idle and iowait
  return (v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + (v[7] ?? 0)) * TICK_MS;
}

/**
 * CPU time (user + system) process `pid` has used, ms; undefined once it
 * has gone. `stat`: the text of /proc/<pid>/stat, for tests.
 */
export function processCpuMs(pid: number, stat?: string): number | undefined {
  let s = stat;
  if (s === undefined) {
    try {
      s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
  }
  // the command name may hold spaces and parentheses: fields start after the last ')'
  const f = s.slice(s.lastIndexOf(')') + 2).trim().split(/\s+/);
  const utime = Number(f[11]), stime = Number(f[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/${pid}/stat: unexpected contents ${JSON.stringify(s.slice(0, 200))}`);
  return (utime + stime) * TICK_MS;
}

/** One process as /proc/<pid>/stat tells it: parent, command name, its own CPU and that of the children it has reaped, ms. */
export interface ProcCpu { ppid: number; comm: string; ownMs: number; reapedMs: number; /** Start time since boot, in ticks: tells a reused pid from the process that had it. */ start?: number }

/** Parses /proc/<pid>/stat; undefined if it does not look like one. */
export function parseProcStat(s: string): ProcCpu | undefined {
  const open = s.indexOf('('), close = s.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = s.slice(close + 2).trim().split(/\s+/);
  const ppid = Number(f[1]), u = Number(f[11]), st = Number(f[12]), cu = Number(f[13]), cs = Number(f[14]), start = Number(f[19]);
  if (![ppid, u, st, cu, cs].every(Number.isFinite)) return undefined;
  return { ppid, comm: s.slice(open + 1, close), ownMs: (u + st) * TICK_MS, reapedMs: (cu + cs) * TICK_MS, ...(Number.isFinite(start) ? { start } : {}) };
}

/** Every process now: pid → its CPU. Processes that go while being read are skipped. */
export function readAllProcs(proc = '/proc'): Map<number, ProcCpu> {
  const out = new Map<number, ProcCpu>();
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const p = parseProcStat(readFileSync(`${proc}/${name}/stat`, 'utf8'));
      if (p) out.set(Number(name), p);
    } catch { /* it exited */ }
  }
  return out;
}

/** What belongs to an experiment: the process trees under `roots`, and processes whose command name or cgroup matches. */
export interface ExperimentMatch {
  roots: number[];
  /** Command names (/proc/<pid>/stat's second field), e.g. dockerd for the docker backend. */
  comms?: string[];
  /** Substrings of /proc/<pid>/cgroup, e.g. `/docker/` for the docker backend's containers. */
  cgroups?: string[];
  /**
   * A cgroup whose cumulative CPU is the experiment's (common/cpu-accounting.ts):
   * its processes are counted through it, so their CPU after the last
   * look, and that of processes too short-lived to be seen, is not lost.
   */
  group?: CpuGroup;
}

/** One interval's CPU, ms: the machine's, the experiment's, and the rest (other users' work, the kernel's). */
export interface BusyInterval { wallMs: number; machineMs: number; experimentMs: number; otherMs: number }

/**
 * How much CPU work that is not the experiment's the machine did, interval
 * by interval. The experiment's CPU is the sum over its live processes of
 * their own and reaped children's CPU, kept continuous across exits: a
 * process reaped by one of the experiment's keeps counting through its
 * parent's reaped time, one reaped by anything else (a container's process
 * by its shim) is kept at its last reading. A process once the
 * experiment's stays so while it lives, even orphaned (a sandbox's process
 * whose parent was killed is adopted by init). The rest of the machine's busy
 * time (/proc/stat) is other work: other processes, short-lived ones
 * included, and the kernel's own.
 */
export class BusyMeter {
  #last: { t: number; machine: number; exp: number };
  #seen = new Map<number, ProcCpu>();
  #retired = 0;
  /** Processes found in a matching cgroup: pid → start time (a reused pid is another process). */
  #cgroupCache = new Map<number, number | undefined>();
  /** Whether each of the experiment's processes is in `match.group` (pid → start time and answer). */
  #heldCache = new Map<number, { start: number | undefined; held: boolean }>();

  constructor(private readonly match: ExperimentMatch, private readonly read = { procs: () => readAllProcs(), machine: () => machineBusyMs(), cgroup: (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8') }) {
    this.#last = { t: performance.now(), machine: this.read.machine(), exp: this.#experimentMs() };
  }

  #experimentMs(): number {
    const procs = this.read.procs();
    const children = new Map<number, number[]>();
    for (const [pid, p] of procs) {
      const c = children.get(p.ppid);
      if (c) c.push(pid);
      else children.set(p.ppid, [pid]);
    }
    const mine = new Set<number>();
    const walk = (pid: number) => {
      if (mine.has(pid) || !procs.has(pid)) return;
      mine.add(pid);
      for (const c of children.get(pid) ?? []) walk(c);
    };
    for (const r of this.match.roots) walk(r);
    // once ours, ours while it lives (the same process: same start time), even adopted by init
    for (const [pid, p] of this.#seen) {
      const now = procs.get(pid);
      if (now && now.start === p.start) walk(pid);
    }
    const comms = new Set(this.match.comms ?? []);
    const cg = this.match.cgroups ?? [];
    for (const [pid, p] of procs) {
      if (mine.has(pid)) continue;
      if (comms.has(p.comm)) { walk(pid); continue; }
      if (cg.length === 0) continue;
      // a process may move into a sandbox's cgroup after it starts: only a match is remembered
      let hit = this.#cgroupCache.has(pid) && this.#cgroupCache.get(pid) === p.start;
      if (!hit) {
        try {
          const text = this.read.cgroup(pid);
          hit = cg.some((m) => text.includes(m));
        } catch {
          hit = false;
        }
        if (hit) this.#cgroupCache.set(pid, p.start);
      }
      if (hit) walk(pid);
    }
    // in the accounting group: counted through it, not one by one
    const group = this.match.group;
    const held = (pid: number, p: ProcCpu): boolean => {
      if (!group) return false;
      const c = this.#heldCache.get(pid);
      if (c && c.start === p.start) return c.held;
      const h = group.holds(pid);
      this.#heldCache.set(pid, { start: p.start, held: h });
      return h;
    };
    // gone since the last reading: reaped by one of ours, its time is in the parent's; else keep it
    for (const [pid, p] of this.#seen) {
      if (procs.get(pid)?.start === p.start) continue;
      this.#cgroupCache.delete(pid);
      this.#heldCache.delete(pid);
      if (!this.#seen.has(p.ppid) || procs.get(p.ppid)?.start !== this.#seen.get(p.ppid)!.start) this.#retired += p.ownMs + p.reapedMs;
    }
    this.#seen = new Map([...mine].filter((pid) => !held(pid, procs.get(pid)!)).map((pid) => [pid, procs.get(pid)!]));
    let sum = this.#retired + (group ? group.usageMs() : 0);
    for (const p of this.#seen.values()) sum += p.ownMs + p.reapedMs;
    return sum;
  }

  /** The interval since the last call (or since construction). */
  sample(): BusyInterval {
    const t = performance.now(), machine = this.read.machine(), exp = this.#experimentMs();
    const wallMs = t - this.#last.t, machineMs = machine - this.#last.machine;
    const experimentMs = Math.max(0, Math.min(machineMs, exp - this.#last.exp));
    this.#last = { t, machine, exp };
    return { wallMs, machineMs, experimentMs, otherMs: Math.max(0, machineMs - experimentMs) };
  }
}

/**
 * The experiment's processes for a worker backend: the harness's own tree;
 * sandboxes, zygotes and package installs in ol-lab's cgroups (`/ol-lab/`:
 * the sock backend detaches them from the worker, so init reaps them); for
 * docker also the engine and its containers; with `group`, every process
 * in the harness's accounting group (common/cpu-accounting.ts), counted
 * through the group. Another ol-lab worker or
 * Docker container running beside the experiment counts as the
 * experiment's too: these meters cannot tell them apart.
 */
export function experimentMatch(backend: 'sock' | 'docker', roots: number[] = [process.pid], group?: CpuGroup): ExperimentMatch {
  const g = group ? { group } : {};
  return backend === 'docker'
    ? { roots, comms: ['dockerd', 'containerd', 'containerd-shim', 'containerd-shim-runc-v2', 'runc', 'docker-proxy'], cgroups: ['/ol-lab/', '/docker/', '/docker-'], ...g }
    : { roots, cgroups: ['/ol-lab/'], ...g };
}

/** Other work's share of the machine above which a measurement is flagged. */
export const BUSY_SHARE_FLAG = 0.25;

/** Other work over an interval, in cores and as a share of `cores`. */
export function otherShare(iv: BusyInterval, cores: number): { otherCores: number; share: number } {
  const otherCores = iv.wallMs > 0 ? iv.otherMs / iv.wallMs : 0;
  return { otherCores, share: cores > 0 ? otherCores / cores : 0 };
}

/** Watches the machine for `ms` with nothing of the experiment running: other work's cores and share. */
export async function probeBusy(ms: number, cores: number, match: ExperimentMatch = { roots: [process.pid] }): Promise<{ otherCores: number; share: number; wallMs: number }> {
  const m = new BusyMeter(match);
  await new Promise((r) => setTimeout(r, ms));
  const iv = m.sample();
  return { ...otherShare(iv, cores), wallMs: iv.wallMs };
}
