/**
 * The Azure Functions 2021 invocation trace (Azure Public Dataset): one row
 * per invocation, `app,func,end_timestamp,duration`, times in seconds. The
 * dataset's duration excludes cold start, so arrival = end − duration. Rows
 * are ordered by end time, not arrival, so this reader loads the trace
 * (columnar, 24 bytes per invocation: 2 million invocations in 48 MB) and
 * sorts it by arrival, ties in file order. The trace has no memory figures:
 * every function gets `memMb` (default 256).
 */
import { createHash } from 'node:crypto';
import { OlError, badConfig } from '../common/errors.js';
import { LineReader, parseNumber, splitHeader } from './line-reader.js';
import { FunctionTable, newBatch, type InvocationBatch, type ReadStats, type ReaderOptions, type TraceSource } from './types.js';

/** Options of the Azure 2021 reader. */
export interface Azure2021Options extends ReaderOptions {
  /** Memory of every function, MB (the trace has none). */
  memMb?: number;
}

export class Azure2021TraceSource implements TraceSource {
  readonly format = 'azure2021';
  readonly location: string;
  readonly stats: ReadStats = { invocations: 0, skipped: 0, skippedExamples: [], bytesRead: 0, totalBytes: 0 };
  readonly options: Record<string, unknown>;
  readonly #table = new FunctionTable();
  #t = new Float64Array(1024);
  #fn = new Int32Array(1024);
  #dur = new Float64Array(1024);
  #n = 0;
  readonly #memMb: number;
  readonly #batchSize: number;
  readonly #hash: string;
  #used = false;

  constructor(path: string, opts: Azure2021Options = {}) {
    this.location = path;
    this.#memMb = opts.memMb ?? 256;
    if (!(this.#memMb > 0)) badConfig('mem-mb', `must be > 0, got ${this.#memMb}`);
    this.#batchSize = opts.batchSize ?? 4096;
    const skipBad = opts.skipBad ?? false;
    this.options = { memMb: this.#memMb, skipBad };
    const hash = createHash('sha256');
    const r = new LineReader(path, hash);
    this.stats.totalBytes = r.totalBytes;
    const header = r.next();
    if (header === null) throw new OlError('OL_ERR_TRACE_FORMAT', `${path}: empty file`);
    const names = splitHeader(header);
    const idx = (c: string) => {
      const i = names.indexOf(c);
      if (i < 0) throw new OlError('OL_ERR_TRACE_FORMAT', `${path}:1: header lacks column ${c} (found: ${names.join(', ')}); expected app,func,end_timestamp,duration`);
      return i;
    };
    const iApp = idx('app'), iFunc = idx('func'), iEnd = idx('end_timestamp'), iDur = idx('duration');
    const need = Math.max(iApp, iFunc, iEnd, iDur) + 1;
    for (let line = r.next(); line !== null; line = r.next()) {
      if (line.trim() === '') continue;
      const f = line.split(',');
      const bad = (field: string, why: string) => {
        const msg = `${path}:${r.lineNo}: field "${field}": ${why}`;
        if (!skipBad) throw new OlError('OL_ERR_TRACE_LINE', `${msg} (use --skip-bad to skip such lines)`);
        this.stats.skipped++;
        if (this.stats.skippedExamples.length < 5) this.stats.skippedExamples.push(msg);
      };
      if (f.length < need) { bad(names[f.length] ?? '(line)', `missing (line has ${f.length} of ${names.length} columns)`); continue; }
      const end = parseNumber(f[iEnd]!, 0, f[iEnd]!.length);
      const dur = parseNumber(f[iDur]!, 0, f[iDur]!.length);
      if (!Number.isFinite(end) || end < 0) { bad('end_timestamp', `${JSON.stringify(f[iEnd])} is not a number >= 0`); continue; }
      if (!Number.isFinite(dur) || dur < 0) { bad('duration', `${JSON.stringify(f[iDur])} is not a number >= 0`); continue; }
      if (dur > end) { bad('duration', `${dur} s is longer than end_timestamp ${end} s, so the arrival would be negative`); continue; }
      const app = f[iApp]!.trim(), func = f[iFunc]!.trim();
      if (!func) { bad('func', 'is empty'); continue; }
      if (this.#n === this.#t.length) this.#grow();
      const id = this.#table.id(`${app}/${func}`);
      if (this.#table.functions[id]!.app === undefined) this.#table.functions[id]!.app = app;
      this.#t[this.#n] = (end - dur) * 1000;
      this.#dur[this.#n] = dur * 1000;
      this.#fn[this.#n] = id;
      this.#n++;
    }
    this.stats.bytesRead = r.bytesRead;
    this.#hash = hash.digest('hex');
  }

  get functions() {
    return this.#table.functions;
  }

  *batches(): Generator<InvocationBatch, void, undefined> {
    if (this.#used) throw new Error('a trace source can be read only once');
    this.#used = true;
    const n = this.#n;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const t = this.#t;
    order.sort((a, b) => t[a]! - t[b]! || a - b);
    const b = newBatch(this.#batchSize);
    let k = 0;
    for (let j = 0; j < n; j++) {
      const i = order[j]!;
      b.t[k] = t[i]!;
      b.fn[k] = this.#fn[i]!;
      b.dur[k] = this.#dur[i]!;
      b.mem[k] = this.#memMb;
      if (++k === this.#batchSize) {
        b.length = k;
        this.stats.invocations += k;
        yield b;
        k = 0;
      }
    }
    if (k > 0) {
      b.length = k;
      this.stats.invocations += k;
      yield b;
    }
  }

  hash(): string {
    return this.#hash;
  }

  notes(): string[] {
    const notes = [`the 2021 trace has no memory figures: every function was given ${this.#memMb} MB`];
    if (this.stats.skipped > 0) notes.push(`skipped ${this.stats.skipped} malformed line(s); first: ${this.stats.skippedExamples[0]}`);
    return notes;
  }

  #grow(): void {
    const cap = this.#t.length * 2;
    const t = new Float64Array(cap); t.set(this.#t); this.#t = t;
    const f = new Int32Array(cap); f.set(this.#fn); this.#fn = f;
    const d = new Float64Array(cap); d.set(this.#dur); this.#dur = d;
  }
}
