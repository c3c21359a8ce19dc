/**
 * `--compat faascache`: FaasCache-sim's input conversion and simulation,
 * checked against its own exact counts on the 10-function sample (30 runs,
 * golden/faascache-sample10.csv, from ../shared/faascache) and the fast
 * engine against a literal port of its scheduler on traces full of ties.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeRng } from '../../common/rng.js';
import { faasCachePolicy, simulateFaasCache, FAASCACHE_POLICIES, type FaasCachePolicy } from '../../sim/faascache.js';
import { faasCacheFingerprints, readFaasCacheTrace, type FaasCacheTrace } from '../../traces/faascache.js';
import { simulateFaasCacheReference } from '../faascache-reference.js';
import { SAMPLE10 } from '../helpers.js';

const golden = readFileSync(new URL('./golden/faascache-sample10.csv', import.meta.url), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));

describe('FaasCache-sim input conversion', () => {
  it('feeds the 10-function sample exactly as FaasCache-sim reads it (its fingerprints)', () => {
    const tr = readFaasCacheTrace(SAMPLE10);
    expect(tr.functions).toHaveLength(10);
    expect(tr.fn.length).toBe(69_586);
    expect(tr.t[0]).toBe(0);
    expect(tr.t[tr.t.length - 1]).toBe(86_395_714.28571428);
    expect(faasCacheFingerprints(tr)).toEqual({
      rowTime: 'd16ec1a841dbd2b3d2b85bd7f0e906a3bf768fa8646cc99d0b1e28f02f760171',
      row: '408296411a78a9bfa3a00bcc17d7e6aaa0cfced8bc74a2fffc13a3dc2cf32920',
    });
  });

  it('drops functions invoked once and repeated ones, truncates times, places arrivals at m·60000 + i·(60000/c), ties by row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fc-conv-'));
    const minutes = (cs: number[]) => cs.join(',');
    writeFileSync(join(dir, 'x_inv.csv'), [
      'HashFunction,HashApp,HashOwner,minute_1,minute_2,minute_3',
      `f0,a0,o,${minutes([3, 0, 1])}`,
      `f1,a1,o,${minutes([1, 0, 0])}`, // once in the day: left out
      `f2,a2,o,${minutes([1, 7, 0])}`,
      `f0,a0,o,${minutes([5, 5, 5])}`, // a repeated HashFunction: left out
      `f3,a3,o,${minutes([0, 2, 0])}`, // no duration row: left out
    ].join('\n') + '\n');
    writeFileSync(join(dir, 'x_run.csv'), 'HashFunction,HashApp,HashOwner,Count,Average,Minimum,Maximum\nf0,a0,o,1,10.9,1,99.99\nf1,a1,o,1,1,1,1\nf2,a2,o,1,5,1,7\nf9,a2,o,1,5,1,7\n');
    writeFileSync(join(dir, 'x_mem.csv'), 'HashApp,HashOwner,SampleCount,AverageAllocatedMb\na0,o,1,100\na1,o,1,10\na2,o,1,101\na3,o,1,5\n');
    const tr = readFaasCacheTrace(join(dir, 'x'));
    // f2's app a2 has two functions in the duration file: its memory is split over them, rounded up
    expect(tr.functions.map((f) => [f.name, f.row, f.memMb, f.coldMs, f.warmMs])).toEqual([['f0', 0, 100, 99, 10], ['f2', 2, 51, 7, 5]]);
    expect(tr.skipped.map((s) => s.row)).toEqual([1, 3, 4]);
    const every3 = 60000 / 3, every7 = 60000 / 7;
    const events = Array.from(tr.fn, (f, i) => [f, tr.t[i]]);
    expect(events).toEqual([
      [0, 0], [1, 0], [0, every3], [0, 2 * every3],
      ...Array.from({ length: 7 }, (_, i) => [1, 60000 + i * every7]),
      [0, 120000],
    ]);
  });

  it('names the file, line and field of a bad count', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fc-bad-'));
    writeFileSync(join(dir, 'y_inv.csv'), 'HashFunction,HashApp,HashOwner,minute_1,minute_2\nf0,a0,o,1,2\nf1,a1,o,x,1\n');
    writeFileSync(join(dir, 'y_run.csv'), 'HashFunction,HashApp,HashOwner,Average,Maximum\nf0,a0,o,1,2\n');
    writeFileSync(join(dir, 'y_mem.csv'), 'HashApp,HashOwner,AverageAllocatedMb\na0,o,100\n');
    expect(() => readFaasCacheTrace(join(dir, 'y'))).toThrow(/y_inv\.csv:3: field "minute_1": "x" is not a whole number >= 0/);
  });
});

describe('FaasCache-sim reproduced', () => {
  const tr = readFaasCacheTrace(SAMPLE10);
  it.each(golden.map((r) => [r[1]!, Number(r[2]), r.slice(4).map(Number)] as const))('%s at %i MB: its exact cold, warm, dropped and eviction counts', (policy, mb, want) => {
    const x = simulateFaasCache(tr, policy as FaasCachePolicy, mb);
    expect([x.cold, x.warm, x.dropped, x.evictions]).toEqual(want);
  });

  it('under ol-lab\'s names the compat mode runs FaasCache\'s policies; RAND and unknown names are refused by name', () => {
    expect(['gdsf', 'lru', 'ttl', 'hist', 'lnd', 'freq', 'size'].map(faasCachePolicy)).toEqual(['GD', 'LRU', 'TTL', 'HIST', 'LND', 'FREQ', 'SIZE']);
    expect(faasCachePolicy('GD')).toBe('GD');
    expect(faasCachePolicy('fc-lnd')).toBe('LND');
    expect(() => faasCachePolicy('rand')).toThrow(/RAND draws from numpy's unseeded generator/);
    expect(() => faasCachePolicy('belady')).toThrow(/--compat faascache has no policy "belady"; choose one of gdsf, lru/);
    expect(() => simulateFaasCache(tr, 'GD', 0)).toThrow(/memory: must be a number of MB > 0, got 0/);
  });
});

/** A trace full of ties: few functions, arrivals on whole minutes and simple fractions, small pools. */
function tieTrace(seed: number, nf: number, minutes: number, shape = { mem: [64, 128, 256, 300], warmMs: [1, 90_000], perMinute: 6 }): FaasCacheTrace {
  const rng = makeRng(seed, 'fc-ties');
  const int = (a: number, b: number) => a + Math.floor(rng() * (b - a + 1));
  const functions = Array.from({ length: nf }, (_, i) => {
    const warmMs = int(shape.warmMs[0]!, shape.warmMs[1]!);
    return { name: `f${i}`, row: i, memMb: shape.mem[int(0, shape.mem.length - 1)]!, warmMs, coldMs: warmMs + int(0, 30_000) };
  });
  const fn: number[] = [], t: number[] = [];
  for (let m = 0; m < minutes; m++) {
    const ev: [number, number][] = [];
    for (let f = 0; f < nf; f++) {
      const c = rng() < 0.5 ? 0 : int(1, shape.perMinute);
      const every = 60000 / c;
      for (let i = 0; i < c; i++) ev.push([m * 60000 + i * every, f]);
    }
    ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [time, f] of ev) { t.push(time); fn.push(f); }
  }
  return { functions, fn: Uint32Array.from(fn), t: Float64Array.from(t), skipped: [], files: { inv: '', run: '', mem: '' } };
}

