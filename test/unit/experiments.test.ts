/** The validation harness without real sandboxes: plans, run files, comparison, spread, merged calibrations. */
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machineBusyMs, processCpuMs } from '../../common/cpu-usage.js';
import { cpuPerOp, mergeCalibrations } from '../../experiments/calibrate.js';
import { compareRuns, incompatibility } from '../../experiments/compare.js';
import { ksDistance, summarizeRun } from '../../experiments/figures.js';
import { buildPlan, type PlanOptions } from '../../experiments/plan.js';
import { checkFeasible } from '../../experiments/real.js';
import { medianRepeat, readRepeats } from '../../experiments/repeats.js';
import { readRun } from '../../experiments/run-files.js';
import { runSim, runSimReplicated } from '../../experiments/sim.js';
import { spreadMembers, summarizeSpread } from '../../experiments/spread.js';
import { errorIntervals, intervalText, selfText } from '../../experiments/uncertainty.js';
import { writeComparisonReport } from '../../experiments/report.js';
import { compileProfile, constantProfile, loadProfile } from '../../sim/profile.js';
import { SAMPLE10 } from '../helpers.js';

const opts = (over: Partial<PlanOptions> = {}): PlanOptions => ({
  trace: `azure2019:${SAMPLE10}`, traceOptions: { arrivals: 'poisson', minutes: [1, 20] }, timeScale: 60, durationScale: 0.02, seed: 1, minMemMb: 64, memScale: 0.25, ...over,
});

function pngSize(buf: Buffer): [number, number] {
  return [buf.readUInt32BE(16), buf.readUInt32BE(20)];
}

describe('the simulator over the calibration\'s spread', () => {
  it('crosses each effective-cores sample with the quartiles of the touching cost; summarizes min, median, max', () => {
    const base = constantProfile({ create: 10 });
    const p = { ...base, extra: { cores: 1.95, touchMsPerMb: 5, touchMsPerMbSamples: [4, 5, 5, 6, 7, 4.5, 5.5, 6.5], cpu: { effectiveCores: [1.9, 1.95, 1.9] } } };
    const ms = spreadMembers(p);
    // cores {1.9, 1.95} × touch quartiles {4.5, 5, 6} (nearest rank of 8 sorted samples)
    expect(ms.map((m) => [m.cores, m.touchMsPerMb])).toEqual([[1.9, 4.5], [1.9, 5], [1.9, 6], [1.95, 4.5], [1.95, 5], [1.95, 6]]);
    expect((ms[2]!.profile.extra as { cores: number; touchMsPerMb: number })).toMatchObject({ cores: 1.9, touchMsPerMb: 6 });
    expect(p.extra.cores).toBe(1.95); // the original is left alone
    // an old profile without touching samples varies the cores only; one without either, nothing
    expect(spreadMembers({ ...base, extra: { cores: 2, touchMsPerMb: 3, cpu: { effectiveCores: [1.8, 2] } } }).map((m) => [m.cores, m.touchMsPerMb])).toEqual([[1.8, 3], [2, 3]]);
    expect(spreadMembers(base)).toEqual([]);
    // with the handler's own touch CPU recorded, its quartiles go with the latency's, low with low
    const withCpu = spreadMembers({ ...base, extra: { cores: 2, touchMsPerMb: 3, touchBusyMsPerMb: 2.5, touchMsPerMbSamples: [2.9, 3, 3.1, 4.2], touchCpuMsPerMbSamples: [2.4, 2.5, 3.3, 4.2], cpu: { effectiveCores: [1.9] } } });
    expect(withCpu.map((m) => [m.cores, m.touchMsPerMb, m.touchBusyMsPerMb])).toEqual([[1.9, 2.9, 2.4], [1.9, 3, 2.5], [1.9, 3.1, 3.3]]);
    expect(withCpu[2]!.profile.extra).toMatchObject({ cores: 1.9, touchMsPerMb: 3.1, touchBusyMsPerMb: 3.3 });
    expect(withCpu[2]!.label).toBe('cores 1.9, touch 3.1 ms/MB (CPU 3.3)');
    const side = (cold: number, p50: number, p99: number) => ({ invocations: 10, failed: 0, coldStarts: cold, p50, p90: p50, p99, mean: p50 });
    const ag = (cold: number, p50: number, p99: number) => ({ sim: side(cold, p50, p99) }) as unknown as import('../../experiments/compare.js').Agreement;
    const sum = summarizeSpread(side(100, 13, 5000), [{ label: 'a', agreement: ag(65, 12.5, 2700) }, { label: 'b', agreement: ag(110, 13.2, 4500) }, { label: 'c', agreement: ag(96, 13.0, 4200) }]);
    expect(sum.coldStarts).toEqual([65, 96, 110]);
    expect(sum.p99).toEqual([2700, 4200, 4500]);
    expect(sum.realWithin).toEqual({ coldStarts: true, p50: true, p99: false });
    expect(sum.members.map((m) => m.label)).toEqual(['a', 'b', 'c']);
  });
});

