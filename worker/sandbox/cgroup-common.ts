/**
 * What the cgroup drivers share: a sandbox's limits, the group and driver
 * contracts, and the file helpers (limit writes, reading counters, killing
 * a group's processes, removing a group that is slow to empty).
 */
import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OlError } from '../../common/errors.js';

/** Limits of one sandbox. */
export interface CgroupLimits {
  /** Memory limit, MB; Infinity for none (zygotes, see sock.ts). */
  memoryMb: number;
  pids: number;
  /** CPU share in percent of one core (100 = one core). */
  cpuPercent: number;
  /** CPU weight against the default 1024 of the worker and every other process (default {@link SANDBOX_CPU_SHARES}). */
  cpuShares?: number;
}

/** One sandbox's cgroup (in every hierarchy it needs). */
export interface Cgroup {
  readonly name: string;
  /** The `cgroup.procs` files a process must write its pid to, to join. */
  readonly procsFiles: string[];
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Pids of every process in the group. */
  pids(): number[];
  /** How many times the kernel's OOM killer struck in this group. */
  oomKills(): number;
  /** Peak memory use, bytes (0 where the kernel does not say). */
  memoryPeak(): number;
  /** Its memory use and limit, for downsizing a paused sandbox. */
  readonly memory: MemoryControl;
  /** Kills every process, waits until they are gone, removes the group. */
  destroy(): Promise<void>;
}

export const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'freezer'] as const;
/**
 * CPU weight of a sandbox relative to the default 1024 of everything else
 * (the worker process among it): with more runnable handlers than cores,
 * the worker still gets the CPU to dispatch and answer requests.
 */
export const SANDBOX_CPU_SHARES = 256;

/** A v1 group's limit files (named `<controller>.<knob>`) and values; `memsw`: the kernel accounts swap. */
export function limitWrites(limits: CgroupLimits, memsw: boolean): [string, string][] {
  const out: [string, string][] = [];
  if (Number.isFinite(limits.memoryMb)) {
    const bytes = String(Math.round(limits.memoryMb * 2 ** 20));
    out.push(['memory.limit_in_bytes', bytes]);
    // no swap beyond the limit, where the kernel accounts swap
    if (memsw) out.push(['memory.memsw.limit_in_bytes', bytes]);
  }
  out.push(['pids.max', String(limits.pids)], ['cpu.cfs_period_us', '100000'], ['cpu.cfs_quota_us', String(Math.round(limits.cpuPercent * 1000))]);
  // the worker itself must not starve behind its sandboxes: a quarter of the default weight
  out.push(['cpu.shares', String(limits.cpuShares ?? SANDBOX_CPU_SHARES)]);
  return out;
}

export function write(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    throw new OlError('OL_ERR_SANDBOX', `cannot write ${value.trim()} to ${path}: ${(e as Error).message}`);
  }
}

/**
 * Freezing goes through libuv's thread pool: the write and the wait until
 * every task is frozen take 0.9 ms or more, and the worker's event loop
 * must not stop for them on every pause. Thawing is one cheap write (0.1
 * ms from Node, beside v1's anchor group; 0.07 ms on v2) whose caller is
 * waiting for it, so it is written directly: through the pool it took 0.44.
 */
export async function writeAsync(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (e) {
    throw new OlError('OL_ERR_SANDBOX', `cannot write ${value.trim()} to ${path}: ${(e as Error).message}`);
  }
}