describe('the fast engine against a literal port of FaasCache-sim\'s scheduler', () => {
  it.each([...FAASCACHE_POLICIES])('%s: the same counts, function by function, on traces full of ties', (policy) => {
    for (const seed of [1, 2, 3]) {
      const tr = tieTrace(seed, 12, 400);
      for (const mb of [300, 700, 1500, 4000]) {
        const fast = simulateFaasCache(tr, policy, mb), ref = simulateFaasCacheReference(tr, policy, mb);
        expect(fast.perFunction, `${policy} seed ${seed} ${mb} MB`).toEqual(ref.perFunction);
        expect(fast.cold + fast.warm + fast.dropped).toBe(tr.fn.length);
      }
    }
  });

  it('a pool past 1,024 containers, where the heap\'s tables grow: the same as the literal port', () => {
    // 1 MB functions running 5-10 minutes at up to 40 calls a minute each: about 2,000 containers at once
    const tr = tieTrace(7, 16, 24, { mem: [1, 2], warmMs: [300_000, 600_000], perMinute: 40 });
    for (const policy of FAASCACHE_POLICIES) {
      for (const mb of [1_500, 4_000]) {
        const fast = simulateFaasCache(tr, policy, mb), ref = simulateFaasCacheReference(tr, policy, mb);
        expect(fast.perFunction, `${policy} ${mb} MB`).toEqual(ref.perFunction);
        // the smaller pool evicts and drops; the larger keeps every container it made (none evicted): over 1,024 at once
        if (mb === 1_500) expect(fast.evictions > 0 && fast.dropped > 0, `${policy} ${mb} MB evicts and drops`).toBe(true);
        if (policy === 'GD' && mb === 4_000) expect(fast.evictions === 0 && fast.cold > 1_024, 'GD 4,000 MB holds over 1,024 containers').toBe(true);
      }
    }
  });

  it('FREQ and SIZE on the sample, where FaasCache published no counts: the same as the literal port', () => {
    const tr = readFaasCacheTrace(SAMPLE10);
    for (const policy of ['FREQ', 'SIZE'] as const) {
      for (const mb of [2000, 8000]) expect(simulateFaasCache(tr, policy, mb).perFunction).toEqual(simulateFaasCacheReference(tr, policy, mb).perFunction);
    }
  });
});
