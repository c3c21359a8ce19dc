/**
 * The simulator over the calibration's own spread. One calibrated profile
 * is a point estimate: its effective cores are the largest of three
 * measurements and its memory-touching cost a difference of two medians.
 * A small change in the effective cores can move the simulated cold starts
 * across a tipping point (docs/notebook/2026-11-benchmark-rounds.md), so a
 * single simulation can land on either side of it by chance.
 * `validate` therefore also simulates the plan with the profile's
 * measured alternatives: each effective-cores sample, crossed with the
 * lower quartile, median and upper quartile of the touching cost: of its
 * latency per pair (`touchMsPerMbSamples`) and, paired quartile by
 * quartile, of the CPU the touching handler reports
 * (`touchCpuMsPerMbSamples`, the figure the simulator charges while other
 * jobs run, and the one a grid's cells near saturation are most sensitive
 * to: docs/notebook/2026-12-04-touch-cpu.md). Profiles written before
 * those were recorded vary what they have.
 */
import { modelFigures, type CostProfile } from '../sim/profile.js';
import { percentile as pct } from '../common/stats.js';
import type { Side, TargetFigure } from './figures.js';

export interface SpreadMember {
  label: string;
  cores: number;
  touchMsPerMb: number;
  /** The touch CPU charged while other jobs run; the profile's own when it records no samples. */
  touchBusyMsPerMb?: number;
  profile: CostProfile;
}

/** Lower quartile, median, upper quartile (nearest rank). */
function quartiles(xs: number[]): number[] {
  const s = [...xs].sort((a, b) => a - b);
  return [pct(s, 25), pct(s, 50), pct(s, 75)];
}

/**
 * Profiles for the calibration's spread: one per (effective cores sample, touching quartile); [] if the profile
 * records no spread. With `freeMemory` (the simulator pricing first touches by the host's free memory, where
 * the profile found a knee) the touching dimension is instead the probes taken before the replays
 * (extra.memoryWarmth.probes): those at the lower quartile, median and upper quartile of the cheap headroom.
 */
export function spreadMembers(profile: CostProfile, o: { freeMemory?: boolean } = {}): SpreadMember[] {
  const extra = profile.extra ?? {};
  const finite = (xs: number[] | undefined) => (xs ?? []).filter((t) => Number.isFinite(t) && t >= 0);
  const coresSamples = (extra.cpu?.effectiveCores ?? []).filter((c) => Number.isFinite(c) && c > 0);
  if (o.freeMemory && modelFigures(profile).freeMemory) {
    const w = extra.memoryWarmth as { probes?: { warmMsPerMb: number; warmMb: number | null; coldMsPerMb: number | null }[] };
    const kneed = (w.probes ?? []).filter((x) => x.warmMb !== null && x.coldMsPerMb !== null).sort((a, b) => a.warmMb! - b.warmMb!);
    const picks = kneed.length ? [...new Set([25, 50, 75].map((q) => kneed[Math.max(0, Math.ceil((q / 100) * kneed.length) - 1)]!))] : [undefined];
    const cores = coresSamples.length ? [...new Set(coresSamples)] : [extra.cores ?? 1];
    return cores.flatMap((c) => picks.map((x) => ({
      label: x ? `cores ${c}, headroom ${x.warmMb} MB (${x.warmMsPerMb} then ${x.coldMsPerMb} ms/MB)` : `cores ${c}`,
      cores: c, touchMsPerMb: extra.touchMsPerMb ?? 0,
      profile: { ...profile, extra: { ...extra, cores: c, ...(x ? { memoryWarmth: { ...(extra.memoryWarmth as object), ...x } } : {}) } },
    })));
  }
  const touchSamples = finite(extra.touchMsPerMbSamples);
  const cpuSamples = finite(extra.touchCpuMsPerMbSamples);
  if (coresSamples.length === 0 && touchSamples.length === 0 && cpuSamples.length === 0) return [];
  const cores = coresSamples.length ? [...new Set(coresSamples)] : [extra.cores ?? 1];
  // quartile by quartile: the low, middle and high touching cost, in latency and in CPU
  const lat = touchSamples.length ? quartiles(touchSamples) : undefined;
  const cpu = cpuSamples.length ? quartiles(cpuSamples) : undefined;
  const seen = new Set<string>();
  const touch: { lat: number; cpu?: number }[] = [];
  for (let q = 0; q < 3; q++) {
    const t = { lat: lat?.[q] ?? extra.touchMsPerMb ?? 0, cpu: cpu?.[q] };
    const key = `${t.lat}/${t.cpu}`;
    if (seen.has(key)) continue;
    seen.add(key);
    touch.push(t);
  }
  const out: SpreadMember[] = [];
  for (const c of cores) {
    for (const t of touch) {
      const busy = t.cpu === undefined ? {} : { touchBusyMsPerMb: t.cpu };
      const label = `cores ${c}, touch ${t.lat} ms/MB${t.cpu === undefined ? '' : ` (CPU ${t.cpu})`}`;
      out.push({ label, cores: c, touchMsPerMb: t.lat, ...busy, profile: { ...profile, extra: { ...extra, cores: c, touchMsPerMb: t.lat, ...busy } } });
    }
  }
  return out;
}

/** `min–max (median)` of one figure over the spread. */
export function rangeText(r: [number, number, number], digits: number): string {
  return `${r[0].toFixed(digits)}–${r[2].toFixed(digits)} (median ${r[1].toFixed(digits)})`;
}

/** What the simulations over the spread predicted, as min, median and max of each figure. */
export interface SpreadSummary {
  members: { label: string; coldStarts: number; p50: number; p99: number }[];
  coldStarts: [number, number, number];
  p50: [number, number, number];
  p99: [number, number, number];
  /** Whether the real run's figure lies within [min, max] of the simulations. */
  realWithin: { coldStarts: boolean; p50: boolean; p99: boolean };
}

export function summarizeSpread(real: Side, members: { label: string; agreement: { sim: Side } }[]): SpreadSummary {
  return summarizeFigures(real, members.map((m) => ({ label: m.label, coldStarts: m.agreement.sim.coldStarts, p50: m.agreement.sim.p50, p99: m.agreement.sim.p99 })));
}

/** Min, median and max of each figure over several simulations, and whether the real run's lies within. */
export function summarizeFigures(real: Side, members: SpreadSummary['members']): SpreadSummary {
  const range = (k: TargetFigure): [number, number, number] => {
    const v = members.map((m) => m[k]).sort((a, b) => a - b);
    return [v[0]!, v[Math.floor((v.length - 1) / 2)]!, v[v.length - 1]!];
  };
  const cold = range('coldStarts'), p50 = range('p50'), p99 = range('p99');
  const within = (r: [number, number, number], x: number) => x >= r[0] && x <= r[2];
  return {
    members: members.map((m) => ({ label: m.label, coldStarts: m.coldStarts, p50: m.p50, p99: m.p99 })),
    coldStarts: cold, p50, p99,
    realWithin: { coldStarts: within(cold, real.coldStarts), p50: within(p50, real.p50), p99: within(p99, real.p99) },
  };
}
