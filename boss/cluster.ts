/**
 * The boss's workers: local ones it starts (`ol-worker up`, one folder,
 * port and cgroup root each, the shared registry) and adopted ones it only
 * talks to; each one's view for the balancer (core/balancer.ts), kept by
 * reading its /stats every `view_refresh_ms`, and the forwarding of a
 * request over a kept-alive connection pool.
 *
 * Health: a worker whose /stats fails or does not answer within
 * `health_timeout_ms`, or to which a request cannot be sent, is taken out
 * at once (so within view_refresh_ms + health_timeout_ms of its last
 * answer); one that answers /stats again is taken in.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { projectPath } from '../common/paths.js';
import type { WorkerView } from '../core/balancer.js';
import { defaultConfig } from '../worker/config.js';
import { hopByHop } from '../worker/sandbox/runtime-client.js';
import type { BossConfig } from './config.js';

export type WorkerState = 'starting' | 'running' | 'down' | 'stopping';

export class WorkerHandle implements WorkerView {
  healthy = false;
  inFlight = 0;
  freeMb = 0;
  state: WorkerState = 'starting';
  /** Requests forwarded to it, answered by it, and failed on the way (502). */
  forwarded = 0;
  answered = 0;
  failed = 0;
  #warm: Record<string, number> = {};
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  readonly host: string;
  readonly port: number;

  constructor(public index: number, readonly url: string, readonly proc?: ChildProcess, readonly dir?: string) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
  }

  get id(): string {
    return `worker-${this.index}`;
  }

  warm(fn: string): number {
    return this.#warm[fn] ?? 0;
  }

  /** Reads /stats: free memory and warm sandboxes; taken out if it does not answer in time. */
  async refresh(timeoutMs: number): Promise<void> {
    try {
      const r = await fetch(`${this.url}/stats`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!r.ok) throw new Error(`status ${r.status}`);
      const s = (await r.json()) as { gauges?: Record<string, number>; warm?: Record<string, number> };
      this.freeMb = Math.max(0, (s.gauges?.mem_pool_mb ?? 0) - (s.gauges?.mem_used_mb ?? 0));
      this.#warm = s.warm ?? {};
      this.healthy = true;
      if (this.state === 'starting' || this.state === 'down') this.state = 'running';
    } catch {
      this.healthy = false;
      if (this.state === 'running') this.state = 'down';
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A worker's reply, as the client gets it through the boss. */
export interface Forwarded {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Sends one request to `w` and collects its reply whole; rejects (and takes `w` out) if it cannot be sent or read. */
export function forward(w: WorkerHandle, method: string, path: string, rawHeaders: string[], body: Buffer, timeoutMs: number): Promise<Forwarded> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const k = rawHeaders[i]!.toLowerCase();
    if (hopByHop(k) || k === 'host') continue;
    const prev = headers[k];
    headers[k] = prev === undefined ? rawHeaders[i + 1]! : Array.isArray(prev) ? [...prev, rawHeaders[i + 1]!] : [prev, rawHeaders[i + 1]!];
  }
  headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: w.host, port: w.port, method, path, headers, agent: w.agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !hopByHop(k)) out[k] = v;
        resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no reply within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e));
    req.end(body);
  });
}

/** Starts local worker `i`: its folder (config.json with the shared registry), then `ol-worker up`; resolves once /status answers. */
export async function startLocalWorker(c: BossConfig, i: number): Promise<WorkerHandle> {
  const dir = join(c.boss_dir, `worker-${i}`);
  mkdirSync(dir, { recursive: true });
  const port = c.port + 1 + i;
  const d = defaultConfig(dir);
  const wc = { ...d, host: '127.0.0.1', log_level: 'warn', ...c.worker, limits: { ...d.limits, ...((c.worker.limits as object | undefined) ?? {}) }, port, registry: c.registry };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(wc, null, 2));
  const proc = spawn(process.execPath, [projectPath('dist', 'worker', 'cli.js'), 'up', '--path', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const w = new WorkerHandle(i, `http://127.0.0.1:${port}`, proc, dir);
  for (let k = 0; k < 600; k++) {
    if (proc.exitCode !== null) throw new OlError('OL_ERR_CONFIG', `worker ${i} (${dir}) exited at start with code ${proc.exitCode}`);
    try {
      if ((await fetch(`${w.url}/status`)).ok) {
        w.healthy = true;
        w.state = 'running';
        return w;
      }
    } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new OlError('OL_ERR_CONFIG', `worker ${i} did not answer on port ${port} within 30 s`);
}

/** Stops a local worker (SIGTERM: it destroys its sandboxes) and waits for it; SIGKILL after 30 s. */
export async function stopLocalWorker(w: WorkerHandle): Promise<void> {
  w.close();
  const p = w.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  w.state = 'stopping';
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
  await gone;
  clearTimeout(t);
}
