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
import { createConnection, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OlError, isOlError } from '../../common/errors.js';
import { projectPath } from '../../common/paths.js';
import { PoolEvents, type CleanupReport, type Diagnosis, type PackageMount, type Sandbox, type SandboxPool, type SandboxSpec, type ZygoteHandle, type JobSpec } from './api.js';
export type { JobSpec } from './api.js';
import { cgroupDriver, type Cgroup, type CgroupDriver } from './cgroups.js';
import type { MemoryControl } from './cgroup-common.js';
import { SandboxDirs } from './dirs.js';
import { RuntimeSandbox } from './runtime-sandbox.js';
import { formatRequest, type SentFirst } from './runtime-client.js';

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

/**
 * The runtime's view of a sandbox's packages: each host folder bound
 * read-only at /packages/<key>, and those paths on sys.path.
 */
export function packageConfig(packages: PackageMount[] = []): { packages: [string, string][]; pythonPath: string[] } {
  return { packages: packages.map((p) => [p.dir, p.key]), pythonPath: packages.map((p) => `/packages/${p.key}`) };
}

/** What the runtime's first line said: `ready [json]` or `result json`. */
export interface FirstLine {
  kind: 'ready' | 'result';
  /** The JSON after the word, parsed (undefined after a bare `ready`). */
  data: unknown;
  /** What came after the line in the same read: the start of a reply to a request sent ahead. */
  rest: Buffer;
}

/** Where a runtime's first line comes from, besides its output stream. */
export interface FirstLineSource {
  /** The runtime's own process: its exit and stderr tell why it never answered. */
  child?: ChildProcess;
  /** Its stderr, when there is no child (a container's). */
  stderr?: Readable;
  /** What the output stream closing early means (default: a closed connection). */
  closedAs?: string;
}

/**
 * Reads the runtime's first line from a child's stdout, a fork request's
 * connection or a container's output: `ready`, `result <json>`, or `error
 * <json traceback>`, which rejects with OL_ERR_HANDLER. An exit or a closed
 * stream first rejects with OL_ERR_SANDBOX, with what came on stderr.
 */
export function readFirstLine(out: Readable, what: string, from: FirstLineSource = {}): Promise<FirstLine> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let err = '';
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      out.off('data', onData);
      f();
    };
    const onData = (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      const line = buf.subarray(0, nl).toString();
      const after = Buffer.from(buf.subarray(nl + 1));
      const sp = line.indexOf(' ');
      const word = sp < 0 ? line : line.slice(0, sp);
      const rest = sp < 0 ? '' : line.slice(sp + 1);
      if (word === 'ready' || word === 'result') {
        let data: unknown;
        try { data = rest ? JSON.parse(rest) : undefined; } catch { /* keep undefined */ }
        return settle(() => resolve({ kind: word, data, rest: after }));
      }
      if (word === 'error') {
        let msg = rest.replace(/\\n/g, '\n');
        try { msg = JSON.parse(msg); } catch { /* plain text */ }
        return settle(() => reject(new OlError('OL_ERR_HANDLER', `${what} failed to start:\n${msg}`)));
      }
      settle(() => reject(new OlError('OL_ERR_SANDBOX', `${what}: unexpected runtime output ${JSON.stringify(line)}`)));
    };
    out.on('data', onData);
    const gone = (how: string) => settle(() => reject(new OlError('OL_ERR_SANDBOX', `${what} ${how}${err ? `: ${err.trim()}` : ''}`)));
    const { child } = from;
    (child?.stderr ?? from.stderr)?.on('data', (d: Buffer) => { if (err.length < 4096) err += d.toString(); });
    if (child) {
      child.once('exit', (code, signal) => gone(`exited before it was ready (${signal ?? `code ${code}`})`));
      child.once('error', (e) => gone(`could not start: ${e.message}`));
    } else {
      out.once('close', () => gone(from.closedAs ?? 'closed the connection before it was ready'));
      out.once('error', (e) => gone(`broke the connection (${e.message})`));
    }
  });
}

