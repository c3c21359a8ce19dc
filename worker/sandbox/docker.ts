/**
 * The `docker` backend, through dockerode: a container from the `ol-min`
 * image with no network (`--network none`), the code read-only at /handler,
 * the scratch directory at /host, a read-only root, a private /tmp, the
 * same memory, pids and CPU limits, an unprivileged user; pause and unpause
 * through Docker (the cgroup freezer underneath). The same runtime serves on
 * the same Unix socket in the scratch directory. Docker sandboxes do not
 * fork from zygotes. Containers carry a label naming the worker, so a
 * restarted worker removes what a crashed one left.
 */
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { OlError } from '../../common/errors.js';
import { processFreezer, processMemory, type MemoryControl } from './cgroup-common.js';
import { projectPath } from '../../common/paths.js';
import { PoolEvents, type CleanupReport, type Diagnosis, type Sandbox, type SandboxPool, type SandboxSpec } from './api.js';
import { SandboxDirs } from './dirs.js';
import { RuntimeSandbox } from './runtime-sandbox.js';
import { packageConfig, readFirstLine, type JobSpec } from './sock.js';

export interface DockerOptions {
  dir: string;
  image: string;
  /** Label value that marks this worker's containers. */
  owner: string;
  uid: number;
  gid: number;
  socketPath?: string;
  /**
   * How a container is paused: `freezer` writes its cgroup's freezer
   * directly (what `docker pause` ends in, without the API round trips and
   * the engine's bookkeeping), `api` asks the engine. Default freezer; api
   * where the container's cgroup cannot be found.
   */
  pause?: 'freezer' | 'api';
  /** Runs package installs (in sock-style sandboxes: Docker has no fork, the installer needs none of it). */
  jobs?: { runJob(job: JobSpec): Promise<unknown>; abort?(): Promise<void>; close?(): Promise<void>; census(): Promise<CleanupReport>; cleanup(): Promise<CleanupReport> };
}

const LABEL = 'ol-lab.worker';

class DockerSandbox extends RuntimeSandbox {
  constructor(
    id: string,
    lambda: string,
    createMs: number,
    readonly dir: string,
    readonly container: Docker.Container,
    pool: DockerPool,
    /** The container's own cgroup freezer, when pausing bypasses the engine. */
    readonly freezer?: { freeze: () => Promise<void>; thaw: () => Promise<void> },
    /** The container's memory cgroup (downsizing a paused container writes it, as its freezer). */
    readonly mem?: MemoryControl,
  ) {
    super(id, lambda, createMs, join(dir, 'ol.sock'), (t, sb) => pool.emit(t, sb));
  }

  protected memory(): MemoryControl | undefined {
    return this.mem;
  }

  protected async freeze(): Promise<void> {
    if (this.freezer) await this.freezer.freeze();
    else await this.container.pause();
  }

  protected async thaw(): Promise<void> {
    if (this.freezer) await this.freezer.thaw();
    else await this.container.unpause();
  }

  protected async remove(): Promise<void> {
    // a container frozen behind the engine's back would hold its kill (SIGKILL waits for the thaw)
    await this.freezer?.thaw().catch(() => {});
    await this.container.remove({ force: true }).catch((e: { statusCode?: number }) => {
      if (e.statusCode !== 404) throw e;
    });
    rmSync(this.dir, { recursive: true, force: true });
  }

  async diagnose(): Promise<Diagnosis> {
    // Docker records the exit a moment after the connection breaks: wait for it
    for (let i = 0; i < 40; i++) {
      let s;
      try {
        s = (await this.container.inspect()).State;
      } catch {
        return 'exited';
      }
      if (s.OOMKilled) return 'oom';
      if (!s.Running && !s.Paused) return 'exited';
      await new Promise((r) => setTimeout(r, 25));
    }
    return 'alive';
  }
}

export class DockerPool extends PoolEvents implements SandboxPool {
  readonly name = 'docker' as const;
  readonly #o: DockerOptions;
  readonly #docker: Docker;
  readonly #dirs: SandboxDirs;
  /** Set by abort: nothing new starts. */
  #closing = false;
  /** Creates under way: what close waits for. */
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(o: DockerOptions) {
    super();
    this.#o = o;
    this.#docker = new Docker({ socketPath: o.socketPath ?? '/var/run/docker.sock' });
    this.#dirs = new SandboxDirs(o.dir, 'ol.sock');
    mkdirSync(o.dir, { recursive: true });
  }

  /** Fails clearly when the engine or the image is missing. */
  async check(): Promise<void> {
    try {
      await this.#docker.ping();
    } catch (e) {
      throw new OlError('OL_ERR_SANDBOX', `no Docker engine answers at ${this.#o.socketPath ?? '/var/run/docker.sock'} (${(e as Error).message}); start dockerd`);
    }
    try {
      await this.#docker.getImage(this.#o.image).inspect();
    } catch {
      throw new OlError('OL_ERR_SANDBOX', `docker image ${this.#o.image} is missing; run "ol-worker init"`);
    }
  }

  async abort(): Promise<void> {
    this.#closing = true;
    await this.#o.jobs?.abort?.();
  }

