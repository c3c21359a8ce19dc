/** Warm and cold first-touch figures from per-step costs (experiments/memory-warmth.ts), on made-up steps; probes merged and put in profiles. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AFTER_KNEE, CHILD_STOP_RULE, WARMTH_KNEE, analyseWarmth, mergeWarmth, replayWarmths, withReplayWarmth } from '../../experiments/memory-warmth.js';
import { makeRng } from '../../common/rng.js';
import { spreadMembers } from '../../experiments/spread.js';
import { readRun } from '../../experiments/run-files.js';
import { constantProfile, modelFigures, type CostProfile } from '../../sim/profile.js';
import { projectPath } from '../../common/paths.js';

describe('memory warmth', () => {
  it('finds where first touches turn dear and stay so, past a lone dear step', () => {
    // warm 2.7-2.9; one noisy step at 3.6 (not three in a row); from step 6 on, 4.2-4.5
    const w = analyseWarmth([2.8, 2.7, 2.9, 2.8, 3.6, 2.7, 4.2, 4.4, 4.3, 4.5, 4.2], 40);
    expect(w.warmMsPerMb).toBe(2.8);
    expect(w.warmMb).toBe(240);
    expect(w.coldMsPerMb).toBe(4.3);
    expect(w.samplesMsPerMb).toHaveLength(11);
  });

  it('three noisy steps in a row are not a knee: the steps after them must be dear too', () => {
    const cheap = [0.65, 0.66, 0.64, 0.65, 0.66];
    const w = analyseWarmth([...cheap, 0.9, 0.9, 0.9, 0.66, 0.65, 0.64, 0.66, 0.65, 0.66, 3.5, 3.6, 3.7, 3.9, 3.5, 3.6, 3.8, 3.7], 40);
    expect(w.warmMb).toBe(560);
    expect(w.coldMsPerMb).toBe(3.65);
    // a probe stopped 8 steps past a noisy run (an older rule) has no knee at all
    expect(analyseWarmth([...cheap, 0.9, 0.9, 0.9, 0.66, 0.65, 0.64, 0.66, 0.65], 40).warmMb).toBeNull();
  });

  it('no knee: every step alike (bare metal, or a warm set larger than measured)', () => {
    const w = analyseWarmth([2.8, 2.9, 3.0, 2.7, 2.8, 2.9, 3.1, 2.8], 40);
    expect(w.warmMb).toBeNull();
    expect(w.coldMsPerMb).toBeNull();
    expect(() => analyseWarmth([], 40)).toThrow(/no steps/);
  });
});

describe('the probe\'s stop rule (Python, in its child) and analyseWarmth are one rule', () => {
  /** The first step count at which the child's rule stops, for each sequence (null: it never does). */
  function pythonStops(seqs: number[][]): (number | null)[] {
    const driver = `${CHILD_STOP_RULE}
import json, sys
res = []
for seq in json.load(sys.stdin):
    res.append(next((n for n in range(1, len(seq) + 1) if past_knee(seq[:n], ${WARMTH_KNEE})), None))
print(json.dumps(res))
`;
    const r = spawnSync('python3', ['-c', driver], { input: JSON.stringify(seqs), encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as (number | null)[];
  }
  /** Where the child must stop: the first n whose first n steps have their knee exactly AFTER_KNEE steps back. */
  const nodeStop = (seq: number[]): number | null => {
    for (let n = AFTER_KNEE; n <= seq.length; n++) if (analyseWarmth(seq.slice(0, n), 1).warmMb === n - AFTER_KNEE) return n;
    return null;
  };

  it('stops exactly AFTER_KNEE steps past the knee analyseWarmth finds, on 4,000 made-up probes, with ties at the threshold', () => {
    const rng = makeRng(7, 'warmth-parity');
    // dyadic levels, so that steps exactly at WARMTH_KNEE x warm (2.5 over a warm 2, the usual warm
    // median) occur: a strict comparison written as >= in one language fails here
    const levels = [1.5, 2, 2, 2.5, 2.5, 3, 4];
    const seqs: number[][] = [];
    for (let k = 0; k < 3000; k++) {
      const len = 5 + Math.floor(rng() * 40);
      const turn = Math.floor(rng() * len);
      const dearShare = rng();
      seqs.push(Array.from({ length: len }, (_, i) => (i < 5 ? (rng() < 0.7 ? 2 : levels[Math.floor(rng() * levels.length)]!) : i >= turn && rng() < dearShare ? levels[3 + Math.floor(rng() * 4)]! : levels[Math.floor(rng() * levels.length)]!)));
    }
    // and measured-looking ones: noisy, warm medians that are not round
    for (let k = 0; k < 1000; k++) {
      const len = 8 + Math.floor(rng() * 50);
      const turn = 3 + Math.floor(rng() * len);
      seqs.push(Array.from({ length: len }, (_, i) => (i < turn ? 2.7 : 4.3) * (0.8 + 0.4 * rng())));
    }
    const py = pythonStops(seqs);
    const node = seqs.map(nodeStop);
    expect(node.filter((n) => n !== null).length).toBeGreaterThan(500);
    expect(node.filter((n) => n === null).length).toBeGreaterThan(500);
    for (let k = 0; k < seqs.length; k++) expect(py[k], JSON.stringify(seqs[k])).toBe(node[k]);
  });
});

