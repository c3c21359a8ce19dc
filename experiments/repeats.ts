/**
 * Repeated runs of one plan: the simulator's replications (the same
 * invocations, other cost draws: `ol-exp sim --replicas`) and the real
 * worker's repeated replays (`ol-exp real --runs`). Near a tipping point
 * one run is one sample of what a system does with a plan; the median of
 * several is the figure to compare, and their range says how far one run
 * may land from it. The median run (by cold starts, then p99) is kept as
 * the run in the output folder itself, so every chart is of a run that
 * happened; `replicas.json` / `runs.json` list them all.
 */
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OlError } from '../common/errors.js';
import { summarizeRun } from './figures.js';
import { readRun, type RunInfo } from './run-files.js';

/** One repetition's figures. */
export interface RepeatFigures {
  label: string;
  index: number;
  /** sim: the simulator seed this replication used. */
  seed?: number;
  coldStarts: number;
  p50: number;
  p99: number;
  /** real: other work's share of the machine's cores during the replay, and whether that flagged it (run.json's busy). */
  busyShare?: number;
  busyFlagged?: boolean;
}

export type RepeatFile = 'replicas.json' | 'runs.json';

/** The index of the median repetition: by cold starts, then p99, then index (the lower middle of an even count). */
export function medianRepeat(list: RepeatFigures[]): number {
  if (list.length === 0) throw new RangeError('no repetitions');
  const order = [...list].sort((a, b) => a.coldStarts - b.coldStarts || a.p99 - b.p99 || a.index - b.index);
  return order[Math.floor((order.length - 1) / 2)]!.index;
}

/** The list's key in its file, and the folder under `out` the repetitions go to. */
const KEY: Record<RepeatFile, 'replicas' | 'runs'> = { 'replicas.json': 'replicas', 'runs.json': 'runs' };

/**
 * Runs `n` (> 1) repetitions, `run(dir, r)` each into `<out>/<replicas|runs>/<r>`
 * (false: it was stopped early, which ends the series), then keeps the
 * median complete one (or the stopped one, if it was the first) as the run
 * in `out` and lists them in `out/<file>`. Repetitions of an earlier series
 * in `out` are removed first.
 */
export async function runRepeated(out: string, file: RepeatFile, n: number, label: (r: number) => { label: string; seed?: number }, run: (dir: string, r: number) => Promise<boolean>): Promise<{ complete: boolean; chosen: number; list: RepeatFigures[] }> {
  rmSync(join(out, KEY[file]), { recursive: true, force: true });
  rmSync(join(out, file), { force: true });
  const list: RepeatFigures[] = [];
  let complete = true;
  for (let r = 0; r < n; r++) {
    const dir = join(out, KEY[file], String(r));
    const ok = await run(dir, r);
    const got = readRun(dir);
    const f = summarizeRun(got.rows);
    const busy = got.info.busy ? { busyShare: Math.round(got.info.busy.during.share * 1000) / 1000, busyFlagged: got.info.busy.flagged } : {};
    list.push({ ...label(r), index: r, coldStarts: f.coldStarts, p50: f.p50, p99: f.p99, ...busy });
    if (!ok) {
      complete = false;
      break;
    }
  }
  const pool = complete || list.length === 1 ? list : list.slice(0, -1);
  const chosen = medianRepeat(pool);
  const src = join(out, KEY[file], String(chosen));
  for (const f of readdirSync(src)) cpSync(join(src, f), join(out, f), { recursive: true });
  writeFileSync(join(out, file), JSON.stringify({ chosen, [KEY[file]]: pool }, null, 2) + '\n');
  return { complete, chosen, list: pool };
}

/** The repetitions a run folder's run was chosen from, or undefined if it was run once. */
export function readRepeats(dir: string, file: RepeatFile): { chosen: number; list: RepeatFigures[] } | undefined {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  const what = file === 'replicas.json' ? 'replication' : 'run';
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new OlError('OL_ERR_CONFIG', `${path} is not valid JSON (${(e as Error).message})`);
  }
  const raw = v[KEY[file]];
  const list = Array.isArray(raw) ? raw as Record<string, unknown>[] : [];
  const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  const bad = list.findIndex((r) => typeof r.label !== 'string' || !Number.isInteger(r.index) || !num(r.coldStarts) || !num(r.p50) || !num(r.p99) || (r.seed !== undefined && !num(r.seed)));
  if (list.length === 0) throw new OlError('OL_ERR_CONFIG', `${path}: lists no ${what}s`);
  if (bad >= 0) throw new OlError('OL_ERR_CONFIG', `${path}: ${what} ${bad} lacks a label, index, coldStarts, p50 or p99`);
  const chosen = v.chosen;
  if (!Number.isInteger(chosen) || !list.some((r) => r.index === chosen)) throw new OlError('OL_ERR_CONFIG', `${path}: "chosen" (${JSON.stringify(chosen)}) is not one of its ${what}s`);
  const info = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunInfo;
  const kept = info.repeat?.index ?? 0;
  if (kept !== chosen) throw new OlError('OL_ERR_CONFIG', `${path} says ${what} ${String(chosen)} was kept, but ${join(dir, 'run.json')} is ${what} ${kept}`);
  return { chosen: chosen as number, list: list as unknown as RepeatFigures[] };
}
