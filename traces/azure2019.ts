/**
 * The Azure Functions 2019 trace (Shahrad et al., "Serverless in the Wild",
 * USENIX ATC'20): per-function invocation counts for each minute of a day,
 * per-function execution-time percentiles, per-app memory percentiles, in
 * three CSV files. Columns are found by their header names, so both the
 * raw dataset's order (`HashOwner,HashApp,HashFunction,Trigger,1,…`) and the
 * samples' (`HashFunction,HashApp,HashOwner,minute_1,…`) work.
 *
 * Expansion into invocations (all rules documented in docs/TRACES.md):
 * - arrivals: a minute's k invocations are placed evenly (`uniform`, at
 *   (i + ½)·60/k s), as k sorted uniform random points (`poisson`: the
 *   arrival times of a Poisson process given its count), seeded, or as
 *   FaasCache-sim places them (`faascache`: at i·(60/k) s, the first at the
 *   minute's start); times are kept to the microsecond;
 * - `dropSingle` (FaasCache-sim's filter): functions invoked only once in
 *   the whole day are left out;
 * - execution time: the function's `Average` (`average`) or a fresh draw from
 *   its percentile curve (`sample`, linear between the given percentiles);
 * - memory: the app's `AverageAllocatedMb` split evenly over the app's
 *   functions present in the trace, rounded up to a whole MB (at least 1);
 * - cold start from the trace (`coldFromTrace`, as FaasCache's simulator
 *   does): a cold invocation takes the function's `Maximum` instead of its
 *   `Average`, so the cold-start cost is Maximum − Average.
 * Functions with no duration or no memory row are left out and counted.
 *
 * The invocation matrix (functions × minutes) is held in memory, as Uint32
 * counts: 5.6 KiB per function, 260 MiB for the full 46,000-function day.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OlError, badConfig } from '../common/errors.js';
import { makeRng, samplePercentiles, type Rng } from '../common/rng.js';
import { LineReader, parseNumber, splitHeader } from './line-reader.js';
import { newBatch, type FunctionInfo, type InvocationBatch, type ReadStats, type ReaderOptions, type TraceSource } from './types.js';

/** Options of the Azure 2019 reader. */
export interface Azure2019Options extends ReaderOptions {
  arrivals?: 'uniform' | 'poisson' | 'faascache';
  /** Leave out functions invoked only once in the whole day (FaasCache-sim's filter). */
  dropSingle?: boolean;
  duration?: 'average' | 'sample';
  coldFromTrace?: boolean;
  /** Keep only the N most-invoked functions (ties: file order). */
  functions?: number;
  /** First and last minute to replay, 1-based, inclusive. */
  minutes?: [number, number];
  /** Explicit paths of the duration and memory files. */
  runPath?: string;
  memPath?: string;
}

const PCT_COLS = ['percentile_Average_0', 'percentile_Average_1', 'percentile_Average_25', 'percentile_Average_50', 'percentile_Average_75', 'percentile_Average_99', 'percentile_Average_100'];
const PCTS = Float64Array.from([0, 1, 25, 50, 75, 99, 100]);

/** The three files of one day (or one sample). */
export interface Azure2019Files {
  inv: string;
  run: string;
  mem: string;
}

/**
 * Finds the three files from any one hint: a directory holding one set, an
 * invocation file (`N_inv.csv` or `invocations_per_function_md.anon.dNN.csv`),
 * or a prefix such as `dir/10` for `dir/10_inv.csv`.
 */
