/** The first-touch price by the host's free memory (sim/free-memory.ts), on hand-worked cases. */
import { describe, expect, it } from 'vitest';
import { HostFreeMemory } from '../../sim/free-memory.js';

describe('HostFreeMemory', () => {
  it('cheap within the headroom above what the sandboxes hold, then in memory freed above it in the last holdMs (the most recent first); dear beyond', () => {
    // f0 touches 40 MB, f1 10 MB; cheap 2 ms/MB, dear 4; a headroom of 50 MB; memory freed above it cheap for 1 s
    const m = new HostFreeMemory({ cheapMsPerMb: 2, dearMsPerMb: 4, cheapMb: 50, holdMs: 1000, touchMb: [40, 10] });
    expect(m.touch(0, 0)).toBe(40 * 2); // held 40
    expect(m.touch(0, 10)).toBe(10 * 2 + 30 * 4); // 10 left of the headroom; held 80
    m.freed(0, 100); // held 40: 30 of the 40 lay above the headroom, cheap until 1100; 10 is headroom again
    expect(m.touch(1, 500)).toBe(10 * 2); // the headroom; held 50
    expect(m.touch(0, 600)).toBe(30 * 2 + 10 * 4); // no headroom: the 30 freed, then dear; held 90
    expect(m.touch(1, 1200)).toBe(10 * 4); // held 100
    m.freed(0, 1300); // held 60: all 40 above the headroom, cheap until 2300
    m.freed(0, 1400); // held 20: 10 above it (until 2400), 30 headroom again
    expect(m.touch(0, 1500)).toBe(30 * 2 + 10 * 2); // the headroom, then the most recently freed; held 60
    expect(m.touch(0, 3000)).toBe(40 * 4); // the host has taken the rest back; held 100
    expect([m.cheapTouched, m.dearTouched]).toEqual([40 + 10 + 10 + 30 + 40, 30 + 10 + 10 + 40]);
  });

  it('the headroom is not used up: sandboxes made and destroyed one after another touch cheaply for ever', () => {
    const m = new HostFreeMemory({ cheapMsPerMb: 2, dearMsPerMb: 4, cheapMb: 50, holdMs: 1000, touchMb: [40] });
    for (let t = 0; t < 100_000; t += 10_000) {
      expect(m.touch(0, t)).toBe(40 * 2);
      m.freed(0, t + 5000);
    }
    expect(m.dearTouched).toBe(0);
  });

  it('rejects bad figures and prices functions that touch nothing at 0', () => {
    // a function that touches nothing costs nothing and frees nothing
    const z = new HostFreeMemory({ cheapMsPerMb: 2, dearMsPerMb: 4, cheapMb: 0, holdMs: 1000, touchMb: [0] });
    z.freed(0, 0);
    expect(z.touch(0, 1)).toBe(0);
    expect(() => new HostFreeMemory({ cheapMsPerMb: 2, dearMsPerMb: NaN, cheapMb: 0, holdMs: 1, touchMb: [] })).toThrow(/dearMsPerMb/);
  });
});
