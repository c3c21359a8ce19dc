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
 * the group's `cpuacct.usage` keeps their CPU after they end.
 *
 * Where `cpuacct` is not a v1 hierarchy of its own (co-mounted with `cpu`,
 * a group of ours would also weigh the worker's CPU share) cgroup v2 does
 * the same job, in one of two ways:
 * - beside v1 (a hybrid machine: the unified hierarchy at
 *   /sys/fs/cgroup/unified, usually with no controllers), the harness joins
 *   a fresh v2 group there. The worker then uses v1 and never moves a
 *   process in the unified hierarchy, so the group's `cpu.stat`
 *   `usage_usec` covers everything it starts.
 * - on v2 alone, the worker moves its sandboxes into its own root
 *   (`ol-lab/…`), where a group of ours would also be a scheduling group:
 *   nothing is joined; the worker roots' `usage_usec` is watched instead
 *   (a v2 group keeps the CPU of its removed children), and the harness and
 *   worker processes themselves are counted one by one as before (they
 *   live long enough to be seen).
 * With no permission, or no cgroups at all, there is no group and the
 * meter works as before.
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

/** The v2 line's path in /proc/<pid>/cgroup text (`0::/path`). */
export function unifiedPath(cgroupText: string): string | undefined {
  for (const line of cgroupText.split('\n')) {
    const m = /^0::(.*)$/.exec(line.trim());
    if (m) return m[1]!;
  }
  return undefined;
}

/** `usage_usec` of a v2 group's cpu.stat, ms; undefined if the group is gone. */
export function v2UsageMs(dir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'cpu.stat'), 'utf8');
  } catch {
    return undefined;
  }
  const m = /^usage_usec (\d+)$/m.exec(text);
  return m ? Number(m[1]) / 1000 : undefined;
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

interface OwnGroup extends CpuGroup {
  /** Back to where this process was; the group is removed once nothing is left in it. */
  close(): void;
}