export function resolveAzure2019Files(hint: string, opts: { runPath?: string; memPath?: string } = {}): Azure2019Files {
  const tried: string[] = [];
  const fromInv = (inv: string): Azure2019Files | undefined => {
    const dir = dirname(inv), base = basename(inv);
    let run: string | undefined, mem: string | undefined;
    if (base.endsWith('_inv.csv')) {
      const stem = base.slice(0, -'_inv.csv'.length);
      run = join(dir, `${stem}_run.csv`);
      mem = join(dir, `${stem}_mem.csv`);
    } else {
      const m = /^invocations_per_function_md\.anon\.(d\d+)\.csv$/.exec(base);
      if (m) {
        run = join(dir, `function_durations_percentiles.anon.${m[1]}.csv`);
        mem = join(dir, `app_memory_percentiles.anon.${m[1]}.csv`);
      }
    }
    run = opts.runPath ?? run;
    mem = opts.memPath ?? mem;
    if (!run || !mem) return undefined;
    for (const p of [run, mem]) {
      if (!existsSync(p)) {
        throw new OlError('OL_ERR_TRACE_FORMAT', `azure2019: ${inv} needs its companion file ${p}, which does not exist`);
      }
    }
    return { inv, run, mem };
  };
  if (existsSync(hint) && statSync(hint).isDirectory()) {
    const invs = readdirSync(hint).filter((f) => f.endsWith('_inv.csv') || /^invocations_per_function_md\.anon\.d\d+\.csv$/.test(f)).sort();
    if (invs.length === 1) return fromInv(join(hint, invs[0]!))!;
    throw new OlError('OL_ERR_TRACE_FORMAT', `azure2019: directory ${hint} holds ${invs.length} invocation files (${invs.join(', ') || 'none'}); name one of them, e.g. ${join(hint, invs[0] ?? '10_inv.csv')}`);
  }
  if (existsSync(hint)) {
    const r = fromInv(hint);
    if (r) return r;
    tried.push(hint);
  }
  const prefixed = `${hint}_inv.csv`;
  if (existsSync(prefixed)) return fromInv(prefixed)!;
  tried.push(prefixed);
  throw new OlError('OL_ERR_TRACE_FORMAT', `azure2019: cannot find the invocation file from "${hint}" (tried ${tried.join(', ')}); give a directory, an N_inv.csv / invocations_per_function_md.anon.dNN.csv file, or a prefix like dir/10`);
}

interface Fn {
  key: string;
  owner: string;
  app: string;
  name: string;
  counts: Uint32Array;
  total: number;
}

interface Run {
  average: number;
  maximum: number;
  pct: Float64Array;
}

function lineError(path: string, line: number, field: string, why: string): OlError {
  return new OlError('OL_ERR_TRACE_LINE', `${path}:${line}: field "${field}": ${why}`);
}

function col(names: string[], name: string, path: string, required = true): number {
  const i = names.indexOf(name);
  if (i < 0 && required) throw new OlError('OL_ERR_TRACE_FORMAT', `${path}:1: header lacks column ${name} (found: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''})`);
  return i;
}

/** Reads a small CSV into rows, with the skip-bad rule applied per row. */
function readTable(
  path: string,
  hash: ReturnType<typeof createHash>,
  onHeader: (names: string[]) => void,
  onRow: (fields: string[], line: number) => void,
  skip: (e: OlError) => void,
): void {
  const r = new LineReader(path, hash);
  const header = r.next();
  if (header === null) throw new OlError('OL_ERR_TRACE_FORMAT', `${path}: empty file`);
  onHeader(splitHeader(header));
  for (let line = r.next(); line !== null; line = r.next()) {
    if (line.trim() === '') continue;
    try {
      onRow(line.split(','), r.lineNo);
    } catch (e) {
      if (e instanceof OlError && e.code === 'OL_ERR_TRACE_LINE') skip(e);
      else throw e;
    }
  }
}

/** The Azure Functions 2019 reader. */
export class Azure2019TraceSource implements TraceSource {
  readonly format = 'azure2019';
  readonly location: string;
  readonly files: Azure2019Files;
  readonly functions: FunctionInfo[] = [];
  readonly stats: ReadStats = { invocations: 0, skipped: 0, skippedExamples: [], bytesRead: 0, totalBytes: 0 };
  readonly options: Record<string, unknown>;
  readonly #fns: Fn[] = [];
  readonly #durs: Run[] = [];
  readonly #mem: Float64Array;
  readonly #init: Float64Array;
  readonly #firstMinute: number;
  readonly #lastMinute: number;
  readonly #arrivals: 'uniform' | 'poisson' | 'faascache';
  readonly #duration: 'average' | 'sample';
  readonly #seed: number;
  readonly #batchSize: number;
  readonly #notes: string[] = [];
  readonly #hash: string;
  #used = false;

