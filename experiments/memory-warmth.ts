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
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { median } from '../common/stats.js';
import type { CostProfile } from '../sim/profile.js';

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
  /** Merged measurements (mergeWarmth): each one's figures, in order. */
  probes?: { warmMsPerMb: number; warmMb: number | null; coldMsPerMb: number | null }[];
}

/** A step costing this many times the warm figure is a cold one. */
export const WARMTH_KNEE = 1.25;

/** Steps after a knee whose median must be dear too (and, when the measurement stops at the knee, the steps it takes there): three noisy steps in a row are not a knee. */
export const AFTER_KNEE = 8;

/**
 * Warm and cold figures from per-step costs (ms/MB). The knee: the first of three steps in a row above
 * WARMTH_KNEE × warm whose next AFTER_KNEE steps (as many as there are) have a median above it too.
 */
export function analyseWarmth(samples: number[], stepMb: number): MemoryWarmth {
  if (samples.length === 0) throw new Error('memory warmth: no steps measured');
  const r = (x: number) => Math.round(x * 1000) / 1000;
  const warm = median(samples.slice(0, Math.min(5, samples.length)));
  const dear = WARMTH_KNEE * warm;
  let knee = -1;
  for (let i = 0; i + 2 < samples.length; i++) {
    if (samples[i]! > dear && samples[i + 1]! > dear && samples[i + 2]! > dear && median(samples.slice(i, i + AFTER_KNEE)) > dear) {
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
    note: `CPU per MB of first touches (python3, one byte per 4 KiB page), ${stepMb} MB at a time, memory held as it grows; warm: the first steps; cold: from the first of three steps above ${WARMTH_KNEE} x warm whose next ${AFTER_KNEE} have a median above it too`,
  };
}

/**
 * The child's stop rule, in Python: true once the step AFTER_KNEE back is the knee analyseWarmth finds
 * (three dear steps in a row whose AFTER_KNEE steps from there have a dear median), checked at every
 * step. Exported for the parity test (test/unit/memory-warmth.test.ts), which feeds this text and
 * analyseWarmth the same steps: the rule must stay one rule in two languages.
 */
export const CHILD_STOP_RULE = `
def med(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
def past_knee(out, knee):
    if len(out) < ${AFTER_KNEE}:
        return False
    i, dear = len(out) - ${AFTER_KNEE}, knee * med(out[:5])
    return all(x > dear for x in out[i:i + 3]) and med(out[i:]) > dear
`;

const CHILD = `
import sys, time
step, top, knee = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
${CHILD_STOP_RULE}
held, out = [], []
for _ in range(top // step):
    c0 = time.process_time()
    h = bytearray(step * 1048576)
    for i in range(0, len(h), 4096):
        h[i] = 1
    out.append((time.process_time() - c0) * 1e3 / step)
    held.append(h)
    if knee > 0 and past_knee(out, knee):
        break
print(out)
`;

/**
 * Measures this machine's first-touch costs (about 10 s at the defaults); undefined without python3.
 * `stopAfterKnee`: stop AFTER_KNEE steps past the knee (a probe before each replay: a second or two
 * where the knee is, and it frees what it touched long before the replay's first request).
 */
export function measureMemoryWarmth(o: { maxMb?: number; stepMb?: number; stopAfterKnee?: boolean } = {}): MemoryWarmth | undefined {
  const step = o.stepMb ?? 40;
  const max = Math.min(o.maxMb ?? 2400, Math.floor((freemem() / 2 ** 20) * 0.25));
  const r = spawnSync('python3', ['-c', CHILD, String(step), String(max), String(o.stopAfterKnee ? WARMTH_KNEE : 0)], { encoding: 'utf8', maxBuffer: 1 << 20, timeout: 120_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
  if (r.status !== 0) throw new Error(`memory warmth: the measuring process failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.slice(0, 300)}`);
  return analyseWarmth(JSON.parse(r.stdout) as number[], step);
}

/**
 * Several measurements as one (the probes before each replay of a series,
 * or of a grid cell): the median of each figure. A knee counts where most
 * measurements found one (its MB and dear figure: the medians over those);
 * otherwise none. Undefined when none was measured.
 */
export function mergeWarmth(ws: readonly (MemoryWarmth | undefined)[]): MemoryWarmth | undefined {
  const got = ws.filter((w): w is MemoryWarmth => w !== undefined);
  if (got.length === 0) return undefined;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  const kneed = got.filter((w) => w.warmMb !== null && w.coldMsPerMb !== null);
  const knee = kneed.length * 2 > got.length;
  return {
    stepMb: got[0]!.stepMb,
    samplesMsPerMb: got.flatMap((w) => w.samplesMsPerMb),
    warmMsPerMb: r(median(got.map((w) => w.warmMsPerMb))),
    warmMb: knee ? r(median(kneed.map((w) => w.warmMb!))) : null,
    coldMsPerMb: knee ? r(median(kneed.map((w) => w.coldMsPerMb!))) : null,
    note: `the medians of ${got.length} measurements (${kneed.length} with a knee): ${got[0]!.note}`,
    probes: got.map((w) => ({ warmMsPerMb: w.warmMsPerMb, warmMb: w.warmMb, coldMsPerMb: w.coldMsPerMb })),
  };
}

/** The probes in a real run's folder (run.json, or each replay's under runs/), in replay order, analysed from their steps; an entry per replay (undefined where none was taken). */
export function replayWarmths(dir: string): (MemoryWarmth | undefined)[] {
  const runs = join(dir, 'runs');
  const files = existsSync(runs)
    ? readdirSync(runs).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(a) - Number(b)).map((d) => join(runs, d, 'run.json'))
    : [join(dir, 'run.json')];
  return files.filter((f) => existsSync(f)).map((f) => {
    let w: unknown;
    try {
      w = (JSON.parse(readFileSync(f, 'utf8')) as { memoryWarmth?: unknown }).memoryWarmth;
    } catch (e) {
      throw new Error(`${f}: not a run description (${(e as Error).message})`);
    }
    // the figures again from the steps, by today's rule (a probe's figures are what the version that took it made of them)
    return isWarmth(w) ? analyseWarmth(w.samplesMsPerMb, w.stepMb) : undefined;
  });
}

function isWarmth(w: unknown): w is MemoryWarmth {
  if (typeof w !== 'object' || w === null) return false;
  const x = w as Record<string, unknown>;
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  return num(x.stepMb) && num(x.warmMsPerMb) && (x.warmMb === null || num(x.warmMb)) && (x.coldMsPerMb === null || num(x.coldMsPerMb)) && Array.isArray(x.samplesMsPerMb);
}

/**
 * The profile with the probes taken just before the replays as its memoryWarmth (merged:
 * mergeWarmth), the calibration's own kept as memoryWarmthCalibrated: the state of the host's
 * free memory the replays met, rather than the one the calibration's end left. The profile as
 * it is when no replay was probed.
 */
export function withReplayWarmth(p: CostProfile, ws: readonly (MemoryWarmth | undefined)[]): CostProfile {
  const m = mergeWarmth(ws);
  if (!m) return p;
  const was = p.extra?.memoryWarmthCalibrated ?? p.extra?.memoryWarmth;
  return { ...p, extra: { ...p.extra, memoryWarmth: { ...m, from: `probes before ${ws.filter(Boolean).length} replay(s)` }, ...(was !== undefined ? { memoryWarmthCalibrated: was } : {}) } };
}
