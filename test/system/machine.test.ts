/**
 * Harness helpers on the machine itself, which the unit tier leaves alone:
 * cpuPerOp (experiments/calibrate.ts) reading the real /proc/stat (the unit
 * test checks its arithmetic exactly on a made-up machine), and a worker's
 * folder removed only when nothing is mounted under it (a bind mount: root).
 * The system tier runs one file at a time, so nothing of the suite's own
 * burns CPU beside the first; its bounds are loose for whatever else runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeUnlessMounted } from '../../common/fs.js';
import { cpuPerOp } from '../../experiments/calibrate.js';

describe('harness helpers on the machine', () => {
  it('cpuPerOp finds about the CPU the ops burn; a stray burst spoils one batch, not the figure', async () => {
    const burn = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end) { /* busy */ } };
    // 10 ops of 15 ms of CPU in 5 batches; the third batch also meets 200 ms more
    const got = await cpuPerOp(10, async (from, to) => {
      for (let i = from; i < to; i++) burn(15);
      if (from === 4) burn(200);
    });
    expect(got.batches).toHaveLength(5);
    expect(got.batches[2]!).toBeGreaterThan(got.perOp + 50);
    expect(got.perOp).toBeGreaterThan(5);
    expect(got.perOp).toBeLessThan(80);
    // the idle rate is the machine's busy cores per ms between batches: somewhere between none and all of them
    expect(got.idlePerMs).toBeGreaterThanOrEqual(0);
    expect(got.idlePerMs).toBeLessThanOrEqual(cpus().length);
  }, 30_000);

  it.skipIf(process.getuid?.() !== 0)('a stopped worker\'s folder is removed, but never while something is mounted under it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ol-exp-worker-test-'));
    const outside = mkdtempSync(join(tmpdir(), 'ol-bind-src-'));
    writeFileSync(join(outside, 'keep.txt'), 'x');
    mkdirSync(join(dir, 'sandboxes', 'sb', 'root'), { recursive: true });
    execFileSync('mount', ['--bind', outside, join(dir, 'sandboxes', 'sb', 'root')]);
    try {
      expect(removeUnlessMounted(dir)).toBe(false);
      expect(existsSync(join(dir, 'sandboxes', 'sb', 'root', 'keep.txt'))).toBe(true);
    } finally {
      execFileSync('umount', [join(dir, 'sandboxes', 'sb', 'root')]);
    }
    expect(removeUnlessMounted(dir)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(join(outside, 'keep.txt'))).toBe(true);
  });
});
