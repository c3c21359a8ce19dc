/**
 * The FIFO of invocations waiting for memory, stored column-wise in a
 * growable ring of typed arrays: an overloaded run can hold millions of
 * waiting invocations without one object (and one GC-traced pointer) each.
 */
export class InvocationQueue {
  #seq = new Float64Array(1024);
  #fn = new Int32Array(1024);
  #arrival = new Float64Array(1024);
  #dur = new Float64Array(1024);
  #mem = new Float64Array(1024);
  #init = new Float64Array(1024);
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(seq: number, fn: number, arrival: number, dur: number, mem: number, init: number): void {
    if (this.#size === this.#seq.length) this.#grow();
    const i = (this.#head + this.#size) & (this.#seq.length - 1);
    this.#seq[i] = seq; this.#fn[i] = fn; this.#arrival[i] = arrival;
    this.#dur[i] = dur; this.#mem[i] = mem; this.#init[i] = init;
    this.#size++;
  }

  /** Fields of the head (the queue must not be empty). */
  get headSeq(): number { return this.#seq[this.#head]!; }
  get headFn(): number { return this.#fn[this.#head]!; }
  get headArrival(): number { return this.#arrival[this.#head]!; }
  get headDur(): number { return this.#dur[this.#head]!; }
  get headMem(): number { return this.#mem[this.#head]!; }
  get headInit(): number { return this.#init[this.#head]!; }

  shift(): void {
    this.#head = (this.#head + 1) & (this.#seq.length - 1);
    this.#size--;
  }

  #grow(): void {
    const cap = this.#seq.length * 2;
    const re = <T extends Float64Array | Int32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      const first = a.subarray(this.#head) as T;
      b.set(first as never);
      b.set(a.subarray(0, this.#head) as never, first.length);
      return b;
    };
    this.#seq = re(this.#seq); this.#fn = re(this.#fn); this.#arrival = re(this.#arrival);
    this.#dur = re(this.#dur); this.#mem = re(this.#mem); this.#init = re(this.#init);
    this.#head = 0;
  }
}
