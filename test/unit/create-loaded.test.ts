/**
 * Forked creations beside busy cores: the calibration times creations at
 * once beside no handler and beside spinning handlers, modelFigures fits
 * the part that shares the cores with the handlers and the wait for a core,
 * and the simulator charges both
 * (docs/notebook/2026-12-06-creations-under-load.md).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeUnlessMounted } from '../../common/fs.js';
import { constantProfile, createLoadedFigures, modelFigures, type CostProfile } from '../../core/profile.js';
import { buildPlan } from '../../experiments/plan.js';
import { runSim } from '../../experiments/sim.js';
import { runRows, SAMPLE10 } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ol-create-loaded-'));
afterAll(() => removeUnlessMounted(dir));

const costs = { create: 10, runtimeStart: 0, unpause: 2, destroy: 1, warmDispatch: 0, pause: 0 };

describe('creations under load, from a calibration', () => {
  // 2 cores, 10 at once: 200 ms with no handler (20 each); beside 4 spinning handlers 355 (the median), beside 16
  // 535: per creation 35.5 at x = 5/2 and 53.5 at x = 17/2, slope 18/6 = 3, intercept 35.5 - 7.5 = 28; an idle
  // creation without the shared part is 20 - 3 = 17, so busy cores add 28 - 17 = 11
  const rounds = { k: 10, spinning: [0, 0, 0, 4, 4, 4, 16, 16, 16], wallMs: [200, 190, 210, 350, 355, 360, 530, 535, 540] };

  it('fit the part shared with the handlers and the wait for a core by a line through the loads', () => {
    expect(createLoadedFigures({ createUnderLoad: rounds }, 2)).toEqual({ sandboxMs: 3, waitMs: 11 });
    expect(modelFigures({ ...constantProfile(costs), extra: { cores: 2, createUnderLoad: rounds } }).createLoaded).toEqual({ sandboxMs: 3, waitMs: 11 });
    // the rounds with no handler are the idle figure: 10 creations at once timed earlier on another worker are not used
    expect(createLoadedFigures({ createUnderLoad: rounds, concurrentCreations: { k: 10, wallMs: [400] } }, 2)).toEqual({ sandboxMs: 3, waitMs: 11 });
  });

  it('take the idle figure from the creations at once when no round ran without handlers (per creation)', () => {
    const loaded = { k: 10, spinning: [4, 16], wallMs: [355, 535] };
    expect(createLoadedFigures({ createUnderLoad: loaded, concurrentCreations: { k: 10, wallMs: [195, 200, 205] } }, 2)).toEqual({ sandboxMs: 3, waitMs: 11 });
    expect(createLoadedFigures({ createUnderLoad: loaded, concurrentCreations: { k: 5, wallMs: [100] } }, 2)).toEqual({ sandboxMs: 3, waitMs: 11 });
    expect(createLoadedFigures({ createUnderLoad: loaded }, 2)).toBeUndefined();
  });

  it('need two loads with handlers and the cores; the part is at least 0 and at most an idle creation, the wait at least 0', () => {
    expect(createLoadedFigures({ createUnderLoad: { k: 10, spinning: [0, 4, 4], wallMs: [200, 350, 360] } }, 2)).toBeUndefined();
    expect(createLoadedFigures({ createUnderLoad: rounds }, undefined)).toBeUndefined();
    expect(createLoadedFigures({ createUnderLoad: { ...rounds, wallMs: [200] } }, 2)).toBeUndefined();
    expect(modelFigures({ ...constantProfile(costs), extra: { cores: 2 } }).createLoaded).toBeUndefined();
    // slower with fewer handlers: no shared part; the mean per creation (44.5) less an idle one's 20
    expect(createLoadedFigures({ createUnderLoad: { k: 10, spinning: [0, 4, 16], wallMs: [200, 535, 355] } }, 2)).toEqual({ sandboxMs: 0, waitMs: 24.5 });
    // faster under load than idle: no wait; a slope past an idle creation is an idle creation
    expect(createLoadedFigures({ createUnderLoad: { k: 10, spinning: [0, 4, 16], wallMs: [200, 100, 1000] } }, 2)).toEqual({ sandboxMs: 15, waitMs: 0 });
  });

  it('are what ol-exp sim charges for forks: the shared part in place of the idle one, and the wait', async () => {
    const p = buildPlan({ trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 10] }, timeScale: 120, durationScale: 0.02, seed: 3, minMemMb: 64, memScale: 0.25 });
    const base = constantProfile({ create: 20, warmDispatch: 1, unpause: 2 }); // a fork: without a fork cost, the creation stands in
    const run = async (name: string, x: CostProfile['extra']) => {
      const out = join(dir, name);
      await runSim({ plan: p, out, policy: 'lru', memoryMb: 4096, cores: 2, profile: { ...base, extra: x }, createOnCpu: true });
      const csv = readFileSync(join(out, 'invocations.csv'), 'utf8');
      const cold = csv.trim().split('\n').slice(1).map((l) => l.split(',')).filter((c) => c[6] === 'cold').map((c) => Number(c[5]));
      return { csv, coldMean: cold.reduce((a, b) => a + b, 0) / cold.length };
    };
    const idle = await run('idle', { cores: 2, createLanes: 1, forkSandboxMs: 6 });
    const loaded = await run('loaded', { cores: 2, createLanes: 1, forkSandboxMs: 6, createUnderLoad: rounds });
    // the fitted shared part given as the idle one: only the wait differs
    const sameShare = await run('same-share', { cores: 2, createLanes: 1, forkSandboxMs: 3 });
    expect(loaded.csv).not.toBe(idle.csv);
    expect(loaded.csv).not.toBe(sameShare.csv);
    // the wait for a core makes cold starts slower than the same shares without it
    expect(loaded.coldMean).toBeGreaterThan(sameShare.coldMean);
    // and without the import cache (fresh sandboxes, no zygote) neither figure applies
    const fresh = (name: string, x: CostProfile['extra']) => runSim({ plan: { ...p, options: { ...p.options, importCache: false } }, out: join(dir, name), policy: 'lru', memoryMb: 4096, cores: 2, profile: { ...base, extra: x }, createOnCpu: true });
    await fresh('fresh-idle', { cores: 2, createLanes: 1, forkSandboxMs: 6 });
    await fresh('fresh-loaded', { cores: 2, createLanes: 1, forkSandboxMs: 6, createUnderLoad: rounds });
    expect(readFileSync(join(dir, 'fresh-loaded', 'invocations.csv'), 'utf8')).toBe(readFileSync(join(dir, 'fresh-idle', 'invocations.csv'), 'utf8'));
  });
});

describe('a creation that starts with every core busy', () => {
  it('waits createBusyWaitMs for a core, holding its lane, and none on an idle machine', () => {
    // 1 core, weight 3, wait 5. a's creation starts on an idle core: 0-10, its 100 ms handler from 10. b at 20
    // finds the core busy: waits to 25, then its 10 ms at 3/4 beside a's handler end at 25 + 10/0.75; its 5 ms
    // handler at 1/2 ends 10 later; a's handler ends when the core has done all 125 ms of work
    const { log } = runRows(
      [{ t: 0, fn: 'a', dur: 100, mem: 10 }, { t: 20, fn: 'b', dur: 5, mem: 10 }],
      { policy: 'lru', memoryMb: 1000, cores: 1, createOnCpu: true, createCpuWeight: 3, createLanes: 1, createBusyWaitMs: 5 }, costs,
    );
    const at = (kind: string, fn: string) => log.find((e) => e.kind === kind && e.fn === fn)!.t;
    expect(at('exec', 'a')).toBeCloseTo(10, 9);
    expect(at('exec', 'b')).toBeCloseTo(25 + 10 / 0.75, 9);
    expect(at('done', 'b')).toBeCloseTo(25 + 10 / 0.75 + 10, 9);
    expect(at('done', 'a')).toBeCloseTo(125, 9);
    expect(() => runRows([], { createBusyWaitMs: 5 })).toThrow(/create-busy-wait-ms: needs create-on-cpu/);
    expect(() => runRows([], { createOnCpu: true, createBusyWaitMs: -1 })).toThrow(/create-busy-wait-ms: must be a number of ms >= 0, got -1/);
  });
});
