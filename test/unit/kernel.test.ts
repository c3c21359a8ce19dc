import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../core/clock.js';
import { WallClock } from '../../worker/wall-clock.js';
import { ProcessorSharing } from '../../sim/cpu.js';
import { LatencyHistogram } from '../../common/histogram.js';
import { makeRng } from '../../common/rng.js';

describe('VirtualClock', () => {
  it('runs callbacks by time, then priority, then scheduling order', () => {
    const c = new VirtualClock();
    const log: string[] = [];
    c.schedule(3, (x: string) => log.push(`${c.now()}:${x}`), 'c');
    c.schedule(1, (x: string) => log.push(`${c.now()}:${x}`), 'b-prio1', 1);
    c.schedule(1, (x: string) => log.push(`${c.now()}:${x}`), 'a-prio0', 0);
    c.schedule(1, (x: string) => log.push(`${c.now()}:${x}`), 'a2-prio0', 0);
    c.run(2);
    expect(log).toEqual(['1:a-prio0', '1:a2-prio0', '1:b-prio1']);
    expect(c.now()).toBe(2);
    c.run();
    expect(log.at(-1)).toBe('3:c');
  });

  it('refuses to schedule in the past', () => {
    const c = new VirtualClock(5);
    expect(() => c.schedule(4, () => {})).toThrow(/before now/);
  });

  it('keeps heap order over many random events', () => {
    const c = new VirtualClock();
    const rng = makeRng(7, 'test');
    const seen: number[] = [];
    for (let i = 0; i < 5000; i++) c.schedule(Math.floor(rng() * 1000), () => seen.push(c.now()));
    c.run();
    expect(seen).toHaveLength(5000);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
  });
});

describe('WallClock', () => {
  it('breaks ties as the virtual clock does: time, then priority, then scheduling order', async () => {
    const script: [number, string, number][] = [[30, 'c', 0], [10, 'b-prio1', 1], [10, 'a-prio0', 0], [10, 'a2-prio0', 0], [20, 'd', 2], [20, 'e', 0]];
    const v = new VirtualClock(), w = new WallClock();
    const virtual: string[] = [], wall: string[] = [];
    const t0 = w.now();
    for (const [at, x, p] of script) {
      v.schedule(at, (y: string) => virtual.push(y), x, p);
      w.schedule(t0 + at, (y: string) => wall.push(y), x, p);
    }
    v.run();
    await new Promise((r) => setTimeout(r, 80));
    expect(virtual).toEqual(['a-prio0', 'a2-prio0', 'b-prio1', 'e', 'd', 'c']);
    expect(wall).toEqual(virtual);
  });

  it('runs nothing after close, and a callback scheduled in the past runs at once', async () => {
    const w = new WallClock();
    const log: string[] = [];
    w.schedule(w.now() - 50, () => log.push('late'));
    w.schedule(w.now() + 30, () => log.push('never'));
    await new Promise((r) => setTimeout(r, 5));
    w.close();
    w.schedule(w.now(), () => log.push('after close'));
    await new Promise((r) => setTimeout(r, 60));
    expect(log).toEqual(['late']);
  });
});

describe('ProcessorSharing', () => {
  it('stretches handlers when more run than cores', () => {
    // 3 handlers of 100 ms on 2 cores, all at t=0: each runs at 2/3 speed, all end at 150
    const cpu = new ProcessorSharing<string>(2);
    cpu.add(0, 100, 'a');
    cpu.add(0, 100, 'b');
    cpu.add(0, 100, 'c');
    expect(cpu.nextTime()).toBeCloseTo(150, 9);
    expect(cpu.pop(150)).toBe('a');
    expect(cpu.nextTime()).toBeCloseTo(150, 9);
  });

  it('speeds up the rest when one finishes', () => {
    // 1 core: a (100 ms) at 0, b (50 ms) at 0 -> both at half speed; b ends at 100, a then alone: ends at 150
    const cpu = new ProcessorSharing<string>(1);
    cpu.add(0, 100, 'a');
    cpu.add(0, 50, 'b');
    expect(cpu.nextTime()).toBeCloseTo(100, 9);
    expect(cpu.pop(100)).toBe('b');
    expect(cpu.nextTime()).toBeCloseTo(150, 9);
    expect(cpu.pop(150)).toBe('a');
    expect(cpu.busyCoreMs).toBeCloseTo(150, 9);
  });

  it('tells the work done by any time between changes (the simulator\'s CPU series)', () => {
    // 2 cores: a (100 ms) at 0 alone (1 core busy), b (100 ms) at 10: 2 busy from then
    const cpu = new ProcessorSharing<string>(2);
    cpu.add(0, 100, 'a');
    expect(cpu.busyCoreMsAt(5)).toBeCloseTo(5, 9);
    cpu.add(10, 100, 'b');
    expect(cpu.busyCoreMsAt(10)).toBeCloseTo(10, 9);
    expect(cpu.busyCoreMsAt(30)).toBeCloseTo(50, 9);
    // weight 3 on 1 core: the two classes together keep the one core busy
    const w = new ProcessorSharing<string>(1, 3);
    w.add(0, 10, 'a');
    w.add(0, 3, 'p', true);
    expect(w.busyCoreMsAt(2)).toBeCloseTo(2, 9);
  });

  it('shares by weight, no job above a core, the capped class\'s leftover to the other', () => {
    // 1 core, weight 3: ordinary a (10 ms) and priority p (3 ms) at 0 run at 1/4 and 3/4;
    // p ends at 4, a has done 1 and runs its last 9 alone: ends at 13
    const one = new ProcessorSharing<string>(1, 3);
    one.add(0, 10, 'a');
    one.add(0, 3, 'p', true);
    expect(one.nextTime()).toBeCloseTo(4, 9);
    expect(one.pop(4)).toBe('p');
    expect(one.nextTime()).toBeCloseTo(13, 9);
    expect(one.pop(13)).toBe('a');
    expect(one.busyCoreMs).toBeCloseTo(13, 9);
    // 2 cores, weight 32: p's share (64/36 cores) is capped at one core; 4 ordinary jobs of 10 ms
    // share the other at 1/4: p (5 ms) ends at 5; then 2 cores for 4 jobs with 8.75 ms left each: 22.5
    const two = new ProcessorSharing<string>(2, 32);
    for (const x of ['a', 'b', 'c', 'd']) two.add(0, 10, x);
    two.add(0, 5, 'p', true);
    expect(two.nextTime()).toBeCloseTo(5, 9);
    expect(two.pop(5)).toBe('p');
    expect(two.nextTime()).toBeCloseTo(22.5, 9);
    // weight 1 (the default) ignores the class: a priority job is an ordinary one
    const flat = new ProcessorSharing<string>(1);
    flat.add(0, 10, 'a');
    flat.add(0, 10, 'p', true);
    expect(flat.nextTime()).toBeCloseTo(20, 9);
    expect(() => new ProcessorSharing(1, 0.5)).toThrow(/weight must be a number >= 1/);
  });

  it('with infinite cores is plain delay', () => {
    const cpu = new ProcessorSharing<number>(Infinity);
    for (let i = 0; i < 10; i++) cpu.add(i, 10, i);
    expect(cpu.nextTime()).toBe(10);
  });
});

