/**
 * What both backends' sandboxes share: the runtime's Unix socket and its
 * HTTP client, the lifecycle events, and destroy-once. A backend says how to
 * freeze, thaw and remove its sandbox.
 */
import type { Diagnosis, RuntimeReply, RuntimeRequest, Sandbox, SandboxEventType } from './api.js';
import type { Socket } from 'node:net';
import { RuntimeClient, type SentFirst } from './runtime-client.js';

export abstract class RuntimeSandbox implements Sandbox {
  readonly #client: RuntimeClient;
  #destroyed = false;

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
    await this.thaw();
    this.emit('unpause', this);
  }

  async destroy(_reason: string): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#client.close();
    await this.remove();
    this.emit('destroy', this);
  }
}
