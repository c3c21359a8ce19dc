/**
 * A sandbox backend for unit tests of the routes and the manager: no
 * processes, behaviour chosen by the lambda's f.py text:
 * `# fake: echo` replies with the event, `# fake: error` with a 500
 * traceback, `# fake: sleep N` waits N ms, `# fake: crash` / `oom` break
 * the connection (diagnosed as exited / OOM), `# fake: badimport` fails to
 * start. Events are logged per sandbox to check their order.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import type { CleanupReport, Diagnosis, RuntimeReply, RuntimeRequest, Sandbox, SandboxEventType, SandboxPool, SandboxSpec } from '../worker/sandbox/api.js';

export class FakePool implements SandboxPool {
  readonly name = 'sock' as const;
  readonly events: string[] = [];
  live = 0;
  created = 0;
  /** Every spec asked for, and every request sent, in order. */
  readonly specs: SandboxSpec[] = [];
  readonly requests: RuntimeRequest[] = [];
  /** When set, answers every request instead of the lambda's fake mode. */
  reply: ((req: RuntimeRequest) => RuntimeReply) | undefined;
  readonly #listeners: ((t: SandboxEventType, sb: Sandbox) => void)[] = [];
  constructor(readonly createDelayMs = 5) {}

  on(l: (t: SandboxEventType, sb: Sandbox) => void): void {
    this.#listeners.push(l);
  }

  emit(t: SandboxEventType, sb: Sandbox): void {
    this.events.push(`${t} ${sb.id}`);
    for (const l of this.#listeners) l(t, sb);
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    this.specs.push(spec);
    const src = readFileSync(join(spec.codeDir, spec.env.OL_ENTRY_FILE ?? 'f.py'), 'utf8');
    const mode = /# fake: (\w+)(?: (\d+))?/.exec(src) ?? [];
    await new Promise((r) => setTimeout(r, this.createDelayMs));
    if (mode[1] === 'badimport') throw new OlError('OL_ERR_HANDLER', `sandbox ${spec.id} of lambda ${spec.lambda} failed to start:\nTraceback: SyntaxError`);
    this.live++;
    this.created++;
    const pool = this;
    let dead: Diagnosis = 'alive';
    const sb: Sandbox = {
      id: spec.id, lambda: spec.lambda, socketPath: '/nonexistent', createMs: this.createDelayMs,
      async invoke(req: RuntimeRequest, timeoutMs: number): Promise<RuntimeReply> {
        const body = req.body;
        pool.requests.push(req);
        if (pool.reply) return pool.reply(req);
        if (mode[1] === 'sleep') {
          const ms = Number(mode[2]);
          if (ms > timeoutMs) {
            await new Promise((r) => setTimeout(r, timeoutMs));
            throw new OlError('OL_ERR_TIMEOUT', `no reply within ${timeoutMs} ms`);
          }
          await new Promise((r) => setTimeout(r, ms));
        }
        if (mode[1] === 'crash' || mode[1] === 'oom') {
          dead = mode[1] === 'oom' ? 'oom' : 'exited';
          throw new OlError('OL_ERR_CRASH', 'connection reset');
        }
        if (mode[1] === 'error') return { status: 500, contentType: 'text/plain', body: Buffer.from('Traceback (most recent call last):\nValueError: boom\n') };
        // as the runtime: an empty body is the event {}, a body that is not JSON fails the handler's decoding
        try {
          if (body.length) JSON.parse(body.toString());
        } catch {
          return { status: 500, contentType: 'text/plain', body: Buffer.from('Traceback (most recent call last):\njson.decoder.JSONDecodeError: Expecting value\n') };
        }
        return { status: 200, contentType: 'application/json', body: body.length ? body : Buffer.from('{}') };
      },
      async pause() { pool.emit('pause', sb); },
      async unpause() { pool.emit('unpause', sb); },
      async diagnose() { return dead; },
      async destroy() { pool.live--; pool.emit('destroy', sb); },
    };
    this.emit('create', sb);
    return sb;
  }

  async cleanup(): Promise<CleanupReport> {
    return { processes: 0, cgroups: 0, containers: 0, dirs: 0 };
  }

  async census(): Promise<CleanupReport> {
    return { processes: this.live, cgroups: 0, containers: 0, dirs: 0 };
  }
}
