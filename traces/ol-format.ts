/**
 * ol-lab's own trace formats, one invocation per line after a header.
 *
 * CSV: header `t_ms,fn,dur_ms,mem_mb` in any order, optionally with `pkgs`
 * (packages separated by `;` or spaces) and `init_ms` (a cold-start time the
 * trace itself prescribes). JSONL: an optional first line
 * `{"format":"ol-lab-trace","version":1}`, then one object per line with the
 * same keys (`pkgs` as an array or a string).
 *
 * Lines must be sorted by `t_ms`. Both readers stream; a bad line is an error
 * naming file, line and field, or, with `skipBad`, is counted and skipped.
 */
import { createHash } from 'node:crypto';
import { OlError } from '../common/errors.js';
import { LineReader, parseNumber, splitHeader } from './line-reader.js';
import {
  FunctionTable, newBatch, type InvocationBatch, type ReadStats, type ReaderOptions, type TraceSource,
} from './types.js';

const REQUIRED = ['t_ms', 'fn', 'dur_ms', 'mem_mb'] as const;

class LineError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** Shared machinery of the two line formats: batching, validation, skipping. */
abstract class LineTraceSource implements TraceSource {
  abstract readonly format: string;
  readonly location: string;
  readonly options: Record<string, unknown>;
  readonly stats: ReadStats = { invocations: 0, skipped: 0, skippedExamples: [], bytesRead: 0, totalBytes: 0 };
  protected readonly table = new FunctionTable();
  protected readonly reader: LineReader;
  readonly #hash = createHash('sha256');
  #digest: string | undefined;
  readonly #skipBad: boolean;
  readonly #batchSize: number;
  #used = false;
  protected lastT = -Infinity;

