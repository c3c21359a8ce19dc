/**
 * Creation lanes from a calibration: when the calibration found at least
 * as many lanes as effective cores, creations were limited by the CPU (the
 * Docker engine's), and `ol-exp sim` with creation as CPU work runs them
 * without lanes, the cores sharing them out; fewer lanes than cores
 * (SOCK's creations serialise) stay lanes.
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

const dir = mkdtempSync(join(tmpdir(), 'ol-create-lanes-'));
afterAll(() => removeUnlessMounted(dir));

const withExtra = (extra: CostProfile['extra']): CostProfile => ({ ...constantProfile({ create: 120, warmDispatch: 1, unpause: 2 }), extra });

describe('creations limited by the cores', () => {
  it('are those whose calibration found as many lanes as effective cores (rounded), both measured', () => {
    const bound = (extra: CostProfile['extra']) => modelFigures(withExtra(extra)).createCpuBound;
    expect(bound({ cores: 1.91, createLanes: 2 })).toBe(true); // the docker calibration of 2026-12-05
    expect(bound({ cores: 1.927, createLanes: 1 })).toBe(false); // the sock one the same day
    expect(bound({ cores: 8, createLanes: 9 })).toBe(true);
    expect(bound({ cores: 8, createLanes: 4 })).toBe(false);
    expect(bound({ cores: 1, createLanes: 1 })).toBe(false); // one core: a lock and the core look alike
    expect(bound({ createLanes: 2 })).toBe(false); // cores not measured
    expect(bound({ cores: 2 })).toBe(false); // lanes not measured: unlimited anyway
    expect(bound(undefined)).toBe(false);
    expect(modelFigures(withExtra({ cores: 1.91, createLanes: 2 })).createLanes).toBe(2); // the figure itself is kept
  });

  it('run without lanes in ol-exp sim when creation is CPU work, and keep their lanes otherwise', async () => {
    // a burst of cold starts: 10 functions, a short window at a high time scale
    const p = buildPlan({ trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 10] }, timeScale: 120, durationScale: 0.02, seed: 3, minMemMb: 64, memScale: 0.25 });
    const lat = async (name: string, profile: CostProfile, createOnCpu: boolean) => {
      const out = join(dir, name);
      await runSim({ plan: p, out, policy: 'lru', memoryMb: 4096, cores: 2, profile, createOnCpu });
      return readFileSync(join(out, 'invocations.csv'), 'utf8');
    };
    const cpuBound = withExtra({ cores: 1.91, createLanes: 2 });
    const noLanes = withExtra({ cores: 1.91 });
    const oneLane = withExtra({ cores: 1.91, createLanes: 1 });
    // as CPU work: the CPU-bound profile runs exactly as one with no lanes measured
    const a = await lat('bound-cpu', cpuBound, true);
    expect(a).toBe(await lat('none-cpu', noLanes, true));
    expect(a).not.toBe(await lat('one-cpu', oneLane, true));
    // as fixed delays there is no CPU to share them out: the two lanes stay
    const b = await lat('bound-delay', cpuBound, false);
    expect(b).not.toBe(await lat('none-delay', noLanes, false));
  });
});
