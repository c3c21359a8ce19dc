/**
 * The answer's way back after a handler that worked (SimHooks.responseMs,
 * calibrated as extra.responseWake): on a virtual machine the idle cores
 * sleep while a handler works and wake slower the longer they slept, so a
 * call's latency grows by more than its handler's time. The curve, and
 * `ol-exp sim` adding it to each call's latency and to nothing else.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeUnlessMounted } from '../../common/fs.js';
import { modelFigures, responseCurve, type CostProfile } from '../../core/profile.js';
import { mergeCalibrations } from '../../experiments/calibrate.js';
import { buildPlan } from '../../experiments/plan.js';
import { runSim } from '../../experiments/sim.js';
import { constantProfile } from '../../sim/profile.js';
import { SAMPLE10 } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ol-response-wake-'));
afterAll(() => removeUnlessMounted(dir));

const withExtra = (extra: CostProfile['extra']): CostProfile => ({ ...constantProfile({ create: 30, warmDispatch: 1.5, unpause: 2 }), extra });

describe('the response-wake curve', () => {
  // the calibration of 2026-12-05: 1, 3, 6, 15, 40 ms of handler work
  const f = responseCurve({ workMs: [1, 3, 6, 15, 40], extraMs: [0.106, 0.269, 0.297, 0.448, 0.545] })!;

  it('is 0 at no work, linear between the measured times, flat past the longest', () => {
    expect(f(0)).toBe(0);
    expect(f(-1)).toBe(0);
    expect(f(0.5)).toBeCloseTo(0.053, 9);
    expect(f(1)).toBeCloseTo(0.106, 9);
    expect(f(2)).toBeCloseTo((0.106 + 0.269) / 2, 9);
    expect(f(10)).toBeCloseTo(0.297 + ((0.448 - 0.297) * 4) / 9, 9);
    expect(f(40)).toBeCloseTo(0.545, 9);
    expect(f(4000)).toBeCloseTo(0.545, 9);
  });

  it('clips a negative figure to 0 and leaves out malformed points', () => {
    const g = responseCurve({ workMs: [2, Number.NaN, 4], extraMs: [-0.1, 5, 0.4] })!;
    expect(g(2)).toBe(0);
    expect(g(3)).toBeCloseTo(0.2, 9);
    expect(g(9)).toBeCloseTo(0.4, 9);
  });

  it('is absent from profiles that never measured it, or measured nothing usable', () => {
    expect(modelFigures(withExtra(undefined)).responseMs).toBeUndefined();
    expect(modelFigures(withExtra({ cores: 2 })).responseMs).toBeUndefined();
    expect(responseCurve({ workMs: [1, 2], extraMs: [0.1] })).toBeUndefined();
    expect(responseCurve({ workMs: [0], extraMs: [0.1] })).toBeUndefined();
  });

  it('takes the median per handler time over merged calibrations', () => {
    const cal = (ys: number[]) => withExtra({ responseWake: { workMs: [2, 10], extraMs: ys } });
    const merged = mergeCalibrations([cal([0.1, 0.5]), cal([0.3, 0.4]), cal([0.2, 0.9])]);
    const g = modelFigures(merged).responseMs!;
    expect(g(2)).toBeCloseTo(0.2, 9);
    expect(g(10)).toBeCloseTo(0.5, 9);
  });
});

describe('ol-exp sim --response-wake', () => {
  it('adds the curve at each call\'s handler time to its latency when asked, and changes no decision', async () => {
    const p = buildPlan({ trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 10] }, timeScale: 120, durationScale: 0.02, seed: 7, minMemMb: 64, memScale: 0.25 });
    const rows = async (name: string, pr: CostProfile, responseWake = false) => {
      const out = join(dir, name);
      await runSim({ plan: p, out, policy: 'lru', memoryMb: 1024, cores: 2, profile: pr, createOnCpu: true, responseWake });
      return readFileSync(join(out, 'invocations.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    };
    const base = await rows('none', withExtra({ cores: 1.92 }));
    const measured = withExtra({ cores: 1.92, responseWake: { workMs: [1], extraMs: [0.5] } });
    // off unless asked for, measured or not
    expect(await rows('measured-off', measured)).toEqual(base);
    const woken = await rows('wake', measured, true);
    expect(woken.length).toBe(base.length);
    expect(base.length).toBeGreaterThan(100);
    let full = 0;
    for (let i = 0; i < base.length; i++) {
      const [b, w] = [base[i]!, woken[i]!];
      // the same invocation, start kind and status: the sandbox is free when its handler returns either way
      expect([w[0], w[1], w[2], w[6], w[7]]).toEqual([b[0], b[1], b[2], b[6], b[7]]);
      const extra = Number(w[5]) - Number(b[5]);
      expect(extra).toBeGreaterThanOrEqual(-0.002);
      expect(extra).toBeLessThanOrEqual(0.502);
      if (Math.abs(extra - 0.5) < 0.002) full++;
    }
    // most handlers here work a millisecond or more: the flat part of the curve
    expect(full).toBeGreaterThan(base.length / 2);
  });

  it('refuses --response-wake with a profile that never measured it, naming it', async () => {
    const p = buildPlan({ trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 3] }, timeScale: 120, durationScale: 0.02, seed: 7, minMemMb: 64, memScale: 0.25 });
    await expect(runSim({ plan: p, out: join(dir, 'refused'), policy: 'lru', memoryMb: 1024, cores: 2, profile: withExtra({ cores: 1.92 }), responseWake: true }))
      .rejects.toThrow(/has not measured it \(extra\.responseWake\)/);
  });
});
