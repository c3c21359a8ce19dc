/** The first-touch price by the host's free memory (sim/free-memory.ts), on hand-worked cases. */
import { describe, expect, it } from 'vitest';
import { HostFreeMemory } from '../../sim/free-memory.js';

describe('HostFreeMemory', () => {
  it('cheap while the start\'s free memory or memory freed in the last holdMs lasts, the most recent first; dear beyond', () => {
    // f0 touches 40 MB, f1 10 MB; cheap 2 ms/MB, dear 4; 50 MB cheap at the start; freed memory cheap for 1 s
    const m = new HostFreeMemory({ cheapMsPerMb: 2, dearMsPerMb: 4, cheapMb: 50, holdMs: 1000, touchMb: [40, 10] });
    expect(m.touch(0, 0)).toBe(40 * 2); // the start's 50 → 10
    expect(m.touch(0, 10)).toBe(10 * 2 + 30 * 4); // its last 10, then dear
    m.freed(0, 100); // 40 MB cheap until 1100
    expect(m.touch(1, 500)).toBe(10 * 2); // 30 left of it
    expect(m.touch(0, 1200)).toBe(40 * 4); // the host has taken it back
    m.freed(1, 2000);
    m.freed(0, 2100);
    expect(m.touch(1, 2200)).toBe(10 * 2); // from f0's 40 (the most recent): 30 left
    expect(m.touch(0, 2300)).toBe(30 * 2 + 10 * 2); // the rest of f0's, then f1's
    expect(m.touch(1, 2400)).toBe(10 * 4);
    expect([m.cheapTouched, m.dearTouched]).toEqual([40 + 10 + 10 + 10 + 40, 30 + 40 + 10]);
    // a function that touches nothing costs nothing and frees nothing
    const z = new HostFreeMemory({ cheapMsPerMb: 2, dearMsPerMb: 4, cheapMb: 0, holdMs: 1000, touchMb: [0] });
    z.freed(0, 0);
    expect(z.touch(0, 1)).toBe(0);
    expect(() => new HostFreeMemory({ cheapMsPerMb: 2, dearMsPerMb: NaN, cheapMb: 0, holdMs: 1, touchMb: [] })).toThrow(/dearMsPerMb/);
  });
});
