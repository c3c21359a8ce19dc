/**
 * A pause's CPU from a calibration (`extra.backgroundCpu.pauseMs`): `ol-exp
 * sim` charges it, as CPU work nothing waits for, at every pause of a policy
 * that pauses idle sandboxes (openlambda), and nowhere else.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeUnlessMounted } from '../../common/fs.js';
import { modelFigures, type CostProfile } from '../../core/profile.js';
import { buildPlan } from '../../experiments/plan.js';
import { runSim } from '../../experiments/sim.js';
import { constantProfile } from '../../sim/profile.js';
import { SAMPLE10 } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ol-pause-cpu-'));
afterAll(() => removeUnlessMounted(dir));

const profile = (pauseMs?: number): CostProfile => ({
  ...constantProfile({ create: 30, warmDispatch: 1, unpause: 0.2, pause: 1 }),
  extra: { cores: 2, backgroundCpu: { callMs: 1, coldMs: 2, ...(pauseMs === undefined ? {} : { pauseMs }) } },
});

describe('a pause\'s CPU', () => {
  it('is read from the calibration, and is none in profiles from before it was measured', () => {
    expect(modelFigures(profile(1.25)).pauseBackgroundCpuMs).toBe(1.25);
    expect(modelFigures(profile()).pauseBackgroundCpuMs).toBe(0);
  });

  it('is charged by ol-exp sim at every pause of openlambda, and not under lru', async () => {
    const p = buildPlan({ trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 10] }, timeScale: 40, durationScale: 0.01, seed: 2, minMemMb: 64, memScale: 0.1 });
    /** The run's machine CPU (cpu.csv: cores busy over each interval), core-ms, and its invocations. */
    const busy = async (name: string, policy: string, pauseMs?: number) => {
      const out = join(dir, name);
      await runSim({ plan: p, out, policy, memoryMb: 6144, cores: 2, profile: profile(pauseMs), createOnCpu: true });
      const rows = readFileSync(join(out, 'cpu.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
      let prev = 0, total = 0;
      for (const [t, cores] of rows) { total += cores! * (t! - prev); prev = t!; }
      const calls = readFileSync(join(out, 'invocations.csv'), 'utf8').trim().split('\n').length - 1;
      return { total, calls };
    };
    const without = await busy('ol-0', 'openlambda', 0);
    const withPause = await busy('ol-5', 'openlambda', 5);
    expect(withPause.calls).toBe(without.calls);
    expect(without.calls).toBeGreaterThan(100);
    // nearly every call ends with its sandbox paused (5 ms each); the last ones' jobs may end after the run
    const extra = withPause.total - without.total;
    expect(extra).toBeGreaterThan(0.8 * 5 * without.calls);
    expect(extra).toBeLessThanOrEqual(5 * without.calls + 1e-6);
    // lru pauses nothing: the figure changes nothing
    const lru0 = await busy('lru-0', 'lru', 0), lru5 = await busy('lru-5', 'lru', 5);
    expect(lru5.total).toBeCloseTo(lru0.total, 6);
  });
});
