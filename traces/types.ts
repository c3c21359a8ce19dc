/**
 * What every trace reader produces: a table of functions and a stream of
 * invocation batches in arrival order. Batches are columnar (typed arrays)
 * so a reader can hand the simulator millions of invocations a second
 * without allocating an object for each.
 */

/** One function of a trace. */
export interface FunctionInfo {
  /** The function's name as the trace gives it (unique in the trace). */
  name: string;
  /** The app it belongs to, when the trace says. */
  app?: string;
  /** Python packages the function imports, when the trace says (zygote work). */
  pkgs?: string[];
}

/**
 * Invocations `0..length-1`, sorted by arrival. The arrays may be longer than
 * `length` and are reused by the reader for the next batch: consume a batch
 * before asking for the next one.
 */
export interface InvocationBatch {
  length: number;
  /** Arrival time, ms from the trace's start. */
  t: Float64Array;
  /** Index into the source's `functions`. */
  fn: Int32Array;
  /** Execution time on one core, ms, excluding any cold start. */
  dur: Float64Array;
  /** Memory the function's sandbox needs, MB. */
  mem: Float64Array;
  /** Cold-start time given by the trace itself, ms; NaN when it gives none. */
  init: Float64Array;
}

/** Counts a reader keeps while it reads. */
export interface ReadStats {
  /** Invocations produced so far. */
  invocations: number;
  /** Malformed lines skipped (only with skipBad). */
  skipped: number;
  /** The first few skipped lines' errors, for the summary. */
  skippedExamples: string[];
  /** Bytes read so far and the total to read (for progress). */
  bytesRead: number;
  totalBytes: number;
}

/** An opened trace. `batches()` may be iterated once. */
export interface TraceSource {
  /** Format name, as in the registry (`csv`, `jsonl`, `azure2019`, …). */
  readonly format: string;
  /** What was opened: a path, or a generator spec. */
  readonly location: string;
  /** Functions seen so far; grows while batches are read. */
  readonly functions: FunctionInfo[];
  readonly stats: ReadStats;
  /** The reader's options after defaults, for the result record. */
  readonly options: Record<string, unknown>;
  /** Streams the invocations. */
  batches(): Generator<InvocationBatch, void, undefined>;
  /**
   * SHA-256 (hex) of the trace's input bytes (and, for generators, of their
   * parameters). Complete once `batches()` is exhausted.
   */
  hash(): string;
  /** Notes on what the reader dropped or assumed (shown in the summary). */
  notes(): string[];
}

/** Options every reader accepts. */
export interface ReaderOptions {
  /** Skip and count malformed lines instead of stopping at the first. */
  skipBad?: boolean;
  /** Seed for readers that randomise (arrival expansion, duration sampling). */
  seed?: number;
  /** Invocations per batch. */
  batchSize?: number;
}

/** Allocates an empty batch of the given capacity. */
export function newBatch(capacity: number): InvocationBatch {
  return {
    length: 0,
    t: new Float64Array(capacity),
    fn: new Int32Array(capacity),
    dur: new Float64Array(capacity),
    mem: new Float64Array(capacity),
    init: new Float64Array(capacity).fill(NaN),
  };
}

/** Maps function names to dense ids, adding new ones to `functions`. */
export class FunctionTable {
  readonly functions: FunctionInfo[] = [];
  readonly #ids = new Map<string, number>();

  /** The id of `name`, registering it on first sight. */
  id(name: string): number {
    let id = this.#ids.get(name);
    if (id === undefined) {
      id = this.functions.length;
      this.functions.push({ name });
      this.#ids.set(name, id);
    }
    return id;
  }

  /** The id of `name`, or undefined if it was never seen. */
  lookup(name: string): number | undefined {
    return this.#ids.get(name);
  }
}
