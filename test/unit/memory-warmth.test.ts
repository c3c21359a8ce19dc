/** Warm and cold first-touch figures from per-step costs (experiments/memory-warmth.ts), on made-up steps. */
import { describe, expect, it } from 'vitest';
import { analyseWarmth } from '../../experiments/memory-warmth.js';

describe('memory warmth', () => {
  it('finds where first touches turn dear and stay so, past a lone dear step', () => {
    // warm 2.7-2.9; one noisy step at 3.6 (not three in a row); from step 6 on, 4.2-4.5
    const w = analyseWarmth([2.8, 2.7, 2.9, 2.8, 3.6, 2.7, 4.2, 4.4, 4.3, 4.5, 4.2], 40);
    expect(w.warmMsPerMb).toBe(2.8);
    expect(w.warmMb).toBe(240);
    expect(w.coldMsPerMb).toBe(4.3);
    expect(w.samplesMsPerMb).toHaveLength(11);
  });

  it('no knee: every step alike (bare metal, or a warm set larger than measured)', () => {
    const w = analyseWarmth([2.8, 2.9, 3.0, 2.7, 2.8, 2.9, 3.1, 2.8], 40);
    expect(w.warmMb).toBeNull();
    expect(w.coldMsPerMb).toBeNull();
    expect(() => analyseWarmth([], 40)).toThrow(/no steps/);
  });
});
