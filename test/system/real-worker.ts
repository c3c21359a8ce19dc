/** A real worker in the test's own process, on loopback: started clean, and stopped with a count of what it left. */
import { readFileSync, rmSync } from 'node:fs';
import { expect } from 'vitest';
import type { WorkerConfig } from '../../worker/config.js';
import { makePoolFor } from '../../worker/pools.js';
import { buildApp, type Worker } from '../../worker/server.js';

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
