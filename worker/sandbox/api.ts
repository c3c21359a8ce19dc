/**
 * The sandbox contract, after OpenLambda's `sandbox/api.go`. A sandbox runs
 * one lambda's Python runtime, which serves HTTP on a Unix socket in the
 * sandbox's scratch directory; the worker never talks to it over IP.
 *
 * Lifecycle events, in the order every pool emits them for one sandbox:
 * `create` first, then any number of `pause` / `unpause`, then `destroy`
 * last, exactly once. Destroying leaves no process, mount, cgroup or
 * container behind.
 */

export type SandboxEventType = 'create' | 'pause' | 'unpause' | 'destroy';

/** What a sandbox is made from. */
export interface SandboxSpec {
  /** Unique id, also its directory and cgroup name. */
  id: string;
  lambda: string;
  /** Host directory with the lambda's code (f.py), mounted read-only at /handler. */
  codeDir: string;
  /** Environment variables for the handler (ol.yaml). */
  env: Record<string, string>;
  memoryMb: number;
  pids: number;
  cpuPercent: number;
  tmpMb: number;
  /** Installed packages to mount read-only at /packages/<key> and put on sys.path. */
  packages?: PackageMount[];
  /** sock only: fork the sandbox from this zygote instead of starting a fresh interpreter. */
  zygote?: ZygoteHandle;
  /**
   * The request this sandbox is made for. A forked sandbox gets it behind
   * the fork request and serves it the moment it is ready; the sandbox's
   * `invoke` of that same request (the same object) then only waits for
   * the reply. Pools that cannot send it ahead ignore it.
   */
  first?: RuntimeRequest;
}

/** A request as `Sandbox.invoke` takes it. */
export interface RuntimeRequest {
  method: string;
  /** The request target as the client sent it: `/run/<name>[/…][?query]`. */
  path: string;
  /**
   * The client's headers to pass on, as flat name/value pairs (Node's
   * `rawHeaders`); hop-by-hop headers and Content-Length are dropped on the
   * way (the runtime is told the body's length).
   */
  headers?: readonly string[];
  body: Buffer;
}


/** One installed package as a sandbox mounts it. */
export interface PackageMount {
  /** Host folder (pip's --target). */
  dir: string;
  /** Its name under /packages in the sandbox. */
  key: string;
}

/** A live zygote a pool can fork sandboxes from (see worker/import-cache.ts). */
export interface ZygoteHandle {
  readonly id: string;
  /** Host path of its fork server's Unix socket. */
  readonly forkSocket: string;
  alive(): boolean;
}

/** A reply from the runtime. */
export interface RuntimeReply {
  status: number;
  contentType: string;
  /** The handler's other headers as flat name/value pairs (WSGI and ASGI apps set their own); Content-Length and Content-Type are not among them. */
  headers?: string[];
  body: Buffer;
}

/** Why a sandbox stopped answering. */
export type Diagnosis = 'oom' | 'exited' | 'alive';

export interface Sandbox {
  readonly id: string;
  readonly lambda: string;
  /** Host path of the runtime's Unix socket. */
  readonly socketPath: string;
  /** Wall time creation took, ms (the cold-start cost before dispatch). */
  readonly createMs: number;
  /** Sends one request; rejects with OL_ERR_TIMEOUT after `timeoutMs`. */
  invoke(req: RuntimeRequest, timeoutMs: number): Promise<RuntimeReply>;
  pause(): Promise<void>;
  /** Restores a downsized sandbox's memory limit, then thaws it. */
  unpause(): Promise<void>;
  /**
   * On a paused sandbox: lowers its memory limit to its use plus 1 MB
   * (OpenLambda's downsize_paused_mem); the new limit, MB, or undefined if
   * it stays as it was.
   */
  downsize?(): Promise<number | undefined>;
  /** After a failed call: was it the OOM killer, or did the runtime exit? */
  diagnose(): Promise<Diagnosis>;
  destroy(reason: string): Promise<void>;
}

/** What cleanup found and removed. */
export interface CleanupReport {
  processes: number;
  cgroups: number;
  containers: number;
  dirs: number;
}

/** A backend: makes sandboxes, and removes what a crashed worker left. */
export interface SandboxPool {
  readonly name: 'sock' | 'docker';
  /**
   * The worker is stopping: work in flight (installs, import timings,
   * sandboxes and zygotes being started) is killed so it ends now, and
   * nothing new starts (OL_ERR_SHUTDOWN). `close` then waits for it and
   * removes whatever is left.
   */
  abort?(): Promise<void>;
  create(spec: SandboxSpec): Promise<Sandbox>;
  /** Everything this worker's earlier runs left behind is removed. */
  cleanup(): Promise<CleanupReport>;
  /** Counts what exists now (leak checks in tests and `ol-worker status`). */
  census(): Promise<CleanupReport>;
  on(listener: (type: SandboxEventType, sb: Sandbox) => void): void;
  /** Runs a one-shot job (package install, import timing) in a lean container. */
  runJob?(job: JobSpec): Promise<unknown>;
  /**
   * The worker stops: aborts what is in flight (see `abort`), waits for it,
   * then removes everything of the pool's that is left — processes,
   * cgroups, containers, folders — and its root cgroup.
   */
  close?(): Promise<void>;
}

/** A one-shot job in a lean container: a package install, or timing imports. */
export interface JobSpec {
  id: string;
  mode: 'install' | 'measure';
  /** Extra fields for the runtime's config (requirement, indexArgs, modules, …). */
  config: Record<string, unknown>;
  /** Host folder bound read-write at /host (install: the new package's folder). */
  hostDir?: string;
  /** Host folder bound read-only at /handler (install: a local wheel folder). */
  handlerDir?: string;
  packages?: PackageMount[];
  /** Share the host's network namespace (an installer reaching a real index). */
  network?: boolean;
  memoryMb: number;
  timeLimitMs: number;
}

/** Listener plumbing shared by the backends. */
export class PoolEvents {
  readonly #listeners: ((type: SandboxEventType, sb: Sandbox) => void)[] = [];

  on(listener: (type: SandboxEventType, sb: Sandbox) => void): void {
    this.#listeners.push(listener);
  }

  emit(type: SandboxEventType, sb: Sandbox): void {
    for (const l of this.#listeners) l(type, sb);
  }
}
