/**
 * An Azure Functions 2019 sample (or day) converted the way FaasCache-sim's
 * trace generator converts it (Fuerst & Sharma, ASPLOS'21; the conventions
 * are in ../shared/faascache/README.md and docs/SIMULATOR.md), so that
 * `ol-sim --compat faascache` is fed the very input FaasCache-sim was:
 *
 * - functions: rows with an empty field are left out, then those invoked at
 *   most once in the day; a repeated HashFunction keeps its first row; a
 *   function needs its duration row (by HashFunction) and its app's memory
 *   row (by HashApp);
 * - per function: memory `ceil(AverageAllocatedMb / k)` (k: the app's
 *   distinct functions in the duration file), cold time `trunc(Maximum)`,
 *   warm time `trunc(Average)`, in ms;
 * - arrivals: minute m's c invocations at `m·60000 + i·(60000/c)`,
 *   computed in that order in doubles; ordered by time, ties by CSV row.
 *
 * The result is columnar: function of each event and its time, in order.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OlError } from '../common/errors.js';
import { resolveAzure2019Files } from './azure2019.js';
import { splitHeader } from './line-reader.js';

export interface FaasCacheFunction {
  /** HashFunction. */
  name: string;
  /** 0-based data row in the invocation file. */
  row: number;
  memMb: number;
  coldMs: number;
  warmMs: number;
}

export interface FaasCacheTrace {
  functions: FaasCacheFunction[];
  /** Index into `functions` of each event, in order. */
  fn: Uint32Array;
  /** Time of each event, ms from the start of the day. */
  t: Float64Array;
  /** Rows of the invocation file left out, and why. */
  skipped: { row: number; why: string }[];
  files: { inv: string; run: string; mem: string };
}

function rowsOf(path: string): { names: string[]; rows: string[][] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new OlError('OL_ERR_TRACE_FORMAT', `faascache: cannot read ${path}: ${(e as Error).message}`);
  }
  const lines = text.split(/\r?\n/);
  const names = splitHeader(lines[0] ?? '');
  const rows: string[][] = [];
  for (let i = 1; i < lines.length; i++) if (lines[i]!.length > 0) rows.push(lines[i]!.split(','));
  return { names, rows };
}

function column(names: string[], name: string, path: string): number {
  const i = names.indexOf(name);
  if (i < 0) throw new OlError('OL_ERR_TRACE_FORMAT', `${path}:1: header lacks column ${name}`);
  return i;
}

/** The minute columns, 0-based minute → column index: `minute_1…` (samples) or `1…` (the raw day). */
function minuteColumns(names: string[], path: string): number[] {
  const cols: number[] = [];
  for (let m = 1; ; m++) {
    let i = names.indexOf(`minute_${m}`);
    if (i < 0) i = names.indexOf(String(m));
    if (i < 0) break;
    cols.push(i);
  }
  if (cols.length === 0) throw new OlError('OL_ERR_TRACE_FORMAT', `${path}:1: header has no minute columns (minute_1… or 1…)`);
  return cols;
}

