/**
 * The `sock` backend: lean containers as in the SOCK paper (Oakes et al.,
 * USENIX ATC'18). Each sandbox is one cgroup (memory, pids, CPU, freezer)
 * and a Python process that unshares the mount, pid, ipc, uts and network
 * namespaces, binds its root together from the read-only base root, the
 * lambda's code (/handler, read-only) and a scratch directory (/host), gets
 * a private /tmp, /proc and /dev, chroots and drops to an unprivileged user
 * (worker/runtime/init.py). Mounts live in the sandbox's own mount
 * namespace, so they vanish with its processes: destroying = killing the
 * cgroup's processes, removing the cgroup and the scratch directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../../common/errors.js';
import { projectPath } from '../../common/paths.js';
import { PoolEvents, type CleanupReport, type Diagnosis, type Sandbox, type SandboxPool, type SandboxSpec } from './api.js';
import { cgroupDriver, type Cgroup, type CgroupDriver } from './cgroups.js';
import { RuntimeSandbox } from './runtime-sandbox.js';

export interface SockOptions {
  /** Where sandbox directories go (`<worker>/sandboxes`). */
  dir: string;
  /** The base root filesystem (Debian minbase + python3). */
  baseRoot: string;
  cgroupRoot: string;
  cgroupVersion?: 'auto' | 'v1' | 'v2';
  uid: number;
  gid: number;
  /** Host python used to set the sandbox up (it chroots, then serves). */
  python?: string;
}

/** Waits for the runtime's first line: `ready`, or `error <traceback>`. */
export function awaitReady(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const line = out.slice(0, nl);
      child.stdout!.off('data', onData);
      if (line === 'ready') return resolve();
      if (line.startsWith('error ')) {
        let msg = line.slice(6).replace(/\\n/g, '\n');
        try { msg = JSON.parse(msg); } catch { /* plain text */ }
        return reject(new OlError('OL_ERR_HANDLER', `${what} failed to start:\n${msg}`));
      }
      reject(new OlError('OL_ERR_SANDBOX', `${what}: unexpected runtime output ${JSON.stringify(line)}`));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => { if (err.length < 4096) err += d.toString(); });
    child.once('exit', (code, signal) => reject(new OlError('OL_ERR_SANDBOX', `${what} exited before it was ready (${signal ?? `code ${code}`})${err ? `: ${err.trim()}` : ''}`)));
    child.once('error', (e) => reject(new OlError('OL_ERR_SANDBOX', `${what} could not start: ${e.message}`)));
  });
}

class SockSandbox extends RuntimeSandbox {
  constructor(
    id: string,
    lambda: string,
    createMs: number,
    readonly dir: string,
    readonly cgroup: Cgroup,
    readonly child: ChildProcess,
    pool: SockPool,
  ) {
    super(id, lambda, createMs, join(dir, 'scratch', 'ol.sock'), (t, sb) => pool.emit(t, sb));
  }

  protected freeze(): Promise<void> {
    return this.cgroup.freeze();
  }

  protected async thaw(): Promise<void> {
    this.cgroup.thaw();
  }

  protected async remove(): Promise<void> {
    await this.cgroup.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async diagnose(): Promise<Diagnosis> {
    if (this.cgroup.oomKills() > 0) return 'oom';
    return this.child.exitCode !== null || this.child.signalCode !== null || this.cgroup.pids().length === 0 ? 'exited' : 'alive';
  }
}

export class SockPool extends PoolEvents implements SandboxPool {
  readonly name = 'sock' as const;
  readonly #o: SockOptions;
  readonly #cg: CgroupDriver;
  readonly #init = projectPath('worker', 'runtime', 'init.py');

  constructor(o: SockOptions) {
    super();
    if (process.getuid?.() !== 0) throw new OlError('OL_ERR_SANDBOX', 'the sock backend needs root (namespaces, mounts, cgroups)');
    for (const d of ['handler', 'host', 'tmp', 'proc', 'dev', 'usr/bin/python3']) {
      if (!existsSync(join(o.baseRoot, d))) {
        throw new OlError('OL_ERR_SANDBOX', `base root ${o.baseRoot} lacks /${d}; run "ol-worker init" to build it`);
      }
    }
    this.#o = o;
    mkdirSync(o.dir, { recursive: true });
    this.#cg = cgroupDriver(o.cgroupRoot, o.cgroupVersion ?? 'auto');
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    const t0 = performance.now();
    const dir = join(this.#o.dir, spec.id);
    const root = join(dir, 'root');
    const scratch = join(dir, 'scratch');
    mkdirSync(root, { recursive: true });
    mkdirSync(scratch, { recursive: true });
    chownSync(scratch, this.#o.uid, this.#o.gid);
    const cgroup = this.#cg.create(spec.id, { memoryMb: spec.memoryMb, pids: spec.pids, cpuPercent: spec.cpuPercent });
    const cfg = {
      mode: 'sock',
      cgroupProcs: cgroup.procsFiles,
      root,
      base: this.#o.baseRoot,
      binds: [[spec.codeDir, '/handler', true], [scratch, '/host', false], [projectPath('worker', 'runtime'), '/runtime', true]],
      tmpMb: spec.tmpMb,
      uid: this.#o.uid,
      gid: this.#o.gid,
      hostname: spec.lambda.slice(0, 63),
      env: spec.env,
      socket: '/host/ol.sock',
    };
    const child = spawn(this.#o.python ?? '/usr/bin/python3', ['-I', '-S', this.#init, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await awaitReady(child, `sandbox ${spec.id} of lambda ${spec.lambda}`);
    } catch (e) {
      await cgroup.destroy().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    child.stdout!.resume();
    child.stderr!.resume();
    const sb = new SockSandbox(spec.id, spec.lambda, performance.now() - t0, dir, cgroup, child, this);
    this.emit('create', sb);
    return sb;
  }

  async close(): Promise<void> {
    this.#cg.removeRoot();
  }

  async census(): Promise<CleanupReport> {
    const names = this.#cg.list();
    let processes = 0;
    for (const n of names) processes += this.#pidsOf(n);
    const dirs = existsSync(this.#o.dir) ? readdirSync(this.#o.dir).length : 0;
    return { processes, cgroups: names.length, containers: 0, dirs };
  }

  #pidsOf(name: string): number {
    // a census must not create groups: read procs where they exist
    const c = this.#cg as unknown as { mount: string; root: string; version: 1 | 2 };
    const file = c.version === 2 ? join(c.mount, c.root, name, 'cgroup.procs') : join(c.mount, 'pids', c.root, name, 'cgroup.procs');
    try {
      return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
    } catch {
      return 0;
    }
  }

  async cleanup(): Promise<CleanupReport> {
    const before = await this.census();
    for (const n of this.#cg.list()) await this.#cg.remove(n);
    if (existsSync(this.#o.dir)) for (const d of readdirSync(this.#o.dir)) rmSync(join(this.#o.dir, d), { recursive: true, force: true });
    return before;
  }
}

