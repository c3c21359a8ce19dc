/** Shared test helpers: run a simulation on rows and check the invariants every run must keep. */
import { expect } from 'vitest';
import { projectPath } from '../common/paths.js';
import { resolveSimConfig, type SimConfig } from '../sim/config.js';
import { compileProfile, constantProfile, type CostName } from '../sim/profile.js';
import { Simulator, type SimEvent, type SimHooks, type SimResult } from '../sim/simulator.js';
import type { SimSummary } from '../sim/summary.js';
import { ArrayTraceSource, type InvocationRow } from '../traces/memory.js';

export const SAMPLE10 = projectPath('traces', 'data', 'azure2019', '10');

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
