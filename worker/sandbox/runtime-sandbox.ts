/**
 * What both backends' sandboxes share: the runtime's Unix socket and its
 * HTTP client, the lifecycle events, and destroy-once. A backend says how to
 * freeze, thaw and remove its sandbox.
 */
import type { Diagnosis, RuntimeReply, RuntimeRequest, Sandbox, SandboxEventType } from './api.js';
import type { Socket } from 'node:net';
import type { MemoryControl } from './cgroup-common.js';
import { RuntimeClient, type SentFirst } from './runtime-client.js';

export abstract class RuntimeSandbox implements Sandbox {
  readonly #client: RuntimeClient;
  #destroyed = false;
  /** The limit a downsized sandbox had, restored before it thaws. */
  #fullMb: number | undefined;

  constructor(
    readonly id: string,
    readonly lambda: string,
    readonly createMs: number,
    readonly socketPath: string,
    readonly emit: (type: SandboxEventType, sb: Sandbox) => void,
    /** A connection the runtime already serves (a forked sandbox's), used first. */
    conn?: Socket,
    /** The request already sent on `conn`. */
    sent?: SentFirst,
  ) {
    this.#client = new RuntimeClient(socketPath, conn, sent);
  }

  protected abstract freeze(): Promise<void>;
  protected abstract thaw(): Promise<void>;
  /** Its memory cgroup, if the backend can reach it (downsizing needs it). */
  protected abstract memory(): MemoryControl | undefined;
  protected abstract remove(): Promise<void>;
  abstract diagnose(): Promise<Diagnosis>;

  invoke(req: RuntimeRequest, timeoutMs: number): Promise<RuntimeReply> {
    return this.#client.invoke(req, timeoutMs);
  }

  async pause(): Promise<void> {
    await this.freeze();
    this.emit('pause', this);
  }

  async unpause(): Promise<void> {
    if (this.#fullMb !== undefined) {
      // its full limit first: thawed, it may allocate again
      this.memory()!.setLimitMb(this.#fullMb);
      this.#fullMb = undefined;
    }
    await this.thaw();
    this.emit('unpause', this);
  }

  /**
   * OpenLambda's downsize_paused_mem, on a paused sandbox: its memory limit
   * drops to what it uses plus 1 MB (frozen, it cannot allocate), and
   * `unpause` restores it first. Returns the new limit, MB; undefined if
   * it could not be lowered (no memory cgroup, or not below the limit).
   */
  async downsize(): Promise<number | undefined> {
    const m = this.memory();
    if (!m || this.#destroyed) return undefined;
    const full = this.#fullMb ?? m.limitMb();
    const mb = Math.ceil(m.usageMb()) + 1;
    if (!(mb < full)) return undefined;
    m.setLimitMb(mb);
    this.#fullMb = full;
    return mb;
  }

  async destroy(_reason: string): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#client.close();
    await this.remove();
    this.emit('destroy', this);
  }
}
