import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../core/clock.js';
import { WallClock } from '../../worker/wall-clock.js';
import { makeCpu, ProcessorSharing, TimeSlicing, type Cpu } from '../../sim/cpu.js';
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

/** Runs a CPU's events to the end: each finished job with its time (slice ends, which finish none, left out). */
function drain<P>(cpu: Cpu<P>): [P, number][] {
  const out: [P, number][] = [];
  for (let t = cpu.nextTime(); t < Infinity; t = cpu.nextTime()) {
    const p = cpu.pop(t);
    if (p !== undefined) out.push([p, t]);
  }
  return out;
}

describe('TimeSlicing', () => {
  it('runs a burst of calls shorter than a slice one after another, not all together', () => {
    // 1 core, slice 1.5: four 1 ms calls at 0 end at 1, 2, 3, 4 (processor sharing: all four at 4)
    const cpu = new TimeSlicing<string>(1, 1.5);
    for (const x of ['a', 'b', 'c', 'd']) cpu.add(0, 1, x);
    expect(cpu.running).toBe(4);
    const done = drain(cpu);
    expect(done.map(([p]) => p)).toEqual(['a', 'b', 'c', 'd']);
    done.forEach(([, t], i) => expect(t).toBeCloseTo(i + 1, 9));
    expect(cpu.busyCoreMs).toBeCloseTo(4, 9);
    const ps = new ProcessorSharing<string>(1);
    for (const x of ['a', 'b', 'c', 'd']) ps.add(0, 1, x);
    expect(drain(ps).map(([, t]) => t)).toEqual([4, 4, 4, 4].map((t) => expect.closeTo(t, 9)));
  });

  it('takes a running job\'s core at the end of its slice when another waits', () => {
    // 1 core, slice 2: a (5 ms) alone from 0; b (1 ms) comes at 0.5 and waits; a's slice ends at 2
    // (a slice end, no job done), b runs to 3, then a alone its last 3 ms to 6
    const cpu = new TimeSlicing<string>(1, 2);
    cpu.add(0, 5, 'a');
    expect(cpu.nextTime()).toBeCloseTo(5, 9);
    cpu.add(0.5, 1, 'b');
    expect(cpu.nextTime()).toBeCloseTo(2, 9);
    expect(cpu.pop(2)).toBeUndefined();
    expect(cpu.nextTime()).toBeCloseTo(3, 9);
    expect(cpu.pop(3)).toBe('b');
    expect(cpu.nextTime()).toBeCloseTo(6, 9);
    expect(cpu.pop(6)).toBe('a');
    expect(cpu.nextTime()).toBe(Infinity);
    expect(cpu.busyCoreMsAt(10)).toBeCloseTo(6, 9);
  });

  it('stretches long jobs as processor sharing does, slice by slice', () => {
    // 1 core, slice 1: two 100 ms jobs at 0 alternate; a ends at 199, b at 200 (processor sharing: both at 200)
    const cpu = new TimeSlicing<string>(1, 1);
    cpu.add(0, 100, 'a');
    cpu.add(0, 100, 'b');
    const done = drain(cpu);
    expect(done.map(([p]) => p)).toEqual(['a', 'b']);
    expect(done[0]![1]).toBeCloseTo(199, 6);
    expect(done[1]![1]).toBeCloseTo(200, 6);
  });

  it('with no more jobs than cores is processor sharing exactly, fractional cores too', () => {
    // 1.5 cores, two 3 ms jobs: both run at 0.75 and end at 4; one alone runs at full speed
    const cpu = new TimeSlicing<string>(1.5, 1);
    cpu.add(0, 3, 'a');
    cpu.add(0, 3, 'b');
    expect(drain(cpu)).toEqual([['a', expect.closeTo(4, 9)], ['b', expect.closeTo(4, 9)]]);
    cpu.add(10, 3, 'c');
    expect(cpu.nextTime()).toBeCloseTo(13, 9);
  });

  it('serves the weighted class first: a creation takes a core from a handler at once', () => {
    // 1 core, weight 32, slice 1.5: a (10 ms) from 0; p (2 ms, weighted) at 1 takes the core, ends at 3; a ends at 12
    const cpu = new TimeSlicing<string>(1, 1.5, 32);
    cpu.add(0, 10, 'a');
    cpu.add(1, 2, 'p', true);
    expect(drain(cpu)).toEqual([['p', expect.closeTo(3, 9)], ['a', expect.closeTo(12, 9)]]);
    // weight 1: the class is ignored: a ends its first slice at 1.5, p runs a slice to 3, a one to 4.5, p its last 0.5 to 5
    const flat = new TimeSlicing<string>(1, 1.5);
    flat.add(0, 10, 'a');
    flat.add(1, 2, 'p', true);
    expect(drain(flat)[0]).toEqual(['p', expect.closeTo(5, 9)]);
  });

  it('is chosen by a slice > 0 with finite cores; bad settings are named', () => {
    expect(makeCpu(2, 1, 1.5)).toBeInstanceOf(TimeSlicing);
    expect(makeCpu(2, 1, 0)).toBeInstanceOf(ProcessorSharing);
    expect(makeCpu(Infinity, 1, 1.5)).toBeInstanceOf(ProcessorSharing);
    expect(() => new TimeSlicing(Infinity, 1)).toThrow(/finite number of cores/);
    expect(() => new TimeSlicing(2, 0)).toThrow(/slice must be/);
    expect(() => new TimeSlicing(2, 1, 0.5)).toThrow(/weight must be/);
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
