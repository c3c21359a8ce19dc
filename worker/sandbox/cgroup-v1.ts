/**
 * The cgroup v1 driver: one hierarchy per controller (memory, pids, cpu,
 * freezer), groups made ahead of need and renamed into place, and a frozen
 * anchor group that keeps the freezer's static key on.
 */
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OlError } from '../../common/errors.js';
import { freezerOf, limitWrites, memoryOf, write, readInts, keyed, killAll, rmdirRetry, rmdirQuiet, rmdirRootQuiet, V1_CONTROLLERS, SANDBOX_CPU_SHARES, type CgroupLimits, type Cgroup, type CgroupDriver } from './cgroup-common.js';

/**
 * An empty v1 freezer group kept frozen while a driver's root exists. The
 * v1 freezer turns a kernel static key on when the first group on the
 * machine freezes and off when the last one thaws, and that flip was most
 * of every pause and unpause while one sandbox at a time was paused
 * (figures: `npm run bench:costs`, docs/BENCHMARKS.md). Names starting with
 * a dot are never sandboxes (their ids start with an instance number).
 */
const V1_ANCHOR = '.frozen-anchor';

/**
 * v1 groups made ahead of need, per set of limits: a new sandbox's group
 * is then four renames instead of four mkdirs and four limit writes, about
 * half the time (`npm run bench:costs`). OpenLambda keeps a pool of cgroups
 * for the same reason. Refilled on the thread pool, a moment after a take, so neither
 * the event loop nor the cold start that took one waits for it. v2 cannot
 * rename groups: there every group is made on demand.
 */
const V1_SPARES = 2;
const V1_SPARE_PREFIX = '.spare-';
/** Sets of limits a driver keeps spares for (the most recently used ones). */
const V1_SPARE_KINDS = 4;

export class V1Driver implements CgroupDriver {
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
    const procs = join(this.#dir('pids', name), 'cgroup.procs');
    const { freeze, thaw } = freezerOf(this.#dir('freezer', name), 1, `cgroup ${name}`);
    const pids = () => readInts(procs);
    return {
      name,
      procsFiles: V1_CONTROLLERS.map((c) => join(this.#dir(c, name), 'cgroup.procs')),
      freeze,
      thaw,
      pids,
      oomKills: () => keyed(join(this.#dir('memory', name), 'memory.oom_control'), 'oom_kill'),
      memoryPeak: () => readInts(join(this.#dir('memory', name), 'memory.max_usage_in_bytes'))[0] ?? 0,
      memory: memoryOf(this.#dir('memory', name), 1),
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
    for (const c of V1_CONTROLLERS) rmdirRootQuiet(join(this.mount, c), this.root);
  }

  async remove(name: string): Promise<void> {
    // a group may exist in some controllers only (a crash mid-create)
    for (const c of V1_CONTROLLERS) mkdirSync(this.#dir(c, name), { recursive: true });
    await this.#handle(name).destroy();
  }
}

