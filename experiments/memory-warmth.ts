/**
 * How much a first touch of memory costs on this machine, as memory in use
 * grows. On a virtual machine whose host backs guest memory lazily and
 * takes freed memory back (a balloon's free page reporting, as on this
 * project's Firecracker machines), touching a page the host still backs
 * costs a guest page fault; touching one it took back costs a host fault
 * too. Here: about 2.7 ms per MB for the first 1.2-2 GB touched, then
 * about 4.3 beyond it; memory freed a moment ago is cheap again
 * (docs/notebook/2026-12-04-memory-warmth.md). A worker whose sandboxes
 * hold more than that pays the dearer figure for new sandboxes that do not
 * reuse memory just freed, so a first call's touching cost depends on the
 * pool's state, which the simulator's single figure (touchBusyMsPerMb)
 * does not follow. On bare metal both figures are the same.
 *
 * Measured in a child process (its memory goes when it exits): step MB
 * touched at a time, one byte per 4 KiB page, up to maxMb (at most a
 * quarter of the free memory), the CPU per MB of each step.
 */
import { spawnSync } from 'node:child_process';
import { freemem } from 'node:os';
import { median } from '../common/stats.js';

export interface MemoryWarmth {
  stepMb: number;
  /** CPU per MB of each step, ms, in order. */
  samplesMsPerMb: number[];
  /** The median of the first steps. */
  warmMsPerMb: number;
  /** MB touched before the cost stayed above WARMTH_KNEE × warm for three steps; null if it never did. */
  warmMb: number | null;
  /** The median of the steps from there on; null without a knee. */
  coldMsPerMb: number | null;
  note: string;
}

/** A step costing this many times the warm figure is a cold one. */
export const WARMTH_KNEE = 1.25;

/** Warm and cold figures from per-step costs (ms/MB). */
export function analyseWarmth(samples: number[], stepMb: number): MemoryWarmth {
  if (samples.length === 0) throw new Error('memory warmth: no steps measured');
  const r = (x: number) => Math.round(x * 1000) / 1000;
  const warm = median(samples.slice(0, Math.min(5, samples.length)));
  let knee = -1;
  for (let i = 0; i + 2 < samples.length; i++) {
    if (samples[i]! > WARMTH_KNEE * warm && samples[i + 1]! > WARMTH_KNEE * warm && samples[i + 2]! > WARMTH_KNEE * warm) {
      knee = i;
      break;
    }
  }
  return {
    stepMb,
    samplesMsPerMb: samples.map(r),
    warmMsPerMb: r(warm),
    warmMb: knee < 0 ? null : knee * stepMb,
    coldMsPerMb: knee < 0 ? null : r(median(samples.slice(knee))),
    note: `CPU per MB of first touches, ${stepMb} MB at a time, memory held as it grows (in a child process); warm: the first steps; cold: from the first of three steps above ${WARMTH_KNEE} x warm`,
  };
}

const CHILD = `
const step = Number(process.argv[1]), max = Number(process.argv[2]);
const held = [], out = [];
for (let mb = 0; mb + step <= max; mb += step) {
  const c0 = process.cpuUsage();
  const a = new Uint8Array(step * 1048576);
  for (let i = 0; i < a.length; i += 4096) a[i] = 1;
  const c = process.cpuUsage(c0);
  out.push((c.user + c.system) / 1000 / step);
  held.push(a);
}
process.stdout.write(JSON.stringify(out));
`;

/** Measures this machine's memory warmth (about 10 s of CPU at the defaults). */
export function measureMemoryWarmth(o: { maxMb?: number; stepMb?: number } = {}): MemoryWarmth {
  const step = o.stepMb ?? 40;
  const max = Math.min(o.maxMb ?? 2400, Math.floor((freemem() / 2 ** 20) * 0.25));
  const r = spawnSync(process.execPath, ['-e', CHILD, String(step), String(max)], { encoding: 'utf8', maxBuffer: 1 << 20, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`memory warmth: the measuring process failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.slice(0, 300)}`);
  return analyseWarmth(JSON.parse(r.stdout) as number[], step);
}