class V1Group implements OwnGroup {
  readonly dir: string;
  readonly path: string;
  readonly #home: string;
  constructor(readonly mount: string, home: string) {
    this.path = `/${PREFIX}${process.pid}`;
    this.dir = join(mount, this.path);
    this.#home = home;
    makeAndJoin(this.dir);
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

  close(): void {
    try {
      writeFileSync(join(this.mount, this.#home, 'cgroup.procs'), String(process.pid));
    } catch { /* the home group went: stay */ }
    removeIfEmpty(this.dir);
  }
}

/**
 * A v2 group's CPU as a counter that only grows: each reading adds what the
 * group used since the last; a group removed and made again (a worker's
 * root between two workers) starts again from zero without taking back what
 * was counted.
 */
class Accumulator {
  #last: number | undefined;
  total = 0;
  constructor(readonly dir: string) {
    this.#last = v2UsageMs(dir);
  }
  read(): number {
    const now = v2UsageMs(this.dir);
    if (now !== undefined) {
      if (this.#last === undefined) this.total += now; // made since the last look
      else if (now >= this.#last) this.total += now - this.#last;
      else this.total += now; // removed and made again between two looks
    }
    this.#last = now;
    return this.total;
  }
}

/**
 * Cgroup v2: the harness's own group (`join`), if it joins one, and groups
 * it watches (paths under the mount, whose subtrees hold the experiment's
 * processes).
 */
class V2Group implements OwnGroup {
  readonly path: string | undefined;
  readonly #own: Accumulator | undefined;
  readonly #watched: { path: string; acc: Accumulator }[];
  readonly #home: string | undefined;
  constructor(readonly mount: string, o: { join?: { home: string }; watch?: string[] }) {
    if (o.join) {
      this.path = `/${PREFIX}${process.pid}`;
      const dir = join(mount, this.path);
      // made before the group: it counts all the group's usage from its making on
      this.#own = new Accumulator(dir);
      makeAndJoin(dir);
      this.#home = o.join.home;
    }
    this.#watched = (o.watch ?? []).map((w) => {
      const path = '/' + w.replace(/^\/+|\/+$/g, '');
      return { path, acc: new Accumulator(join(mount, path)) };
    });
  }

  usageMs(): number {
    let sum = this.#own ? this.#own.read() : 0;
    for (const w of this.#watched) sum += w.acc.read();
    return sum;
  }

  holds(pid: number): boolean {
    let p: string | undefined;
    try {
      p = unifiedPath(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    } catch {
      return false;
    }
    if (p === undefined) return false;
    const under = (root: string) => p === root || p!.startsWith(root + '/');
    return (this.path !== undefined && under(this.path)) || this.#watched.some((w) => under(w.path));
  }

  close(): void {
    if (this.path === undefined) return;
    try {
      writeFileSync(join(this.mount, this.#home!, 'cgroup.procs'), String(process.pid));
    } catch { /* the home group went: stay */ }
    removeIfEmpty(join(this.mount, this.path));
  }
}

/** Makes group `dir` and moves this process into it; a group it could not join is not left behind. */
function makeAndJoin(dir: string): void {
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
  } catch (e) {
    removeIfEmpty(dir);
    throw e;
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

let current: { group: OwnGroup; users: number } | undefined;
let exitHook = false;

/** Where to look for cgroups (tests point these elsewhere, or leave some out). */
export interface CgroupMounts {
  /** The v1 `cpuacct` hierarchy. */
  v1Cpuacct?: string;
  /** A unified hierarchy beside v1 (hybrid). */
  unified?: string;
  /** /sys/fs/cgroup when it is itself the unified hierarchy (v2 alone). */
  v2?: string;
  /** On v2 alone, the groups to watch (the worker's `cgroup_root` default: `ol-lab/{id}`). */
  watch?: string[];
  /** This process's /proc/self/cgroup text (tests give another machine's). */
  self?: string;
}

const MOUNTS: Required<Omit<CgroupMounts, 'self'>> = { v1Cpuacct: '/sys/fs/cgroup/cpuacct', unified: '/sys/fs/cgroup/unified', v2: '/sys/fs/cgroup', watch: ['ol-lab'] };

/** The accounting group this machine allows, made and joined; undefined if none. */
function makeGroup(m: CgroupMounts): OwnGroup | undefined {
  let text: string;
  try {
    text = m.self ?? readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return undefined;
  }
  // a v2 hierarchy's root has cgroup.controllers (and its groups a cpu.stat whether or not the cpu controller is on)
  const isV2 = (dir: string) => existsSync(join(dir, 'cgroup.controllers'));
  // v1 cpuacct alone. Co-mounted with cpu, a group of ours would also be a CPU-scheduling group for
  // the worker and would change what is measured; and the worker moves sandboxes out of it
  const line = cpuacctLine(text);
  if (m.v1Cpuacct && line?.alone && existsSync(join(m.v1Cpuacct, 'cpuacct.usage'))) {
    removeStale(m.v1Cpuacct);
    try {
      return new V1Group(m.v1Cpuacct, line.path);
    } catch { /* no permission: try v2 */ }
  }
  const home = unifiedPath(text);
  // beside v1, the worker uses v1 and leaves the unified hierarchy alone: join a group there
  if (line && m.unified && home !== undefined && isV2(m.unified)) {
    removeStale(m.unified);
    try {
      return new V2Group(m.unified, { join: { home } });
    } catch { /* no permission */ }
    return undefined;
  }
  // v2 alone: watch the workers' roots
  if (!line && m.v2 && home !== undefined && isV2(m.v2)) {
    return new V2Group(m.v2, { watch: m.watch ?? MOUNTS.watch });
  }
  return undefined;
}

/**
 * Joins this process to its accounting group (made on first use; nested
 * uses share it) and returns it with a release function; undefined where
 * the machine has none (see the top of this file). Processes started
 * before the call stay where they are.
 */
export function joinCpuGroup(mounts: CgroupMounts = MOUNTS): { group: CpuGroup; release: () => void } | undefined {
  if (!current) {
    const g = makeGroup(mounts);
    if (!g) return undefined;
    current = { group: g, users: 0 };
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
