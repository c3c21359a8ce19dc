/** The sandbox backend a config asks for (shared by the CLI, tests and benchmarks). */
import { join } from 'node:path';
import type { WorkerConfig } from './config.js';
import type { SandboxPool } from './sandbox/api.js';
import type { SockPool } from './sandbox/sock.js';

export async function makePoolFor(c: WorkerConfig): Promise<SandboxPool> {
  if (c.sandbox === 'docker') {
    const { DockerPool } = await import('./sandbox/docker.js');
    let jobs;
    try {
      jobs = await sockPool(c, 'jobs');
    } catch {
      jobs = undefined; // installs then fail with a clear error; lambdas without packages still run
    }
    const p = new DockerPool({ dir: join(c.worker_dir, 'sandboxes'), image: c.docker_image, pause: c.docker_pause, owner: c.worker_dir, uid: c.sandbox_uid, gid: c.sandbox_gid, jobs });
    await p.check();
    return p;
  }
  return sockPool(c, 'sandboxes');
}

async function sockPool(c: WorkerConfig, sub: string): Promise<SockPool> {
  const { SockPool } = await import('./sandbox/sock.js');
  return new SockPool({
    dir: join(c.worker_dir, sub), baseRoot: c.base_root, cgroupRoot: sub === 'sandboxes' ? c.cgroup_root : `${c.cgroup_root}-${sub}`,
    cgroupVersion: c.cgroup_version, uid: c.sandbox_uid, gid: c.sandbox_gid,
  });
}
