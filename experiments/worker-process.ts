/** Starting a real worker as its own process, for the harness and calibration. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
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

export async function spawnWorker(over: Omit<Partial<WorkerConfig>, 'limits'> & { limits?: Partial<SandboxLimits> }, lambdas: { name: string; src: string; yaml?: string; requirements?: string }[]): Promise<WorkerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'ol-exp-worker-'));
  const c = defaultConfig(dir);
  const port = 30000 + Math.floor(Math.random() * 20000);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...c, port, log_level: 'warn', ...over, limits: { ...c.limits, ...(over.limits ?? {}) } }, null, 2));
  for (const l of lambdas) {
    const d = join(c.registry, l.name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'f.py'), l.src);
    if (l.yaml) writeFileSync(join(d, 'ol.yaml'), l.yaml);
    if (l.requirements) writeFileSync(join(d, 'requirements.txt'), l.requirements);
  }
  const child = spawn(process.execPath, [projectPath('dist', 'worker', 'cli.js'), 'up', '--path', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { if (err.length < 4000) err += d; });
  const base = new URL(`http://127.0.0.1:${port}`);
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) {
      removeUnlessMounted(dir);
      throw new OlError('OL_ERR_CONFIG', `the worker exited at start: ${err.trim()}`);
    }
    try {
      if ((await fetch(new URL('/status', base))).ok) {
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
  child.kill('SIGKILL');
  throw new OlError('OL_ERR_CONFIG', 'the worker did not answer within 60 s');
}
