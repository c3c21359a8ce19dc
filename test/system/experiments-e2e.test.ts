/** The validation harness end to end on the real worker: replays, validate, calibrate (root, scripts/setup-host.sh). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../../common/paths.js';
import { modelFigures } from '../../core/profile.js';
import { analyseWarmth } from '../../experiments/memory-warmth.js';
import { readRepeats } from '../../experiments/repeats.js';
import { readRun } from '../../experiments/run-files.js';
import { loadProfile } from '../../sim/profile.js';

describe('ol-exp real, end to end (sock backend, needs root)', () => {
  it('calibrate measures each cost the simulator prices, as distributions, and ol-exp sim reads them', () => {
    if (process.getuid?.() !== 0 || !existsSync('/var/lib/ol-lab/ol-min/.ol-lab-base')) throw new Error('needs root and scripts/setup-host.sh');
    const dir = mkdtempSync(join(tmpdir(), 'ol-calib-test-'));
    const cli = projectPath('dist', 'experiments', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'calibrate', '--n', '6', '--out', join(dir, 'profile.json')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const p = loadProfile(join(dir, 'profile.json'));
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const samples = (k: string) => (p.costs as Record<string, { samples: number[] }>)[k]!.samples;
    for (const k of ['create', 'fork', 'unpause', 'pause', 'destroy', 'warmDispatch']) expect(samples(k).length).toBeGreaterThanOrEqual(6);
    const x = p.extra as Record<string, number> & { forkReadySamples: number[]; touchTogether: { k: number; wallMs: unknown[] }; backgroundCpu: { callMs: number; coldMs: number; pauseMs: number; measured: { cpuPerWarmCallMs: number; cpuPerUnpausedCallMs: number; unpausedCallBatchesMs: number[]; pauseFrom: string; groupWarmCallBatchesMs?: number[]; groupUnpausedCallBatchesMs?: number[] } } };
    // a fork that finds the zygote's spare ready is the sandbox's own start-up only: far cheaper than a
    // fresh sandbox (with --n 6 the "back to back" cold calls come in five batches, each after a 300-ms
    // pause (the CPU-per-call batches), so most of them find a ready spare too and are no yardstick)
    expect(x.forkReadySamples).toHaveLength(6);
    expect(x.forkSandboxMs).toBeGreaterThan(0);
    expect(x.forkSandboxMs).toBeLessThan(med(samples('create')));
    // touching memory costs time and CPU: the CPU is what each touching handler reported of itself,
    // one figure per call touching alone, at the start and at four later points (5 calls each), and the
    // charge is the median of them all
    expect(x.touchMsPerMb).toBeGreaterThan(0);
    const touchCpu = (p.extra as { touchCpuMsPerMbSamples: number[] }).touchCpuMsPerMbSamples;
    const phases = (p.extra as { touchCpuPhases: { at: string; msPerMb: number[]; median: number }[] }).touchCpuPhases;
    expect(phases.map((ph) => ph.at)).toEqual(['start', 'afterCold', 'firstEnd', 'paused', 'loaded']);
    for (const ph of phases) {
      expect(ph.msPerMb).toHaveLength(5);
      expect(ph.median).toBe(med(ph.msPerMb));
    }
    expect(touchCpu).toEqual(phases.flatMap((ph) => ph.msPerMb));
    for (const c of touchCpu) expect(c).toBeGreaterThan(0);
    expect(x.touchBusyMsPerMb).toBe(med(touchCpu));
    expect(x.touchTogether.wallMs).toHaveLength(3);
    // forks beside 0, 2 x and 8 x cores spinning handlers, 12 rounds each: busy cores make them slower, and the
    // simulator's fork figures come from them (a shared part and a wait for a core)
    const under = (p.extra as { createUnderLoad: { k: number; spinning: number[]; wallMs: number[] } }).createUnderLoad;
    const cores = availableParallelism();
    expect(under.k).toBe(10);
    expect([...new Set(under.spinning)]).toEqual([0, Math.min(16, 2 * cores), Math.min(64, 8 * cores)]);
    expect(under.wallMs).toHaveLength(36);
    const level = (k: number) => med(under.wallMs.filter((_, i) => under.spinning[i] === k));
    expect(level(Math.min(64, 8 * cores))).toBeGreaterThan(level(0));
    const loaded = modelFigures(p).createLoaded!;
    expect(loaded.sandboxMs).toBeGreaterThanOrEqual(0);
    expect(loaded.waitMs).toBeGreaterThanOrEqual(0);
    // first touches as memory in use grows, step by step, in a process of their own (python3, as the lambda)
    const warmth = (p.extra as { memoryWarmth: { samplesMsPerMb: number[]; warmMsPerMb: number } }).memoryWarmth;
    expect(warmth.samplesMsPerMb.length).toBeGreaterThanOrEqual(10);
    expect(warmth.warmMsPerMb).toBeGreaterThan(0);
    expect((x.touchTogether as unknown as { cpuMsPerMb: number[] }).cpuMsPerMb).toHaveLength(12);
    expect(x.cores).toBeGreaterThan(0.5);
    // the warm and unpaused calls are timed only once each worker has answered its warm-up calls, kept apart
    const warmup = (p.extra as { warmup: { calls: number; warmMs: number[]; unpausedMs: number[] } }).warmup;
    expect(warmup.calls).toBeGreaterThanOrEqual(10);
    expect(warmup.warmMs).toHaveLength(warmup.calls);
    expect(warmup.unpausedMs).toHaveLength(warmup.calls);
    for (const v of [...warmup.warmMs, ...warmup.unpausedMs]) expect(v).toBeGreaterThan(0);
    // handlers spinning two to a core are preempted: the stretches they ran are a slice, a few ms on Linux
    // (well under the 400 ms each spun): the figure ol-sim's --cpu-slice-ms takes
    const slice = p.extra as { cpuSliceMs: number; cpuSlice: { runs: number; p25Ms: number; p75Ms: number } };
    expect(slice.cpuSlice.runs).toBeGreaterThanOrEqual(10);
    expect(slice.cpuSliceMs).toBeGreaterThan(0);
    expect(slice.cpuSliceMs).toBeLessThan(100);
    expect(slice.cpuSlice.p25Ms).toBeLessThanOrEqual(slice.cpuSliceMs);
    expect(slice.cpuSlice.p75Ms).toBeGreaterThanOrEqual(slice.cpuSliceMs);
    // a warm call costs the machine some CPU beyond the handler (worker, client), far less than a new sandbox
    expect(x.backgroundCpu.callMs).toBeGreaterThan(0);
    expect(x.backgroundCpu.callMs).toBeLessThan(med(samples('create')));
    // a call that finds its sandbox paused (and the pause after it) costs at least as much, measured the same
    // way over as many calls (at least 100, in 5 batches); the simulator charges the difference at each pause
    const bg = x.backgroundCpu;
    expect(bg.measured.unpausedCallBatchesMs).toHaveLength(5);
    expect(samples('unpause').length).toBeGreaterThanOrEqual(100);
    // on sock with the experiment's cgroup (this machine) it is the cgroup's count: five batches each way
    const m = bg.measured;
    const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!;
    if (m.pauseFrom === 'group') {
      expect(m.groupWarmCallBatchesMs).toHaveLength(5);
      expect(m.groupUnpausedCallBatchesMs).toHaveLength(5);
      for (const v of [...m.groupWarmCallBatchesMs!, ...m.groupUnpausedCallBatchesMs!]) expect(v).toBeGreaterThan(0);
      expect(bg.pauseMs).toBeCloseTo(Math.max(0, mid(m.groupUnpausedCallBatchesMs!) - mid(m.groupWarmCallBatchesMs!)), 2);
    } else {
      expect(m.pauseFrom).toBe('machine');
      expect(bg.pauseMs).toBeCloseTo(Math.max(0, m.cpuPerUnpausedCallMs - m.cpuPerWarmCallMs), 2);
    }
    expect(bg.pauseMs).toBeLessThan(med(samples('create')));
    // the answer's extra time after a handler that worked: one figure per handler time, from one round
    // each of 30 (a no-op call beside each call), never below 0; ol-exp sim adds it to latencies
    const wake = (p.extra as { responseWake: { workMs: number[]; extraMs: number[]; samples: { noopMs: number[]; overheadMs: number[][] } } }).responseWake;
    expect(wake.workMs).toEqual([1, 3, 6, 15, 40]);
    expect(wake.extraMs).toHaveLength(5);
    for (const e of wake.extraMs) expect(e).toBeGreaterThanOrEqual(0);
    expect(wake.samples.noopMs.length).toBe(5 * 30);
    for (const o of wake.samples.overheadMs) expect(o).toHaveLength(30);
    // the simulator takes the profile as it is written
    const s = spawnSync(process.execPath, [cli, 'sim', '--minutes', '1:5', '--replicas', '1', '--profile', join(dir, 'profile.json'), '--out', join(dir, 'sim')], { encoding: 'utf8' });
    expect(s.status).toBe(0);
    expect(readRun(join(dir, 'sim')).info.profile).toMatchObject({ extra: { forkSandboxMs: x.forkSandboxMs } });
  }, 240_000);

  it('validate, the main job, on a short plan: calibrations between the replays, merged into one profile, and the report', () => {
    if (process.getuid?.() !== 0 || !existsSync('/var/lib/ol-lab/ol-min/.ol-lab-base')) throw new Error('needs root and scripts/setup-host.sh');
    const dir = mkdtempSync(join(tmpdir(), 'ol-validate-e2e-'));
    const cli = projectPath('dist', 'experiments', 'cli.js');
    // a wrong count is refused before anything is made
    const bad = spawnSync(process.execPath, [cli, 'validate', '--calibrations', '0', '--out', join(dir, 'bad')], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--calibrations: a whole number >= 1, got 0/);
    const badProtocol = spawnSync(process.execPath, [cli, 'validate', '--protocol', 'fast', '--out', join(dir, 'bad')], { encoding: 'utf8' });
    expect(badProtocol.status).toBe(2);
    expect(badProtocol.stderr).toMatch(/protocol.*"fast"|Invalid values[\s\S]*protocol/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    const r = spawnSync(process.execPath, [cli, 'validate', '--minutes', '1:5', '--real-runs', '2', '--calibrations', '2', '--calibrate-n', '6', '--replicas', '3', '--out', join(dir, 'v')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // the first calibration before the first replay, the second between the two
    expect(r.stdout).toMatch(/calibration 1 of 2[\s\S]*replay 1 of 2[\s\S]*calibration 2 of 2[\s\S]*replay 2 of 2[\s\S]*merged 2 calibrations/);
    const one = (i: number) => loadProfile(join(dir, 'v', 'calibrations', `${i}.json`));
    const merged = loadProfile(join(dir, 'v', 'profile.json'));
    expect(merged.source).toMatch(/^the median of 2 calibrations: ol-exp calibrate/);
    const cal = (merged.extra as { calibrations: { cores: number }[] }).calibrations;
    expect(cal.map((c) => c.cores)).toEqual([one(0), one(1)].map((p) => (p.extra as { cores: number }).cores));
    // every sample of both, and the middle of the two for a single figure
    const warm = (p: typeof merged) => (p.costs.warmDispatch as { samples: number[] }).samples;
    expect(warm(merged)).toEqual([...warm(one(0)), ...warm(one(1))]);
    const cores = [one(0), one(1)].map((p) => (p.extra as { cores: number }).cores);
    // the median of two, kept to 3 decimals as every calibrated figure (a tolerance at the rounding's own size failed on 1.8215 -> 1.822)
    expect((merged.extra as { cores: number }).cores).toBe(Math.round(((cores[0]! + cores[1]!) / 2) * 1000) / 1000);
    // the simulation used the merged profile, and the report is written
    expect(readRun(join(dir, 'v', 'sim')).info.profile).toMatchObject({ source: merged.source });
    // what first touches cost was probed just before each replay; the simulation priced them so (--free-memory by default)
    const probes = [0, 1].map((i) => readRun(join(dir, 'v', 'real', 'runs', String(i))).info.memoryWarmth!);
    for (const w of probes) expect(w.warmMsPerMb).toBeGreaterThan(0);
    // (each read again from its steps)
    expect((merged.extra as { memoryWarmth: { probes: unknown[] } }).memoryWarmth.probes).toEqual(probes.map((p) => analyseWarmth(p.samplesMsPerMb, p.stepMb)).map((w) => ({ warmMsPerMb: w.warmMsPerMb, warmMb: w.warmMb, coldMsPerMb: w.coldMsPerMb })));
    expect((merged.extra as { memoryWarmthCalibrated?: unknown }).memoryWarmthCalibrated).toBeDefined();
    expect(readRun(join(dir, 'v', 'sim')).info.freeMemory).toBe(modelFigures(merged).freeMemory !== undefined);
    expect(r.stdout).toMatch(/first touches just before the replays: \d+(\.\d+)? ms\/MB/);
    expect(existsSync(join(dir, 'v', 'report', 'report.html'))).toBe(true);
    expect(r.stdout).toMatch(/the real worker against itself/);
    // counts other than a protocol's make a custom one, said with the time it should take and named in the report
    expect(r.stdout).toMatch(/protocol custom: 2 replays, 2 calibration\(s\) \(about \d+ (s|min) left\)/);
    expect(r.stdout).toMatch(/calibration 2 of 2 \(about \d+ (s|min) left\)/);
    expect(JSON.parse(readFileSync(join(dir, 'v', 'report', 'agreement.json'), 'utf8')).protocol).toEqual({ name: 'custom', realRuns: 2, calibrations: 2 });
    expect(readFileSync(join(dir, 'v', 'report', 'report.html'), 'utf8')).toMatch(/Protocol: custom, 2 replays and 2 calibration\(s\)/);
    // each replay's own first-touch price, beside what each calibration measured (the machine's memory state)
    const ft = JSON.parse(readFileSync(join(dir, 'v', 'report', 'agreement.json'), 'utf8')).firstTouch as { replays: { label: string; calls: number; medianMsPerMb: number }[]; calibrations: { busyMsPerMb: number }[] };
    expect(ft.replays.map((x) => x.label)).toEqual(['run 0', 'run 1']);
    for (const x of ft.replays) {
      expect(x.calls).toBeGreaterThan(0);
      expect(x.medianMsPerMb).toBeGreaterThan(0);
    }
    expect(ft.calibrations.map((c) => c.busyMsPerMb)).toEqual([0, 1].map((i) => (one(i).extra as { touchBusyMsPerMb: number }).touchBusyMsPerMb));
    expect(r.stdout).toMatch(/first touches of memory, the lambda's own CPU per MB .*run 0 \d+\.\d\d \(\d+ cold starts\)/);
  }, 420_000);

  it('grid: policies × memory sizes on the real worker and the simulator, judged cell by cell, and resumed without replaying again', () => {
    if (process.getuid?.() !== 0 || !existsSync('/var/lib/ol-lab/ol-min/.ol-lab-base')) throw new Error('needs root and scripts/setup-host.sh');
    const dir = mkdtempSync(join(tmpdir(), 'ol-grid-e2e-'));
    const cli = projectPath('dist', 'experiments', 'cli.js');
    const args = ['grid', '--minutes', '1:4', '--time-scale', '60', '--policies', 'lru,openlambda', '--memory', '512,4096', '--loads', 'low=0.2',
      '--real-runs', '2', '--replicas', '2', '--profile', projectPath('sim', 'profiles', 'default.json'), '--out', join(dir, 'g')];
    const bad = spawnSync(process.execPath, [cli, 'grid', '--loads', 'low:0.2', '--out', join(dir, 'bad')], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--loads: expected name=share \(e\.g\. comfortable=0\.25\), got "low:0\.2"/);
    const badPolicy = spawnSync(process.execPath, [cli, 'grid', '--policies', 'lru,nope', '--out', join(dir, 'bad')], { encoding: 'utf8' });
    expect(badPolicy.status).toBe(2);
    expect(badPolicy.stderr).toMatch(/--policies: unknown policy "nope"/);
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/4 cells × 2 replays/);
    expect(r.stdout.match(/replay \d+\/8/g)).toHaveLength(8);
    // the cpuacct group the grid counted its workers through is gone with it
    if (existsSync('/sys/fs/cgroup/cpuacct/cpuacct.usage')) expect(existsSync(`/sys/fs/cgroup/cpuacct/ol-exp-acct-${r.pid}`)).toBe(false);
    const g = JSON.parse(readFileSync(join(dir, 'g', 'grid.json'), 'utf8'));
    expect(g.cells).toHaveLength(4);
    for (const c of g.cells) {
      expect(c.real).toHaveLength(2);
      expect(c.sim).toHaveLength(2);
      for (const f of ['coldPct', 'p50', 'p99']) {
        const j = c.judgement.figures[f];
        expect(j.inside).toBe(j.sim.median >= j.real.min && j.sim.median <= j.real.max);
      }
      expect(c.real.every((x: { busyShare?: number }) => typeof x.busyShare === 'number')).toBe(true);
    }
    // each replay's notes are its own (they once went into the plan's list, shared by every replay of it)
    for (const id of ['low-512MB-lru', 'low-512MB-openlambda', 'low-4096MB-lru', 'low-4096MB-openlambda']) {
      for (const r of [0, 1]) {
        const notes = readRun(join(dir, 'g', 'cells', id, 'real', String(r))).info.notes;
        expect(notes.filter((n) => /busy with other work/.test(n)).length, notes.join('\n')).toBeLessThanOrEqual(1);
        expect(notes.filter((n) => /call\(s\) failed/.test(n)).length, notes.join('\n')).toBeLessThanOrEqual(1);
      }
    }
    expect(g.rankings).toHaveLength(2);
    expect(existsSync(join(dir, 'g', 'grid.html'))).toBe(true);
    expect(existsSync(join(dir, 'g', 'grid-low-lru-coldPct.png'))).toBe(true);
    // run again: every replay is kept, only the simulations run
    const again = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/replay \d+\/8/);
    const g2 = JSON.parse(readFileSync(join(dir, 'g', 'grid.json'), 'utf8'));
    expect(g2.cells.map((c: { real: unknown }) => c.real)).toEqual(g.cells.map((c: { real: unknown }) => c.real));
  }, 300_000);

  it('replays a short trace open loop, records it, and compares with the simulator', () => {
    if (process.getuid?.() !== 0 || !existsSync('/var/lib/ol-lab/ol-min/.ol-lab-base')) throw new Error('needs root and scripts/setup-host.sh');
    const dir = mkdtempSync(join(tmpdir(), 'ol-real-e2e-'));
    const cli = projectPath('dist', 'experiments', 'cli.js');
    const common = ['--minutes', '1:8', '--time-scale', '60', '--duration-scale', '0.02', '--memory', '4096'];
    // two replays, each on a fresh worker: the median one is kept in real/, both in real/runs/
    const r = spawnSync(process.execPath, [cli, 'real', ...common, '--runs', '2', '--out', join(dir, 'real')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/replay 2 of 2/);
    const runs = readRepeats(join(dir, 'real'), 'runs.json')!;
    expect(runs.list.map((x) => x.index)).toEqual([0, 1]);
    expect(readFileSync(join(dir, 'real', 'invocations.csv'), 'utf8')).toBe(readFileSync(join(dir, 'real', 'runs', String(runs.chosen), 'invocations.csv'), 'utf8'));
    const run = readRun(join(dir, 'real'));
    expect(run.info.complete).toBe(true);
    expect(run.rows.every((x) => x.status === 200)).toBe(true);
    expect(run.rows.length).toBe(run.info.invocations);
    expect(new Set(run.rows.map((x) => x.inv)).size).toBe(run.rows.length);
    const worker = readFileSync(join(dir, 'real', 'worker-records.jsonl'), 'utf8').trim().split('\n');
    expect(worker).toHaveLength(run.rows.length);
    // the lambda's own times: one row per answered call; first calls touched memory, all did their work
    const times = readFileSync(join(dir, 'real', 'handler-times.csv'), 'utf8').trim().split('\n');
    expect(times[0]).toBe('inv,touch_cpu_ms,touch_wall_ms,work_cpu_ms,work_wall_ms');
    const t = times.slice(1).map((l) => l.split(',').map(Number));
    expect(t.map((x) => x[0]).sort((a, b) => a - b)).toEqual(run.rows.map((x) => x.inv).sort((a, b) => a - b));
    const cold = new Set(run.rows.filter((x) => x.start === 'cold').map((x) => x.inv));
    for (const [k, tc, tw, wc, ww] of t) {
      expect(tc! > 1).toBe(cold.has(k!)); // touched (at least 16 MB) on the sandbox's first call only
      expect(tw!).toBeGreaterThanOrEqual(tc! * 0.9 - 1); // CPU time never runs ahead of the wall clock (the two clocks' grain aside)
      expect(ww!).toBeGreaterThanOrEqual(wc! * 0.9 - 1);
    }
    expect(t.reduce((s, x) => s + x[3]!, 0)).toBeGreaterThan(0); // the handlers burnt CPU for their work
    // CPU once a second: the machine's busy cores, the worker's and the client's
    const cpu = readFileSync(join(dir, 'real', 'cpu.csv'), 'utf8').trim().split('\n');
    expect(cpu[0]).toBe('t_ms,machine_cores,worker_cores,client_cores,other_cores');
    const samples = cpu.slice(1).map((l) => l.split(',').map(Number));
    expect(samples.length).toBeGreaterThan(3);
    for (const [, m, w, cl, o] of samples) {
      expect(m!).toBeGreaterThanOrEqual(0);
      expect(m!).toBeLessThanOrEqual(cpus().length + 0.5);
      expect(w!).toBeGreaterThanOrEqual(0);
      expect(cl!).toBeGreaterThan(0);
      // other work: never more than the machine did
      expect(o!).toBeGreaterThanOrEqual(0);
      expect(o!).toBeLessThanOrEqual(m! + 0.05);
    }
    // how busy other work kept the machine, before and during the replay
    expect(run.info.busy).toMatchObject({ cores: cpus().length, flagged: expect.any(Boolean) });
    expect(run.info.busy!.before!.wallMs).toBeGreaterThan(1000);
    expect(run.info.busy!.during.share).toBeGreaterThanOrEqual(0);
    expect(samples.some(([, , w]) => w! > 0)).toBe(true);
    execFileSync(process.execPath, [cli, 'sim', ...common, '--out', join(dir, 'sim')]);
    const c = spawnSync(process.execPath, [cli, 'compare', join(dir, 'real'), join(dir, 'sim'), '--out', join(dir, 'report')], { encoding: 'utf8' });
    expect(c.status).toBe(0);
    expect(c.stdout).toMatch(/cold starts: real \d+, sim \d+/);
    expect(c.stdout).toMatch(/the real run is the median of 2 replays \(run [01]\)/);
    expect(c.stdout).toMatch(/the simulated run is the median of 31 replications/);
    expect(existsSync(join(dir, 'report', 'report.pdf'))).toBe(true);
    const bad = spawnSync(process.execPath, [cli, 'real', '--worker', 'http://127.0.0.1:9', ...common, '--out', join(dir, 'x')], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/the worker at http:\/\/127\.0\.0\.1:9 is not reachable/);
    const twice = spawnSync(process.execPath, [cli, 'real', '--worker', 'http://127.0.0.1:9', '--runs', '2', ...common, '--out', join(dir, 'y')], { encoding: 'utf8' });
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/--runs 2 replays each run on a worker started afresh; leave out --worker/);
  }, 120_000);

  it('with synthetic packages and a fitted tree: the real worker forks from the tree\'s zygotes, the simulator models it', () => {
    if (process.getuid?.() !== 0 || !existsSync('/var/lib/ol-lab/ol-min/.ol-lab-base')) throw new Error('needs root and scripts/setup-host.sh');
    const dir = mkdtempSync(join(tmpdir(), 'ol-real-pk-'));
    const cli = projectPath('dist', 'experiments', 'cli.js');
    // a pool no burst of this plan fills (it reserves each sandbox's limit, 64-199 MB, while the
    // sandboxes touch a quarter of it): this test is about forking from the tree, and with 4,096 MB
    // a loaded machine (other test files at once) filled the pool and zygotes gave their memory back
    const common = ['--minutes', '1:5', '--functions', '5', '--time-scale', '60', '--duration-scale', '0.005', '--memory', '16000', '--policy', 'lru',
      '--packages', '4', '--import-ms', '30', '--zygotes', 'fit:4'];
    // two replays, each on a fresh worker: the median one is kept in real/, both in real/runs/
    const r = spawnSync(process.execPath, [cli, 'real', ...common, '--runs', '2', '--out', join(dir, 'real')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/replay 2 of 2/);
    const runs = readRepeats(join(dir, 'real'), 'runs.json')!;
    expect(runs.list.map((x) => x.index)).toEqual([0, 1]);
    expect(readFileSync(join(dir, 'real', 'invocations.csv'), 'utf8')).toBe(readFileSync(join(dir, 'real', 'runs', String(runs.chosen), 'invocations.csv'), 'utf8'));
    const run = readRun(join(dir, 'real'));
    expect(run.rows.every((x) => x.status === 200)).toBe(true);
    const records = readFileSync(join(dir, 'real', 'worker-records.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const cold = records.filter((x) => x.start === 'cold');
    expect(cold.length).toBeGreaterThan(0);
    // cold starts come from zygotes, those of lambdas with a fitted node from below the root (one that
    // finds no free memory for the zygote it wants uses an ancestor's or starts fresh: docs/WORKER.md)
    const forked = cold.filter((x) => typeof x.zygote === 'string');
    expect(forked.length).toBeGreaterThan(cold.length * 0.75);
    expect(cold.some((x) => x.zygote !== '0' && x.zygote !== null)).toBe(true);
    // the packages were installed before the replay: no cold start paid an install
    expect(existsSync(join(dir, 'real', 'packages'))).toBe(true);
    execFileSync(process.execPath, [cli, 'sim', ...common, '--out', join(dir, 'sim')]);
    const c = spawnSync(process.execPath, [cli, 'compare', join(dir, 'real'), join(dir, 'sim'), '--out', join(dir, 'report')], { encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
    // both sides repeated: how far the errors could move with the repetitions' own variation
    expect(c.stdout).toMatch(/resampling the replays and replications \(2000 times\): cold-start error 90% interval [+-][\d.]+% to [+-][\d.]+%; target met in \d+% of resamples/);
    const iv = JSON.parse(readFileSync(join(dir, 'report', 'agreement.json'), 'utf8')).errorIntervals;
    expect(iv.resamples).toBe(2000);
    expect(iv.errorPct.coldStarts[0]).toBeLessThanOrEqual(iv.errorPct.coldStarts[2]);
    expect(readFileSync(join(dir, 'report', 'report.html'), 'utf8')).toMatch(/chance in the errors/);
    // and the real replays against themselves, the ceiling for any model
    expect(c.stdout).toMatch(/the real worker against itself \(two independent resamples of its replays, under the same targets\): cold starts \d+%, p50 \d+%, p99 \d+%, all three \d+%/);
    expect(iv.realSelfShare.all).toBeLessThanOrEqual(iv.realSelfShare.coldStarts);
    expect(readFileSync(join(dir, 'report', 'report.html'), 'utf8')).toMatch(/the real worker against itself/);
    // a simulation of another tree is another plan: refused
    execFileSync(process.execPath, [cli, 'sim', ...common.slice(0, -1), 'fit:2', '--out', join(dir, 'sim2')]);
    const d = spawnSync(process.execPath, [cli, 'compare', join(dir, 'real'), join(dir, 'sim2'), '--out', join(dir, 'report2')], { encoding: 'utf8' });
    expect(d.status).toBe(2);
    expect(d.stderr).toMatch(/replay plans differ/);
  }, 180_000);
});
