/**
 * The harness's CPU accounting group (common/cpu-accounting.ts) on this
 * machine's kernel: on v2 beside v1, where the harness joins a group of
 * the unified hierarchy, and on v2 alone, where it watches the workers'
 * roots (imitated here on the unified hierarchy, with a /proc/self/cgroup
 * of a v2-only machine). A process that burns CPU and ends before anyone
 * looks is still counted; the groups are gone afterwards. (v1 `cpuacct`
 * is checked by the experiments e2e test.)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { joinCpuGroup, unifiedPath } from '../../common/cpu-accounting.js';

const UNIFIED = '/sys/fs/cgroup/unified';
const usable = process.getuid?.() === 0 && existsSync(join(UNIFIED, 'cgroup.controllers'));
const BURN_MS = 300;

/** A child that burns about BURN_MS of CPU (first writing its pid to `procs`, if given) and exits. */
function burn(procs?: string): Promise<number> {
  const code = `${procs ? `require('fs').writeFileSync(${JSON.stringify(procs)}, String(process.pid));` : ''} const t = process.cpuUsage(); while ((process.cpuUsage(t).user + process.cpuUsage(t).system) < ${BURN_MS * 1000}) {}`;
  const c = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    c.on('error', reject);
    c.on('exit', (rc) => (rc === 0 ? resolve(c.pid!) : reject(new Error(`burner exited ${rc}`))));
  });
}

const made: string[] = [];
afterEach(() => {
  for (const d of made.reverse()) if (existsSync(d)) rmdirSync(d);
  made.length = 0;
});

describe.skipIf(!usable)('CPU accounting group (cgroup v2)', () => {
  it('beside v1: joins a unified group; a child that ends unseen is counted; the group goes on release', async () => {
    const home = unifiedPath(readFileSync('/proc/self/cgroup', 'utf8'));
    const acct = joinCpuGroup({ unified: UNIFIED });
    expect(acct).toBeDefined();
    const dir = join(UNIFIED, `ol-exp-acct-${process.pid}`);
    try {
      expect(existsSync(dir)).toBe(true);
      expect(acct!.group.holds(process.pid)).toBe(true);
      const before = acct!.group.usageMs();
      await burn();
      const used = acct!.group.usageMs() - before;
      expect(used).toBeGreaterThanOrEqual(BURN_MS * 0.9);
      expect(used).toBeLessThan(BURN_MS * 5);
    } finally {
      acct?.release();
    }
    expect(existsSync(dir)).toBe(false);
    expect(unifiedPath(readFileSync('/proc/self/cgroup', 'utf8'))).toBe(home);
  });

  it('v2 alone: watches the workers\' roots, keeps the CPU of removed sandboxes and of a root made again', async () => {
    const root = `ol-exp-watch-${process.pid}`;
    const top = join(UNIFIED, root);
    const acct = joinCpuGroup({ v2: UNIFIED, watch: [root], self: '0::/user.slice/x.scope\n' });
    expect(acct).toBeDefined();
    try {
      // nothing is joined on v2 alone
      expect(existsSync(join(UNIFIED, `ol-exp-acct-${process.pid}`))).toBe(false);
      expect(acct!.group.holds(process.pid)).toBe(false);
      const sandbox = async () => {
        const sb = join(top, 'w1', `sb`);
        mkdirSync(sb, { recursive: true });
        made.push(top, join(top, 'w1'), sb);
        await burn(join(sb, 'cgroup.procs'));
        rmdirSync(sb);
      };
      const u0 = acct!.group.usageMs();
      await sandbox();
      const u1 = acct!.group.usageMs();
      expect(u1 - u0).toBeGreaterThanOrEqual(BURN_MS * 0.9);
      // the root goes with its worker, then a new worker makes it again: nothing is taken back
      rmdirSync(join(top, 'w1'));
      rmdirSync(top);
      expect(acct!.group.usageMs()).toBe(u1);
      await sandbox();
      expect(acct!.group.usageMs() - u1).toBeGreaterThanOrEqual(BURN_MS * 0.9);
    } finally {
      acct?.release();
    }
  });
});
