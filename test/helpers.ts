/** Shared test helpers: run a simulation on rows and check the invariants every run must keep. */
import { expect } from 'vitest';
import { makeRng } from '../common/rng.js';
import { projectPath } from '../common/paths.js';
import { createPolicy } from '../core/policies/index.js';
import { SandboxRecord } from '../core/policy.js';
import { Route, SandboxPool, type PoolEffects, type PooledSandbox, type PoolOptions } from '../core/pool.js';
import { resolveSimConfig, type SimConfig } from '../sim/config.js';
import { compileProfile, constantProfile, type CostName } from '../sim/profile.js';
import { Simulator, type SimEvent, type SimHooks, type SimResult } from '../sim/simulator.js';
import type { SimSummary } from '../sim/summary.js';
import { ArrayTraceSource, type InvocationRow } from '../traces/memory.js';

export const SAMPLE10 = projectPath('traces', 'data', 'azure2019', '10');

/** A sandbox as core/pool.ts books it, for pool tests. */
export class PoolSb extends SandboxRecord implements PooledSandbox {
  footprint: number;
  active = 0;
  listed = false;
  availPrev: PooledSandbox | undefined = undefined;
  availNext: PooledSandbox | undefined = undefined;
  expiresAt = Infinity;
  constructor(id: number, fnId: number, mem: number, now: number) {
    super(id, fnId, `f${fnId}`, mem, now);
    this.footprint = mem;
  }
}

/**
 * A pool of `capacity` MB under `policy` (lru by default), with sandboxes
 * of the given sizes made and gone idle in order; what the pool destroyed
 * and paused is recorded.
 */
export function poolWith(capacity: number, sizes: number[], o: Partial<PoolOptions<PoolSb>> = {}, policy = 'lru') {
  const evicted: number[] = [];
  const destroyed: [number, string][] = [];
  const paused: number[] = [];
  const effects: PoolEffects<PoolSb> = {
    destroy: (sb, reason) => {
      destroyed.push([sb.id, reason]);
      if (reason === 'evicted') evicted.push(sb.id);
    },
    pause: (sb) => paused.push(sb.id), scheduleExpiry: () => {}, schedulePrewarm: () => {}, evictZygote: () => {},
  };
  const pool = new SandboxPool<PoolSb>({ capacityMb: capacity, policy: createPolicy(policy, { capacityMb: capacity, rng: makeRng(1, 't') }), effects, ...o });
  let now = 0;
  const sbs = sizes.map((mem, i) => {
    pool.invoked(i, now);
    expect(pool.route(i, mem, now, i)).toBe(Route.Cold);
    const sb = new PoolSb(pool.newId, i, mem, now);
    pool.admit(sb, now);
    return sb;
  });
  for (const sb of sbs) pool.release(sb, ++now);
  return { pool, evicted, destroyed, paused, sbs, now: () => ++now };
}

/** Invariants of any finished run, from its summary. */
export function checkSummary(s: SimSummary): void {
  const r = s.results;
  expect(r.completed + r.dropped).toBe(r.invocations);
  expect(r.coldStarts + r.warm + r.unpaused).toBe(r.completed);
  expect(r.memory.peakUsedMb).toBeLessThanOrEqual(s.config.memoryMb);
  const perFn = s.perFunction.reduce((a, f) => a + f.invocations, 0);
  expect(perFn).toBe(r.invocations);
  expect(s.perFunction.reduce((a, f) => a + f.cold, 0)).toBe(r.coldStarts);
}

/** Invariants of any finished run, from its raw result. */
export function checkResult(r: SimResult, memoryMb: number): void {
  expect(r.completed + r.dropped).toBe(r.invocations);
  expect(r.cold + r.warm + r.unpaused).toBe(r.completed);
  expect(r.peakUsedMb).toBeLessThanOrEqual(memoryMb);
}

/** Runs rows through a simulator with constant costs; returns the log and result. */
export function runRows(
  rows: InvocationRow[],
  config: Partial<SimConfig>,
  costs: Partial<Record<CostName, number>> = {},
  hooks: Omit<SimHooks, 'log'> = {},
): { log: SimEvent[]; result: SimResult; text: string[] } {
  const src = new ArrayTraceSource(rows);
  const log: SimEvent[] = [];
  const c = resolveSimConfig(config);
  const sim = new Simulator(c, compileProfile(constantProfile(costs)), src.functions, { ...hooks, log: (e) => log.push(e) });
  const result = sim.run(src.batches());
  checkResult(result, c.memoryMb);
  const text = log.map((e) => `${e.t} ${e.kind} ${e.fn}${e.inv !== undefined ? ` #${e.inv}` : ''}${e.sb !== undefined ? ` sb${e.sb}` : ''}`);
  return { log, result, text };
}
