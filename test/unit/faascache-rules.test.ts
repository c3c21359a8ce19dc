/**
 * FaasCache-sim's rules one by one inside ol-lab's own model (core pool
 * options, fc-* policies, the azure2019 reader's faascache arrivals and
 * filter, zero costs): hand-worked cases for each, and all of them at once
 * against FaasCache-sim's published counts on the 10-function sample.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTrace } from '../../traces/index.js';
import { describe, expect, it } from 'vitest';
import { makeRng } from '../../common/rng.js';
import { simulate } from '../../sim/run.js';
import { Route } from '../../core/pool.js';
import { createPolicy } from '../../core/policies/index.js';
import { PoolSb, SAMPLE10, poolWith } from '../helpers.js';

describe('pool rules from FaasCache-sim', () => {
  it('evicts only the shortfall by default, the new sandbox\'s full size with evictTo full', () => {
    // 1000 MB: idle 300, 300, 300 (100 free); a 250 MB sandbox is short 150
    const a = poolWith(1000, [300, 300, 300]);
    expect(a.pool.makeRoom(250, a.now())).toBe(1);
    expect(a.evicted).toEqual([0]);
    const b = poolWith(1000, [300, 300, 300], { evictTo: 'full' });
    // victims until 250 MB are freed: one of 300 is enough
    expect(b.pool.makeRoom(250, b.now())).toBe(1);
    const c = poolWith(1000, [100, 100, 100, 100, 100, 100, 100, 100, 100], { evictTo: 'full' });
    // 100 free, 250 needed: the shortfall (150) would take 2 victims, the full size takes 3
    expect(c.pool.makeRoom(250, c.now())).toBe(3);
    expect(c.evicted).toEqual([0, 1, 2]);
  });

  it('evicts nothing when room cannot be had, unless flushOnFail, which flushes every idle sandbox', () => {
    const a = poolWith(1000, [300, 300, 300]);
    // sandbox 2 busy again: only the 600 MB of sandboxes 0 and 1 can be freed
    a.pool.invoked(2, 10);
    expect(a.pool.route(2, 300, a.now(), 9)).toBe(Route.Warm);
    expect(a.pool.makeRoom(800, a.now())).toBe(-1);
    expect(a.evicted).toEqual([]);
    const b = poolWith(1000, [300, 300, 300], { flushOnFail: true });
    b.pool.invoked(2, 10);
    expect(b.pool.route(2, 300, b.now(), 9)).toBe(Route.Warm);
    expect(b.pool.makeRoom(800, b.now())).toBe(-1);
    expect(b.evicted).toEqual([0, 1]);
  });

  it('a request larger than the pool never runs; with flushOnFail it flushes the idle pool first', () => {
    const a = poolWith(1000, [300, 300]);
    expect(a.pool.oversize(1200, a.now())).toBe(true);
    expect(a.evicted).toEqual([]);
    expect(a.pool.oversize(900, a.now())).toBe(false);
    const b = poolWith(1000, [300, 300], { flushOnFail: true });
    expect(b.pool.oversize(1200, b.now())).toBe(true);
    expect(b.evicted).toEqual([0, 1]);
  });
});

describe('fc-* policies', () => {
  it('fc-lru shares the function\'s last call start among its sandboxes; lru ranks each sandbox by its own', () => {
    // f0 has two idle sandboxes (idle at 1 and 2), f1 one (idle at 3); then f0 is called again at 10 on a third
    const run = (name: string) => {
      const p = createPolicy(name, { capacityMb: 1000, rng: makeRng(1, 't') });
      const sbs = [new PoolSb(0, 0, 100, 0), new PoolSb(1, 0, 100, 0), new PoolSb(2, 1, 100, 0), new PoolSb(3, 0, 100, 0)];
      for (const sb of sbs) { p.onCreate(sb, 0); p.onBusy(sb, 0); }
      p.onIdle(sbs[0]!, 1, 'finished');
      p.onIdle(sbs[1]!, 2, 'finished');
      p.onIdle(sbs[2]!, 3, 'finished');
      p.onBusy(sbs[3]!, 10);
      return p.victim(11)!.id;
    };
    expect(run('lru')).toBe(0);
    // FaasCache: f0's sandboxes now rank at 10, f1's at 0 (its call started at 0): f1 goes first
    expect(run('fc-lru')).toBe(2);
  });

  it('fc-ttl keeps a sandbox 10 minutes from its last call start, not from going idle', () => {
    const p = createPolicy('fc-ttl', { capacityMb: 1000, rng: makeRng(1, 't') });
    const sb = new PoolSb(0, 0, 100, 0);
    p.onCreate(sb, 0);
    p.onBusy(sb, 1000);
    expect(p.onIdle(sb, 61_000, 'finished').keepAliveMs).toBe(540_000);
    expect(createPolicy('ttl', { capacityMb: 1000, rng: makeRng(1, 't') }).onIdle(sb, 61_000, 'finished').keepAliveMs).toBe(600_000);
  });
});

describe('the azure2019 reader\'s FaasCache rules', () => {
  it('places a minute\'s k arrivals at i·60/k s with --arrivals faascache, and drops functions invoked once in the day with dropSingle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fc-rules-'));
    try {
      writeFileSync(join(dir, 'x_inv.csv'), 'HashFunction,HashApp,HashOwner,minute_1,minute_2\nf0,a0,o,4,0\nf1,a1,o,0,1\n');
      writeFileSync(join(dir, 'x_run.csv'), 'HashFunction,HashApp,HashOwner,Average,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100\nf0,a0,o,10,20,1,2,3,4,5,6,7\nf1,a1,o,10,20,1,2,3,4,5,6,7\n');
      writeFileSync(join(dir, 'x_mem.csv'), 'HashApp,HashOwner,AverageAllocatedMb\na0,o,100\na1,o,100\n');
      const times = (o: Record<string, unknown>) => {
        const src = openTrace(`azure2019:${join(dir, 'x_inv.csv')}`, o);
        const out: [string, number][] = [];
        for (const b of src.batches()) for (let i = 0; i < b.length; i++) out.push([src.functions[b.fn[i]!]!.name, b.t[i]!]);
        return { out, notes: src.notes() };
      };
      expect(times({ arrivals: 'faascache' }).out).toEqual([['f0', 0], ['f0', 15_000], ['f0', 30_000], ['f0', 45_000], ['f1', 60_000]]);
      expect(times({ arrivals: 'uniform' }).out[0]).toEqual(['f0', 7_500]);
      const single = times({ arrivals: 'faascache', dropSingle: true });
      expect(single.out.map((x) => x[0])).toEqual(['f0', 'f0', 'f0', 'f0']);
      expect(single.notes.join(' ')).toMatch(/left out 1 function\(s\) invoked at most once in the day/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const golden = readFileSync(new URL('./golden/faascache-sample10.csv', import.meta.url), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));

describe('every FaasCache-sim rule at once in ol-lab\'s model', () => {
  const rules = (policy: string, memoryMb: number) => simulate({
    trace: `azure2019:${SAMPLE10}`,
    traceOptions: { arrivals: 'faascache', dropSingle: true },
    config: { policy, memoryMb, cores: Infinity, queue: 'drop', coldFromTrace: true, evictTo: 'full', flushOnFail: true, zeroCosts: true },
    machine: false,
  });
  // what is left: FaasCache-sim's heap order among equal priorities and its lazy bookkeeping (docs/SIMULATOR.md)
  for (const [fc, ours, tolerance] of [['GD', 'fc-gd', 0.0005], ['LRU', 'fc-lru', 0.0005], ['TTL', 'fc-ttl', 0.0005], ['LND', 'fc-lnd', 0.001]] as const) {
    it(`${ours} lands within ${tolerance * 100}% of the invocations of FaasCache-sim's ${fc} counts at every memory size`, async () => {
      for (const row of golden.filter((r) => r[1] === fc)) {
        const [, , mem, inv, cold, warm, dropped] = row.map(Number);
        const { summary } = await rules(ours, mem!);
        const r = summary.results;
        expect(r.invocations).toBe(inv);
        const off = Math.max(Math.abs(r.coldStarts - cold!), Math.abs(r.warm - warm!), Math.abs(r.dropped - dropped!));
        expect(off, `${ours} at ${mem} MB: cold ${r.coldStarts}/${cold}, warm ${r.warm}/${warm}, dropped ${r.dropped}/${dropped}`).toBeLessThanOrEqual(tolerance * inv!);
      }
    }, 60_000);
  }
});
