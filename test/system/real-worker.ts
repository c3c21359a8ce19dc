/** A real worker in the test's own process, on loopback: started clean, and stopped with a count of what it left. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { WorkerConfig } from '../../worker/config.js';
import { makePoolFor } from '../../worker/pools.js';
import { buildApp, type Worker } from '../../worker/server.js';

export const BASE_ROOT = '/var/lib/ol-lab/ol-min';

/**
 * What a real-worker test on `backend` lacks, or undefined: root, the base
 * root, the Docker engine with the ol-min image, and any `files` it names
 * (path -> what provides it).
 */
export function prerequisites(backend: 'sock' | 'docker', files: Record<string, string> = {}): string | undefined {
  if (process.getuid?.() !== 0) return 'the real-worker tests need root';
  if (!existsSync(join(BASE_ROOT, '.ol-lab-base'))) return `no base root at ${BASE_ROOT}; run scripts/setup-host.sh`;
  for (const [f, what] of Object.entries(files)) if (!existsSync(f)) return `no ${f}: ${what}`;
  if (backend === 'docker' && spawnSync('docker', ['image', 'inspect', 'ol-min']).status !== 0) return 'no Docker engine with the ol-min image; run scripts/setup-host.sh';
  return undefined;
}

/** Removes what an earlier run left in `c`'s cgroups and folders, builds the worker and listens on a free loopback port. */
export async function startWorker(c: WorkerConfig): Promise<{ w: Worker; base: string }> {
  const pool = await makePoolFor(c);
  await pool.cleanup();
  const w = buildApp({ config: c, pool });
  await w.app.listen({ host: '127.0.0.1', port: 0 });
  return { w, base: `http://127.0.0.1:${(w.app.server.address() as { port: number }).port}` };
}

/** Stops the worker and checks it left no process, cgroup, container, sandbox folder or mount; `remove`: its folder too. */
export async function stopWorker(w: Worker | undefined, c: WorkerConfig, remove = false): Promise<void> {
  if (!w) return;
  const pool = await makePoolFor(c);
  await w.app.close();
  expect(await pool.census()).toEqual({ processes: 0, cgroups: 0, containers: 0, dirs: 0 });
  expect(readFileSync('/proc/self/mountinfo', 'utf8').includes(c.worker_dir)).toBe(false);
  if (remove) rmSync(c.worker_dir, { recursive: true, force: true });
}

/** A lambda as OpenLambda's clients upload it: a .tar.gz of the files given (name -> text) at its top level. */
export function tgz(files: Record<string, string>): Buffer {
  const d = mkdtempSync(join(tmpdir(), 'ol-tgz-'));
  try {
    for (const [n, t] of Object.entries(files)) writeFileSync(join(d, n), t);
    return execFileSync('tar', ['-czf', '-', '-C', d, ...Object.keys(files)]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
