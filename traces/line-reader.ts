/**
 * Synchronous, chunked line reading with a running SHA-256 of the bytes, so
 * a trace of any size streams through in constant memory and its hash comes
 * for free. Lines are numbered from 1; a final line without a newline counts.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import { OlError } from '../common/errors.js';

const CHUNK = 1 << 20;

export class LineReader {
  readonly path: string;
  readonly totalBytes: number;
  #fd: number;
  #buf = '';
  #pos = 0;
  #eof = false;
  #bytes = 0;
  #lineNo = 0;
  #chunk = Buffer.allocUnsafe(CHUNK);
  #decoder = new StringDecoder('utf8');
  // while every chunk so far was ASCII, decode as latin1 (much faster, same text)
  #ascii = true;
  #hash: Hash;

  constructor(path: string, hash: Hash = createHash('sha256')) {
    this.path = path;
    try {
      this.#fd = openSync(path, 'r');
    } catch (e) {
      throw new OlError('OL_ERR_TRACE_FORMAT', `cannot open trace file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const st = fstatSync(this.#fd);
    if (st.isDirectory()) {
      closeSync(this.#fd);
      throw new OlError('OL_ERR_TRACE_FORMAT', `${path} is a directory, not a trace file`);
    }
    this.totalBytes = st.size;
    this.#hash = hash;
  }

  /** Number of the line last returned by {@link next}. */
  get lineNo(): number {
    return this.#lineNo;
  }

  /** Bytes read from the file so far. */
  get bytesRead(): number {
    return this.#bytes;
  }

  /** The next line without its line terminator, or null at the end. */
  next(): string | null {
    for (;;) {
      const nl = this.#buf.indexOf('\n', this.#pos);
      if (nl >= 0) {
        let end = nl;
        if (end > this.#pos && this.#buf.charCodeAt(end - 1) === 13) end--;
        const line = this.#buf.slice(this.#pos, end);
        this.#pos = nl + 1;
        this.#lineNo++;
        return line;
      }
      if (this.#eof) {
        if (this.#pos < this.#buf.length) {
          let line = this.#buf.slice(this.#pos);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          this.#pos = this.#buf.length;
          this.#lineNo++;
          return line;
        }
        return null;
      }
      this.#fill();
    }
  }

  /** Reads the rest of the file into the hash (for readers that stop early). */
  drain(): void {
    while (!this.#eof) this.#fill();
  }

  /** Closes the file. Safe to call more than once. */
  close(): void {
    if (this.#fd >= 0) {
      closeSync(this.#fd);
      this.#fd = -1;
    }
  }

  #fill(): void {
    const n = readSync(this.#fd, this.#chunk, 0, CHUNK, null);
    if (n === 0) {
      this.#eof = true;
      this.#buf = this.#buf.slice(this.#pos) + this.#decoder.end();
      this.#pos = 0;
      this.close();
      return;
    }
    this.#bytes += n;
    const bytes = this.#chunk.subarray(0, n);
    this.#hash.update(bytes);
    if (this.#ascii && !isAscii(bytes)) this.#ascii = false;
    const text = this.#ascii ? bytes.toString('latin1') : this.#decoder.write(bytes);
    this.#buf = this.#buf.slice(this.#pos) + text;
    this.#pos = 0;
  }
}

/** Splits a CSV header into trimmed column names (no quoting in our formats). */
export function splitHeader(line: string): string[] {
  return line.replace(/^\uFEFF/, '').split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
}

/** 10^k for k = 0..15, each exact in a double. */
export const POW10: readonly number[] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * Parses a plain decimal number in `s[a, b)` without allocating; falls back
 * to `Number()` for anything unusual (exponents, leading '+'). NaN when the
 * text is not a number.
 */
export function parseNumber(s: string, a: number, b: number): number {
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  if (a >= b) return NaN;
  let i = a;
  let neg = false;
  if (s.charCodeAt(i) === 45) { neg = true; i++; }
  let v = 0;
  let digits = 0;
  for (; i < b; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
    digits++;
  }
  if (i < b && s.charCodeAt(i) === 46) {
    i++;
    let frac = 0;
    for (; i < b; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
      digits++;
      frac++;
    }
    // all the digits as one integer (exact up to 15 of them), then one correctly rounded division: Number()'s value
    if (frac > 0 && digits <= 15) v /= POW10[frac]!;
  }
  if (i !== b || digits === 0 || digits > 15) {
    const t = s.slice(a, b);
    return t.trim() === '' ? NaN : Number(t);
  }
  return neg ? -v : v;
}
