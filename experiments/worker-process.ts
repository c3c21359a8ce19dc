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

export async function spawnWorker(over: Omit<Partial<WorkerConfig>, 'limits'> & { limits?: Partial<SandboxLimits> }, lambdas: { name: string; src: string; yaml?: string; requirements?: string }[]): Promise<WorkerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'ol-exp-worker-'));
  const c = defaultConfig(dir);
  for (const l of lambdas) {
    const d = join(c.registry, l.name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'f.py'), l.src);
    if (l.yaml) writeFileSync(join(d, 'ol.yaml'), l.yaml);
    if (l.requirements) writeFileSync(join(d, 'requirements.txt'), l.requirements);
  }
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
          return {
            dir, base, child,
            stop: async () => {
              if (child.exitCode === null) {
                child.kill('SIGTERM');
                await new Promise((r) => child.once('exit', r));
              }
              removeUnlessMounted(dir);
            },
          };
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
