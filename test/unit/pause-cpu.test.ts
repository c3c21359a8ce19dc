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
import { freezeFigures, modelFigures, type CostProfile } from '../../core/profile.js';
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

describe('a pause\'s freeze under load', () => {
  it('is fitted from the calibration\'s pauses beside spinning processes: idle figure and slope per runnable process per core', () => {
    // cores 2: medians 2 (beside 0), 12 (beside 4: 2 per core), 42 (beside 16: 8 per core), on the line 2 + 5x
    expect(freezeFigures({ spinning: [0, 0, 0, 4, 4, 4, 16, 16, 16], pauseMs: [1, 2, 9, 12, 11, 30, 42, 40, 50] }, 2)).toEqual({ idleMs: 2, loadMs: 5 });
    // a slope below 0 is none; the idle figure is not below 0
    expect(freezeFigures({ spinning: [0, 4], pauseMs: [3, 2] }, 2)).toEqual({ idleMs: 2.5, loadMs: 0 });
    expect(freezeFigures({ spinning: [0, 4], pauseMs: [0, 20] }, 2)).toEqual({ idleMs: 0, loadMs: 10 });
    // one load, no cores, malformed or absent: no figure
    expect(freezeFigures({ spinning: [0, 0], pauseMs: [1, 2] }, 2)).toBeUndefined();
    expect(freezeFigures({ spinning: [0, 4], pauseMs: [1, 2] }, undefined)).toBeUndefined();
    expect(freezeFigures({ spinning: [0, 4], pauseMs: [1] }, 2)).toBeUndefined();
    expect(freezeFigures(undefined, 2)).toBeUndefined();
    expect(modelFigures({ ...profile(), extra: { cores: 2, freezeUnderLoad: { spinning: [0, 4], pauseMs: [2, 12] } } }).freeze).toEqual({ idleMs: 2, loadMs: 5 });
  });

  it('is asked for by ol-exp sim --freeze-wait, which refuses a profile that has not timed it', async () => {
    const p = buildPlan({ trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 3] }, timeScale: 40, durationScale: 0.01, seed: 2, minMemMb: 64, memScale: 0.1 });
    await expect(runSim({ plan: p, out: join(dir, 'fw-none'), policy: 'openlambda', memoryMb: 6144, cores: 2, profile: profile(), createOnCpu: true, freezeWait: true }))
      .rejects.toThrow(/freeze wait: the profile .* has not timed pauses under load \(extra.freezeUnderLoad\)/);
    const withFreeze: CostProfile = { ...profile(), extra: { cores: 2, freezeUnderLoad: { spinning: [0, 4], pauseMs: [2, 12] } } };
    const lat = async (name: string, freezeWait: boolean) => {
      const out = join(dir, name);
      await runSim({ plan: p, out, policy: 'openlambda', memoryMb: 6144, cores: 2, profile: withFreeze, createOnCpu: true, freezeWait });
      const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { freezeWait?: unknown };
      const rows = readFileSync(join(out, 'invocations.csv'), 'utf8').trim().split('\n').slice(1);
      return { run, total: rows.reduce((s, l) => s + Number(l.split(',')[5]), 0), n: rows.length };
    };
    const off = await lat('fw-off', false), on = await lat('fw-on', true);
    expect(on.n).toBe(off.n);
    expect(off.run.freezeWait).toBeUndefined();
    expect(on.run.freezeWait).toEqual({ idleMs: 2, loadMs: 5 });
    // calls that find their sandbox still freezing wait: the latencies only grow
    expect(on.total).toBeGreaterThan(off.total);
  });
});