describe('several calibrations merged', () => {
  it('takes the median of each figure and all the samples, and lists each calibration', () => {
    const cal = (fork: number, cores: number, forkMs: number, warm: number[]) => ({
      ...constantProfile({ create: 100 }, 'calibrated-sock'),
      source: `calibration at ${cores}`,
      costs: { ...constantProfile({ create: 100 }).costs, warmDispatch: { kind: 'empirical' as const, samples: warm } },
      machine: { cores: 2, when: cores },
      extra: { cores, forkSandboxMs: forkMs, createLanes: 1, cpu: { effectiveCores: [cores, cores - 0.1], note: 'k handlers' }, backgroundCpu: { callMs: fork, coldMs: 2 * fork } },
    });
    // one slow reading (a ready spare of 10.4 ms, 1.87 cores) among three is outvoted
    const m = mergeCalibrations([cal(3, 1.94, 6.1, [3, 4]), cal(5, 1.87, 10.4, [5]), cal(4, 1.92, 8.1, [3.5])]);
    const x = m.extra as { cores: number; forkSandboxMs: number; createLanes: number; cpu: { effectiveCores: number[]; note: string }; backgroundCpu: { callMs: number; coldMs: number }; calibrations: { cores: number; forkSandboxMs: number; source: string }[] };
    expect(x.cores).toBe(1.92);
    expect(x.forkSandboxMs).toBe(8.1);
    expect(x.createLanes).toBe(1);
    expect(x.backgroundCpu).toEqual({ callMs: 4, coldMs: 8 });
    expect(x.cpu.effectiveCores).toEqual([1.94, 1.94 - 0.1, 1.87, 1.87 - 0.1, 1.92, 1.92 - 0.1]);
    expect(x.cpu.note).toBe('k handlers');
    expect(x.calibrations.map((c) => [c.cores, c.forkSandboxMs])).toEqual([[1.94, 6.1], [1.87, 10.4], [1.92, 8.1]]);
    expect(m.costs.warmDispatch).toEqual({ kind: 'empirical', samples: [3, 4, 5, 3.5] });
    expect(m.costs.create).toEqual({ kind: 'constant', ms: 100 });
    expect(m.source).toBe('the median of 3 calibrations: calibration at 1.94; calibration at 1.87; calibration at 1.92');
    expect(m.machine).toEqual({ cores: 2, when: 1.94 });
    // two: the mean of the middle pair; one: itself; none: an error
    expect((mergeCalibrations([cal(3, 1.9, 6, [1]), cal(5, 1.8, 8, [2])]).extra as { forkSandboxMs: number }).forkSandboxMs).toBe(7);
    const one = cal(3, 1.9, 6, [1]);
    expect(mergeCalibrations([one])).toBe(one);
    expect(() => mergeCalibrations([])).toThrow(/at least one profile/);
    // the merged profile is a profile the simulator reads: all samples pooled, constants kept
    const model = compileProfile(m);
    expect(model.mean.warmDispatch).toBe((3 + 4 + 5 + 3.5) / 4);
    expect(model.mean.create).toBe(100);
  });
});

