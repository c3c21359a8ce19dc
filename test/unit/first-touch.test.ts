/** The replays' own first-touch figure (experiments/first-touch.ts), on hand-made rows and files. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstTouchOf, firstTouchText, readFirstTouch, readTouchCpu, touchMb } from '../../experiments/first-touch.js';

const dir = mkdtempSync(join(tmpdir(), 'ol-first-touch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('first touches in a replay', () => {
  it('takes the median CPU per MB over cold starts only, each by its function\'s touched MB', () => {
    // a: 256 MB -> touches 64 MB; b: 64 MB -> touches 16; tiny: 48 MB -> touches nothing
    expect(touchMb(256)).toBe(64);
    expect(touchMb(64)).toBe(16);
    expect(touchMb(48)).toBe(0);
    const mem = new Map([['a', 256], ['b', 64], ['tiny', 48]]);
    const rows = [
      { inv: 0, fn: 'a', start: 'cold' }, // 32 ms / 64 MB = 0.5
      { inv: 1, fn: 'b', start: 'cold' }, // 16 ms / 16 MB = 1.0
      { inv: 2, fn: 'a', start: 'warm' }, // warm: not counted, however dear
      { inv: 3, fn: 'a', start: 'cold' }, // 192 ms / 64 MB = 3.0
      { inv: 4, fn: 'tiny', start: 'cold' }, // touches nothing: not counted
      { inv: 5, fn: 'b', start: 'cold' }, // no handler time reported: not counted
    ];
    const cpu = new Map([[0, 32], [1, 16], [2, 999], [3, 192], [4, 5]]);
    expect(firstTouchOf(rows, cpu, mem)).toEqual({ calls: 3, medianMsPerMb: 1 });
    expect(firstTouchOf(rows.filter((r) => r.start !== 'cold'), cpu, mem)).toBeUndefined();
  });

  it('reads handler-times.csv, names a bad line, and reads nothing where there is no file', () => {
    writeFileSync(join(dir, 'handler-times.csv'), 'inv,touch_cpu_ms,touch_wall_ms,work_cpu_ms,work_wall_ms\n0,32.000,40.000,1.000,1.000\n1,16.000,20.000,1.000,1.000\n');
    expect([...readTouchCpu(dir)]).toEqual([[0, 32], [1, 16]]);
    expect(readFirstTouch(dir, [{ inv: 0, fn: 'a', start: 'cold' }, { inv: 1, fn: 'a', start: 'cold' }], [{ name: 'a', memMb: 256 }]))
      .toEqual({ calls: 2, medianMsPerMb: 0.375 });
    writeFileSync(join(dir, 'handler-times.csv'), 'inv,touch_cpu_ms,touch_wall_ms,work_cpu_ms,work_wall_ms\n0,32.000,40.000,1.000,1.000\n1,oops,20.000,1.000,1.000\n');
    expect(() => readTouchCpu(dir)).toThrow(/handler-times\.csv:3: .*"1,oops/);
    writeFileSync(join(dir, 'handler-times.csv'), 'inv,cpu\n');
    expect(() => readTouchCpu(dir)).toThrow(/handler-times\.csv:1: expected the header/);
    expect(readTouchCpu(join(dir, 'nowhere')).size).toBe(0);
  });

  it('says the replays\' figures beside the calibration\'s', () => {
    const t = firstTouchText({ replays: [{ label: 'run 0', calls: 32, medianMsPerMb: 0.631 }], calibrations: [{ label: 'calibration 1', aloneMsPerMb: 0.497, busyMsPerMb: 0.763 }] });
    expect(t).toContain('run 0 0.63 (32 cold starts)');
    expect(t).toContain('calibration 1 0.76 charged (0.50 alone)');
    // priced by the host's free memory: what was charged, from where; the calibration's one figure beside, not charged
    const f = firstTouchText({ replays: [{ label: 'run 0', calls: 32, medianMsPerMb: 0.631 }], calibrations: [{ label: 'calibration 1', aloneMsPerMb: 0.497, busyMsPerMb: 0.763 }],
      freeMemory: { cheapMsPerMb: 0.701, dearMsPerMb: 3.865, cheapMb: 1360, from: 'probes before 3 replay(s)' } });
    expect(f).toContain('the simulator charged 0.70 in the first 1360 MB and in memory just freed, 3.87 beyond (probes before 3 replay(s)); the one figure, not charged: calibration 1 0.76 (0.50 alone)');
    expect(f).not.toContain('0.76 charged');
  });
});