/** How often a connect refused by a full backlog is tried again, and the longest wait between tries, ms. */
const REFUSED_RETRIES = 100;
const REFUSED_WAIT_MS = 50;

/**
 * Connects to a runtime's Unix socket, writes `payload` and reads its first
 * line (readFirstLine). A connect that the listener's full backlog refuses
 * (EAGAIN: a burst of cold starts all asking one zygote for a fork) reached
 * nobody, so it is tried again after a short wait, up to REFUSED_RETRIES
 * times (waits of 1, 2, 4 ... 50 ms: about 4.8 s in all), while `alive()`
 * holds; any other failure is final.
 */
export async function sendFirst(socket: string, payload: Buffer, what: string, alive: () => boolean = () => true): Promise<{ conn: Socket; rest: Buffer }> {
  for (let attempt = 0; ; attempt++) {
    const conn = createConnection(socket);
    let refused = false;
    // readFirstLine reports the error; this only notes whether the connect itself was refused
    conn.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EAGAIN' && e.syscall === 'connect') refused = true; });
    conn.write(payload);
    try {
      const { rest } = await readFirstLine(conn, what);
      return { conn, rest };
    } catch (e) {
      conn.destroy();
      if (!refused || attempt >= REFUSED_RETRIES || !alive()) throw e;
    }
    await new Promise((r) => setTimeout(r, Math.min(REFUSED_WAIT_MS, 1 << attempt)));
  }
}

class SockSandbox extends RuntimeSandbox {
  constructor(
    id: string,
    lambda: string,
    createMs: number,
    readonly dir: string,
    readonly cgroup: Cgroup,
    /** The host process of a fresh sandbox; a forked one has none of its own. */
    readonly child: ChildProcess | undefined,
    pool: SockPool,
    /** The fork request's connection, which the runtime serves first. */
    conn?: Socket,
    /** The request sent behind the fork request, on `conn`. */
    sent?: SentFirst,
  ) {
    super(id, lambda, createMs, join(dir, 'scratch', 'ol.sock'), (t, sb) => pool.emit(t, sb), conn, sent);
  }

  protected freeze(): Promise<void> {
    return this.cgroup.freeze();
  }

  protected memory(): MemoryControl {
    return this.cgroup.memory;
  }

  protected thaw(): Promise<void> {
    return this.cgroup.thaw();
  }

  protected async remove(): Promise<void> {
    await this.cgroup.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async diagnose(): Promise<Diagnosis> {
    if (this.cgroup.oomKills() > 0) return 'oom';
    const exited = this.child !== undefined && (this.child.exitCode !== null || this.child.signalCode !== null);
    return exited || this.cgroup.pids().length === 0 ? 'exited' : 'alive';
  }
}

/**
 * CPU weight of a zygote's group, where its spares are cloned and rehearse:
 * the platform's own work on every cold start's path, not a tenant's. At a
 * sandbox's weight a zygote among dozens of busy sandboxes got a sliver of
 * the machine, cold starts queued behind its next spare, and each queued
 * request became one more cold start (the replay's figures:
 * docs/notebook/2026-11-benchmark-rounds.md).
 */
export const ZYGOTE_CPU_SHARES = 8192;


/** What a zygote is made of (worker/import-cache.ts decides which). */
export interface ZygoteSpec {
  id: string;
  /** Packages mounted in it (its whole closure). */
  packages: PackageMount[];
  /** Modules it imports (beyond what its parent already imported). */
  imports: string[];
  memoryMb: number;
  pids: number;
  tmpMb: number;
}

/** A paused-in-place Python interpreter with packages imported, serving fork requests. */
export class SockZygote implements ZygoteHandle {
  #destroyed = false;
  constructor(
    readonly id: string,
    readonly dir: string,
    readonly cgroup: Cgroup,
    readonly child: ChildProcess | undefined,
  ) {}

  get forkSocket(): string {
    return join(this.dir, 'scratch', 'fork.sock');
  }

