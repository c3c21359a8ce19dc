/** The sandbox backend a config asks for (shared by the CLI, tests and benchmarks). */
import { join } from 'node:path';
import type { WorkerConfig } from './config.js';
import type { SandboxPool } from './sandbox/api.js';

export async function makePoolFor(c: WorkerConfig): Promise<SandboxPool> {
  if (c.sandbox === 'docker') {
    const { DockerPool } = await import('./sandbox/docker.js');
    const p = new DockerPool({ dir: join(c.worker_dir, 'sandboxes'), image: c.docker_image, owner: c.worker_dir, uid: c.sandbox_uid, gid: c.sandbox_gid });
    await p.check();
    return p;
  }
  const { SockPool } = await import('./sandbox/sock.js');
  return new SockPool({
    dir: join(c.worker_dir, 'sandboxes'), baseRoot: c.base_root, cgroupRoot: c.cgroup_root, cgroupVersion: c.cgroup_version,
    uid: c.sandbox_uid, gid: c.sandbox_gid,
  });
}
