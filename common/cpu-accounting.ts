/**
 * An accounting cgroup for the experiment's whole process tree (cgroup v1
 * `cpuacct`). The busy meter (cpu-usage.ts) sums the CPU of the
 * experiment's live processes, but a sandbox is detached from the worker
 * and reaped by init: whatever it spends after the meter's last look, and
 * all of a sandbox that lives less than one sampling interval, used to be
 * counted as other work. Under `openlambda`'s evictor at a large pool that
 * was about half the machine (docs/notebook/2026-12-04-touch-cpu.md).
 *
 * The harness joins a fresh `cpuacct` group before it starts a worker;
 * every process it starts from then on (the worker, its zygotes and
 * sandboxes, which the worker moves into its own memory, pids, cpu and
 * freezer groups but never into another `cpuacct` one) stays in it, and
 * the group's `cpuacct.usage` keeps their CPU after they end. Where
 * `cpuacct` is not a v1 hierarchy of its own (co-mounted with `cpu`, where
 * the group would also weigh the worker's CPU share; cgroup v2 only; no
 * permission) there is no group and the meter works as before.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const PREFIX = 'ol-exp-acct-';

export interface CpuGroup {
  /** The CPU every process ever in the group has used, ms. */
  usageMs(): number;
  /** Whether process `pid` is in the group now (its usage is in usageMs()). */
  holds(pid: number): boolean;
}

/** The `cpuacct` line's path in /proc/<pid>/cgroup text (v1: `N:cpuacct:/path`, possibly co-mounted as `cpu,cpuacct`). */
export function cpuacctPath(cgroupText: string): string | undefined {
  return cpuacctLine(cgroupText)?.path;
}

/** The `cpuacct` line: its path and whether `cpuacct` is mounted alone (not with `cpu`). */
export function cpuacctLine(cgroupText: string): { path: string; alone: boolean } | undefined {
  for (const line of cgroupText.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    const cs = m ? m[1]!.split(',') : [];
    if (m && cs.includes('cpuacct')) return { path: m[2]!, alone: cs.length === 1 };
  }
  return undefined;
}

class V1Group implements CpuGroup {
  readonly dir: string;
  readonly path: string;
  readonly #home: string;
  constructor(readonly mount: string, home: string) {
    this.path = `/${PREFIX}${process.pid}`;
    this.dir = join(mount, this.path);
    this.#home = home;
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, 'cgroup.procs'), String(process.pid));
  }

  usageMs(): number {
    return Number(readFileSync(join(this.dir, 'cpuacct.usage'), 'utf8').trim()) / 1e6;
  }

  holds(pid: number): boolean {
    try {
      return cpuacctPath(readFileSync(`/proc/${pid}/cgroup`, 'utf8')) === this.path;
    } catch {
      return false;
    }
  }

  /** Back to where this process was; the group is removed once nothing is left in it (else left for the next run to remove). */
  close(): void {
    try {
      writeFileSync(join(this.mount, this.#home, 'cgroup.procs'), String(process.pid));
    } catch { /* the home group went: stay */ }
    removeIfEmpty(this.dir);
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch { /* still holds processes (a worker that outlived its harness): left for the next run */ }
}

/** Empty groups of harnesses that have ended (killed before they could remove their own). */
function removeStale(mount: string): void {
  let names: string[];
  try {
    names = readdirSync(mount).filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(n.slice(PREFIX.length));
    if (pid === process.pid || (Number.isInteger(pid) && existsSync(`/proc/${pid}`))) continue;
    removeIfEmpty(join(mount, n));
  }
}

let current: { group: V1Group; users: number } | undefined;
let exitHook = false;

/**
 * Joins this process to its accounting group (made on first use; nested
 * uses share it) and returns it with a release function; undefined where
 * v1 `cpuacct` is not available. Processes started before the call stay
 * where they are.
 */
export function joinCpuGroup(mount = '/sys/fs/cgroup/cpuacct'): { group: CpuGroup; release: () => void } | undefined {
  if (!current) {
    let line: { path: string; alone: boolean } | undefined;
    try {
      line = cpuacctLine(readFileSync('/proc/self/cgroup', 'utf8'));
    } catch {
      return undefined;
    }
    // co-mounted with cpu, a group of ours would also be a CPU-scheduling group for the
    // worker and would change what is measured; and the worker moves sandboxes out of it
    if (!line || !line.alone || !existsSync(join(mount, 'cpuacct.usage'))) return undefined;
    const home = line.path;
    removeStale(mount);
    try {
      current = { group: new V1Group(mount, home), users: 0 };
    } catch {
      return undefined;
    }
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => current?.group.close());
    }
  }
  const c = current;
  c.users++;
  let released = false;
  return {
    group: c.group,
    release: () => {
      if (released) return;
      released = true;
      if (--c.users === 0 && current === c) {
        current = undefined;
        c.group.close();
      }
    },
  };
}
