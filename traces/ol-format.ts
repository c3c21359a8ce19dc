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
import { closeSync, openSync, readSync } from 'node:fs';
import { OlError } from '../common/errors.js';
import { LineReader, parseNumber, POW10, splitHeader } from './line-reader.js';
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
    this.claim();
    const first = this.readHeader();
    const b = newBatch(this.#batchSize);
    const cap = this.#batchSize;
    let n = 0;
    for (let line = first ?? this.reader.next(); line !== null; line = this.reader.next()) {
      if (line.length === 0) continue;
      try {
        this.parse(line, b, n);
        this.checkOrder(b.t[n]!);
      } catch (e) {
        this.reject(e, this.reader.lineNo);
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

  /** Throws the error a bad line deserves, or counts it when skipping. */
  protected reject(e: unknown, lineNo: number): void {
    if (!(e instanceof LineError)) throw e;
    const msg = `${this.location}:${lineNo}: field "${e.field}": ${e.message}`;
    if (!this.#skipBad) throw new OlError('OL_ERR_TRACE_LINE', `${msg} (use --skip-bad to skip such lines)`);
    this.stats.skipped++;
    if (this.stats.skippedExamples.length < 5) this.stats.skippedExamples.push(msg);
  }

  /** Checks arrival order; throws LineError. */
  protected checkOrder(t: number): void {
    if (t < this.lastT) {
      throw new LineError('t_ms', `t_ms ${t} is before the previous invocation's ${this.lastT}; traces must be sorted by arrival`);
    }
    this.lastT = t;
  }

  protected get batchSize(): number {
    return this.#batchSize;
  }

  protected claim(): void {
    if (this.#used) throw new Error('a trace source can be read only once');
    this.#used = true;
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

/**
 * Our CSV format. Well-formed lines take a byte-level path (no string per
 * line, function names found by hashing their bytes); any line that path
 * does not accept as it stands is re-read by the string parser, which either
 * reads it (exponents, spaces) or reports exactly what is wrong with it.
 */
export class OlCsvTraceSource extends LineTraceSource {
  readonly format = 'csv';
  #nCols = 0;
  #iT = 0; #iFn = 0; #iDur = 0; #iMem = 0; #iPkgs = -1; #iInit = -1;
  #starts = new Int32Array(16);
  #ends = new Int32Array(16);
  #headerDone = false;
  #fastDigest: string | undefined;

  constructor(path: string, opts: ReaderOptions) {
    super(path, opts);
    this.readHeader();
    this.#headerDone = true;
  }

  override *batches(): Generator<InvocationBatch, void, undefined> {
    if (this.#iPkgs >= 0) {
      yield* super.batches();
      return;
    }
    this.claim();
    this.reader.close();
    yield* this.#fastBatches();
  }

  override hash(): string {
    return this.#fastDigest ?? super.hash();
  }

  *#fastBatches(): Generator<InvocationBatch, void, undefined> {
    const hash = createHash('sha256');
    const fd = openSync(this.location, 'r');
    const cap = this.batchSize;
    const b = newBatch(cap);
    const nCols = this.#nCols, iT = this.#iT, iFn = this.#iFn, iDur = this.#iDur, iMem = this.#iMem, iInit = this.#iInit;
    const vals = new Float64Array(nCols);
    const names = new ByteNameTable(this.table);
    let buf = Buffer.allocUnsafe(2 << 20);
    let carry = 0;
    let lineNo = 0;
    let n = 0;
    let eof = false;
    let bytes = 0;
    try {
      while (!eof) {
        if (buf.length - carry < 1 << 20) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, carry);
          buf = bigger;
        }
        const got = readSync(fd, buf, carry, buf.length - carry, null);
        if (got === 0) eof = true;
        hash.update(buf.subarray(carry, carry + got));
        bytes += got;
        let end = carry + got;
        if (eof && end > 0 && buf[end - 1] !== 10) buf[end++] = 10; // a last line without newline
        let pos = 0;
        for (;;) {
          const nl = buf.indexOf(10, pos);
          if (nl < 0 || nl >= end) break;
          lineNo++;
          const lineStart = pos;
          let lineEnd = nl;
          pos = nl + 1;
          if (lineNo === 1) continue; // the header, read in the constructor
          if (lineEnd > lineStart && buf[lineEnd - 1] === 13) lineEnd--;
          if (lineEnd === lineStart) continue;
          // fast path: plain decimals, one unquoted name
          let p = lineStart;
          let ok = true;
          let fnId = -1;
          for (let c = 0; c < nCols; c++) {
            if (c === iFn) {
              const s0 = p;
              let h = 0x811c9dc5;
              while (p < lineEnd && buf[p] !== 44) { h = Math.imul(h ^ buf[p]!, 0x01000193); p++; }
              if (p === s0 || buf[s0] === 32 || buf[p - 1] === 32) { ok = false; break; }
              fnId = names.id(buf, s0, p, h >>> 0);
            } else {
              // every digit into one integer, then one division: at most 15 digits are exact in a double,
              // so the quotient is the correctly rounded value, Number()'s (as the string parser's)
              let v = 0, digits = 0, frac = 0;
              while (p < lineEnd) {
                const d = buf[p]! - 48;
                if (d < 0 || d > 9) break;
                v = v * 10 + d; digits++; p++;
              }
              if (p < lineEnd && buf[p] === 46) {
                p++;
                while (p < lineEnd) {
                  const d = buf[p]! - 48;
                  if (d < 0 || d > 9) break;
                  v = v * 10 + d; digits++; frac++; p++;
                }
                if (frac > 0 && digits <= 15) v /= POW10[frac]!;
              }
              if (digits === 0) {
                if (c !== iInit || (p < lineEnd && buf[p] !== 44)) { ok = false; break; }
                v = NaN;
              } else if (digits > 15) { ok = false; break; }
              vals[c] = v;
            }
            if (c < nCols - 1) {
              if (p >= lineEnd || buf[p] !== 44) { ok = false; break; }
              p++;
            } else if (p !== lineEnd) { ok = false; break; }
          }
          if (ok) {
            const t = vals[iT]!, mem = vals[iMem]!;
            if (t < this.lastT || !(mem > 0)) ok = false;
            else {
              this.lastT = t;
              b.t[n] = t; b.fn[n] = fnId; b.dur[n] = vals[iDur]!; b.mem[n] = mem;
              b.init[n] = iInit >= 0 ? vals[iInit]! : NaN;
            }
          }
          if (!ok) {
            // slow path: the string parser reads it or says what is wrong
            try {
              b.init[n] = NaN;
              this.parse(buf.toString('utf8', lineStart, lineEnd), b, n);
              this.checkOrder(b.t[n]!);
            } catch (e) {
              this.reject(e, lineNo);
              continue;
            }
          }
          if (++n === cap) {
            b.length = n;
            this.stats.invocations += n;
            this.stats.bytesRead = bytes;
            yield b;
            n = 0;
          }
        }
        carry = end - pos;
        buf.copy(buf, 0, pos, end);
      }
    } finally {
      closeSync(fd);
    }
    if (n > 0) {
      b.length = n;
      this.stats.invocations += n;
      yield b;
    }
    this.stats.bytesRead = bytes;
    this.#fastDigest = hash.digest('hex');
  }

  protected readHeader(): string | null {
    if (this.#headerDone) return null;
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

/**
 * Function names by their bytes: an open-addressing table from an FNV-1a
 * hash of the name's bytes to its id, so the fast path makes a string only
 * the first time it meets a name.
 */
class ByteNameTable {
  /** Pairs (id or -1, hash): a probe reads both from one cache line. */
  #slots = new Int32Array(2 * 4096).fill(-1);
  /** Every name's bytes, one after another (one block: no object per name to chase). */
  #arena = new Uint8Array(1 << 16);
  #arenaUsed = 0;
  /** Per id: where its bytes start in the arena, and how many. */
  #off = new Int32Array(1024);
  #len = new Int32Array(1024);
  #count = 0;
  readonly #table: FunctionTable;

  constructor(table: FunctionTable) {
    this.#table = table;
  }

  id(buf: Buffer, s: number, e: number, h: number): number {
    const slots = this.#slots, arena = this.#arena;
    const mask = (slots.length >> 1) - 1, n = e - s, hs = h | 0;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const k = slots[2 * i]!;
      if (k < 0) break;
      if (slots[2 * i + 1] === hs && this.#len[k] === n) {
        // names are short: a JS loop beats a native call
        const o = this.#off[k]!;
        let j = 0;
        while (j < n && arena[o + j] === buf[s + j]) j++;
        if (j === n) return k;
      }
    }
    const id = this.#table.id(buf.toString('utf8', s, e));
    this.#keep(id, buf, s, e);
    this.#insert(id, hs);
    if (++this.#count * 2 > slots.length >> 1) this.#rehash();
    return id;
  }

  /** Copies the bytes of name `id` into the arena. */
  #keep(id: number, buf: Buffer, s: number, e: number): void {
    if (id >= this.#off.length) {
      const size = Math.max(2 * this.#off.length, id + 1);
      const off = new Int32Array(size), len = new Int32Array(size);
      off.set(this.#off);
      len.set(this.#len);
      this.#off = off;
      this.#len = len;
    }
    const n = e - s;
    if (this.#arenaUsed + n > this.#arena.length) {
      const a = new Uint8Array(Math.max(2 * this.#arena.length, this.#arenaUsed + n));
      a.set(this.#arena.subarray(0, this.#arenaUsed));
      this.#arena = a;
    }
    this.#arena.set(buf.subarray(s, e), this.#arenaUsed);
    this.#off[id] = this.#arenaUsed;
    this.#len[id] = n;
    this.#arenaUsed += n;
  }

  #insert(id: number, hs: number): void {
    const slots = this.#slots, mask = (slots.length >> 1) - 1;
    let i = hs & mask;
    while (slots[2 * i]! >= 0) i = (i + 1) & mask;
    slots[2 * i] = id;
    slots[2 * i + 1] = hs;
  }

  #rehash(): void {
    const old = this.#slots;
    this.#slots = new Int32Array(old.length * 2).fill(-1);
    for (let i = 0; i < old.length; i += 2) if (old[i]! >= 0) this.#insert(old[i]!, old[i + 1]!);
  }
}