export function readInts(path: string): number[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function keyed(path: string, key: string): number {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(path, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Freezing and thawing one cgroup folder: v1 writes `freezer.state` and
 * polls it until FROZEN holds (FREEZING comes first); v2 writes
 * `cgroup.freeze` and polls `cgroup.events` for `frozen 1`.
 */
export function freezerOf(dir: string, version: 1 | 2, what: string): { freeze: () => Promise<void>; thaw: () => Promise<void> } {
  if (version === 1) {
    const state = join(dir, 'freezer.state');
    return {
      freeze: async () => {
        await writeAsync(state, 'FROZEN');
        for (let i = 0; i < 1000; i++) {
          if ((await readFile(state, 'utf8')).trim() === 'FROZEN') return;
          await sleep(i < 50 ? 0 : 1);
        }
        throw new OlError('OL_ERR_SANDBOX', `${what} did not freeze`);
      },
      thaw: async () => write(state, 'THAWED'),
    };
  }
  return {
    freeze: async () => {
      await writeAsync(join(dir, 'cgroup.freeze'), '1');
      for (let i = 0; i < 1000; i++) {
        if (/^frozen 1$/m.test(await readFile(join(dir, 'cgroup.events'), 'utf8').catch(() => ''))) return;
        await sleep(i < 50 ? 0 : 1);
      }
      throw new OlError('OL_ERR_SANDBOX', `${what} did not freeze`);
    },
    thaw: async () => write(join(dir, 'cgroup.freeze'), '0'),
  };
}

/** A group's memory: what it uses now, and its limit (OpenLambda's downsize_paused_mem moves it). */
export interface MemoryControl {
  /** Memory charged to the group now, MB. */
  usageMb(): number;
  /** Its limit now, MB (Infinity for none). */
  limitMb(): number;
  /** Sets its limit (and, on v1 with swap accounting, memory+swap to the same), MB. */
  setLimitMb(mb: number): void;
}

/** Memory use and limit of a v1 memory-controller folder or a v2 group folder. */
export function memoryOf(dir: string, version: 1 | 2): MemoryControl {
  if (version === 1) {
    const memsw = join(dir, 'memory.memsw.limit_in_bytes');
    return {
      usageMb: () => (readInts(join(dir, 'memory.usage_in_bytes'))[0] ?? 0) / 2 ** 20,
      limitMb: () => (readInts(join(dir, 'memory.limit_in_bytes'))[0] ?? Infinity) / 2 ** 20,
      setLimitMb: (mb) => {
        const bytes = String(Math.round(mb * 2 ** 20));
        const hasSw = existsSync(memsw);
        // memory <= memory+swap at every step: shrink memory first, grow memory+swap first
        const cur = readInts(join(dir, 'memory.limit_in_bytes'))[0] ?? 0;
        if (hasSw && Number(bytes) > cur) write(memsw, bytes);
        write(join(dir, 'memory.limit_in_bytes'), bytes);
        if (hasSw && Number(bytes) <= cur) write(memsw, bytes);
      },
    };
  }
  return {
    usageMb: () => (readInts(join(dir, 'memory.current'))[0] ?? 0) / 2 ** 20,
    limitMb: () => (readInts(join(dir, 'memory.max'))[0] ?? Infinity) / 2 ** 20,
    setLimitMb: (mb) => write(join(dir, 'memory.max'), String(Math.round(mb * 2 ** 20))),
  };
}

/** The v1 controller folder or v2 group of process `pid` (from /proc/<pid>/cgroup) that has `file`. */
function groupOf(pid: number, controller: string, file1: string, file2: string, mount: string): { dir: string; version: 1 | 2 } | undefined {
  let lines: string[];
  try {
    lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  } catch {
    return undefined;
  }
  for (const l of lines) {
    const [, controllers, path] = l.split(':', 3) as [string, string?, string?];
    if (controllers?.split(',').includes(controller) && path) {
      const dir = join(mount, controller, path);
      if (existsSync(join(dir, file1))) return { dir, version: 1 };
    }
  }
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2) {
    for (const base of [mount, join(mount, 'unified')]) {
      const dir = join(base, v2.slice(3));
      if (existsSync(join(dir, file2))) return { dir, version: 2 };
    }
  }
  return undefined;
}

/** The memory control of the cgroup process `pid` is in; undefined if it has none. */
export function processMemory(pid: number, mount = '/sys/fs/cgroup'): MemoryControl | undefined {
  const g = groupOf(pid, 'memory', 'memory.limit_in_bytes', 'memory.max', mount);
  return g && memoryOf(g.dir, g.version);
}

/**
 * The freezer of the cgroup process `pid` is in, from /proc/<pid>/cgroup:
 * the v1 freezer hierarchy if it has one, else its v2 group (on a pure v2
 * mount or the hybrid `unified` one); undefined if neither can freeze.
 */
export function processFreezer(pid: number, what: string, mount = '/sys/fs/cgroup'): { freeze: () => Promise<void>; thaw: () => Promise<void> } | undefined {
  const g = groupOf(pid, 'freezer', 'freezer.state', 'cgroup.freeze', mount);
  return g && freezerOf(g.dir, g.version, what);
}

/** Kills and waits; shared by both versions. */
export async function killAll(list: () => number[], freeze: () => Promise<void>, thaw: () => Promise<void>): Promise<void> {
  for (let round = 0; round < 2000; round++) {
    const pids = list();
    if (pids.length === 0) return;
    // frozen processes cannot fork while we kill them (fork bombs)
    if (round === 0) await freeze().catch(() => {});
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    await thaw().catch(() => {});
    await sleep(round < 20 ? 1 : 5);
  }
  throw new OlError('OL_ERR_SANDBOX', `processes ${list().join(', ')} survived SIGKILL for 10 s`);
}

export async function rmdirRetry(dir: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw e;
      await sleep(5);
    }
  }
  rmdirSync(dir);
}

/** Creates and finds sandbox cgroups. */
export interface CgroupDriver {
  readonly version: 1 | 2;
  readonly root: string;
  /** `ahead`: keep groups with these limits made ahead of need (v1), for the next create. */
  create(name: string, limits: CgroupLimits, ahead?: boolean): Cgroup;
  /** Names of the groups under the root (left by this or an earlier worker). */
  list(): string[];
  /** Kills what is in a group found by {@link list} and removes it. */
  remove(name: string): Promise<void>;
  /** Removes the root group if nothing is left in it (and groups made ahead, which are empty). */
  removeRoot(): void;
  /** Removes groups made ahead of need (by this driver, or by a worker that crashed). */
  removeSpares(): void;
}

export function rmdirQuiet(dir: string): void {
  try { rmdirSync(dir); } catch { /* not empty, or already gone */ }
}

/**
 * Removes a worker's root group and then each of its parents below the
 * hierarchy's mount that is left empty (`ol-lab` itself, once the last
 * worker has gone): one still holding another worker's root stays.
 */
export function rmdirRootQuiet(mount: string, root: string): void {
  const parts = root.split('/').filter(Boolean);
  for (let k = parts.length; k > 0; k--) rmdirQuiet(join(mount, ...parts.slice(0, k)));
}

