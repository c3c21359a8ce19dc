/**
 * What a first touch of memory costs on this machine, as memory in use
 * grows. On a virtual machine whose balloon reports free pages to the
 * host (this project's Firecracker machines), the host takes freed memory
 * back a second or two after the guest frees it. The guest's free memory
 * the host has not taken back yet (just freed, or never reported) is
 * cheap to touch, about 2.7 ms per MB with the synthetic lambda's Python
 * loop; past it, a touch costs a host fault as well, about 4.3
 * (docs/notebook/2026-12-04-memory-warmth.md). So a new sandbox that
 * reuses memory an eviction has just freed touches cheaply, one that
 * grows the pool may not, and how much is cheap depends on what the
 * machine freed lately. The simulator charges one figure
 * (touchBusyMsPerMb) unless given `--free-memory` (sim/free-memory.ts).
 * On bare metal the two figures are the same.
 *
 * Measured in a child `python3` (the lambda's own loop: one byte per 4
 * KiB page of a bytearray; its memory goes when it exits), `stepMb` at a
 * time up to `maxMb` (at most a quarter of the free memory), holding what
 * it touched: the CPU per MB of each step.
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
  /** MB touched before the cost stayed above WARMTH_KNEE × warm for three steps (the cheap memory there was then: it depends on what the machine freed lately); null if it never did. */
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
    note: `CPU per MB of first touches (python3, one byte per 4 KiB page), ${stepMb} MB at a time, memory held as it grows; warm: the first steps; cold: from the first of three steps above ${WARMTH_KNEE} x warm`,
  };
}

const CHILD = `
import sys, time
step, top = int(sys.argv[1]), int(sys.argv[2])
held, out = [], []
for _ in range(top // step):
    c0 = time.process_time()
    h = bytearray(step * 1048576)
    for i in range(0, len(h), 4096):
        h[i] = 1
    out.append((time.process_time() - c0) * 1e3 / step)
    held.append(h)
print(out)
`;

/** Measures this machine's first-touch costs (about 10 s at the defaults); undefined without python3. */
export function measureMemoryWarmth(o: { maxMb?: number; stepMb?: number } = {}): MemoryWarmth | undefined {
  const step = o.stepMb ?? 40;
  const max = Math.min(o.maxMb ?? 2400, Math.floor((freemem() / 2 ** 20) * 0.25));
  const r = spawnSync('python3', ['-c', CHILD, String(step), String(max)], { encoding: 'utf8', maxBuffer: 1 << 20, timeout: 120_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
  if (r.status !== 0) throw new Error(`memory warmth: the measuring process failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.slice(0, 300)}`);
  return analyseWarmth(JSON.parse(r.stdout) as number[], step);
}
