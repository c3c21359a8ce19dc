/** Two-mode grid cells judged by their shares (experiments/modes.ts), on hand-worked tables. */
import { describe, expect, it } from 'vitest';
import { figureModes, figureModesText, fisherExact, judgeModes, modesText } from '../../experiments/modes.js';
import { insideOrShares, judgeCell, type RunFigures } from '../../experiments/grid-figures.js';

describe('fisherExact', () => {
  it('sums the hypergeometric probabilities of the tables no likelier than the one seen', () => {
    // margins 3 real, 11 sim, 3 in the upper mode: P(x real upper) = C(3,x) C(11,3-x) / C(14,3) = 165, 165, 33, 1 over 364
    expect(fisherExact(3, 0, 0, 11)).toBeCloseTo(1 / 364, 12);
    expect(fisherExact(2, 1, 1, 10)).toBeCloseTo(34 / 364, 12);
    // the likeliest tables: every table counts
    expect(fisherExact(1, 2, 2, 9)).toBeCloseTo(1, 12);
    expect(fisherExact(0, 3, 3, 8)).toBeCloseTo(1, 12);
  });
  it('is symmetric in rows and columns and refuses what is not a count', () => {
    expect(fisherExact(2, 1, 1, 10)).toBeCloseTo(fisherExact(1, 10, 2, 1), 12);
    expect(fisherExact(2, 1, 1, 10)).toBeCloseTo(fisherExact(2, 1, 1, 10), 12);
    expect(() => fisherExact(1.5, 1, 1, 1)).toThrow(/counts/);
    expect(() => fisherExact(-1, 1, 1, 1)).toThrow(/counts/);
  });
});

describe('judgeModes', () => {
  it('finds two modes when a gap wider than either group splits the runs, and compares the shares', () => {
    // real: two escaped the cascade (20, 22), one cascaded (40); sim: 3 of 11 cascaded
    const m = judgeModes([20, 22, 40], [19, 20, 21, 21, 22, 23, 20, 21, 39, 41, 40], 10)!;
    expect(m.lower).toEqual({ min: 19, max: 23 });
    expect(m.upper).toEqual({ min: 39, max: 41 });
    expect([m.realUpper, m.realRuns, m.simUpper, m.simRuns]).toEqual([1, 3, 3, 11]);
    // [[1, 2], [3, 8]]: every table with these margins is at most as likely -> p = 1
    expect(m.pValue).toBeCloseTo(1, 9);
    expect(m.sharesAgree).toBe(true);
    expect(modesText(m, (x) => `${x}%`)).toBe('two modes (19%–23% and 39%–41%): real 1 of 3 in the upper, sim 3 of 11; shares agree (Fisher p = 1.000)');
  });
  it('says the shares differ when every real replay cascaded and almost no replication did', () => {
    const m = judgeModes([40, 41, 42], [20, 21, 22, 20, 21, 22, 20, 21, 22, 20, 41], 10)!;
    expect([m.realUpper, m.simUpper]).toEqual([3, 1]);
    // [[3, 0], [1, 10]]: P(3) = C(4,3) C(10,0) / C(14,3) = 4/364; P(0) = C(10,3)/364 = 120/364 is likelier
    expect(m.pValue).toBeCloseTo(4 / 364, 12);
    expect(m.sharesAgree).toBe(false);
  });
  it('is not two-mode when the simulator is merely off a one-mode real cell, or the runs are one group', () => {
    // real all low, sim all high: neither side spans both groups; the ordinary judgement covers it
    expect(judgeModes([20, 21, 22], [30, 31, 30, 32, 31], 10)).toBeUndefined();
    // one group: the largest gap is no wider than a group's own range
    expect(judgeModes([20, 22, 24], [21, 23, 25, 26, 22], 10)).toBeUndefined();
    // a gap narrower than the tolerance's share of the median is no second mode (p99 ±25%)
    expect(judgeModes([100, 100, 112], [100, 100, 112, 112], 25)).toBeUndefined();
    // a mode of one run only
    expect(judgeModes([20, 21, 40], [20, 21, 22, 21], 10)).toBeUndefined();
    expect(judgeModes([1, 2], [1], 10)).toBeUndefined();
  });
});