describe('replay plans', () => {
  it('are deterministic and hash what they contain', () => {
    const a = buildPlan(opts()), b = buildPlan(opts()), c = buildPlan(opts({ seed: 2 })), d = buildPlan(opts({ timeScale: 30 }));
    expect(a.planSha256).toBe(b.planSha256);
    expect(a.planSha256).not.toBe(c.planSha256);
    expect(a.planSha256).not.toBe(d.planSha256);
    expect(a.spanMs).toBeLessThanOrEqual(20 * 60_000 / 60);
    // the same trace in another folder (another checkout): the same plan
    const copy = mkdtempSync(join(tmpdir(), 'ol-trace-copy-'));
    for (const part of ['inv', 'mem', 'run']) cpSync(`${SAMPLE10}_${part}.csv`, join(copy, `10_${part}.csv`));
    expect(buildPlan(opts({ trace: `azure2019:${join(copy, '10')}` })).planSha256).toBe(a.planSha256);
    expect(a.functions.every((f) => f.memMb >= 64 && /^[A-Za-z0-9._-]+$/.test(f.lambda))).toBe(true);
  });

  it('synthetic packages and zygote trees are part of the plan: seeded, fitted, hashed', () => {
    const a = buildPlan(opts({ packages: 5, importMs: 40, zygotes: 'fit:4' }));
    const b = buildPlan(opts({ packages: 5, importMs: 40, zygotes: 'fit:4' }));
    expect(a.packages).toEqual(b.packages);
    expect(a.planSha256).toBe(b.planSha256);
    expect(a.planSha256).not.toBe(buildPlan(opts({ packages: 5, importMs: 40 })).planSha256);
    expect(a.planSha256).not.toBe(buildPlan(opts({ packages: 5, importMs: 40, zygotes: 'fit:4', importCache: false })).planSha256);
    const pk = a.packages!;
    expect(pk.catalog.map((c) => c.name)).toEqual(['olpkg-0', 'olpkg-1', 'olpkg-2', 'olpkg-3', 'olpkg-4']);
    expect(pk.fnPackages).toHaveLength(a.functions.length);
    for (const f of pk.fnPackages) expect(f.length >= 1 && f.length <= 3).toBe(true);
    const count = (n: { children?: unknown[] }): number => 1 + ((n.children ?? []) as { children?: unknown[] }[]).reduce((s, c) => s + count(c), 0);
    expect(count(pk.tree)).toBeLessThanOrEqual(4);
    expect(count(pk.tree)).toBeGreaterThan(1);
    expect(() => buildPlan(opts({ zygotes: 'fit:4' }))).toThrow(/zygotes.*needs --packages/);
  });

  it('a replay the machine cannot keep up with is refused before starting, with the numbers', () => {
    const p = buildPlan(opts({ durationScale: 1 }));
    expect(() => checkFeasible(p, 4096, 2, 1500)).toThrow(/cannot run faithfully at this scale \(\d+ invocations over [\d.]+ s, [\d.]+ req\/s on average\): the handlers need [\d.]+ cores on average, this machine has 2/);
    expect(() => checkFeasible(buildPlan(opts()), 32, 2, 1500)).toThrow(/a function needs \d+ MB, more than the whole pool \(--memory 32\)/);
  });
});

