/** The validation grid's judgement (experiments/grid-figures.ts) on hand-made replays and replications. */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { durationScaleFor, gridMemorySizes, judgeCell, parseMemorySizes, rankPolicies, type RunFigures } from '../../experiments/grid-figures.js';
import { firstTouchGap, firstTouchGapText, loadsBefore, runGrid } from '../../experiments/grid.js';
import { buildPlan } from '../../experiments/plan.js';
import { defaultProfilePath } from '../../sim/profile.js';
import { SAMPLE10 } from '../helpers.js';

const run = (coldPct: number, p50 = 10, p99 = 100): RunFigures => ({ coldPct, p50, p99 });

describe('firstTouchGap', () => {
  it('puts the replays\' touch prices (median and range, replays without one left out) beside the charged one', () => {
    const g = firstTouchGap([3.6, undefined, 5.0, 4.32, 3.4], 2.88)!;
    expect(g).toEqual({ replays: 4, medianMsPerMb: 3.96, minMsPerMb: 3.4, maxMsPerMb: 5.0, chargedMsPerMb: 2.88 });
    // (3.96 - 2.88) / 2.88 = 37.5% -> 38%
    expect(firstTouchGapText(g)).toContain('the replays\' medians 3.40-5.00 (median 3.96 over 4 replays); the simulator charged 2.88 (+38% in the replays)');
  });
  it('names the free-memory prices when those were charged, and is undefined without any replay\'s figure', () => {
    const g = firstTouchGap([3.1], 2.88, { cheapMsPerMb: 2.81, dearMsPerMb: 4.39, cheapMb: 1680 })!;
    expect(firstTouchGapText(g)).toContain('charged 2.81 in the first 1680 MB and in memory just freed, 4.39 beyond (--free-memory; medians over the cells');
    expect(firstTouchGap([undefined, undefined], 2.88)).toBeUndefined();
  });
});

describe('judgeCell', () => {
  it('is inside the real spread and within tolerance when the simulator sits among tight replays', () => {
    const j = judgeCell([run(10), run(10.5), run(9.8)], [run(10.2), run(10.1), run(10.3)]);
    expect(j.figures.coldPct.inside).toBe(true);
    expect(j.figures.coldPct.toleranceApplies).toBe(true);
    expect(j.figures.coldPct.toleranceMet).toBe(true);
    expect(j.figures.coldPct.errorPct).toBeCloseTo(2, 5);
    expect(j.misses).toEqual([]);
  });

  it('names the figure and by how much it misses the spread', () => {
    const j = judgeCell([run(10), run(11), run(12)], [run(15), run(15), run(16)]);
    expect(j.figures.coldPct.inside).toBe(false);
    expect(j.misses.join(' ')).toMatch(/cold starts % outside the real spread by \+25\.0%/);
    // the replays agree within ±10% of their median (11): the tolerance applies and is missed (+36.4%)
    expect(j.figures.coldPct.toleranceApplies).toBe(true);
    expect(j.misses.join(' ')).toMatch(/cold starts % \+36\.4% against the real median, beyond ±10%/);
  });

  it('does not apply a tolerance the real replays themselves do not meet', () => {
    const j = judgeCell([run(10), run(14), run(20)], [run(13), run(14), run(15)]);
    // replays spread ±43% around 14: only the band is judged
    expect(j.figures.coldPct.toleranceApplies).toBe(false);
    expect(j.figures.coldPct.inside).toBe(true);
    expect(j.misses).toEqual([]);
  });

  it('gives p99 its wider tolerance (±25%)', () => {
    const j = judgeCell([run(10, 10, 100), run(10, 10, 110), run(10, 10, 105)], [run(10, 10, 128)]);
    expect(j.figures.p99.toleranceMet).toBe(true); // +21.9%
    expect(j.figures.p99.inside).toBe(false);
  });
});

describe('rankPolicies', () => {
  const cell = (policy: string, real: number[], sim: number[]) => ({ policy, real: real.map((x) => run(x)), sim: sim.map((x) => run(x)) });

  it('counts only pairs whose real ranges do not overlap, and finds agreement', () => {
    const r = rankPolicies([cell('lru', [10, 11, 12], [11]), cell('gdsf', [20, 21, 22], [19]), cell('ttl', [11.5, 13, 14], [30])]);
    // lru–gdsf clear (concordant), gdsf–ttl clear (sim: ttl 30 > gdsf 19, real: ttl < gdsf: discordant), lru–ttl overlap
    expect(r.clearPairs).toBe(2);
    expect(r.concordant).toBe(1);
    expect(r.discordant).toBe(1);
    expect(r.tau).toBe(0);
    expect(r.agree).toBe(false);
    expect(r.disagreements).toEqual(['real: ttl < gdsf; sim: the other way round']);
  });

  it('has no tau when no pair is clear', () => {
    const r = rankPolicies([cell('a', [10, 20], [1]), cell('b', [15, 25], [2])]);
    expect(r.clearPairs).toBe(0);
    expect(r.tau).toBeUndefined();
  });

  it('counts a tie in the simulator on a clear pair as not agreeing', () => {
    const r = rankPolicies([cell('a', [10, 11], [5]), cell('b', [20, 21], [5])]);
    expect(r).toMatchObject({ clearPairs: 1, concordant: 0, discordant: 0, simTies: 1, tau: 0, agree: false });
  });
});