  /** Waits for creates under way, removes every container of this worker's that is left, and closes the job runner. */
  async close(): Promise<void> {
    await this.abort();
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
    await this.#removeMine();
    await this.#o.jobs?.close?.();
  }

  /** Package installs go to the sock-style job runner; Docker sandboxes are never forked from zygotes. */
  runJob(job: JobSpec): Promise<unknown> {
    if (!this.#o.jobs) return Promise.reject(new OlError('OL_ERR_PACKAGE', 'installing packages needs the sock job runner (root and the base root from "ol-worker init")'));
    return this.#o.jobs.runJob(job);
  }

  create(spec: SandboxSpec): Promise<Sandbox> {
    const p = this.#create(spec);
    const tracked = p.catch(() => {}).finally(() => this.#inflight.delete(tracked));
    this.#inflight.add(tracked);
    return p;
  }

  async #create(spec: SandboxSpec): Promise<Sandbox> {
    if (this.#closing) throw new OlError('OL_ERR_SHUTDOWN', `the worker is shutting down: sandbox ${spec.id} was not started`);
    const t0 = performance.now();
    const dir = this.#dirs.path(spec.id);
    mkdirSync(dir, { recursive: true });
    chownSync(dir, this.#o.uid, this.#o.gid);
    const packages = spec.packages ?? [];
    const cfg = { mode: 'plain', env: spec.env, socket: '/host/ol.sock', pythonPath: packageConfig(packages).pythonPath };
    const bytes = Math.round(spec.memoryMb * 2 ** 20);
    let container: Docker.Container | undefined;
    try {
      container = await this.#docker.createContainer({
        name: `ol-${spec.id}`,
        Image: this.#o.image,
        Cmd: ['/usr/bin/python3', '-I', '-S', '/runtime/init.py', JSON.stringify(cfg)],
        User: `${this.#o.uid}:${this.#o.gid}`,
        Hostname: spec.lambda.slice(0, 63),
        Labels: { [LABEL]: this.#o.owner, 'ol-lab.lambda': spec.lambda },
        NetworkDisabled: true,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: {
          NetworkMode: 'none',
          Binds: [`${spec.codeDir}:/handler:ro`, `${dir}:/host`, `${projectPath('worker', 'runtime')}:/runtime:ro`,
            ...packages.map((p) => `${p.dir}:/packages/${p.key}:ro`)],
          ReadonlyRootfs: true,
          Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${spec.tmpMb}m` },
          Memory: bytes,
          MemorySwap: bytes,
          PidsLimit: spec.pids,
          NanoCpus: Math.round(spec.cpuPercent * 1e7),
          SecurityOpt: ['no-new-privileges'],
          CapDrop: ['ALL'],
        },
      });
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      const out = new PassThrough();
      const err = new PassThrough();
      container.modem.demuxStream(stream, out, err);
      // the stream ends when the container exits: a runtime that never answered
      stream.on('end', () => out.end());
      const ready = readFirstLine(out, `sandbox ${spec.id} of lambda ${spec.lambda}`, { stderr: err, closedAs: 'exited before it was ready' });
      await container.start();
      await ready;
      (stream as unknown as { destroy?: () => void }).destroy?.();
      // stopped while it started: it must not outlive the worker
      if (this.#closing) throw new OlError('OL_ERR_SHUTDOWN', `the worker is shutting down: sandbox ${spec.id} was stopped while it started`);
    } catch (e) {
      await container?.remove({ force: true }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      if (e instanceof OlError) throw e;
      throw new OlError('OL_ERR_SANDBOX', `docker could not start sandbox ${spec.id}: ${(e as Error).message}`);
    }
    let freezer;
    let mem;
    const pid = (await container.inspect().catch(() => undefined))?.State?.Pid;
    if (pid) {
      if ((this.#o.pause ?? 'freezer') === 'freezer') freezer = processFreezer(pid, `container of sandbox ${spec.id}`);
      mem = processMemory(pid);
    }
    const sb = new DockerSandbox(spec.id, spec.lambda, performance.now() - t0, dir, container, this, freezer, mem);
    this.emit('create', sb);
    return sb;
  }

  async #mine(): Promise<Docker.ContainerInfo[]> {
    return this.#docker.listContainers({ all: true, filters: { label: [`${LABEL}=${this.#o.owner}`] } });
  }

  /** Containers and sandbox folders, and the job runner's processes, cgroups and folders. */
  async census(): Promise<CleanupReport> {
    const cs = await this.#mine();
    const jobs = await this.#o.jobs?.census();
    return {
      processes: cs.filter((c) => c.State === 'running' || c.State === 'paused').length + (jobs?.processes ?? 0),
      cgroups: jobs?.cgroups ?? 0,
      containers: cs.length,
      dirs: (existsSync(this.#o.dir) ? readdirSync(this.#o.dir).length : 0) + (jobs?.dirs ?? 0),
    };
  }

  async cleanup(): Promise<CleanupReport> {
    const before = await this.census();
    await this.#removeMine();
    await this.#o.jobs?.cleanup();
    return before;
  }

  async #removeMine(): Promise<void> {
    for (const c of await this.#mine()) await this.#docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    if (existsSync(this.#o.dir)) for (const d of readdirSync(this.#o.dir)) rmSync(join(this.#o.dir, d), { recursive: true, force: true });
  }
}
