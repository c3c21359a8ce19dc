/**
 * The simulated cluster: one worker is the single-worker run number for
 * number; a hash balancer keeps each function on one worker; round-robin
 * spreads invocations evenly; runs are deterministic; the CLI's cluster
 * options are checked with errors naming what is wrong.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { projectPath } from '../../common/paths.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { simulate } from '../../sim/run.js';
import { clusterSpec } from '../../sim/commands/run.js';
import { SAMPLE10 } from '../helpers.js';
import type { InvocationBatch } from '../../traces/types.js';

const TRACE = `azure2019:${SAMPLE10}`;
const base = { policy: 'lru', memoryMb: 6000, cores: 2, seed: 1 };
const strip = (s: object) => {
  const c = { ...s } as Record<string, unknown>;
  delete c.cluster;
  return JSON.stringify(c);
};

/**
 * A busy random trace for the cluster's own tests: arrivals up to `gapMs`
 * apart, `functions` functions (skewed: a few take most calls), durations
 * `durMs[0]` + up to `durMs[1]`, 128-384 MB by function; `whole`: times in
 * whole ms. In batches of `batch` arrivals, as the trace readers give them.
 */
async function busyTrace(seed: number, stream: string, n: number, o: { functions: number; gapMs: number; durMs: [number, number]; skewed?: boolean; whole?: boolean; batch?: number }) {
  const { newBatch } = await import('../../traces/types.js');
  const { makeRng } = await import('../../common/rng.js');
  const rng = makeRng(seed, stream);
  const size = o.batch ?? n, round = o.whole ? Math.floor : (x: number) => x;
  const batches: InvocationBatch[] = [];
  let t = 0;
  for (let i = 0; i < n; i += size) {
    const b = newBatch(size);
    for (let j = 0; j < size && i + j < n; j++) {
      t += round(rng() * o.gapMs);
      const f = Math.floor((o.skewed ? rng() * rng() : rng()) * o.functions);
      b.t[j] = t; b.fn[j] = f; b.dur[j] = round(o.durMs[0] + rng() * o.durMs[1]); b.mem[j] = 128 * (1 + (f % 3)); b.init[j] = NaN;
      b.length = j + 1;
    }
    batches.push(b);
  }
  return { batches, functions: Array.from({ length: o.functions }, (_, i) => ({ name: `f${i}` })) };
}

