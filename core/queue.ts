/**
 * The FIFO of requests waiting for memory, shared by the simulator and the
 * worker: what the pool rules read of a waiter (its number, function and
 * memory) plus numeric payload columns of the side's own (the simulator's
 * arrival, duration and cold-start time; the worker keeps none and maps
 * the number to its waiter). Stored column-wise in chunks of typed arrays
 * addressed by a stable position (the arrival order), so an overloaded run
 * can hold millions of waiting requests without one object each, and so a
 * waiting request of a given function can be taken out of the middle in
 * O(1) (a finishing sandbox goes to a waiting request of its own function).
 */
const BITS = 12;
const SIZE = 1 << BITS;
const MASK = SIZE - 1;

interface Chunk {
  seq: Float64Array;
  fn: Int32Array;
  mem: Float64Array;
  cols: Float64Array[];
  taken: Uint8Array;
}

function chunk(ncols: number): Chunk {
  const cols: Float64Array[] = [];
  for (let k = 0; k < ncols; k++) cols.push(new Float64Array(SIZE));
  return { seq: new Float64Array(SIZE), fn: new Int32Array(SIZE), mem: new Float64Array(SIZE), cols, taken: new Uint8Array(SIZE) };
}

export class WaitQueue {
  readonly #ncols: number;
  #chunks = new Map<number, Chunk>();
  /** Position of the oldest entry still waiting (or past the end). */
  #head = 0;
  #tail = 0;
  #size = 0;
  /** Per function: positions of its waiting entries, oldest first (lazily cleaned). */
  #byFn: number[][] = [];
  #byFnHead: number[] = [];
  #count: number[] = [];

  /** `payloadColumns`: how many numbers of its own each entry carries. */
  constructor(payloadColumns = 0) {
    this.#ncols = payloadColumns;
  }

  get size(): number {
    return this.#size;
  }

  /** Waiting invocations of function `fn`. */
  countOf(fn: number): number {
    return this.#count[fn] ?? 0;
  }

  /** Appends a waiter with up to three payload columns (the rest start at 0; `setCol` sets any); returns its position. */
  push(seq: number, fn: number, mem: number, c0 = 0, c1 = 0, c2 = 0): number {
    const pos = this.#tail++;
    let c = this.#chunks.get(pos >>> BITS);
    if (!c) this.#chunks.set(pos >>> BITS, (c = chunk(this.#ncols)));
    const i = pos & MASK;
    c.seq[i] = seq; c.fn[i] = fn; c.mem[i] = mem; c.taken[i] = 0;
    const cols = c.cols, n = cols.length;
    if (n > 0) cols[0]![i] = c0;
    if (n > 1) cols[1]![i] = c1;
    if (n > 2) cols[2]![i] = c2;
    while (this.#byFn.length <= fn) { this.#byFn.push([]); this.#byFnHead.push(0); this.#count.push(0); }
    this.#byFn[fn]!.push(pos);
    this.#count[fn]!++;
    this.#size++;
    return pos;
  }

  /** Position of the oldest waiting entry (the queue must not be empty). */
  get head(): number {
    return this.#head;
  }

  /** Position of the oldest waiting entry of `fn`, or -1. */
  oldestOf(fn: number): number {
    if (!this.#count[fn]) return -1;
    const list = this.#byFn[fn]!;
    let h = this.#byFnHead[fn]!;
    for (;;) {
      // entries behind the head may sit in chunks already freed: taken too
      const c = this.#chunks.get(list[h]! >>> BITS);
      if (c && !c.taken[list[h]! & MASK]) break;
      h++;
    }
    this.#byFnHead[fn] = h;
    return list[h]!;
  }

  // the chunk of the last position asked for: reads of one entry's columns look it up once
  #lastKey = -1;
  #last: Chunk | undefined;

  #at(pos: number): Chunk {
    const k = pos >>> BITS;
    if (k === this.#lastKey) return this.#last!;
    const c = this.#chunks.get(k)!;
    this.#lastKey = k;
    this.#last = c;
    return c;
  }

  /** Copies the entry at `pos` into `out` (its number, function, memory and payload). */
  read(pos: number, out: { seq: number; fn: number; mem: number; cols: Float64Array }): void {
    const c = this.#at(pos), i = pos & MASK;
    out.seq = c.seq[i]!;
    out.fn = c.fn[i]!;
    out.mem = c.mem[i]!;
    for (let k = 0; k < c.cols.length; k++) out.cols[k] = c.cols[k]![i]!;
  }

  seq(pos: number): number { return this.#at(pos).seq[pos & MASK]!; }
  fn(pos: number): number { return this.#at(pos).fn[pos & MASK]!; }
  mem(pos: number): number { return this.#at(pos).mem[pos & MASK]!; }
  col(pos: number, k: number): number { return this.#at(pos).cols[k]![pos & MASK]!; }
  setCol(pos: number, k: number, v: number): void { this.#at(pos).cols[k]![pos & MASK] = v; }

  /** Whether the entry at `pos` is still waiting. */
  waiting(pos: number): boolean {
    if (pos < this.#head || pos >= this.#tail) return false;
    const c = this.#chunks.get(pos >>> BITS);
    return c !== undefined && !c.taken[pos & MASK];
  }

  #forget(key: number): void {
    this.#chunks.delete(key);
    if (key === this.#lastKey) {
      this.#lastKey = -1;
      this.#last = undefined;
    }
  }

  /** Removes the entry at `pos` (the head or any other). */
  take(pos: number): void {
    const c = this.#at(pos);
    const i = pos & MASK;
    if (c.taken[i]) throw new Error(`queue entry ${pos} taken twice`);
    c.taken[i] = 1;
    const fn = c.fn[i]!;
    this.#count[fn]!--;
    this.#size--;
    const list = this.#byFn[fn]!;
    if (this.#count[fn] === 0) {
      list.length = 0;
      this.#byFnHead[fn] = 0;
    } else if (this.#byFnHead[fn]! > 1024 && this.#byFnHead[fn]! * 2 > list.length) {
      this.#byFn[fn] = list.slice(this.#byFnHead[fn]);
      this.#byFnHead[fn] = 0;
    }
    // advance the head past taken entries, freeing whole chunks behind it
    while (this.#head < this.#tail && this.#at(this.#head).taken[this.#head & MASK]) {
      this.#head++;
      if ((this.#head & MASK) === 0) this.#forget((this.#head >>> BITS) - 1);
    }
    if (this.#head === this.#tail && this.#size === 0) {
      // empty: drop the last chunk too and start positions afresh
      this.#chunks.clear();
      this.#lastKey = -1;
      this.#last = undefined;
      this.#head = this.#tail = 0;
    }
  }
}