/** Reads an Azure 2019 sample the way FaasCache-sim converts it. `hint`: as the azure2019 reader takes. */
export function readFaasCacheTrace(hint: string): FaasCacheTrace {
  const files = resolveAzure2019Files(hint);
  const inv = rowsOf(files.inv), run = rowsOf(files.run), mem = rowsOf(files.mem);
  const iFn = column(inv.names, 'HashFunction', files.inv), iApp = column(inv.names, 'HashApp', files.inv);
  const minutes = minuteColumns(inv.names, files.inv);
  const rFn = column(run.names, 'HashFunction', files.run), rApp = column(run.names, 'HashApp', files.run);
  const rAvg = column(run.names, 'Average', files.run), rMax = column(run.names, 'Maximum', files.run);
  const mApp = column(mem.names, 'HashApp', files.mem), mAvg = column(mem.names, 'AverageAllocatedMb', files.mem);

  const runs = new Map<string, string[]>();
  const fnsOfApp = new Map<string, Set<string>>();
  for (const r of run.rows) {
    const f = r[rFn]!.trim(), app = r[rApp]!.trim();
    if (!runs.has(f)) runs.set(f, r);
    let s = fnsOfApp.get(app);
    if (!s) fnsOfApp.set(app, (s = new Set()));
    s.add(f);
  }
  const mems = new Map<string, string[]>();
  for (const r of mem.rows) {
    const app = r[mApp]!.trim();
    if (!mems.has(app)) mems.set(app, r);
  }

  const functions: FaasCacheFunction[] = [];
  const counts: Uint32Array[] = [];
  const skipped: { row: number; why: string }[] = [];
  const seen = new Set<string>();
  const num = (s: string | undefined) => (s === undefined || s.trim() === '' ? NaN : Number(s));
  for (let row = 0; row < inv.rows.length; row++) {
    const r = inv.rows[row]!;
    if (r.length < inv.names.length || r.some((v) => v.trim() === '')) { skipped.push({ row, why: 'an empty field' }); continue; }
    const c = new Uint32Array(minutes.length);
    let total = 0;
    for (let m = 0; m < minutes.length; m++) {
      const v = num(r[minutes[m]!]);
      if (!(v >= 0) || !Number.isInteger(v)) throw new OlError('OL_ERR_TRACE_LINE', `${files.inv}:${row + 2}: field "${inv.names[minutes[m]!]}": ${JSON.stringify(r[minutes[m]!])} is not a whole number >= 0`);
      c[m] = v;
      total += v;
    }
    if (!(total > 1)) { skipped.push({ row, why: `invoked ${total} time(s) in the day` }); continue; }
    const name = r[iFn]!.trim();
    if (seen.has(name)) { skipped.push({ row, why: 'a repeated HashFunction' }); continue; }
    seen.add(name);
    const d = runs.get(name);
    if (!d) { skipped.push({ row, why: 'no duration row' }); continue; }
    const app = r[iApp]!.trim();
    const m = mems.get(app);
    if (!m) { skipped.push({ row, why: 'no memory row for its app' }); continue; }
    const avgMb = num(m[mAvg]), average = num(d[rAvg]), maximum = num(d[rMax]);
    if (!(avgMb > 0)) throw new OlError('OL_ERR_TRACE_LINE', `${files.mem}: app ${app}: field "AverageAllocatedMb": ${JSON.stringify(m[mAvg])} is not a number > 0`);
    if (!(average >= 0) || !(maximum >= 0)) throw new OlError('OL_ERR_TRACE_LINE', `${files.run}: function ${name}: Average ${JSON.stringify(d[rAvg])} / Maximum ${JSON.stringify(d[rMax])} must be numbers >= 0`);
    const k = fnsOfApp.get(d[rApp]!.trim())?.size ?? 1;
    functions.push({ name, row, memMb: Math.ceil(avgMb / k), coldMs: Math.trunc(maximum), warmMs: Math.trunc(average) });
    counts.push(c);
  }

  // events minute by minute: each minute's events lie within it, so a sort per minute is the global stable sort
  let total = 0;
  for (const c of counts) for (let m = 0; m < c.length; m++) total += c[m]!;
  const fn = new Uint32Array(total), t = new Float64Array(total);
  const mf: number[] = [], mt: number[] = [], order: number[] = [];
  let k = 0;
  for (let m = 0; m < minutes.length; m++) {
    mf.length = 0; mt.length = 0;
    const base = m * 60000;
    for (let f = 0; f < counts.length; f++) {
      const c = counts[f]![m]!;
      if (c === 0) continue;
      if (c === 1) { mf.push(f); mt.push(base); continue; }
      const every = 60000 / c;
      for (let i = 0; i < c; i++) { mf.push(f); mt.push(base + i * every); }
    }
    order.length = mf.length;
    for (let i = 0; i < mf.length; i++) order[i] = i;
    // pushed in row order, each function's times ascending: ties keep that order (a stable sort)
    order.sort((a, b) => mt[a]! - mt[b]! || a - b);
    for (const i of order) { fn[k] = mf[i]!; t[k] = mt[i]!; k++; }
  }
  return { functions, fn, t, skipped, files };
}

/**
 * FaasCache's input fingerprints: sha256 over the events in order of
 * `uint32-LE(row) ++ float64-LE(t)` (`rowTime`) and of the row alone (`row`).
 */
export function faasCacheFingerprints(tr: FaasCacheTrace): { rowTime: string; row: string } {
  const a = createHash('sha256'), b = createHash('sha256');
  const buf = Buffer.alloc(12);
  for (let i = 0; i < tr.fn.length; i++) {
    const row = tr.functions[tr.fn[i]!]!.row;
    buf.writeUInt32LE(row, 0);
    buf.writeDoubleLE(tr.t[i]!, 4);
    a.update(buf);
    b.update(buf.subarray(0, 4));
  }
  return { rowTime: a.digest('hex'), row: b.digest('hex') };
}