describe('probes before the replays', () => {
  const probe = (warm: number, warmMb: number | null, cold: number | null) => ({ stepMb: 40, samplesMsPerMb: [warm, warm], warmMsPerMb: warm, warmMb, coldMsPerMb: cold, note: 'n' });
  /** A probe as run.json holds it: its steps, cheap up to warmMb then 8 dear (its figures as an older rule made them: read again from the steps). */
  const recorded = (warm: number, warmMb: number, cold: number) => ({ ...probe(warm, 0, 0), samplesMsPerMb: [...Array<number>(warmMb / 40).fill(warm), ...Array<number>(8).fill(cold)] });

  it('merges several as the median of each figure; a knee counts where most found one', () => {
    const m = mergeWarmth([probe(0.7, 1280, 3.9), undefined, probe(0.6, 1200, 4.1), probe(0.8, 680, 4.5)])!;
    expect(m.warmMsPerMb).toBe(0.7);
    expect(m.warmMb).toBe(1200);
    expect(m.coldMsPerMb).toBe(4.1);
    expect(m.samplesMsPerMb).toHaveLength(6);
    expect(m.probes).toEqual([{ warmMsPerMb: 0.7, warmMb: 1280, coldMsPerMb: 3.9 }, { warmMsPerMb: 0.6, warmMb: 1200, coldMsPerMb: 4.1 }, { warmMsPerMb: 0.8, warmMb: 680, coldMsPerMb: 4.5 }]);
    // two of three without a knee: none (the medians of the knees found are not a majority's)
    const n = mergeWarmth([probe(0.7, null, null), probe(0.9, 1000, 4), probe(0.8, null, null)])!;
    expect([n.warmMsPerMb, n.warmMb, n.coldMsPerMb]).toEqual([0.8, null, null]);
    expect(mergeWarmth([undefined, undefined])).toBeUndefined();
  });

  it('puts the merged probes in a profile, keeping the calibration\'s own apart; a profile without probes is left as it was', () => {
    const base = constantProfile({ create: 10 });
    const p = { ...base, extra: { cores: 2, memoryWarmth: probe(2.7, 680, 4.4) } };
    const q = withReplayWarmth(p, [probe(0.7, 1280, 3.9), probe(0.6, 1300, 3.8), probe(0.65, 1200, 4.0)]);
    expect(modelFigures(q).freeMemory).toEqual({ cheapMsPerMb: 0.65, dearMsPerMb: 3.9, cheapMb: 1280 });
    expect(q.extra!.memoryWarmthCalibrated).toEqual(p.extra.memoryWarmth);
    expect(modelFigures(p).freeMemory).toEqual({ cheapMsPerMb: 2.7, dearMsPerMb: 4.4, cheapMb: 680 }); // the original is left alone
    // merged again (a re-judged grid): the calibration's stays the one kept
    expect(withReplayWarmth(q, [probe(1, 900, 4)]).extra!.memoryWarmthCalibrated).toEqual(p.extra.memoryWarmth);
    expect(withReplayWarmth(p, [undefined])).toBe(p);
  });

  it('reads the probes from a run folder: a single run, or each replay of a series in order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ol-warmth-'));
    try {
      writeFileSync(join(dir, 'run.json'), JSON.stringify({ memoryWarmth: recorded(0.7, 1280, 3.9) }));
      expect(replayWarmths(dir).map((w) => [w?.warmMb, w?.coldMsPerMb])).toEqual([[1280, 3.9]]);
      for (const [r, w] of [[10, recorded(0.6, 1000, 4)], [2, recorded(0.7, 1200, 4)], [0, undefined]] as const) {
        mkdirSync(join(dir, 'runs', String(r)), { recursive: true });
        writeFileSync(join(dir, 'runs', String(r), 'run.json'), JSON.stringify(w ? { memoryWarmth: w } : { kind: 'real' }));
      }
      expect(replayWarmths(dir).map((w) => w?.warmMb)).toEqual([undefined, 1200, 1000]);
      writeFileSync(join(dir, 'runs', '2', 'run.json'), '{');
      expect(() => replayWarmths(dir)).toThrow(/runs\/2\/run\.json: not a run description/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the simulator\'s spread under --free-memory: each cores sample × the probes at the quartiles of the headroom', () => {
    const base = constantProfile({ create: 10 });
    const w = mergeWarmth([probe(0.7, 1280, 3.9), probe(0.6, 1300, 3.8), probe(0.65, 700, 4.0), probe(0.8, 1100, 4.2)])!;
    const p = { ...base, extra: { cores: 2, touchMsPerMb: 3, touchMsPerMbSamples: [2.9, 3, 3.1, 4.2], cpu: { effectiveCores: [1.9, 2] }, memoryWarmth: w } };
    const ms = spreadMembers(p, { freeMemory: true });
    // four probes by headroom: 700, 1100, 1280, 1300; nearest-rank quartiles 700, 1100, 1280
    expect(ms.map((m) => [m.cores, modelFigures(m.profile).freeMemory!.cheapMb])).toEqual([[1.9, 700], [1.9, 1100], [1.9, 1280], [2, 700], [2, 1100], [2, 1280]]);
    expect(modelFigures(ms[2]!.profile).freeMemory).toEqual({ cheapMsPerMb: 0.7, dearMsPerMb: 3.9, cheapMb: 1280 });
    expect(ms[0]!.label).toBe('cores 1.9, headroom 700 MB (0.65 then 4 ms/MB)');
    // without --free-memory, or with a profile whose probes found no knee, the touching quartiles as before
    expect(spreadMembers(p).map((m) => m.touchMsPerMb)).toEqual([2.9, 3, 3.1, 2.9, 3, 3.1]);
    const flat = { ...p, extra: { ...p.extra, memoryWarmth: mergeWarmth([probe(0.7, null, null)]) } };
    expect(spreadMembers(flat, { freeMemory: true }).map((m) => m.touchMsPerMb)).toEqual([2.9, 3, 3.1, 2.9, 3, 3.1]);
  });
});

