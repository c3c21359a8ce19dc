/**
 * Cgroups for sandboxes, on cgroup v1 (one hierarchy per controller, as on
 * this project's machines) and v2 (one unified hierarchy). A sandbox gets one
 * cgroup with memory, pids and CPU limits and the freezer for pause and
 * unpause; everything lives under one root group per worker (`ol-lab` by
 * default) so a restarted worker can find and remove what a crashed one
 * left. The drivers: cgroup-v1.ts, cgroup-v2.ts; what they share:
 * cgroup-common.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../../common/errors.js';
import { V1Driver } from './cgroup-v1.js';
import { V2Driver } from './cgroup-v2.js';
import type { CgroupDriver } from './cgroup-common.js';

export { SANDBOX_CPU_SHARES, type Cgroup, type CgroupDriver, type CgroupLimits } from './cgroup-common.js';

/**
 * The driver for this machine: v2 when /sys/fs/cgroup is a unified
 * hierarchy, v1 when the controllers are mounted separately (hybrid systems
 * whose v2 hierarchy has no controllers count as v1). `prefer` forces one;
 * `freezerAnchor: false` leaves out v1's frozen anchor group (benchmarks
 * measure the freezer with and without it).
 */
export function cgroupDriver(root: string, prefer: 'auto' | 'v1' | 'v2' = 'auto', mount = '/sys/fs/cgroup', o: { freezerAnchor?: boolean; spares?: boolean } = {}): CgroupDriver {
  const isV2 = existsSync(join(mount, 'cgroup.controllers'));
  if (prefer === 'v2' || (prefer === 'auto' && isV2)) {
    if (!isV2) throw new OlError('OL_ERR_SANDBOX', `cgroup v2 was asked for, but ${mount} is not a unified hierarchy`);
    return new V2Driver(mount, root);
  }
  return new V1Driver(mount, root, o.freezerAnchor ?? true, o.spares ?? true);
}