  /** Where child zygotes are asked for. */
  get zygoteSocket(): string {
    return join(this.dir, 'scratch', 'zygote.sock');
  }

  alive(): boolean {
    if (this.#destroyed) return false;
    if (this.child && (this.child.exitCode !== null || this.child.signalCode !== null)) return false;
    return this.cgroup.pids().length > 0;
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.cgroup.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A one-shot job in a lean container: a package install or an import timing. */

export class SockPool extends PoolEvents implements SandboxPool {
  readonly name = 'sock' as const;
  readonly #o: SockOptions;
  readonly #cg: CgroupDriver;
  readonly #init = projectPath('worker', 'runtime', 'init.py');
  readonly #dirs: SandboxDirs;
  /** Set by abort: nothing new starts. */
  #closing = false;
  /** Groups of what is starting (sandboxes, zygotes) or running (jobs): what abort kills. */
  readonly #busy = new Set<Cgroup>();
  /** Operations under way (creates, zygote starts, jobs): what close waits for. */
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(o: SockOptions) {
    super();
    if (process.getuid?.() !== 0) throw new OlError('OL_ERR_SANDBOX', 'the sock backend needs root (namespaces, mounts, cgroups)');
    for (const d of ['handler', 'host', 'tmp', 'proc', 'dev/null', 'dev/urandom', 'packages', 'usr/bin/python3']) {
      if (!existsSync(join(o.baseRoot, d))) {
        throw new OlError('OL_ERR_SANDBOX', `base root ${o.baseRoot} lacks /${d}; run "ol-worker init" to build it`);
      }
    }
    if (existsSync(join(o.baseRoot, 'dev', 'console'))) {
      throw new OlError('OL_ERR_SANDBOX', `base root ${o.baseRoot} still has /dev/console; run "ol-worker init" to prune its devices`);
    }
    this.#o = o;
    this.#dirs = new SandboxDirs(o.dir, join('scratch', 'zygote.sock'));
    mkdirSync(o.dir, { recursive: true });
    this.#cg = cgroupDriver(o.cgroupRoot, o.cgroupVersion ?? 'auto');
  }

  #refuse(what: string): void {
    if (this.#closing) throw new OlError('OL_ERR_SHUTDOWN', `the worker is shutting down: ${what} was not started`);
  }

  /** Runs `fn` as an operation close waits for. */
  #op<T>(fn: () => Promise<T>): Promise<T> {
    const p = fn();
    const tracked = p.catch(() => {}).finally(() => this.#inflight.delete(tracked));
    this.#inflight.add(tracked);
    return p;
  }

  async abort(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#busy].map((cg) => cg.destroy().catch(() => {})));
  }

  /** A sandbox directory (see SandboxDirs) with its root mount point and a scratch folder the sandbox user owns. */
  #makeDir(id: string): { dir: string; root: string; scratch: string } {
    const dir = this.#dirs.path(id);
    const root = join(dir, 'root');
    const scratch = join(dir, 'scratch');
    mkdirSync(root, { recursive: true });
    mkdirSync(scratch, { recursive: true });
    chownSync(scratch, this.#o.uid, this.#o.gid);
    return { dir, root, scratch };
  }

  #spawn(cfg: unknown): ChildProcess {
    return spawn(this.#o.python ?? '/usr/bin/python3', ['-I', '-S', this.#init, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
  }

  /**
   * Sends a fork request to a zygote and waits until the child is ready;
   * with `keep`, resolves with the connection: a sandbox's runtime serves
   * the handler on it next, which spares a connect and an accept on the way
   * to the first call. `first`, a request written right behind the fork
   * request, is served as soon as the sandbox is ready: the runtime finds
   * it waiting instead of going to sleep until the worker, woken by its
   * ready line, sends it (waking an idle core costs a VM a millisecond or so).
   */
  async #fork(z: ZygoteHandle, cfg: unknown, what: string, socket: string, keep: boolean, first?: Buffer): Promise<{ conn: Socket; rest: Buffer } | undefined> {
    if (!z.alive()) throw new OlError('OL_ERR_SANDBOX', `zygote ${z.id} is not running`);
    const line = Buffer.from(JSON.stringify(cfg) + '\n');
    const got = await sendFirst(socket, first ? Buffer.concat([line, first]) : line, what, () => z.alive());
    if (keep) return got;
    got.conn.destroy();
    return undefined;
  }

  /**
   * Starts a runtime: a fresh process, or a child of `via`'s zygote; waits
   * until it is ready. On failure its cgroup and directory are removed.
   */
  async #start(cfg: unknown, what: string, dir: string, cgroup: Cgroup, via?: { zygote: ZygoteHandle; socket: string; keep: boolean; first?: Buffer }): Promise<{ child?: ChildProcess; conn?: { conn: Socket; rest: Buffer } }> {
    let child: ChildProcess | undefined;
    let conn: { conn: Socket; rest: Buffer } | undefined;
    this.#busy.add(cgroup);
    try {
      this.#refuse(what);
      if (via) {
        conn = await this.#fork(via.zygote, cfg, what, via.socket, via.keep, via.first);
      } else {
        child = this.#spawn(cfg);
        await readFirstLine(child.stdout!, what, { child });
      }
      // stopped while it started: it must not outlive the worker
      this.#refuse(what);
    } catch (e) {
      conn?.conn.destroy();
      await cgroup.destroy().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      if (this.#closing && !isOlError(e, 'OL_ERR_SHUTDOWN')) throw new OlError('OL_ERR_SHUTDOWN', `the worker is shutting down: ${what} was stopped while it started`);
      throw e;
    } finally {
      this.#busy.delete(cgroup);
    }
    child?.stdout!.resume();
    child?.stderr!.resume();
    return { child, conn };
  }

  create(spec: SandboxSpec): Promise<Sandbox> {
    return this.#op(() => this.#create(spec));
  }

  async #create(spec: SandboxSpec): Promise<Sandbox> {
    this.#refuse(`sandbox ${spec.id}`);
    const t0 = performance.now();
    const { dir, root, scratch } = this.#makeDir(spec.id);
    const cgroup = this.#cg.create(spec.id, { memoryMb: spec.memoryMb, pids: spec.pids, cpuPercent: spec.cpuPercent });
    const cfg = {
      mode: 'sock',
      cgroupProcs: cgroup.procsFiles,
      root,
      base: this.#o.baseRoot,
      binds: [[spec.codeDir, '/handler', true], [scratch, '/host', false], [projectPath('worker', 'runtime'), '/runtime', true]],
      ...packageConfig(spec.packages),
      tmpMb: spec.tmpMb,
      uid: this.#o.uid,
      gid: this.#o.gid,
      hostname: spec.lambda.slice(0, 63),
      env: spec.env,
      socket: '/host/ol.sock',
    };
    let first: Buffer | undefined;
    if (spec.zygote && spec.first) {
      try {
        first = formatRequest(spec.first);
      } catch {
        // not sent ahead: its invoke refuses it with the reason
      }
    }
    const { child, conn } = await this.#start(cfg, `sandbox ${spec.id} of lambda ${spec.lambda}`, dir, cgroup, spec.zygote && { zygote: spec.zygote, socket: spec.zygote.forkSocket, keep: true, first });
    const sent = first && conn ? { req: spec.first!, buffered: conn.rest } : undefined;
    const sb = new SockSandbox(spec.id, spec.lambda, performance.now() - t0, dir, cgroup, child, this, conn?.conn, sent);
    this.emit('create', sb);
    return sb;
  }

  /**
   * Starts a zygote: fresh (a root of the import tree) or forked from its
   * parent's zygote. Its group has no memory limit: a page the zygote and
   * a forked sandbox share stays charged to the zygote's group for as long
   * as the sandbox holds it (cgroup v1 no longer moves charges), and each
   * fork left about 2.2 MB there (the zygote's own writes after a clone,
   * and its spare's rehearsal before it joins its sandbox), so a 128 MB
   * limit was reached after some 57 live forked sandboxes and the kernel
   * killed the zygote. The pool still reserves `spec.memoryMb` for it.
   */
  createZygote(spec: ZygoteSpec, parent?: SockZygote): Promise<SockZygote> {
    return this.#op(() => this.#createZygote(spec, parent));
  }

  async #createZygote(spec: ZygoteSpec, parent?: SockZygote): Promise<SockZygote> {
    this.#refuse(`zygote ${spec.id}`);
    const { dir, root, scratch } = this.#makeDir(spec.id);
    const cgroup = this.#cg.create(spec.id, { memoryMb: Infinity, pids: spec.pids, cpuPercent: 100, cpuShares: ZYGOTE_CPU_SHARES }, false);
    const cfg = {
      mode: 'zygote',
      cgroupProcs: cgroup.procsFiles,
      root,
      base: this.#o.baseRoot,
      binds: [[scratch, '/host', false], [projectPath('worker', 'runtime'), '/runtime', true]],
      ...packageConfig(spec.packages),
      imports: spec.imports,
      tmpMb: spec.tmpMb,
      hostname: 'zygote',
      spares: 1,
    };
    const { child } = await this.#start(cfg, `zygote ${spec.id}`, dir, cgroup, parent && { zygote: parent, socket: parent.zygoteSocket, keep: false });
    return new SockZygote(spec.id, dir, cgroup, child);
  }