  constructor(path: string, opts: ReaderOptions) {
    this.location = path;
    this.#skipBad = opts.skipBad ?? false;
    this.#batchSize = opts.batchSize ?? 4096;
    this.options = { skipBad: this.#skipBad };
    this.reader = new LineReader(path, this.#hash);
    this.stats.totalBytes = this.reader.totalBytes;
  }

  get functions() {
    return this.table.functions;
  }

  /** Reads the header; returns the first data line when the file has no header. */
  protected abstract readHeader(): string | null;
  /** Parses one data line into slot `i` of the batch; throws LineError. */
  protected abstract parse(line: string, b: InvocationBatch, i: number): void;

  *batches(): Generator<InvocationBatch, void, undefined> {
    if (this.#used) throw new Error('a trace source can be read only once');
    this.#used = true;
    const first = this.readHeader();
    const b = newBatch(this.#batchSize);
    const cap = this.#batchSize;
    let n = 0;
    for (let line = first ?? this.reader.next(); line !== null; line = this.reader.next()) {
      if (line.length === 0) continue;
      try {
        this.parse(line, b, n);
        const t = b.t[n]!;
        if (t < this.lastT) {
          throw new LineError('t_ms', `t_ms ${t} is before the previous invocation's ${this.lastT}; traces must be sorted by arrival`);
        }
        this.lastT = t;
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        const msg = `${this.location}:${this.reader.lineNo}: field "${e.field}": ${e.message}`;
        if (!this.#skipBad) throw new OlError('OL_ERR_TRACE_LINE', `${msg} (use --skip-bad to skip such lines)`);
        this.stats.skipped++;
        if (this.stats.skippedExamples.length < 5) this.stats.skippedExamples.push(msg);
        b.init[n] = NaN;
        continue;
      }
      n++;
      if (n === cap) {
        b.length = n;
        this.stats.invocations += n;
        this.stats.bytesRead = this.reader.bytesRead;
        yield b;
        n = 0;
        b.init.fill(NaN);
      }
    }
    if (n > 0) {
      b.length = n;
      this.stats.invocations += n;
      yield b;
    }
    this.stats.bytesRead = this.reader.bytesRead;
    this.#digest = this.#hash.digest('hex');
  }

  hash(): string {
    if (this.#digest === undefined) {
      this.reader.drain();
      this.#digest = this.#hash.digest('hex');
    }
    return this.#digest;
  }

  notes(): string[] {
    return this.stats.skipped > 0 ? [`skipped ${this.stats.skipped} malformed line(s); first: ${this.stats.skippedExamples[0]}`] : [];
  }

  protected setPkgs(fnId: number, pkgs: string[] | undefined): void {
    const f = this.table.functions[fnId]!;
    if (pkgs && pkgs.length > 0 && f.pkgs === undefined) f.pkgs = pkgs;
  }
}

function checkNumber(field: string, v: number, text: () => string, min: number, minInclusive: boolean): number {
  if (Number.isNaN(v)) throw new LineError(field, `${JSON.stringify(text())} is not a number`);
  if (!Number.isFinite(v) || (minInclusive ? v < min : v <= min)) {
    throw new LineError(field, `${v} is out of range (must be ${minInclusive ? '>=' : '>'} ${min})`);
  }
  return v;
}

function splitPkgs(s: string): string[] {
  return s.split(/[;\s]+/).map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Our CSV format. */
export class OlCsvTraceSource extends LineTraceSource {
  readonly format = 'csv';
  #nCols = 0;
  #iT = 0; #iFn = 0; #iDur = 0; #iMem = 0; #iPkgs = -1; #iInit = -1;
  #starts = new Int32Array(16);
  #ends = new Int32Array(16);

  protected readHeader(): string | null {
    const header = this.reader.next();
    if (header === null) throw new OlError('OL_ERR_TRACE_FORMAT', `${this.location}: empty file, expected a header line ${REQUIRED.join(',')}`);
    const names = splitHeader(header);
    const missing = REQUIRED.filter((c) => !names.includes(c));
    if (missing.length > 0) {
      throw new OlError('OL_ERR_TRACE_FORMAT', `${this.location}:1: header lacks column(s) ${missing.join(', ')} (found: ${names.join(', ')})`);
    }
    this.#nCols = names.length;
    this.#iT = names.indexOf('t_ms');
    this.#iFn = names.indexOf('fn');
    this.#iDur = names.indexOf('dur_ms');
    this.#iMem = names.indexOf('mem_mb');
    this.#iPkgs = names.indexOf('pkgs');
    this.#iInit = names.indexOf('init_ms');
    this.#starts = new Int32Array(this.#nCols);
    this.#ends = new Int32Array(this.#nCols);
    return null;
  }

  protected parse(line: string, b: InvocationBatch, i: number): void {
    const starts = this.#starts, ends = this.#ends, n = this.#nCols;
    let pos = 0;
    for (let c = 0; c < n; c++) {
      const comma = c === n - 1 ? -1 : line.indexOf(',', pos);
      starts[c] = pos;
      if (comma < 0) {
        if (c !== n - 1) throw new LineError(this.#nameOf(c + 1), `missing (line has ${c + 1} of ${n} columns)`);
        ends[c] = line.length;
      } else {
        ends[c] = comma;
        pos = comma + 1;
      }
    }
    if (line.indexOf(',', starts[n - 1]) >= 0) throw new LineError('(line)', `has more than the header's ${n} columns`);
    const num = (col: number, field: string, min: number, incl: boolean) =>
      checkNumber(field, parseNumber(line, starts[col]!, ends[col]!), () => line.slice(starts[col]!, ends[col]!), min, incl);
    b.t[i] = num(this.#iT, 't_ms', 0, true);
    const name = line.slice(starts[this.#iFn]!, ends[this.#iFn]!).trim();
    if (name.length === 0) throw new LineError('fn', 'is empty');
    b.dur[i] = num(this.#iDur, 'dur_ms', 0, true);
    b.mem[i] = num(this.#iMem, 'mem_mb', 0, false);
    if (this.#iInit >= 0 && ends[this.#iInit]! > starts[this.#iInit]!) b.init[i] = num(this.#iInit, 'init_ms', 0, true);
    const id = this.table.id(name);
    b.fn[i] = id;
    if (this.#iPkgs >= 0 && this.functions[id]!.pkgs === undefined) {
      this.setPkgs(id, splitPkgs(line.slice(starts[this.#iPkgs]!, ends[this.#iPkgs]!)));
    }
  }

  #nameOf(c: number): string {
    return ['t_ms', 'fn', 'dur_ms', 'mem_mb', 'pkgs', 'init_ms'].find((_, k) => [this.#iT, this.#iFn, this.#iDur, this.#iMem, this.#iPkgs, this.#iInit][k] === c) ?? `column ${c + 1}`;
  }
}

/** Our JSONL format. */
export class OlJsonlTraceSource extends LineTraceSource {
  readonly format = 'jsonl';
  protected readHeader(): string | null {
    const first = this.reader.next();
    if (first === null) throw new OlError('OL_ERR_TRACE_FORMAT', `${this.location}: empty file`);
    let obj: unknown;
    try {
      obj = JSON.parse(first);
    } catch {
      throw new OlError('OL_ERR_TRACE_FORMAT', `${this.location}:1: not JSON; expected a header {"format":"ol-lab-trace","version":1} or an invocation object`);
    }
    const o = obj as Record<string, unknown>;
    if (o && typeof o === 'object' && o.format !== undefined) {
      if (o.format !== 'ol-lab-trace') throw new OlError('OL_ERR_TRACE_FORMAT', `${this.location}:1: header format is ${JSON.stringify(o.format)}, expected "ol-lab-trace"`);
      if (o.version !== 1) throw new OlError('OL_ERR_TRACE_FORMAT', `${this.location}:1: header version ${JSON.stringify(o.version)} is not supported (only 1)`);
      return null;
    }
    return first; // no header: the first line is data
  }

  protected parse(line: string, b: InvocationBatch, i: number): void {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch (e) {
      throw new LineError('(line)', `not valid JSON: ${(e as Error).message}`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new LineError('(line)', 'is not a JSON object');
    const num = (field: string, min: number, incl: boolean) => {
      const v = o[field];
      if (typeof v !== 'number') throw new LineError(field, v === undefined ? 'is missing' : `${JSON.stringify(v)} is not a number`);
      return checkNumber(field, v, () => String(v), min, incl);
    };
    b.t[i] = num('t_ms', 0, true);
    const name = o.fn;
    if (typeof name !== 'string' || name.length === 0) throw new LineError('fn', name === undefined ? 'is missing' : 'must be a non-empty string');
    b.dur[i] = num('dur_ms', 0, true);
    b.mem[i] = num('mem_mb', 0, false);
    if (o.init_ms !== undefined && o.init_ms !== null) b.init[i] = num('init_ms', 0, true);
    const id = this.table.id(name);
    b.fn[i] = id;
    const p = o.pkgs;
    if (p !== undefined && p !== null) {
      let pkgs: string[];
      if (typeof p === 'string') pkgs = splitPkgs(p);
      else if (Array.isArray(p) && p.every((x) => typeof x === 'string')) pkgs = p as string[];
      else throw new LineError('pkgs', 'must be a string or an array of strings');
      this.setPkgs(id, pkgs);
    }
  }
}