describe('simulated cluster', () => {
  it('one worker behind any balancer is the single-worker run, number for number', async () => {
    const single = await simulate({ trace: TRACE, config: base, machine: false });
    for (const balancer of ['round-robin', 'hash', 'ch-bl', 'hermod']) {
      const one = await simulate({ trace: TRACE, config: base, machine: false, cluster: { balancer, workers: [{}] } });
      expect(strip(one.summary), balancer).toBe(strip(single.summary));
      expect(one.summary.cluster!.perWorker[0]!.invocations).toBe(single.summary.results.invocations);
    }
  });

  it('hash keeps every function on one worker; round-robin spreads invocations evenly; the workers add up', async () => {
    const h = await simulate({ trace: TRACE, config: base, machine: false, cluster: { balancer: 'hash', workers: [{ memoryMb: 2000 }, { memoryMb: 2000 }, { memoryMb: 2000 }] } });
    const c = h.summary.cluster!;
    expect(c.spread.maxWorkersPerFunction).toBe(1);
    expect(c.spread.functionsOnOneWorker).toBe(h.summary.trace.functions);
    expect(c.perWorker.reduce((a, w) => a + w.invocations, 0)).toBe(h.summary.results.invocations);
    expect(c.perWorker.reduce((a, w) => a + w.coldStarts, 0)).toBe(h.summary.results.coldStarts);
    expect(h.summary.results.memory.capacityMb).toBe(6000);
    const rr = await simulate({ trace: TRACE, config: base, machine: false, cluster: { balancer: 'round-robin', workers: [{ memoryMb: 2000 }, { memoryMb: 2000 }, { memoryMb: 2000 }] } });
    const inv = rr.summary.cluster!.perWorker.map((w) => w.invocations);
    expect(Math.max(...inv) - Math.min(...inv)).toBeLessThanOrEqual(1);
    expect(rr.summary.cluster!.imbalance).toBeLessThan(1.0001);
    // the busy functions run everywhere
    expect(rr.summary.cluster!.spread.maxWorkersPerFunction).toBe(3);
    expect(rr.summary.cluster!.spread.meanWorkersPerFunction).toBeGreaterThan(c.spread.meanWorkersPerFunction);
  });

  it('is deterministic: the same seed gives the same bytes, another seed other random draws', async () => {
    const spec = { trace: TRACE, config: base, machine: false, cluster: { balancer: 'p2c', workers: [{ memoryMb: 3000 }, { memoryMb: 3000 }] } };
    const a = await simulate(spec), b = await simulate(spec);
    expect(JSON.stringify(a.summary)).toBe(JSON.stringify(b.summary));
    const c = await simulate({ ...spec, config: { ...base, seed: 2 } });
    expect(c.summary.cluster!.perWorker.map((w) => w.invocations)).not.toEqual(a.summary.cluster!.perWorker.map((w) => w.invocations));
  });

  it('a hop delays every request by its length, and the client waits it', async () => {
    const cfg = { ...base, memoryMb: 60_000, cores: Infinity };
    const a = await simulate({ trace: TRACE, config: cfg, machine: false, cluster: { balancer: 'hash', workers: [{}] } });
    const b = await simulate({ trace: TRACE, config: cfg, machine: false, cluster: { balancer: 'hash', workers: [{}], hopMs: 2 } });
    expect(b.summary.results.coldStarts).toBe(a.summary.results.coldStarts);
    expect(b.summary.results.simulatedMs - a.summary.results.simulatedMs).toBeCloseTo(2, 6);
    expect(b.summary.results.latencyMs.mean - a.summary.results.latencyMs.mean).toBeCloseTo(2, 3);
  });

  it("the CLI's cluster options: defaults, a cluster file, and errors that name what is wrong", () => {
    const a = { workers: undefined, balancer: undefined, balancerOpt: [], hopMs: 0, viewRefreshMs: 100 } as never as Parameters<typeof clusterSpec>[0];
    expect(clusterSpec(a)).toBeUndefined();
    expect(clusterSpec({ ...a, workers: 3, workerMemory: 512, balancer: 'ch-bl', balancerOpt: ['c=1.5'] })).toEqual({
      balancer: 'ch-bl', balancerOptions: { c: 1.5 }, workers: [{ memoryMb: 512 }, { memoryMb: 512 }, { memoryMb: 512 }], hopMs: 0, viewRefreshMs: 100,
    });
    const d = mkdtempSync(join(tmpdir(), 'ol-cluster-'));
    try {
      writeFileSync(join(d, 'c.json'), JSON.stringify([{ memoryMb: 1000, cores: 1 }, { memoryMb: 4000, cores: 'infinite' }]));
      expect(clusterSpec({ ...a, cluster: join(d, 'c.json') })!.workers).toEqual([{ memoryMb: 1000, cores: 1 }, { memoryMb: 4000, cores: Infinity }]);
      writeFileSync(join(d, 'bad.json'), JSON.stringify([{ memoryMb: 1000, gpus: 2 }]));
      expect(() => clusterSpec({ ...a, cluster: join(d, 'bad.json') })).toThrow(/worker 0: "gpus" is not known/);
      expect(() => clusterSpec({ ...a, cluster: join(d, 'c.json'), workers: 2 })).toThrow(/either --cluster FILE or --workers/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
    expect(() => clusterSpec({ ...a, workers: 0 })).toThrow(/workers.*whole number >= 1/);
    expect(() => clusterSpec({ ...a, workers: 2, balancerOpt: ['c'] })).toThrow(/balancer-opt.*key=value/);
  });

  it('ol-sim run --workers --out writes the summary as JSON and each worker\'s figures as CSV', () => {
    const d = mkdtempSync(join(tmpdir(), 'ol-cluster-out-'));
    try {
      const r = spawnSync(process.execPath, [projectPath('dist', 'sim', 'cli.js'), 'run', 'lru', '--trace', TRACE, '--memory', '2000', '--workers', '3', '--balancer', 'hash', '--out', d], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/per worker: workers\.csv/);
      const summary = JSON.parse(readFileSync(join(d, 'summary.json'), 'utf8'));
      const lines = readFileSync(join(d, 'workers.csv'), 'utf8').trim().split('\n');
      expect(lines[0]).toBe('worker,memory_mb,cores,invocations,cold_starts,cold_start_pct,dropped,p50_ms,p99_ms,cpu_utilisation,peak_used_mb,avg_used_mb');
      const rows = lines.slice(1).map((l) => l.split(','));
      expect(rows.map((x) => x[0])).toEqual(['0', '1', '2']);
      expect(rows.reduce((t, x) => t + Number(x[3]), 0)).toBe(summary.results.invocations);
      expect(rows.map((x) => Number(x[4]))).toEqual(summary.cluster.perWorker.map((w: { coldStarts: number }) => w.coldStarts));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('an unknown balancer or option is refused before anything runs', async () => {
    await expect(simulate({ trace: TRACE, config: base, machine: false, cluster: { balancer: 'nearest', workers: [{}] } })).rejects.toThrow(/balancer.*nearest/);
    await expect(simulate({ trace: TRACE, config: base, machine: false, cluster: { balancer: 'hash', balancerOptions: { c: 2 }, workers: [{}] } })).rejects.toThrow(/balancer hash has no options/);
  });

  it('a streamed trace, whose functions appear as it is read, places as one whose functions are known at the start', async () => {
    // before the fix, hash read the name of a function it had not been told of (a crash), and
    // hermod's warm lookups missed every function first seen after the cluster was built
    const { openTrace } = await import('../../traces/index.js');
    const streamed = () => {
      const src = openTrace(TRACE, { seed: 1 });
      const functions: typeof src.functions = [];
      return {
        ...src, functions, hash: () => src.hash(), notes: () => src.notes(),
        *batches() {
          for (const b of src.batches()) {
            let top = -1;
            for (let i = 0; i < b.length; i++) top = Math.max(top, b.fn[i]!);
            while (functions.length <= top) functions.push(src.functions[functions.length]!);
            yield b;
          }
        },
      };
    };
    for (const balancer of ['hash', 'hermod', 'pasch']) {
      const cluster = { balancer, workers: [{ memoryMb: 1500 }, { memoryMb: 1500 }, { memoryMb: 1500 }] };
      const known = await simulate({ trace: TRACE, config: base, machine: false, cluster });
      const late = await simulate({ trace: streamed(), config: base, machine: false, cluster });
      expect(JSON.stringify(late.summary.cluster), balancer).toBe(JSON.stringify(known.summary.cluster));
      expect(late.summary.results.coldStarts, balancer).toBe(known.summary.results.coldStarts);
    }
  });

  it("each worker (own cores) runs exactly what a lone worker fed its placements runs, whether or not the balancer reads loads", async () => {
    const { ClusterSimulator } = await import('../../sim/cluster.js');
    const { Simulator } = await import('../../sim/simulator.js');
    const { resolveSimConfig } = await import('../../sim/config.js');
    const { compileProfile, loadProfile } = await import('../../sim/profile.js');
    // a busy random trace: 12 functions, 3 small workers, so pools evict and requests queue; more calls than
    // the shared table keeps before it puts them into the histograms (the cluster's workers' latencies go there)
    const n = 40_000;
    const { batches: [b], functions } = await busyTrace(7, 'cluster-independence', n, { functions: 12, gapMs: 150, durMs: [20, 300] });
    const config = resolveSimConfig({ policy: 'lru', memoryMb: 768, cores: 1, queue: 'wait', seed: 3 });
    const costs = compileProfile(loadProfile()); // sampled costs: each worker draws from its own streams
    for (const balancer of ['round-robin', 'hash', 'least-loaded', 'ch-bl']) {
      const placed: number[] = [];
      const cluster = new ClusterSimulator(config, costs, functions, {
        balancer, workers: [0, 1, 2].map(() => ({ memoryMb: 768, cores: 1 })), hopMs: 0, viewRefreshMs: 100, onPlace: (inv, w) => (placed[inv] = w),
      });
      const out = cluster.run([b!]);
      for (let w = 0; w < 3; w++) {
        const lone = new Simulator(config, costs, functions, {}, undefined, w === 0 ? '' : `#w${w}`);
        lone.advanceTo(b!.t[0]!); // the cluster starts every worker at the first arrival
        for (let i = 0; i < n; i++) if (placed[i] === w) lone.feed(b!.fn[i]!, b!.t[i]!, b!.dur[i]!, b!.mem[i]!, b!.init[i]!);
        const r = lone.finish(), c = out.workers[w]!;
        const pick = (x: typeof r) => [x.invocations, x.cold, x.warm, x.queued, x.dropped, x.evictions, x.queueWaitMsTotal,
          x.latency.count, x.latency.sum, x.latency.min, x.latency.max, x.latency.percentile(50), x.latency.percentile(99)];
        expect(pick(c), `${balancer}, worker ${w}`).toEqual(pick(r));
        // its span ends with its last call, or later where a front that reads loads brought it to a later arrival
        if (c.endMs !== r.endMs) expect(c.endMs > r.endMs && c.endMs <= b!.t[n - 1]! && ['least-loaded', 'ch-bl'].includes(balancer), `${balancer}, worker ${w}: ends ${c.endMs} against ${r.endMs}`).toBe(true);
        // (and its memory in use is integrated to that end)
        if (c.endMs === r.endMs) expect(c.memUsedMbMs).toBeCloseTo(r.memUsedMbMs, 3);
        else expect(c.memUsedMbMs).toBeGreaterThanOrEqual(r.memUsedMbMs);
      }
    }
  });

  it('feeding each worker its arrivals in runs (balancers that read nothing of the workers) is feeding them one by one', async () => {
    const { ClusterSimulator } = await import('../../sim/cluster.js');
    const { resolveSimConfig } = await import('../../sim/config.js');
    const { compileProfile, loadProfile } = await import('../../sim/profile.js');
    // more arrivals than the buffer holds (2^16), in batches of the readers' size, so runs start and end mid-batch
    const { batches, functions } = await busyTrace(11, 'cluster-runs', 150_000, { functions: 40, gapMs: 4, durMs: [5, 60], skewed: true, batch: 4096 });
    const config = resolveSimConfig({ policy: 'gdsf', memoryMb: 1024, cores: 1, queue: 'wait', seed: 5 });
    const costs = compileProfile(loadProfile());
    for (const balancer of ['round-robin', 'hash', 'random']) {
      const run = (hooks: { onInvocation?: () => void }) => {
        const placed: number[] = [];
        const c = new ClusterSimulator(config, costs, functions, {
          balancer, workers: [0, 1, 2, 3].map(() => ({ memoryMb: 1024, cores: 1 })), hopMs: 0.3, viewRefreshMs: 100, onPlace: (inv, w) => (placed[inv] = w),
        }, hooks);
        return { out: c.run(batches), placed };
      };
      // a hook that watches every invocation makes the cluster feed workers one arrival at a time, as before
      const runs = run({}), direct = run({ onInvocation: () => {} });
      expect(runs.placed, balancer).toEqual(direct.placed);
      const pick = (x: import('../../sim/results.js').SimResult) => [x.invocations, x.cold, x.warm, x.queued, x.dropped, x.evictions, x.expirations, x.queueWaitMsTotal,
        x.latency.count, x.latency.sum, x.latency.percentile(50), x.latency.percentile(99), x.endMs, x.memUsedMbMs, x.peakUsedMb, x.cpuBusyCoreMs];
      for (let w = 0; w < 4; w++) expect(pick(runs.out.workers[w]!), `${balancer}, worker ${w}`).toEqual(pick(direct.out.workers[w]!));
      for (const w of runs.out.workers) expect(w.invocations, balancer).toBeGreaterThan(1000);
      expect(runs.out.total.cold, balancer).toBeGreaterThan(100);
      expect(runs.out.total.queued, balancer).toBeGreaterThan(100);
      // the shared per-function table: the same counts and percentiles (its sums may differ in the last bit: added in another order)
      const fnPick = (x: import('../../sim/results.js').SimResult) => x.perFunction.map((f) => [f.invocations, f.cold, f.warm, f.queued, f.dropped, f.latency.count, f.latency.percentile(50), f.latency.percentile(99)]);
      expect(fnPick(runs.out.total), balancer).toEqual(fnPick(direct.out.total));
      runs.out.total.perFunction.forEach((f, i) => {
        const d = direct.out.total.perFunction[i]!.latency.sum;
        expect(Math.abs(f.latency.sum - d), `${balancer}, f${i}`).toBeLessThanOrEqual(1e-12 * d);
      });
    }
  });

  it('a front that reads loads brings a worker forward only when one of its calls may have ended, and reads the same loads as one that brings it to every event', async () => {
    const { ClusterSimulator } = await import('../../sim/cluster.js');
    const { resolveSimConfig } = await import('../../sim/config.js');
    const { compileProfile, loadProfile } = await import('../../sim/profile.js');
    const { constantProfile } = await import('../../core/profile.js');
    const sampled = compileProfile(loadProfile()), whole = compileProfile(constantProfile({ create: 5, destroy: 2 }));
    const n = 12_000;
    const cases = [
      // one core each, queueing and evicting; a hop
      { what: 'one core, wait', trace: { functions: 14, gapMs: 60, durMs: [20, 300] as [number, number] }, costs: sampled, hop: 0.4,
        config: { policy: 'lru', memoryMb: 768, cores: 1, queue: 'wait' as const } },
      // no contention, drops, sampled dispatches
      { what: 'infinite cores, drop', trace: { functions: 30, gapMs: 8, durMs: [5, 200] as [number, number], skewed: true }, costs: sampled, hop: 0,
        config: { policy: 'gdsf', memoryMb: 1024, cores: Infinity, queue: 'drop' as const } },
      // creations on the CPU in two lanes, destroys on the CPU, whole milliseconds everywhere: ends that fall on arrivals
      { what: 'creations and destroys on the CPU, whole ms', trace: { functions: 15, gapMs: 30, durMs: [10, 150] as [number, number], whole: true }, costs: whole, hop: 0,
        config: { policy: 'lru', memoryMb: 768, cores: 2, queue: 'wait' as const, createOnCpu: true, createLanes: 2, destroyOnCpu: true, createCpuWeight: 2, createSandboxMs: 3 } },
      // time slices, and a keep-alive whose expiries are timers
      { what: 'time slices, ttl', trace: { functions: 12, gapMs: 50, durMs: [5, 80] as [number, number] }, costs: sampled, hop: 0.2,
        config: { policy: 'ttl', memoryMb: 896, cores: 1, queue: 'wait' as const, cpuSliceMs: 4 } },
    ];
    for (const c of cases) {
      const { batches, functions } = await busyTrace(17, `cluster-bound-${c.what}`, n, { ...c.trace, batch: 2048 });
      const config = resolveSimConfig({ ...c.config, seed: 9 });
      for (const balancer of ['least-loaded', 'ch-bl', 'p2c', 'hermod']) {
        const run = (hooks: { onInvocation?: () => void }) => {
          const placed: number[] = [];
          const sim = new ClusterSimulator(config, c.costs, functions, {
            balancer, workers: [0, 1, 2].map(() => ({ memoryMb: c.config.memoryMb, cores: c.config.cores })), hopMs: c.hop, viewRefreshMs: 100,
            onPlace: (inv, w) => (placed[inv] = w),
          }, hooks);
          return { out: sim.run(batches), placed };
        };
        // a hook that watches every invocation makes the front bring each worker to each of its events, as before
        const bounded = run({}), every = run({ onInvocation: () => {} });
        const what = `${c.what}, ${balancer}`;
        expect(bounded.placed, what).toEqual(every.placed);
        const pick = (x: import('../../sim/results.js').SimResult) => [x.invocations, x.cold, x.warm, x.unpaused, x.queued, x.dropped, x.evictions, x.expirations,
          x.queueWaitMsTotal, x.latency.count, x.latency.sum, x.latency.percentile(50), x.latency.percentile(99), x.endMs, x.peakUsedMb, x.cpuBusyCoreMs];
        for (let w = 0; w < 3; w++) {
          const a = bounded.out.workers[w]!, b = every.out.workers[w]!;
          expect(pick(a), `${what}, worker ${w}`).toEqual(pick(b));
          // memory in use is integrated over other steps: the same up to rounding
          expect(Math.abs(a.memUsedMbMs - b.memUsedMbMs), `${what}, worker ${w}`).toBeLessThanOrEqual(1e-12 * b.memUsedMbMs);
        }
        expect(bounded.out.total.invocations, what).toBe(n);
        expect(bounded.out.total.cold, what).toBeGreaterThan(50);
        if (c.config.queue === 'wait') expect(bounded.out.total.queued, what).toBeGreaterThan(0);
      }
    }
  });

  it("the front's running sums of the views (ch-bl's bound) equal the views at every placement, own cores or shared", async () => {
    const { ClusterSimulator } = await import('../../sim/cluster.js');
    const { resolveSimConfig } = await import('../../sim/config.js');
    const { compileProfile, loadProfile } = await import('../../sim/profile.js');
    const { constantProfile } = await import('../../core/profile.js');
    // whole milliseconds, and a profile of whole-millisecond costs beside the sampled one
    const n = 4000;
    const { batches, functions } = await busyTrace(13, 'cluster-totals', n, { functions: 15, gapMs: 40, durMs: [10, 200], whole: true });
    const config = resolveSimConfig({ policy: 'lru', memoryMb: 768, cores: 1, queue: 'wait', seed: 4 });
    for (const [costs, sharedCores] of [[compileProfile(loadProfile()), undefined], [compileProfile(loadProfile()), 2], [compileProfile(constantProfile({ create: 5, destroy: 2 })), 2]] as const) {
      for (const balancer of ['ch-bl', 'least-loaded', 'p2c']) {
        const c = new ClusterSimulator(config, costs, functions, {
          balancer, workers: [0, 1, 2].map(() => ({ memoryMb: 768, cores: 1 })), hopMs: 0, viewRefreshMs: 100, checkTotals: true,
          ...(sharedCores ? { sharedCores } : {}),
        });
        const out = c.run(batches);
        expect(out.total.invocations, `${balancer}, shared ${sharedCores}`).toBe(n);
        expect(out.total.queued, `${balancer}, shared ${sharedCores}`).toBeGreaterThan(0);
      }
    }
  });

  it('workers sharing one machine\'s cores: one worker is the single-worker run; two busy at once stretch each other\'s handlers', async () => {
    // one worker on a shared machine of 2 cores is a worker of 2 cores, number for number
    const single = await simulate({ trace: TRACE, config: base, machine: false });
    const one = await simulate({ trace: TRACE, config: base, machine: false, cluster: { balancer: 'round-robin', workers: [{}], sharedCores: 2 } });
    expect(strip(one.summary)).toBe(strip(single.summary));
    // hand-worked: two 100-ms handlers arriving together on two workers; on one shared core each runs at half speed
    const { ClusterSimulator } = await import('../../sim/cluster.js');
    const { resolveSimConfig } = await import('../../sim/config.js');
    const { compileProfile, constantProfile } = await import('../../sim/profile.js');
    const { newBatch } = await import('../../traces/types.js');
    const latencies = (sharedCores?: number) => {
      const b = newBatch(3);
      b.t.set([0, 0, 1000]); b.fn.set([0, 1, 0]); b.dur.set([100, 100, 100]); b.mem.set([64, 64, 64]);
      b.length = 3;
      const lat: number[] = [];
      const sim = new ClusterSimulator(resolveSimConfig({ policy: 'lru', memoryMb: 1024, cores: 1, queue: 'wait', seed: 1 }), compileProfile(constantProfile({})), [{ name: 'a' }, { name: 'b' }], {
        balancer: 'round-robin', workers: [{ memoryMb: 1024, cores: 1 }, { memoryMb: 1024, cores: 1 }], hopMs: 0, viewRefreshMs: 100, ...(sharedCores ? { sharedCores } : {}),
      }, { onInvocation: (r) => (lat[r.arrival === 0 ? r.fn === 'a' ? 0 : 1 : 2] = r.latencyMs) });
      const out = sim.run([b]);
      return { lat, busy: out.total.cpuBusyCoreMs };
    };
    // each its own core: 100 ms each; one shared core: 200 ms each while both run, then 100 ms alone
    expect(latencies()).toEqual({ lat: [100, 100, 100], busy: 300 });
    expect(latencies(1)).toEqual({ lat: [200, 200, 100], busy: 300 });
    // two shared cores: no contention again
    expect(latencies(2).lat).toEqual([100, 100, 100]);
  });
});