describe('ol-exp sim --warmth-from', () => {
  it('prices first touches by a real run\'s probes, and names a folder without any', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ol-warmth-cli-'));
    const cli = projectPath('dist', 'experiments', 'cli.js');
    const args = ['sim', '--minutes', '1:5', '--time-scale', '60', '--policy', 'lru', '--memory', '2000'];
    try {
      const real = join(dir, 'real');
      mkdirSync(real);
      writeFileSync(join(real, 'run.json'), JSON.stringify({ kind: 'real' }));
      const none = spawnSync(process.execPath, [cli, ...args, '--warmth-from', real, '--out', join(dir, 's0')], { encoding: 'utf8' });
      expect(none.status).toBe(2);
      expect(none.stderr).toMatch(/--warmth-from: no replay in .*real was probed/);
      const nowhere = spawnSync(process.execPath, [cli, ...args, '--warmth-from', join(dir, 'nowhere'), '--out', join(dir, 's0')], { encoding: 'utf8' });
      expect(nowhere.stderr).toMatch(/--warmth-from: .*nowhere holds no run\.json/);
      const steps = [...Array<number>(32).fill(0.7), ...Array<number>(8).fill(3.9)];
      writeFileSync(join(real, 'run.json'), JSON.stringify({ kind: 'real', memoryWarmth: { stepMb: 40, samplesMsPerMb: steps, warmMsPerMb: 0.7, warmMb: 1280, coldMsPerMb: 3.9, note: 'n' } }));
      const r = spawnSync(process.execPath, [cli, ...args, '--warmth-from', real, '--out', join(dir, 's1')], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const info = readRun(join(dir, 's1')).info;
      expect(info.freeMemory).toBe(true);
      const p = info.profile as CostProfile;
      expect(modelFigures(p).freeMemory).toEqual({ cheapMsPerMb: 0.7, dearMsPerMb: 3.9, cheapMb: 1280 });
      expect((p.extra!.memoryWarmth as { from: string }).from).toBe('probes before 1 replay(s)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
