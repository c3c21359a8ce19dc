/** Starting a real worker as its own process, for the harness and calibration. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { removeUnlessMounted } from '../common/fs.js';
import { projectPath } from '../common/paths.js';
import { defaultConfig, type SandboxLimits, type WorkerConfig } from '../worker/config.js';

export interface WorkerProcess {
  dir: string;
  base: URL;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A port the kernel says is free now (it hands out one not in use, and the caller binds it soon after). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', resolve); });
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A lambda as the harness writes it into a registry folder. */
export interface LambdaFiles {
  name: string;
  src: string;
  yaml?: string;
  requirements?: string;
}

/** Writes each lambda's folder (f.py, and ol.yaml and requirements.txt if given) into `registry`. */
export function writeLambdas(registry: string, lambdas: LambdaFiles[]): void {
  for (const l of lambdas) {
    const d = join(registry, l.name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'f.py'), l.src);
    if (l.yaml) writeFileSync(join(d, 'ol.yaml'), l.yaml);
    if (l.requirements) writeFileSync(join(d, 'requirements.txt'), l.requirements);
  }
}

/** The `stop` of each worker this process started and has not stopped: what a SIGTERM or SIGHUP to the harness runs first. */
const live = new Set<() => Promise<void>>();
let signalsHooked = false;

/**
 * On SIGTERM or SIGHUP (a job killed, a terminal closed) the harness stops
 * the workers it started (each destroys its sandboxes), removes their
 * folders, and exits as the signal would have ended it. Without this the
 * default action ends the harness at once and leaves each worker's
 * temporary folder behind. Ctrl-C keeps its own meaning (a replay ends
 * gracefully: experiments/real.ts).
 */
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  const onSignal = (sig: 'SIGTERM' | 'SIGHUP', code: number) => {
    process.once(sig, () => {
      // each worker gets 30 s to destroy its sandboxes; the harness exits then whatever is left
      const bound = new Promise((r) => setTimeout(r, 30_000).unref());
      void Promise.race([Promise.allSettled([...live].map((stop) => stop())), bound]).finally(() => process.exit(code));
    });
  };
  onSignal('SIGTERM', 143);
  onSignal('SIGHUP', 129);
}

/**
 * Registers `stop` with the workers' own: a SIGTERM or SIGHUP to the harness
 * runs it before the harness exits (for other processes a step starts, such
 * as calibrate's spinning loops). Returns its removal, for when the step has
 * stopped them itself.
 */
export function stopOnSignal(stop: () => Promise<void>): () => void {
  hookSignals();
  live.add(stop);
  return () => { live.delete(stop); };
}

export async function spawnWorker(over: Omit<Partial<WorkerConfig>, 'limits'> & { limits?: Partial<SandboxLimits> }, lambdas: LambdaFiles[]): Promise<WorkerProcess> {
  hookSignals();
  const dir = mkdtempSync(join(tmpdir(), 'ol-exp-worker-'));
  const c = defaultConfig(dir);
  writeLambdas(c.registry, lambdas);
  // a port taken between freePort and the worker's listen (an outgoing connection's, another
  // process's) makes the worker exit at start: then try another
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...c, port, log_level: 'warn', ...over, limits: { ...c.limits, ...(over.limits ?? {}) } }, null, 2));
    const child = spawn(process.execPath, [projectPath('dist', 'worker', 'cli.js'), 'up', '--path', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => { if (err.length < 4000) err += d; });
    const base = new URL(`http://127.0.0.1:${port}`);
    let exited = false;
    for (let i = 0; i < 600; i++) {
      if (child.exitCode !== null) {
        exited = true;
        break;
      }
      try {
        if ((await fetch(new URL('/status', base))).ok && child.exitCode === null) {
          const stop = async () => {
            if (child.exitCode === null && child.signalCode === null) {
              const gone = new Promise((r) => child.once('exit', r));
              child.kill('SIGTERM');
              await gone;
            }
            removeUnlessMounted(dir);
            live.delete(stop);
          };
          live.add(stop);
          return { dir, base, child, stop };
        }
      } catch { /* starting */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (exited && err.includes('EADDRINUSE') && attempt < 3) continue;
    if (!exited) child.kill('SIGKILL');
    removeUnlessMounted(dir);
    throw new OlError('OL_ERR_CONFIG', exited ? `the worker exited at start: ${err.trim()}` : 'the worker did not answer within 60 s');
  }
}

/**
 * A port that, with the `after` ports following it, nothing listens on
 * now: for a front whose local workers take the ports after its own (as
 * the boss's do). Another process may still take one before it is bound;
 * callers that can, retry.
 */
export async function freePortRun(after: number): Promise<number> {
  let port = await freePort();
  for (let k = 0; k < 50 && !(port + after <= 65535 && await portsFree(Array.from({ length: after + 1 }, (_, i) => port + i))); k++) port = await freePort();
  return port;
}

/** Whether nothing listens on these loopback ports now. */
async function portsFree(ports: number[]): Promise<boolean> {
  for (const port of ports) {
    const ok = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (!ok) return false;
  }
  return true;
}

export interface FrontProcess {
  /** The front's own process (`ol-boss up` or `ol-boss haproxy`). */
  child: ChildProcess;
  base: URL;
  /** Its local workers, in order (on the ports after the front's). */
  workerBases: URL[];
  /** SIGTERM: the front stops its local workers (they destroy their sandboxes), then exits; resolves when it has. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster front as a process of its own (`ol-boss up`, or `ol-boss
 * haproxy`) in `dir` with the `-o` overrides, on a port with `localWorkers`
 * free ports after it; resolves once the front answers /status. Errors
 * carry the front's own message; a front that failed is stopped.
 */
export async function spawnFront(front: 'boss' | 'haproxy', dir: string, overrides: string[], localWorkers: number): Promise<FrontProcess> {
  const cli = projectPath('dist', 'boss', 'cli.js');
  for (let attempt = 1; ; attempt++) {
    const port = await freePortRun(localWorkers);
    const child = spawn(process.execPath, [cli, front === 'boss' ? 'up' : 'haproxy', '--path', dir, ...[`port=${port}`, ...overrides].flatMap((x) => ['-o', x])], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => { if (err.length < 8000) err += d; });
    const base = new URL(`http://127.0.0.1:${port}`);
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    };
    let up = false;
    for (let i = 0; i < 1200 && child.exitCode === null && !up; i++) {
      try {
        up = (await fetch(new URL('/status', base))).ok;
      } catch { /* starting */ }
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    if (up) return { child, base, workerBases: Array.from({ length: localWorkers }, (_, i) => new URL(`http://127.0.0.1:${port + 1 + i}`)), stop };
    await stop();
    if (attempt < 3 && /EADDRINUSE|cannot listen|is port/.test(err)) continue;
    throw new OlError('OL_ERR_CONFIG', `the cluster front did not start: ${err.trim().slice(-2000) || 'it did not answer within 120 s'}`);
  }
}
