/**
 * The cgroup v2 driver: one unified hierarchy; every group is made on
 * demand (v2 cannot rename groups into place).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../../common/errors.js';
import { freezerOf, memoryOf, write, readInts, keyed, killAll, rmdirRetry, rmdirRootQuiet, SANDBOX_CPU_SHARES, type CgroupLimits, type Cgroup, type CgroupDriver } from './cgroup-common.js';

export class V2Driver implements CgroupDriver {
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
    const { freeze, thaw } = freezerOf(dir, 2, `cgroup ${name}`);
    const pids = () => readInts(procs);
    return {
      name,
      procsFiles: [procs],
      freeze,
      thaw,
      pids,
      oomKills: () => keyed(join(dir, 'memory.events'), 'oom_kill'),
      memoryPeak: () => readInts(join(dir, 'memory.peak'))[0] ?? 0,
      memory: memoryOf(dir, 2),
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
    rmdirRootQuiet(this.mount, this.root);
  }

  removeSpares(): void {
    // v2 makes no spares
  }
}