  constructor(hint: string, opts: Azure2019Options = {}) {
    this.files = resolveAzure2019Files(hint, opts);
    this.location = this.files.inv;
    this.#arrivals = opts.arrivals ?? 'uniform';
    this.#duration = opts.duration ?? 'average';
    this.#seed = opts.seed ?? 1;
    this.#batchSize = opts.batchSize ?? 4096;
    if (!['uniform', 'poisson', 'faascache'].includes(this.#arrivals)) badConfig('arrivals', `must be uniform, poisson or faascache, got ${this.#arrivals}`);
    if (!['average', 'sample'].includes(this.#duration)) badConfig('duration', `must be average or sample, got ${this.#duration}`);
    const skipBad = opts.skipBad ?? false;
    const skip = (e: OlError) => {
      if (!skipBad) throw new OlError('OL_ERR_TRACE_LINE', `${e.message} (use --skip-bad to skip such lines)`);
      this.stats.skipped++;
      if (this.stats.skippedExamples.length < 5) this.stats.skippedExamples.push(e.message);
    };
    const hash = createHash('sha256');

    // 1. invocation counts
    let iFn = -1, iApp = -1, iOwner = -1;
    let minuteCols: number[] = [];
    let minuteNums: number[] = [];
    let nMinutes = 0;
    const inv = this.files.inv;
    const seen = new Set<string>();
    readTable(inv, hash, (names) => {
      iFn = col(names, 'HashFunction', inv);
      iApp = col(names, 'HashApp', inv);
      iOwner = col(names, 'HashOwner', inv, false);
      names.forEach((n, i) => {
        const m = /^(?:minute_)?(\d+)$/.exec(n);
        if (m) { minuteCols.push(i); minuteNums.push(Number(m[1])); }
      });
      if (minuteCols.length === 0) throw new OlError('OL_ERR_TRACE_FORMAT', `${inv}:1: no minute columns (expected 1..1440 or minute_1..minute_1440)`);
      nMinutes = Math.max(...minuteNums);
    }, (f, line) => {
      if (f.length < minuteCols[minuteCols.length - 1]! + 1) throw lineError(inv, line, `minute_${minuteNums[minuteNums.length - 1]}`, `missing (line has ${f.length} columns)`);
      const counts = new Uint32Array(nMinutes);
      let total = 0;
      for (let k = 0; k < minuteCols.length; k++) {
        const s = f[minuteCols[k]!]!;
        const v = parseNumber(s, 0, s.length);
        if (!Number.isInteger(v) || v < 0) throw lineError(inv, line, `minute_${minuteNums[k]}`, `${JSON.stringify(s)} is not a non-negative whole number`);
        counts[minuteNums[k]! - 1] = v;
        total += v;
      }
      const owner = iOwner >= 0 ? f[iOwner]!.trim() : '';
      const app = f[iApp]!.trim(), name = f[iFn]!.trim();
      if (!name) throw lineError(inv, line, 'HashFunction', 'is empty');
      const key = `${owner}\t${app}\t${name}`;
      if (seen.has(key)) throw lineError(inv, line, 'HashFunction', `function ${name} of app ${app} appears twice`);
      seen.add(key);
      this.#fns.push({ key, owner, app, name, counts, total });
    }, skip);

    // 2. durations
    const runs = new Map<string, Run>();
    const run = this.files.run;
    let r: { fn: number; app: number; owner: number; avg: number; max: number; pct: number[] } | undefined;
    readTable(run, hash, (names) => {
      r = {
        fn: col(names, 'HashFunction', run), app: col(names, 'HashApp', run), owner: col(names, 'HashOwner', run, false),
        avg: col(names, 'Average', run), max: col(names, 'Maximum', run), pct: PCT_COLS.map((c) => col(names, c, run)),
      };
    }, (f, line) => {
      const num = (i: number, field: string) => {
        const s = f[i];
        const v = s === undefined ? NaN : parseNumber(s, 0, s.length);
        if (!(v >= 0) || !Number.isFinite(v)) throw lineError(run, line, field, s === undefined ? 'missing' : `${JSON.stringify(s)} is not a number >= 0`);
        return v;
      };
      const pct = Float64Array.from(r!.pct.map((i, k) => num(i, PCT_COLS[k]!)));
      for (let k = 1; k < pct.length; k++) if (pct[k]! < pct[k - 1]!) throw lineError(run, line, PCT_COLS[k]!, 'percentiles decrease');
      const owner = r!.owner >= 0 ? f[r!.owner]!.trim() : '';
      runs.set(`${owner}\t${f[r!.app]!.trim()}\t${f[r!.fn]!.trim()}`, { average: num(r!.avg, 'Average'), maximum: num(r!.max, 'Maximum'), pct });
    }, skip);

    // 3. memory per app
    const appMem = new Map<string, number>();
    const mem = this.files.mem;
    let m: { app: number; owner: number; avg: number } | undefined;
    readTable(mem, hash, (names) => {
      m = { app: col(names, 'HashApp', mem), owner: col(names, 'HashOwner', mem, false), avg: col(names, 'AverageAllocatedMb', mem) };
    }, (f, line) => {
      const s = f[m!.avg];
      const v = s === undefined ? NaN : parseNumber(s, 0, s.length);
      if (!(v > 0) || !Number.isFinite(v)) throw lineError(mem, line, 'AverageAllocatedMb', s === undefined ? 'missing' : `${JSON.stringify(s)} is not a number > 0`);
      const owner = m!.owner >= 0 ? f[m!.owner]!.trim() : '';
      appMem.set(`${owner}\t${f[m!.app]!.trim()}`, v);
    }, skip);
    this.#hash = hash.digest('hex');

    // 4. join, filter, split memory
    let fns = this.#fns.splice(0);
    const noRun = fns.filter((f) => !runs.has(f.key));
    const noMem = fns.filter((f) => runs.has(f.key) && !appMem.has(`${f.owner}\t${f.app}`));
    if (noRun.length) this.#notes.push(`left out ${noRun.length} function(s) with no duration row (${noRun.reduce((a, f) => a + f.total, 0)} invocations)`);
    if (noMem.length) this.#notes.push(`left out ${noMem.length} function(s) whose app has no memory row (${noMem.reduce((a, f) => a + f.total, 0)} invocations)`);
    fns = fns.filter((f) => runs.has(f.key) && appMem.has(`${f.owner}\t${f.app}`));
    if (opts.dropSingle) {
      const single = fns.filter((f) => f.total <= 1);
      if (single.length) this.#notes.push(`left out ${single.length} function(s) invoked at most once in the day (dropSingle, as FaasCache-sim does)`);
      fns = fns.filter((f) => f.total > 1);
    }
    if (opts.functions !== undefined) {
      if (!Number.isInteger(opts.functions) || opts.functions < 1) badConfig('functions', `must be a whole number >= 1, got ${opts.functions}`);
      const order = fns.map((f, i) => ({ f, i })).sort((a, b) => b.f.total - a.f.total || a.i - b.i);
      const keep = new Set(order.slice(0, opts.functions).map((x) => x.f));
      fns = fns.filter((f) => keep.has(f));
    }
    if (fns.length === 0) throw new OlError('OL_ERR_TRACE_FORMAT', `azure2019: no function of ${inv} has both a duration row in ${run} and a memory row in ${mem}`);
    const perApp = new Map<string, number>();
    for (const f of fns) perApp.set(`${f.owner}\t${f.app}`, (perApp.get(`${f.owner}\t${f.app}`) ?? 0) + 1);
    const nameCount = new Map<string, number>();
    for (const f of fns) nameCount.set(f.name, (nameCount.get(f.name) ?? 0) + 1);
    this.#mem = new Float64Array(fns.length);
    this.#init = new Float64Array(fns.length);
    fns.forEach((f, i) => {
      const appKey = `${f.owner}\t${f.app}`;
      this.#mem[i] = Math.max(1, Math.ceil(appMem.get(appKey)! / perApp.get(appKey)!));
      const d = runs.get(f.key)!;
      this.#durs.push(d);
      this.#init[i] = opts.coldFromTrace ? Math.max(0, d.maximum - d.average) : NaN;
      this.functions.push({ name: nameCount.get(f.name)! > 1 ? `${f.app}/${f.name}` : f.name, app: f.app });
      this.#fns.push(f);
    });

    const [a, b] = opts.minutes ?? [1, nMinutes];
    if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 1 && b >= a && b <= nMinutes)) {
      badConfig('minutes', `must be A:B with 1 <= A <= B <= ${nMinutes}, got ${a}:${b}`);
    }
    this.#firstMinute = a - 1;
    this.#lastMinute = b - 1;
    for (const f of this.#fns) for (let k = this.#firstMinute; k <= this.#lastMinute; k++) this.stats.totalBytes += f.counts[k]!;
    this.options = {
      arrivals: this.#arrivals, duration: this.#duration, coldFromTrace: opts.coldFromTrace ?? false,
      functions: opts.functions ?? null, minutes: [a, b], skipBad, seed: this.#seed, ...(opts.dropSingle ? { dropSingle: true } : {}),
      files: { inv: basename(this.files.inv), run: basename(this.files.run), mem: basename(this.files.mem) },
      memoryRule: 'app AverageAllocatedMb split evenly over its functions in the trace, rounded up',
    };
  }

  /** Invocations the expansion will produce (counts are known up front). */
  get totalInvocations(): number {
    return this.stats.totalBytes;
  }

  *batches(): Generator<InvocationBatch, void, undefined> {
    if (this.#used) throw new Error('a trace source can be read only once');
    this.#used = true;
    const arrRng: Rng = makeRng(this.#seed, 'azure2019/arrivals');
    const durRng: Rng = makeRng(this.#seed, 'azure2019/durations');
    const fns = this.#fns;
    const nf = fns.length;
    if (nf >= 1 << 20) throw new OlError('OL_ERR_TRACE_FORMAT', `azure2019: ${nf} functions is more than this reader supports (1,048,575)`);
    const FN_SPAN = 1 << 20;
    const cap = this.#batchSize;
    const b = newBatch(cap);
    let n = 0;
    let keys = new Float64Array(4096);
    const sample = this.#duration === 'sample';
    const poisson = this.#arrivals === 'poisson';
    const atStart = this.#arrivals === 'faascache';
    for (let m = this.#firstMinute; m <= this.#lastMinute; m++) {
      let k = 0;
      for (let f = 0; f < nf; f++) {
        const c = fns[f]!.counts[m]!;
        if (c === 0) continue;
        if (k + c > keys.length) {
          const bigger = new Float64Array(Math.max(keys.length * 2, k + c));
          bigger.set(keys.subarray(0, k));
          keys = bigger;
        }
        for (let i = 0; i < c; i++) {
          const us = poisson ? Math.floor(arrRng() * 60_000_000) : atStart ? Math.floor(i * (60_000 / c) * 1000) : Math.floor(((i + 0.5) * 60_000_000) / c);
          keys[k++] = us * FN_SPAN + f;
        }
      }
      const sorted = keys.subarray(0, k).sort();
      const base = (m - this.#firstMinute) * 60_000;
      for (let j = 0; j < k; j++) {
        const key = sorted[j]!;
        const f = key % FN_SPAN;
        b.t[n] = base + (key - f) / FN_SPAN / 1000;
        b.fn[n] = f;
        const d = this.#durs[f]!;
        b.dur[n] = sample ? samplePercentiles(durRng, PCTS, d.pct) : d.average;
        b.mem[n] = this.#mem[f]!;
        b.init[n] = this.#init[f]!;
        if (++n === cap) {
          b.length = n;
          this.stats.invocations += n;
          this.stats.bytesRead = this.stats.invocations;
          yield b;
          n = 0;
        }
      }
    }
    if (n > 0) {
      b.length = n;
      this.stats.invocations += n;
      this.stats.bytesRead = this.stats.invocations;
      yield b;
    }
  }

  hash(): string {
    return this.#hash;
  }

  notes(): string[] {
    const skipped = this.stats.skipped > 0 ? [`skipped ${this.stats.skipped} malformed line(s); first: ${this.stats.skippedExamples[0]}`] : [];
    return [...this.#notes, ...skipped];
  }
}