describe('LatencyHistogram', () => {
  it('reports percentiles within 0.1% of the exact nearest-rank ones', () => {
    const h = new LatencyHistogram();
    const rng = makeRng(3, 'hist');
    const xs: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const x = Math.exp(rng() * 12); // 1 ms .. 160 s
      xs.push(x);
      h.record(x);
    }
    xs.sort((a, b) => a - b);
    for (const q of [1, 50, 90, 99, 99.9]) {
      const exact = xs[Math.ceil((q / 100) * xs.length) - 1]!;
      expect(Math.abs(h.percentile(q) - exact) / exact).toBeLessThan(0.0011);
    }
    expect(h.max).toBe(xs.at(-1));
    expect(h.count).toBe(20000);
  });

  it('keeps only the buckets in use, grown either way, and merges ranges that do not overlap', () => {
    const rng = makeRng(5, 'hist-ranges');
    const low = Array.from({ length: 3000 }, () => 0.002 + rng() * 3); // 2 µs .. 3 ms
    const high = Array.from({ length: 3000 }, () => 200 + rng() * 5e5); // 0.2 .. 500 s
    const all = [...low, ...high];
    const fig = (h: LatencyHistogram) => [0.1, 1, 10, 25, 50, 75, 90, 99, 99.9].map((q) => h.percentile(q)).concat([h.count, h.min, h.max]);
    const up = new LatencyHistogram(7), down = new LatencyHistogram(7);
    for (const x of [...all].sort((a, b) => a - b)) up.record(x);
    for (const x of [...all].sort((a, b) => b - a)) down.record(x);
    expect(fig(down)).toEqual(fig(up));
    // merged from two histograms whose buckets do not overlap, into an empty one and into each other, either way round
    const hl = new LatencyHistogram(7), hh = new LatencyHistogram(7);
    for (const x of low) hl.record(x);
    for (const x of high) hh.record(x);
    const m = new LatencyHistogram(7);
    m.merge(hh);
    m.merge(hl);
    expect(fig(m)).toEqual(fig(up));
    const lh = hl.clone();
    lh.merge(hh);
    expect(fig(lh)).toEqual(fig(up));
    const hlc = hh.clone();
    hlc.merge(hl);
    expect(fig(hlc)).toEqual(fig(up));
    // the median lies between the two groups: the highest low value's bucket
    expect(up.percentile(50)).toBeLessThanOrEqual(Math.max(...low) * 1.01);
  });

  it('goes on counting past 32-bit counts (the limit lowered to 5 samples here)', () => {
    const rng = makeRng(6, 'hist-wide');
    const xs = Array.from({ length: 500 }, () => Math.exp(rng() * 8));
    const narrow = new LatencyHistogram(10), wide = new LatencyHistogram(10, 5);
    for (const x of xs) { narrow.record(x); wide.record(x); }
    const qs = [1, 50, 90, 99, 100];
    expect(qs.map((q) => wide.percentile(q))).toEqual(qs.map((q) => narrow.percentile(q)));
    const w2 = new LatencyHistogram(10, 700);
    for (const x of xs) w2.record(x);
    w2.merge(narrow); // passes the limit in the merge
    const n2 = narrow.clone();
    n2.merge(narrow);
    expect(qs.map((q) => w2.percentile(q))).toEqual(qs.map((q) => n2.percentile(q)));
    expect(w2.count).toBe(1000);
  });
});