describe('grid sizes and loads', () => {
  it('reads the memory sizes chosen before per plan hash, and names the file and the plan on bad input', () => {
    const a = 'a'.repeat(64);
    const b = '0123456789abcdef'.repeat(4);
    expect(parseMemorySizes(JSON.stringify({ [a]: [512, 1024, 4096], [b]: [640] }), 'g/memory-sizes.json')).toEqual({ [a]: [512, 1024, 4096], [b]: [640] });
    expect(() => parseMemorySizes('{', 'g/memory-sizes.json')).toThrow(/g\/memory-sizes\.json: not JSON/);
    expect(() => parseMemorySizes('[]', 'f.json')).toThrow(/f\.json: expected an object/);
    expect(() => parseMemorySizes(JSON.stringify({ low: [512] }), 'f.json')).toThrow(/key "low" is not a plan sha256/);
    expect(() => parseMemorySizes(JSON.stringify({ [a]: [1024, 512] }), 'f.json')).toThrow(/plan aaaaaaaaaaaa: memory sizes must be ascending/);
    expect(() => parseMemorySizes(JSON.stringify({ [a]: [] }), 'f.json')).toThrow(/ascending whole MB/);
    expect(() => parseMemorySizes(JSON.stringify({ [a]: [512.5] }), 'f.json')).toThrow(/ascending whole MB/);
  });

  it('spans heavy eviction to none, never below the largest function', () => {
    expect(gridMemorySizes(4000, 199)).toEqual([512, 1024, 2048, 8000]);
    // an eighth and a quarter (100, 200 MB) are less than the largest function needs (263 MB): still four sizes
    expect(gridMemorySizes(800, 199)).toEqual([320, 384, 448, 1600]);
    // "none" leaves a policy that keeps 20% free (openlambda) room for more than the estimated peak
    const top = gridMemorySizes(7347, 199)[3]!;
    expect(top * 0.8).toBeGreaterThan(7347 * 1.25);
  });

  it('scales the duration so handlers and calls use the asked share of the cores', () => {
    // handlers 0.5 cores at ds 0.01, 20 calls/s at 2 ms each (0.04 cores); 60% of 1.8 cores = 1.08
    const ds = durationScaleFor(0.6, 1.8, 0.5, 0.01, 20, 2);
    expect(ds).toBeCloseTo(0.0208, 6);
    expect(() => durationScaleFor(0.5, 2, 0, 0.01, 1, 1)).toThrow(/no handler work/);
  });
});

describe('a grid folder keeps its plans', () => {
  const folder = () => mkdtempSync(join(tmpdir(), 'ol-grid-test-'));
  const fakeReplay = (dir: string, planSha256: string, durationScale: number) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ tool: 'ol-exp', kind: 'real', planSha256, complete: true, plan: { durationScale } }));
  };

  it('remembers each load\'s duration scale: loads.json, or the plans of complete replays in an older folder', () => {
    const d = folder();
    try {
      expect(loadsBefore(d)).toEqual({});
      fakeReplay(join(d, 'cells', 'near-sat-576MB-lru', 'real', '0'), 'f'.repeat(64), 0.016);
      mkdirSync(join(d, 'cells', 'comfortable-512MB-gdsf', 'real', '0'), { recursive: true }); // unfinished: no run.json
      expect(loadsBefore(d)).toEqual({ 'near-sat': { durationScale: 0.016 } });
      writeFileSync(join(d, 'loads.json'), JSON.stringify({ comfortable: { rho: 0.25, durationScale: 0.0068 } }));
      expect(loadsBefore(d)).toEqual({ comfortable: { rho: 0.25, durationScale: 0.0068 } });
      writeFileSync(join(d, 'loads.json'), JSON.stringify({ comfortable: { durationScale: 0.0068 } }));
      expect(() => loadsBefore(d)).toThrow(/loads\.json: load "comfortable" needs a share "rho"/);
      writeFileSync(join(d, 'loads.json'), '{');
      expect(() => loadsBefore(d)).toThrow(/loads\.json: not JSON/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('re-judged under another profile, keeps the replayed duration scale; refuses, replacing nothing, when the replays are of another plan', async () => {
    const d = folder();
    const lines: string[] = [];
    const made: number[] = [];
    const replay = join(d, 'cells', 'comfortable-1024MB-lru', 'real', '0');
    fakeReplay(replay, 'e'.repeat(64), 0.00123);
    try {
      await expect(runGrid({
        makePlan: async (ds) => {
          made.push(ds);
          return buildPlan({ trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 3] }, timeScale: 120, durationScale: ds, seed: 7, minMemMb: 64, memScale: 0.25 });
        },
        baseDurationScale: 0.001, policies: ['lru'], memory: [1024], loads: [{ name: 'comfortable', rho: 0.25 }], realRuns: 2, replicas: 1,
        backend: 'sock', calibrateN: 1, profilePath: defaultProfilePath, out: d, log: (s) => lines.push(s),
      })).rejects.toThrow(/holds 1 complete replay\(s\) of another plan .*comfortable-1024MB-lru.*nothing was replaced/);
      expect(made).toEqual([0.001, 0.00123]); // the base plan, then the load at the scale it was replayed at
      expect(lines.some((l) => /duration scale 0\.00123 as replayed before/.test(l))).toBe(true);
      expect(JSON.parse(readFileSync(join(replay, 'run.json'), 'utf8')).planSha256).toBe('e'.repeat(64));
      expect(existsSync(join(d, 'loads.json'))).toBe(false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