describe('judgeCell with two modes', () => {
  const run = (coldPct: number): RunFigures => ({ coldPct, p50: 10, p99: 100 });
  it('keeps the median\'s miss but says the shares agree, which is the verdict for a two-mode figure', () => {
    // real: 2 of 3 cascaded (median 40); sim: 4 of 11 (median 20): outside the real spread 21-41, shares alike
    const j = judgeCell([21, 40, 41].map(run), [19, 20, 19, 20, 19, 20, 20, 40, 41, 42, 40].map(run));
    const c = j.figures.coldPct;
    expect(c.inside).toBe(false);
    expect(c.modes?.sharesAgree).toBe(true);
    expect(insideOrShares(c)).toBe(true);
    // [[2, 1], [4, 7]]: C(3,x) C(11,6-x) / C(14,6) = 462, 1386, 990, 165 over 3003; p = (462 + 990 + 165) / 3003
    expect(c.modes?.pValue).toBeCloseTo(1617 / 3003, 12);
    expect(j.misses.find((x) => x.startsWith('cold starts % outside'))).toContain('but in two modes (19.0%–21.0% and 40.0%–42.0%): real 2 of 3 in the upper, sim 4 of 11; shares agree (Fisher p = 0.538)');
    // p50 and p99 are one value throughout: no modes
    expect(j.figures.p50.modes).toBeUndefined();
  });
  it('names a two-mode figure whose shares differ as a miss, and judges it so, even when its median lies inside', () => {
    // real: 2 of 3 cascaded; sim: none of 11 did (median 21, inside the real 20-41)
    const j = judgeCell([20, 40, 41].map(run), [20, 21, 22, 20, 21, 22, 21, 20, 21, 22, 21].map(run));
    const c = j.figures.coldPct;
    expect(c.inside).toBe(true);
    // [[2, 1], [0, 11]]: P(2) = C(2,2) C(12,1) / C(14,3) = 12/364, P(1) = 2*66/364 = 132/364, P(0) = 220/364 -> p = 12/364
    expect(c.modes?.pValue).toBeCloseTo(12 / 364, 12);
    expect(insideOrShares(c)).toBe(false);
    expect(j.misses).toContain('cold starts % in two modes (20.0%–22.0% and 40.0%–41.0%): real 2 of 3 in the upper, sim 0 of 11; shares differ (Fisher p = 0.033)');
  });
});

describe('figureModes (validate\'s replays and replications)', () => {
  it('judges each figure with its own target\'s tolerance (5, 10, 25%) and leaves out those that do not split', () => {
    const r = (coldStarts: number, p99: number) => ({ coldStarts, p50: 13, p99 });
    // cold starts: 2 of 3 replays cascaded (93, 116), 4 of 11 replications did; p99 one group; p50 constant
    const real = [r(46, 5000), r(93, 5100), r(116, 5200)];
    const sim = [44, 45, 46, 47, 48, 45, 46, 95, 100, 110, 112].map((c) => r(c, 5050));
    const m = figureModes(real, sim);
    expect(Object.keys(m)).toEqual(['coldStarts']);
    expect(m.coldStarts).toMatchObject({ lower: { min: 44, max: 48 }, upper: { min: 93, max: 116 }, realUpper: 2, simUpper: 4, sharesAgree: true });
    expect(figureModesText(m)).toHaveLength(1);
    expect(figureModesText(m)[0]).toMatch(/^cold starts in two modes \(44–48 and 93–116\): real 2 of 3 in the upper, sim 4 of 11; shares agree/);
    expect(figureModes(real.slice(0, 1), sim.slice(0, 2))).toEqual({});
  });
});
