/**
 * The figures the harness compares, for one side (real or simulated) and
 * between two: the fidelity targets, a run's cold starts and latency
 * percentiles, relative errors and the KS distance. A leaf module: the
 * comparison, the spread and the uncertainty all read it.
 */
import { percentile as pct } from '../common/stats.js';
import type { InvocationRow } from './run-files.js';

/** The fidelity targets: cold starts within 5%, p50 within 10%, p99 within 25%. */
export const TARGETS = { coldStartsPct: 5, p50Pct: 10, p99Pct: 25 };

/** The figures the targets judge, in the order reports give them. */
export type TargetFigure = 'coldStarts' | 'p50' | 'p99';
export const TARGET_FIGURES: readonly TargetFigure[] = ['coldStarts', 'p50', 'p99'];

/** Whether an error (percent) of one target figure is within its target. */
export function targetMet(figure: TargetFigure, errorPct: number): boolean {
  return Math.abs(errorPct) <= TARGETS[`${figure}Pct`];
}

export interface Side {
  invocations: number;
  failed: number;
  coldStarts: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

/** One run's figures: invocations, cold starts, latency percentiles. */
export function summarizeRun(rows: InvocationRow[]): Side {
  return side(rows).s;
}

export function side(rows: InvocationRow[]): { s: Side; lat: Float64Array } {
  const ok = rows.filter((r) => r.start !== 'failed' && Number.isFinite(r.latencyMs));
  const lat = Float64Array.from(ok.map((r) => r.latencyMs)).sort();
  return {
    s: {
      invocations: rows.length, failed: rows.length - ok.length, coldStarts: ok.filter((r) => r.start === 'cold').length,
      p50: pct(lat, 50), p90: pct(lat, 90), p99: pct(lat, 99), mean: lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length),
    },
    lat,
  };
}

/** Two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs. */
export function ksDistance(a: Float64Array, b: Float64Array): number {
  let i = 0, j = 0, d = 0;
  while (i < a.length && j < b.length) {
    const x = Math.min(a[i]!, b[j]!);
    while (i < a.length && a[i]! <= x) i++;
    while (j < b.length && b[j]! <= x) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}

/** (sim − real) / real in percent (0 when both are 0). */
export const err = (sim: number, real: number) => (real === 0 ? (sim === 0 ? 0 : Infinity) : ((sim - real) / real) * 100);