describe('comparison', () => {
  it('KS distance', () => {
    expect(ksDistance(Float64Array.of(1, 2, 3), Float64Array.of(1, 2, 3))).toBe(0);
    expect(ksDistance(Float64Array.of(1, 2), Float64Array.of(3, 4))).toBe(1);
    expect(ksDistance(Float64Array.of(1, 2, 3, 4), Float64Array.of(3, 4, 5, 6))).toBe(0.5);
  });

  it('two simulated runs of one plan compare; runs of different plans are refused with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ol-cmp-'));
    const p = buildPlan(opts());
    await runSim({ plan: p, out: join(dir, 'a'), policy: 'openlambda', memoryMb: 4096, cores: 2, profile: loadProfile() });
    await runSim({ plan: p, out: join(dir, 'b'), policy: 'openlambda', memoryMb: 4096, cores: 2, profile: constantProfile({ create: 50, warmDispatch: 1, unpause: 3 }) });
    const a = readRun(join(dir, 'a')), b = readRun(join(dir, 'b'));
    expect(a.rows).toHaveLength(p.n);
    const ag = compareRuns(a, b);
    expect(ag.real.invocations).toBe(p.n);
    expect(ag.real.coldStarts).toBeGreaterThan(0);
    expect(ag.ksDistance).toBeGreaterThan(0);
    expect(ag.perFunction).toHaveLength(p.functions.length);
    const out = join(dir, 'report');
    const files = await writeComparisonReport(out, ag, a, b);
    for (const f of files) expect(existsSync(join(out, f)), f).toBe(true);
    // each simulation's CPU model, second by second, charted against the other
    expect(files).toContain('cpu.png');
    expect(a.cpu.length).toBeGreaterThan(10);
    expect(a.cpu.every((c) => c.cores >= 0 && c.cores <= 2 + 1e-9)).toBe(true);
    expect(a.cpu.some((c) => c.cores > 0)).toBe(true);
    expect(pngSize(readFileSync(join(out, 'latency-cdf.png')))).toEqual([1600, 1000]);
    expect(readFileSync(join(out, 'report.pdf')).subarray(0, 5).toString()).toBe('%PDF-');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/data:image\/png;base64,/);
    expect(html).toContain(a.info.traceSha256);
    // with the simulations over the calibration's spread: their range is in the report and agreement.json
    const spread = summarizeSpread(ag.real, [{ label: 'cores 1.9, touch 5 ms/MB', agreement: ag }, { label: 'cores 2, touch 5 ms/MB', agreement: ag }]);
    await writeComparisonReport(join(dir, 'report2'), { ...ag, simSpread: spread }, a, b);
    expect(readFileSync(join(dir, 'report2', 'report.html'), 'utf8')).toMatch(/over the calibration&#39;s spread|over the calibration's spread/);
    expect(JSON.parse(readFileSync(join(dir, 'report2', 'agreement.json'), 'utf8')).simSpread.coldStarts).toEqual([ag.sim.coldStarts, ag.sim.coldStarts, ag.sim.coldStarts]);
    await runSim({ plan: buildPlan(opts({ seed: 2 })), out: join(dir, 'c'), policy: 'openlambda', memoryMb: 4096, cores: 2, profile: loadProfile() });
    expect(incompatibility(a.info, readRun(join(dir, 'c')).info)).toMatch(/different seeds \(1 vs 2\)/);
    await runSim({ plan: p, out: join(dir, 'd'), policy: 'lru', memoryMb: 4096, cores: 2, profile: loadProfile() });
    expect(() => compareRuns(a, readRun(join(dir, 'd')))).toThrow(/cannot be compared: they use different policies \(openlambda vs lru\)/);
  });

  it('replications differ only in cost draws; the median one is kept, all are listed, and compare reports their range', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ol-rep-'));
    const p = buildPlan(opts());
    // an empirical profile: its costs are drawn per creation, so replications differ
    const profile = loadProfile();
    const got = await runSimReplicated({ plan: p, out: join(dir, 'sim'), policy: 'openlambda', memoryMb: 1024, cores: 1, profile, createOnCpu: true, replicas: 5 });
    expect(got.replicas.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(got.replicas.map((r) => r.seed)).size).toBe(5);
    expect(got.replicas[0]!.seed).toBe(p.options.seed);
    // the kept run is the median by cold starts, written into the folder itself
    const colds = got.replicas.map((r) => r.coldStarts).sort((a, b) => a - b);
    const kept = readRun(join(dir, 'sim'));
    expect(summarizeRun(kept.rows).coldStarts).toBe(colds[2]);
    expect(kept.info.repeat?.index ?? 0).toBe(got.chosen);
    expect(got.replicas.find((r) => r.index === got.chosen)!.coldStarts).toBe(colds[2]);
    // each replication is a run of its own, of the same invocations
    for (const r of got.replicas) expect(readRun(join(dir, 'sim', 'replicas', String(r.index))).rows).toHaveLength(p.n);
    expect(readRepeats(join(dir, 'sim'), 'replicas.json')).toEqual({ chosen: got.chosen, list: got.replicas });
    // the same replication number gives the same run; another gives other draws
    await runSim({ plan: p, out: join(dir, 'again'), policy: 'openlambda', memoryMb: 1024, cores: 1, profile, createOnCpu: true, replica: got.chosen });
    expect(readFileSync(join(dir, 'again', 'invocations.csv'), 'utf8')).toBe(readFileSync(join(dir, 'sim', 'invocations.csv'), 'utf8'));
    const lat = (r: number) => readFileSync(join(dir, 'sim', 'replicas', String(r), 'invocations.csv'), 'utf8');
    expect(lat(0)).not.toBe(lat(1));
    // one replication: no replicas folder or list
    await runSimReplicated({ plan: p, out: join(dir, 'one'), policy: 'openlambda', memoryMb: 1024, cores: 1, profile, replicas: 1 });
    expect(readRepeats(join(dir, 'one'), 'replicas.json')).toBeUndefined();
    await expect(runSimReplicated({ plan: p, out: join(dir, 'none'), policy: 'openlambda', memoryMb: 1024, cores: 1, profile, replicas: 0 })).rejects.toThrow(/replicas: must be a whole number >= 1, got 0/);
    // a list that does not match its run is refused, naming the file
    const list = join(dir, 'sim', 'replicas.json');
    const text = readFileSync(list, 'utf8');
    writeFileSync(list, text.replace(/"chosen": \d+/, `"chosen": ${(got.chosen + 1) % 5}`));
    expect(() => readRepeats(join(dir, 'sim'), 'replicas.json')).toThrow(/replicas\.json says replication \d was kept, but .*run\.json is replication \d/);
    writeFileSync(list, '{"chosen": 0, "replicas": []}');
    expect(() => readRepeats(join(dir, 'sim'), 'replicas.json')).toThrow(/replicas\.json: lists no replications/);
    writeFileSync(list, text.slice(0, 40));
    expect(() => readRepeats(join(dir, 'sim'), 'replicas.json')).toThrow(/replicas\.json is not valid JSON/);
    // the median: by cold starts, then p99, the lower middle of an even count
    const f = (index: number, coldStarts: number, p99: number) => ({ label: `run ${index}`, index, coldStarts, p50: 1, p99 });
    expect(medianRepeat([f(0, 70, 5), f(1, 146, 9), f(2, 132, 8)])).toBe(2);
    expect(medianRepeat([f(0, 100, 9), f(1, 100, 5), f(2, 100, 7)])).toBe(2);
    expect(medianRepeat([f(0, 10, 1), f(1, 30, 1), f(2, 20, 1), f(3, 40, 1)])).toBe(2);
  });

  it('the errors\' intervals resample the replays and replications and keep the median run of each resample', () => {
    const f = (index: number, coldStarts: number, p50 = 10, p99 = 1000) => ({ label: `run ${index}`, index, coldStarts, p50, p99 });
    // no variation on either side: the interval is the one error, met or not
    const fixed = errorIntervals([f(0, 100), f(1, 100), f(2, 100)], [f(0, 110, 10.5), f(1, 110, 10.5)]);
    expect(fixed.errorPct.coldStarts).toEqual([10, 10, 10]);
    expect(fixed.errorPct.p50[1]).toBeCloseTo(5, 9);
    expect(fixed.metShare).toEqual({ coldStarts: 0, p50: 1, p99: 1, all: 0 });
    // replays that never vary agree with themselves every time
    expect(fixed.realSelfShare).toEqual({ coldStarts: 1, p50: 1, p99: 1, all: 1 });
    // three replays 90, 100, 110 against a steady 100: a resampled median is the middle one with
    // probability 13/27 (error 0), the low or high one with 7/27 each (+11.1%, -9.1%)
    const iv = errorIntervals([f(0, 90), f(1, 100), f(2, 110)], [f(0, 100), f(1, 100), f(2, 100), f(3, 100), f(4, 100)], { resamples: 4000 });
    expect(iv.errorPct.coldStarts[0]).toBeCloseTo(-100 / 11, 6);
    expect(iv.errorPct.coldStarts[1]).toBe(0);
    expect(iv.errorPct.coldStarts[2]).toBeCloseTo(100 / 9, 6);
    expect(iv.metShare.coldStarts).toBeGreaterThan(13 / 27 - 0.03);
    expect(iv.metShare.coldStarts).toBeLessThan(13 / 27 + 0.03);
    // the kept run's p99 goes with its cold starts, as in the harness
    expect(iv.errorPct.p99).toEqual([0, 0, 0]);
    // the real worker against itself: two resampled medians of 90, 100, 110 differ by 9.1% or more
    // unless they are the same replay, with probability (7² + 13² + 7²) / 27² = 267/729
    expect(iv.realSelfShare.coldStarts).toBeGreaterThan(267 / 729 - 0.03);
    expect(iv.realSelfShare.coldStarts).toBeLessThan(267 / 729 + 0.03);
    expect(iv.realSelfShare.p50).toBe(1);
    expect(iv.realSelfShare.all).toBe(iv.realSelfShare.coldStarts);
    expect(selfText(iv)).toMatch(/^cold starts 3[4-9]%, p50 100%, p99 100%, all three 3[4-9]%$/);
    // seeded: the same runs give the same report
    expect(errorIntervals([f(0, 90), f(1, 100), f(2, 110)], [f(0, 100), f(1, 100), f(2, 100), f(3, 100), f(4, 100)], { resamples: 4000 })).toEqual(iv);
    expect(intervalText(iv, 'coldStarts')).toMatch(/^90% interval -9\.1% to \+11\.1%; target met in (4[5-9]|5[01])% of resamples$/);
    expect(() => errorIntervals([], [f(0, 1)])).toThrow(/at least one real and one simulated run/);
  });

  it('a profile\'s measured background CPU slows the simulated handlers; /proc/stat is read as busy time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ol-bg-'));
    const p = buildPlan(opts());
    const base = constantProfile({ create: 30, warmDispatch: 2, unpause: 3 });
    await runSim({ plan: p, out: join(dir, 'a'), policy: 'openlambda', memoryMb: 4096, cores: 1, profile: base });
    await runSim({ plan: p, out: join(dir, 'b'), policy: 'openlambda', memoryMb: 4096, cores: 1, profile: { ...base, extra: { backgroundCpu: { callMs: 4, coldMs: 20 } } } });
    const mean = (d: string) => { const r = readRun(join(dir, d)).rows; return r.reduce((s, x) => s + x.latencyMs, 0) / r.length; };
    expect(mean('b')).toBeGreaterThan(mean('a'));
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait, in USER_HZ (10 ms)
    expect(machineBusyMs('cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 1 2 3 4 5 6 7 8\n')).toBe(1610);
    expect(() => machineBusyMs('intr 1 2 3\n')).toThrow(/\/proc\/stat: unexpected first line/);
    // a process's own: utime + stime (fields 14-15), read past a command name with spaces and ')'
    expect(processCpuMs(42, '42 (node (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 11 0\n')).toBe(2870);
    expect(processCpuMs(process.pid)).toBeGreaterThan(0);
    expect(processCpuMs(2 ** 30)).toBeUndefined();
    expect(() => processCpuMs(42, '42 (x) S')).toThrow(/\/proc\/42\/stat: unexpected contents/);
  });

  it('CPU per call is the median of batches, each less the idle rate just before it: a stray burst spoils one batch only', async () => {
    // a made-up machine: others keep `rate[b]` cores busy during batch b and the idle window before it; each op
    // is 15 ms of CPU over 15 ms of wall; the third batch also meets 200 ms of someone else's CPU over 100 ms
    const rate = [0.1, 0.5, 0.2, 1.0, 0.3];
    let busy = 0, now = 0, batch = 0;
    const spend = (cpu: number, wall: number) => { busy += cpu + rate[batch]! * wall; now += wall; };
    const meter = { busyMs: () => busy, nowMs: () => now, idle: async (ms: number) => { spend(0, ms); } };
    const got = await cpuPerOp(10, async (from, to) => {
      for (let i = from; i < to; i++) spend(15, 15);
      if (from === 4) spend(200, 100);
      batch++;
    }, undefined, meter);
    expect(got.batches).toEqual([15, 15, 115, 15, 15]);
    expect(got.perOp).toBeCloseTo(15, 9);
    expect(got.idlePerMs).toBeCloseTo(0.3, 9);
    expect(got.groupBatches).toEqual([]);
    // one op: one batch; an idle machine: nothing subtracted
    rate.fill(0); batch = 0;
    const one = await cpuPerOp(1, async () => { spend(7, 20); batch = 0; }, undefined, meter);
    expect(one).toEqual({ perOp: 7, idlePerMs: 0, batches: [7], groupBatches: [] });
  });

  it('the group\'s CPU per call: each batch less the median of the group\'s idle windows, so a window that caught a burst spoils no batch', async () => {
    // the group idles at 0.2 ms per ms, but the window before the third batch catches 1.0 (the worker's own background);
    // each op is 3 ms of the group's CPU over 10 ms of wall
    const windows = [0.2, 0.2, 1.0, 0.2, 0.2];
    let used = 0, now = 0, batch = 0;
    const meter = { busyMs: () => 0, nowMs: () => now, idle: async (ms: number) => { used += windows[batch]! * ms; now += ms; } };
    const group = { usageMs: () => used } as unknown as Parameters<typeof cpuPerOp>[2];
    const got = await cpuPerOp(10, async (from, to) => {
      for (let i = from; i < to; i++) { used += 3 + 0.2 * 10; now += 10; }
      batch++;
    }, group, meter);
    // each window's own rate would have taken the third batch to max(0, (10 - 1.0 * 20) / 2) = 0
    expect(got.groupBatches.map((x) => Math.round(x * 1e9) / 1e9)).toEqual([3, 3, 3, 3, 3]);
  });

  it('a truncated run file or an unknown function is a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ol-bad-'));
    await runSim({ plan: buildPlan(opts()), out: dir, policy: 'lru', memoryMb: 4096, cores: 2, profile: loadProfile() });
    const path = join(dir, 'invocations.csv');
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, text.length - 20));
    expect(() => readRun(dir)).toThrow(/invocations\.csv:\d+: field ".*": .*\(the last line: the file may be truncated\)/);
    writeFileSync(path, text.replace(/\n(\d+),([^,]+),/, '\n$1,nosuchfn,'));
    expect(() => readRun(dir)).toThrow(/field "fn": function "nosuchfn" is not in the run's run\.json/);
    expect(() => readRun(join(dir, 'nowhere'))).toThrow(/is not a run directory/);
  });
});

