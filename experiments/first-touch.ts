/**
 * What the synthetic lambda's first calls paid to touch their memory in a
 * real replay, as it measured itself (`handler-times.csv`): the CPU per MB
 * of each cold start's touching. The simulator charges the calibration's
 * figure (`extra.touchBusyMsPerMb`); on this project's virtual machines
 * the real figure moves with the machine's memory state, 0.5-0.7 ms/MB on
 * one boot and 2.9-3.8 on another (docs/notebook/2026-12-04-fresh-boot.md),
 * so the comparison report puts the replays' figure beside the
 * calibration's: a validation is only comparable with one whose replays
 * touched memory at a similar price. A leaf module (file reading only).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { median } from '../common/stats.js';

/** `handler-times.csv`: what the synthetic lambda measured of itself, per invocation (CPU and wall ms). */
export const HANDLER_TIMES_HEADER = ['inv', 'touch_cpu_ms', 'touch_wall_ms', 'work_cpu_ms', 'work_wall_ms'];

/** MB the synthetic lambda touches on a sandbox's first call, for a function of `memMb`. */
export function touchMb(memMb: number): number {
  return Math.max(0, Math.min(memMb / 4, memMb - 48));
}

export interface FirstTouch {
  /** Cold starts whose touch CPU the lambda reported (and that touched any memory). */
  calls: number;
  /** The median CPU per MB touched, ms. */
  medianMsPerMb: number;
}

/**
 * The median touch CPU per MB over the cold starts among `rows` (a run's
 * invocations), from `touchCpuMs` (invocation number → the lambda's own
 * touch CPU, ms) and each function's memory; undefined if no cold start
 * reported any.
 */
export function firstTouchOf(rows: readonly { inv: number; fn: string; start: string }[], touchCpuMs: ReadonlyMap<number, number>, memMbOf: ReadonlyMap<string, number>): FirstTouch | undefined {
  const perMb: number[] = [];
  for (const r of rows) {
    if (r.start !== 'cold') continue;
    const cpu = touchCpuMs.get(r.inv);
    const mb = touchMb(memMbOf.get(r.fn) ?? 0);
    if (cpu === undefined || !(mb > 0)) continue;
    perMb.push(cpu / mb);
  }
  return perMb.length ? { calls: perMb.length, medianMsPerMb: Math.round(median(perMb) * 1000) / 1000 } : undefined;
}

/** The touch CPU per invocation in a run folder's `handler-times.csv` (empty if it has none: a simulated run, or older). */
export function readTouchCpu(dir: string): Map<number, number> {
  const out = new Map<number, number>();
  const path = join(dir, 'handler-times.csv');
  if (!existsSync(path)) return out;
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines[0]!.trim() !== HANDLER_TIMES_HEADER.join(',')) throw new OlError('OL_ERR_TRACE_FORMAT', `${path}:1: expected the header ${HANDLER_TIMES_HEADER.join(',')}, got ${JSON.stringify(lines[0]!.slice(0, 100))}`);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const f = line.split(',');
    const inv = Number(f[0]), cpu = Number(f[1]);
    if (!Number.isInteger(inv) || inv < 0 || !Number.isFinite(cpu) || cpu < 0 || f[1] === '') {
      throw new OlError('OL_ERR_TRACE_LINE', `${path}:${i + 1}: expected an invocation number and a touch CPU (ms >= 0), got ${JSON.stringify(line.slice(0, 100))}`);
    }
    out.set(inv, cpu);
  }
  return out;
}

/** A real run folder's first-touch figure (its own invocations and handler times); undefined without any. */
export function readFirstTouch(dir: string, rows: readonly { inv: number; fn: string; start: string }[], functions: readonly { name: string; memMb: number }[]): FirstTouch | undefined {
  return firstTouchOf(rows, readTouchCpu(dir), new Map(functions.map((f) => [f.name, f.memMb])));
}

/** The comparison report's line: the replays' first touches beside the calibrations' figures. */
export interface FirstTouchSummary {
  replays: ({ label: string } & FirstTouch)[];
  /** Each calibration's touch CPU per MB, one first call alone and beside other first calls (what the simulator charges). */
  calibrations: { label: string; aloneMsPerMb?: number; busyMsPerMb?: number }[];
  /** What the simulated run charged where it priced first touches by the host's free memory (--free-memory), and where those figures came from. */
  freeMemory?: { cheapMsPerMb: number; dearMsPerMb: number; cheapMb: number; from: string };
}

/** What the simulator charged: the free-memory prices where it used them (the calibrations' one figure beside), else each calibration's figure. */
export function chargedText(f: FirstTouchSummary): string {
  const cals = f.calibrations.map((c) => `${c.label} ${c.busyMsPerMb?.toFixed(2) ?? '?'}${f.freeMemory ? '' : ' charged'} (${c.aloneMsPerMb?.toFixed(2) ?? '?'} alone)`).join(', ');
  if (!f.freeMemory) return cals || 'no calibration given';
  const m = f.freeMemory;
  return `the simulator charged ${m.cheapMsPerMb.toFixed(2)} in the first ${Math.round(m.cheapMb)} MB and in memory just freed, ${m.dearMsPerMb.toFixed(2)} beyond (${m.from})${cals ? `; the one figure, not charged: ${cals}` : ''}`;
}

/** One line of text for the summary. */
export function firstTouchText(f: FirstTouchSummary): string {
  const reps = f.replays.map((r) => `${r.label} ${r.medianMsPerMb.toFixed(2)} (${r.calls} cold starts)`).join(', ');
  return `first touches of memory, the lambda's own CPU per MB (median over cold starts): ${reps || 'no replay reported any'}; ${chargedText(f)} (the price moves with the machine's memory state: compare validations whose figures are alike)`;
}
