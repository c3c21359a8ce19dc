/**
 * Golden numbers: every policy on the bundled 10-function Azure sample at
 * several memory sizes, exact counts asserted. When a change to the model
 * is intended, print and store new goldens with
 *   OL_UPDATE_GOLDEN=1 npx vitest run test/unit/golden.test.ts
 * and explain the change in the commit.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../../common/paths.js';
import { evictionPolicies } from '../../core/policies/index.js';
import { simulate } from '../../sim/run.js';
import { checkSummary, SAMPLE10 } from '../helpers.js';

const GOLDEN = projectPath('test', 'unit', 'golden', 'sim-golden.json');
const update = process.env.OL_UPDATE_GOLDEN === '1';
const cases = Object.keys(evictionPolicies).flatMap((policy) => [
  ...[2000, 8000, 32000].map((memoryMb) => ({ policy, memoryMb, queue: 'wait' as const })),
  { policy, memoryMb: 2000, queue: 'drop' as const },
]);
const stored: Record<string, unknown> = existsSync(GOLDEN) ? JSON.parse(readFileSync(GOLDEN, 'utf8')) : {};
const fresh: Record<string, unknown> = {};

describe('golden counts on the 10-function Azure 2019 sample', () => {
  for (const c of cases) {
    const key = `${c.policy}@${c.memoryMb}MB/${c.queue}`;
    it(key, async () => {
      const { summary } = await simulate({
        trace: `azure2019:${SAMPLE10}`, config: { ...c, cores: 2, seed: 1 }, machine: false,
      });
      checkSummary(summary);
      const r = summary.results;
      const got = {
        invocations: r.invocations, cold: r.coldStarts, warm: r.warm, unpaused: r.unpaused,
        queued: r.queued, dropped: r.dropped, evictions: r.evictions, expirations: r.expirations, prewarms: r.prewarms,
      };
      fresh[key] = got;
      if (update) {
        console.log(key, JSON.stringify(got));
        return;
      }
      expect(stored[key], `no golden for ${key}; run with OL_UPDATE_GOLDEN=1`).toBeDefined();
      expect(got).toEqual(stored[key]);
    });
  }

  it.runIf(update)('writes the new goldens', () => {
    writeFileSync(GOLDEN, JSON.stringify(fresh, null, 1) + '\n');
  });
});