  /** Runs a one-shot job (install, measure) in a lean container; resolves with its result JSON. */
  runJob(job: JobSpec): Promise<unknown> {
    return this.#op(() => this.#runJob(job));
  }

  async #runJob(job: JobSpec): Promise<unknown> {
    this.#refuse(`${job.mode} job ${job.id}`);
    const { dir, root, scratch } = this.#makeDir(job.id);
    const cgroup = this.#cg.create(job.id, { memoryMb: job.memoryMb, pids: 128, cpuPercent: 100 }, false);
    this.#busy.add(cgroup);
    const binds: [string, string, boolean][] = [[job.hostDir ?? scratch, '/host', false], [projectPath('worker', 'runtime'), '/runtime', true]];
    if (job.handlerDir) binds.push([job.handlerDir, '/handler', true]);
    const cfg = {
      ...job.config,
      mode: job.mode,
      cgroupProcs: cgroup.procsFiles,
      root,
      base: this.#o.baseRoot,
      binds,
      ...packageConfig(job.packages),
      network: job.network ?? false,
      tmpMb: 256,
      uid: this.#o.uid,
      gid: this.#o.gid,
      hostname: job.mode,
    };
    const child = this.#spawn(cfg);
    child.stderr!.resume();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new OlError('OL_ERR_TIMEOUT', `${job.mode} job ${job.id} ran past its time limit of ${job.timeLimitMs} ms`)), job.timeLimitMs);
      });
      const line = await Promise.race([readFirstLine(child.stdout!, `${job.mode} job ${job.id}`, { child }), timeout]);
      return line.data;
    } catch (e) {
      if (this.#closing) throw new OlError('OL_ERR_SHUTDOWN', `the worker is shutting down: ${job.mode} job ${job.id} was stopped`);
      if (cgroup.oomKills() > 0) throw new OlError('OL_ERR_OOM', `${job.mode} job ${job.id} ran out of memory (limit ${job.memoryMb} MB)`);
      throw e;
    } finally {
      this.#busy.delete(cgroup);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      clearTimeout(timer);
      await cgroup.destroy().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    await this.abort();
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
    // whatever is left (a zygote or sandbox nobody destroyed) goes too
    await this.cleanup();
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
    this.#cg.removeSpares();
    if (existsSync(this.#o.dir)) for (const d of readdirSync(this.#o.dir)) rmSync(join(this.#o.dir, d), { recursive: true, force: true });
    return before;
  }
}
