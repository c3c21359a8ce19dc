/**
 * Cgroups for sandboxes, on cgroup v1 (one hierarchy per controller, as on
 * this project's machines) and v2 (one unified hierarchy). A sandbox gets one
 * cgroup with memory, pids and CPU limits and the freezer for pause and
 * unpause; everything lives under one root group per worker (`ol-lab` by
 * default) so a restarted worker can find and remove what a crashed one
 * left.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
  /** Kills every process, waits until they are gone, removes the group. */
  destroy(): Promise<void>;
}

const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'freezer'] as const;
/**
 * CPU weight of a sandbox relative to the default 1024 of everything else
 * (the worker process among it): with more runnable handlers than cores,
 * the worker still gets the CPU to dispatch and answer requests.
 */
export const SANDBOX_CPU_SHARES = 256;

/** A v1 group's limit files (named `<controller>.<knob>`) and values; `memsw`: the kernel accounts swap. */
function limitWrites(limits: CgroupLimits, memsw: boolean): [string, string][] {
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

function write(path: string, value: string): void {
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
async function writeAsync(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (e) {
    throw new OlError('OL_ERR_SANDBOX', `cannot write ${value.trim()} to ${path}: ${(e as Error).message}`);
  }
}

function readInts(path: string): number[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function keyed(path: string, key: string): number {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(path, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kills and waits; shared by both versions. */
async function killAll(list: () => number[], freeze: () => Promise<void>, thaw: () => Promise<void>): Promise<void> {
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

async function rmdirRetry(dir: string): Promise<void> {
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

function rmdirQuiet(dir: string): void {
  try { rmdirSync(dir); } catch { /* not empty, or already gone */ }
}

/**
 * An empty v1 freezer group kept frozen while a driver's root exists. The
 * v1 freezer turns a kernel static key on when the first group on the
 * machine freezes and off when the last one thaws, and flipping it costs
 * about 1.5 ms per write on this VM: with one sandbox paused at a time
 * every pause and every unpause paid it (thaw 1.52 ms alone, 0.02 ms with
 * another group frozen; freeze 1.81 vs 0.14 ms). Names starting with a dot
 * are never sandboxes (their ids start with an instance number).
 */
const V1_ANCHOR = '.frozen-anchor';

/**
 * v1 groups made ahead of need, per set of limits: a new sandbox's group
 * is then four renames instead of four mkdirs and four limit writes:
 * 0.28 against 0.57 ms p50 from Node, creates 60 ms apart (`npm run
 * bench:costs`; back to back, 0.03 against 0.25 ms). OpenLambda keeps a pool of cgroups for the same
 * reason. Refilled on the thread pool, a moment after a take, so neither
 * the event loop nor the cold start that took one waits for it. v2 cannot
 * rename groups: there every group is made on demand.
 */
const V1_SPARES = 2;
const V1_SPARE_PREFIX = '.spare-';
/** Sets of limits a driver keeps spares for (the most recently used ones). */
const V1_SPARE_KINDS = 4;

class V1Driver implements CgroupDriver {
  readonly version = 1 as const;
  /** Spare group names ready, by limits (insertion order: least recently used first). */
  readonly #spares = new Map<string, string[]>();
  readonly #refilling = new Set<string>();
  #spareSeq = 0;
  #memsw = false;
  #closed = false;
  constructor(readonly mount: string, readonly root: string, anchor = true, readonly spares = true) {
    for (const c of V1_CONTROLLERS) {
      if (!existsSync(join(mount, c))) throw new OlError('OL_ERR_SANDBOX', `cgroup v1 controller ${c} is not mounted at ${join(mount, c)}`);
      mkdirSync(join(mount, c, root), { recursive: true });
    }
    this.#memsw = existsSync(join(mount, 'memory', root, 'memory.memsw.limit_in_bytes'));
    if (anchor) this.#anchor();
  }

  #anchor(): void {
    const anchor = join(this.mount, 'freezer', this.root, V1_ANCHOR);
    mkdirSync(anchor, { recursive: true });
    write(join(anchor, 'freezer.state'), 'FROZEN');
  }

  #dir(c: string, name: string): string {
    return join(this.mount, c, this.root, name);
  }

  create(name: string, limits: CgroupLimits, ahead = true): Cgroup {
    const kind = JSON.stringify([limits.memoryMb, limits.pids, limits.cpuPercent, limits.cpuShares ?? SANDBOX_CPU_SHARES]);
    const spare = this.#takeSpare(kind, name);
    if (this.spares && ahead) this.#refillSoon(kind, limits);
    if (spare) return this.#handle(name);
    for (const c of V1_CONTROLLERS) mkdirSync(this.#dir(c, name), { recursive: true });
    for (const [file, value] of limitWrites(limits, this.#memsw)) write(this.#limitFile(name, file), value);
    return this.#handle(name);
  }

  /** Where a `<controller>.<knob>` file of group `name` is. */
  #limitFile(name: string, file: string): string {
    return join(this.#dir(file.slice(0, file.indexOf('.')), name), file);
  }

  /** Removes an empty group from every hierarchy it is in. */
  #rmdirAll(name: string): void {
    for (const c of V1_CONTROLLERS) rmdirQuiet(this.#dir(c, name));
  }

  /** Renames a spare group with these limits to `name`; false if there is none (or it could not be renamed). */
  #takeSpare(kind: string, name: string): boolean {
    const ready = this.#spares.get(kind);
    const spare = ready?.pop();
    if (!spare) return false;
    this.#spares.delete(kind); // most recently used last
    this.#spares.set(kind, ready!);
    try {
      for (const c of V1_CONTROLLERS) renameSync(this.#dir(c, spare), this.#dir(c, name));
      return true;
    } catch {
      // whatever was renamed is completed by the caller's mkdirs and writes; the rest goes with removeSpares
      return false;
    }
  }

  /** Makes spares for these limits on the thread pool, 20 ms from now (after the cold start that asked). */
  #refillSoon(kind: string, limits: CgroupLimits): void {
    if (this.#refilling.has(kind)) return;
    this.#refilling.add(kind);
    setTimeout(() => {
      void this.#refill(kind, limits).catch(() => { /* no spares: groups are made on demand */ }).finally(() => this.#refilling.delete(kind));
    }, 20).unref();
  }

  async #refill(kind: string, limits: CgroupLimits): Promise<void> {
    if (!this.#spares.has(kind)) {
      this.#spares.set(kind, []);
      // keep spares for the most recently used sets of limits only
      while (this.#spares.size > V1_SPARE_KINDS) {
        const [oldest, names] = this.#spares.entries().next().value as [string, string[]];
        this.#spares.delete(oldest);
        for (const n of names) this.#rmdirAll(n);
      }
    }
    const ready = this.#spares.get(kind)!;
    while (ready.length < V1_SPARES && !this.#closed) {
      const name = `${V1_SPARE_PREFIX}${process.pid}-${this.#spareSeq++}`;
      let made = false;
      try {
        for (const c of V1_CONTROLLERS) await mkdir(this.#dir(c, name));
        for (const [file, value] of limitWrites(limits, this.#memsw)) await writeFile(this.#limitFile(name, file), value);
        made = true;
      } finally {
        // a failed spare, or one the driver no longer wants (closed, or these limits dropped meanwhile)
        if (!made || this.#closed || this.#spares.get(kind) !== ready) {
          this.#rmdirAll(name);
          if (this.#closed) this.#removeRootDirs();
          made = false;
        }
      }
      if (!made) return;
      ready.push(name);
    }
  }

  removeSpares(): void {
    for (const names of this.#spares.values()) names.length = 0;
    for (const c of V1_CONTROLLERS) {
      const d = join(this.mount, c, this.root);
      if (!existsSync(d)) continue;
      for (const e of readdirSync(d)) if (e.startsWith(V1_SPARE_PREFIX)) rmdirQuiet(join(d, e));
    }
  }

  #handle(name: string): Cgroup {
    const freezer = join(this.#dir('freezer', name), 'freezer.state');
    const procs = join(this.#dir('pids', name), 'cgroup.procs');
    const freeze = async () => {
      await writeAsync(freezer, 'FROZEN');
      for (let i = 0; i < 1000; i++) {
        if ((await readFile(freezer, 'utf8')).trim() === 'FROZEN') return;
        await sleep(i < 50 ? 0 : 1);
      }
      throw new OlError('OL_ERR_SANDBOX', `cgroup ${name} did not freeze`);
    };
    const thaw = async () => write(freezer, 'THAWED');
    const pids = () => readInts(procs);
    return {
      name,
      procsFiles: V1_CONTROLLERS.map((c) => join(this.#dir(c, name), 'cgroup.procs')),
      freeze,
      thaw,
      pids,
      oomKills: () => keyed(join(this.#dir('memory', name), 'memory.oom_control'), 'oom_kill'),
      memoryPeak: () => readInts(join(this.#dir('memory', name), 'memory.max_usage_in_bytes'))[0] ?? 0,
      destroy: async () => {
        await killAll(pids, freeze, thaw);
        for (const c of V1_CONTROLLERS) await rmdirRetry(this.#dir(c, name));
      },
    };
  }

  list(): string[] {
    const names = new Set<string>();
    for (const c of V1_CONTROLLERS) {
      const d = join(this.mount, c, this.root);
      if (!existsSync(d)) continue;
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith('.')) names.add(e.name);
    }
    return [...names].sort();
  }

  removeRoot(): void {
    if (this.list().length > 0) return;
    this.#closed = true;
    this.removeSpares();
    this.#removeRootDirs();
  }

  #removeRootDirs(): void {
    if (this.list().length > 0) return;
    // an empty group may go while frozen; the kernel drops its part of the static key then
    rmdirQuiet(join(this.mount, 'freezer', this.root, V1_ANCHOR));
    for (const c of V1_CONTROLLERS) rmdirQuiet(join(this.mount, c, this.root));
  }

  async remove(name: string): Promise<void> {
    // a group may exist in some controllers only (a crash mid-create)
    for (const c of V1_CONTROLLERS) mkdirSync(this.#dir(c, name), { recursive: true });
    await this.#handle(name).destroy();
  }
}

class V2Driver implements CgroupDriver {
  readonly version = 2 as const;
  constructor(readonly mount: string, readonly root: string) {
    const top = join(mount, root);
    mkdirSync(top, { recursive: true });
    const want = ['memory', 'pids', 'cpu'];
    const have = readFileSync(join(mount, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    const missing = want.filter((c) => !have.includes(c));
    if (missing.length) throw new OlError('OL_ERR_SANDBOX', `cgroup v2 at ${mount} lacks controller(s) ${missing.join(', ')}`);
    for (const d of [mount, top]) write(join(d, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
  }

  create(name: string, limits: CgroupLimits): Cgroup {
    const dir = join(this.mount, this.root, name);
    mkdirSync(dir, { recursive: true });
    write(join(dir, 'memory.max'), Number.isFinite(limits.memoryMb) ? String(Math.round(limits.memoryMb * 2 ** 20)) : 'max');
    if (existsSync(join(dir, 'memory.swap.max'))) write(join(dir, 'memory.swap.max'), '0');
    write(join(dir, 'pids.max'), String(limits.pids));
    write(join(dir, 'cpu.max'), `${Math.round(limits.cpuPercent * 1000)} 100000`);
    write(join(dir, 'cpu.weight'), String(Math.max(1, Math.round(((limits.cpuShares ?? SANDBOX_CPU_SHARES) / 1024) * 100))));
    return this.#handle(name);
  }

  #handle(name: string): Cgroup {
    const dir = join(this.mount, this.root, name);
    const procs = join(dir, 'cgroup.procs');
    const freeze = async () => {
      await writeAsync(join(dir, 'cgroup.freeze'), '1');
      for (let i = 0; i < 1000; i++) {
        if (/^frozen 1$/m.test(await readFile(join(dir, 'cgroup.events'), 'utf8').catch(() => ''))) return;
        await sleep(i < 50 ? 0 : 1);
      }
      throw new OlError('OL_ERR_SANDBOX', `cgroup ${name} did not freeze`);
    };
    const thaw = async () => write(join(dir, 'cgroup.freeze'), '0');
    const pids = () => readInts(procs);
    return {
      name,
      procsFiles: [procs],
      freeze,
      thaw,
      pids,
      oomKills: () => keyed(join(dir, 'memory.events'), 'oom_kill'),
      memoryPeak: () => readInts(join(dir, 'memory.peak'))[0] ?? 0,
      destroy: async () => {
        if (existsSync(join(dir, 'cgroup.kill'))) write(join(dir, 'cgroup.kill'), '1');
        await killAll(pids, freeze, thaw);
        await rmdirRetry(dir);
      },
    };
  }

  list(): string[] {
    const d = join(this.mount, this.root);
    if (!existsSync(d)) return [];
    return readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  }

  async remove(name: string): Promise<void> {
    await this.#handle(name).destroy();
  }

  removeRoot(): void {
    rmdirQuiet(join(this.mount, this.root));
  }

  removeSpares(): void {
    // v2 makes no spares
  }
}

/**
 * The driver for this machine: v2 when /sys/fs/cgroup is a unified
 * hierarchy, v1 when the controllers are mounted separately (hybrid systems
 * whose v2 hierarchy has no controllers count as v1). `prefer` forces one;
 * `freezerAnchor: false` leaves out v1's frozen anchor group (benchmarks
 * measure the freezer with and without it).
 */
export function cgroupDriver(root: string, prefer: 'auto' | 'v1' | 'v2' = 'auto', mount = '/sys/fs/cgroup', o: { freezerAnchor?: boolean; spares?: boolean } = {}): CgroupDriver {
  const isV2 = existsSync(join(mount, 'cgroup.controllers'));
  if (prefer === 'v2' || (prefer === 'auto' && isV2)) {
    if (!isV2) throw new OlError('OL_ERR_SANDBOX', `cgroup v2 was asked for, but ${mount} is not a unified hierarchy`);
    return new V2Driver(mount, root);
  }
  return new V1Driver(mount, root, o.freezerAnchor ?? true, o.spares ?? true);
}
