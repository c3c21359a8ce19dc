import { describe, expect, it } from 'vitest';
import { simulate } from '../../sim/run.js';
import { checkSummary, SAMPLE10 } from '../helpers.js';

describe('determinism', () => {
  const spec = (seed: number, policy = 'hist') => ({
    trace: `azure2019:${SAMPLE10}`,
    traceOptions: { arrivals: 'poisson' as const, duration: 'sample' as const, minutes: [1, 240] as [number, number] },
    config: { policy, memoryMb: 4000, cores: 2, seed },
    machine: false,
  });

  it('the same trace, config and seed give a byte-identical summary', async () => {
    for (const policy of ['hist', 'rand', 'gdsf']) {
      const a = await simulate(spec(7, policy));
      const b = await simulate(spec(7, policy));
      checkSummary(a.summary);
      expect(JSON.stringify(a.summary)).toBe(JSON.stringify(b.summary));
    }
  });

  it('a different seed changes sampled arrivals, durations and costs', async () => {
    const a = await simulate(spec(7));
    const b = await simulate(spec(8));
    expect(a.summary.results.latencyMs).not.toEqual(b.summary.results.latencyMs);
    expect(a.summary.trace.sha256).toBe(b.summary.trace.sha256); // same input files
  });

  it('records seed, config, trace hash, version and machine', async () => {
    const { summary } = await simulate({ ...spec(3), machine: true });
    expect(summary.seed).toBe(3);
    expect(summary.config.memoryMb).toBe(4000);
    expect(summary.trace.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.olLabVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(summary.machine?.cores).toBeGreaterThan(0);
    expect(summary.machine?.memTotalMb).toBeGreaterThan(0);
  });
});
