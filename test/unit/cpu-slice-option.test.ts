/**
 * `ol-exp sim --cpu-slice` (and `grid --cpu-slice`): the cores shared in
 * time slices of the calibrated length (extra.cpuSliceMs, sim/cpu.ts
 * TimeSlicing) instead of processor sharing; the run records the slice,
 * and a profile that never measured one is refused by name.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeUnlessMounted } from '../../common/fs.js';
import type { CostProfile } from '../../core/profile.js';
import { buildPlan } from '../../experiments/plan.js';
import { runSim } from '../../experiments/sim.js';
import { constantProfile } from '../../sim/profile.js';
import { SAMPLE10 } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ol-cpu-slice-'));
afterAll(() => removeUnlessMounted(dir));

const profile = (extra: CostProfile['extra']): CostProfile => ({ ...constantProfile({ create: 30, warmDispatch: 1, unpause: 2 }), extra });

describe('ol-exp sim --cpu-slice', () => {
  // calls that overlap on 2 cores: processor sharing and slices give different latencies
  const p = buildPlan({ trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 10] }, timeScale: 120, durationScale: 0.05, seed: 5, minMemMb: 64, memScale: 0.25 });
  const run = async (name: string, pr: CostProfile, cpuSlice: boolean) => {
    const out = join(dir, name);
    await runSim({ plan: p, out, policy: 'lru', memoryMb: 4096, cores: 2, profile: pr, createOnCpu: true, cpuSlice });
    return { rows: readFileSync(join(out, 'invocations.csv'), 'utf8'), info: JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { cpuSliceMs: number } };
  };

  it('shares the cores in the profile\'s slices and records the slice', async () => {
    const measured = profile({ cores: 1.92, cpuSliceMs: 4 });
    const ps = await run('ps', measured, false);
    const sliced = await run('sliced', measured, true);
    expect(ps.info.cpuSliceMs).toBe(0);
    expect(sliced.info.cpuSliceMs).toBe(4);
    expect(sliced.rows).not.toBe(ps.rows);
    // the same invocations either way, only their timing differs
    expect(sliced.rows.split('\n').length).toBe(ps.rows.split('\n').length);
  });

  it('refuses a profile without a measured slice, naming it', async () => {
    await expect(run('none', profile({ cores: 1.92 }), true)).rejects.toThrow(/no measured time slice \(extra\.cpuSliceMs\)/);
  });
});
