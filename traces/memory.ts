/**
 * A trace held in memory as rows: for tests, hand-worked scenarios and
 * programs that build invocations themselves. Rows must be sorted by `t`.
 */
import { createHash } from 'node:crypto';
import { OlError } from '../common/errors.js';
import { FunctionTable, newBatch, type InvocationBatch, type ReadStats, type TraceSource } from './types.js';

export interface InvocationRow {
  t: number;
  fn: string;
  dur: number;
  mem: number;
  init?: number;
}

export class ArrayTraceSource implements TraceSource {
  readonly format = 'memory';
  readonly location = '(in memory)';
  readonly options: Record<string, unknown> = {};
  readonly stats: ReadStats;
  readonly #table = new FunctionTable();
  readonly #rows: InvocationRow[];

  constructor(rows: InvocationRow[]) {
    rows.forEach((r, i) => {
      if (i > 0 && r.t < rows[i - 1]!.t) throw new OlError('OL_ERR_TRACE_LINE', `row ${i}: t ${r.t} is before the previous row's ${rows[i - 1]!.t}`);
      this.#table.id(r.fn);
    });
    this.#rows = rows;
    this.stats = { invocations: 0, skipped: 0, skippedExamples: [], bytesRead: 0, totalBytes: rows.length };
  }

  get functions() {
    return this.#table.functions;
  }

  *batches(): Generator<InvocationBatch, void, undefined> {
    const b = newBatch(Math.max(1, this.#rows.length));
    this.#rows.forEach((r, i) => {
      b.t[i] = r.t;
      b.fn[i] = this.#table.lookup(r.fn)!;
      b.dur[i] = r.dur;
      b.mem[i] = r.mem;
      b.init[i] = r.init ?? NaN;
    });
    b.length = this.#rows.length;
    this.stats.invocations = b.length;
    this.stats.bytesRead = b.length;
    if (b.length > 0) yield b;
  }

  hash(): string {
    return createHash('sha256').update(JSON.stringify(this.#rows)).digest('hex');
  }

  notes(): string[] {
    return [];
  }
}
