/**
 * The CPU model: processor sharing over C cores. While n handlers run, each
 * progresses at rate min(1, C/n) of real time, so when more handlers run
 * than there are cores, every one of them stretches by n/C. A handler never
 * uses more than one core. C may be Infinity (no contention), which is what
 * FaasCache-style simulators assume.
 *
 * A second class of jobs may carry a higher weight W (the worker's zygotes
 * run at a CPU weight 32 times a sandbox's, so the fork on a cold start's
 * path is not stretched like the handlers around it): the cores are shared
 * in proportion to weight, no job above one core, and what a capped class
 * cannot use goes to the other (water-filling over the two classes).
 *
 * Implementation: per class, a "virtual work" counter V grows at the class's
 * current per-job rate; a job that starts when V = v with w ms of work ends
 * when V reaches v + w. Completion order within a class never changes when
 * the counts change, so one heap per class keyed by that tag serves, and
 * the next completion's real time is derived on demand. Costs O(log n) per
 * start and per finish.
 *
 * Limits (documented in docs/SIMULATOR.md): no scheduler quantum or context
 * switch cost, no memory-bandwidth or cache interference.
 */
class TagHeap<P> {
  n = 0;
  v = 0;
  #seq = 0;
  #tag = new Float64Array(256);
  #key = new Float64Array(256);
  #payload: (P | undefined)[] = new Array(256);

  get topTag(): number {
    return this.#tag[0]!;
  }

  get top(): P | undefined {
    return this.n > 0 ? this.#payload[0] : undefined;
  }

  push(work: number, payload: P): void {
    if (this.n === this.#tag.length) this.#grow();
    const tag = this.v + work;
    const key = this.#seq++;
    const tags = this.#tag, keys = this.#key, pl = this.#payload;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = tags[p]!;
      if (pt < tag || (pt === tag && keys[p]! < key)) break;
      tags[i] = pt; keys[i] = keys[p]!; pl[i] = pl[p];
      i = p;
    }
    tags[i] = tag; keys[i] = key; pl[i] = payload;
  }

  pop(): P {
    const tags = this.#tag, keys = this.#key, pl = this.#payload;
    const out = pl[0]!;
    const n = --this.n;
    if (n > 0) {
      const lt = tags[n]!, lk = keys[n]!, lp = pl[n];
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        const r = c + 1;
        if (r < n && (tags[r]! < tags[c]! || (tags[r] === tags[c] && keys[r]! < keys[c]!))) c = r;
        const ct = tags[c]!;
        if (lt < ct || (lt === ct && lk < keys[c]!)) break;
        tags[i] = ct; keys[i] = keys[c]!; pl[i] = pl[c];
        i = c;
      }
      tags[i] = lt; keys[i] = lk; pl[i] = lp;
    }
    pl[n] = undefined;
    // keep V from drifting past a finished tag through rounding
    if (this.n === 0) this.v = 0, this.#seq = 0;
    return out;
  }

  #grow(): void {
    const cap = this.#tag.length * 2;
    const t = new Float64Array(cap); t.set(this.#tag); this.#tag = t;
    const k = new Float64Array(cap); k.set(this.#key); this.#key = k;
    this.#payload.length = cap;
  }
}

/** What a worker model needs of its CPU: its own processor sharing, or its share of a machine's (CpuShare). */
export interface Cpu<P> {
  readonly running: number;
  readonly busyCoreMs: number;
  busyCoreMsAt(t: number): number;
  add(now: number, work: number, payload: P, priority?: boolean): void;
  nextTime(): number;
  pop(now: number): P;
}

export class ProcessorSharing<P> implements Cpu<P> {
  readonly cores: number;
  /** Weight of a `priority` job against an ordinary one's 1. */
  readonly weight: number;
  readonly #h = [new TagHeap<P>(), new TagHeap<P>()];
  #last = 0;
  #busyCoreMs = 0;
  #r0 = 1;
  #r1 = 1;

  constructor(cores: number, weight = 1) {
    if (!(cores > 0)) throw new RangeError(`cores must be > 0 (or Infinity), got ${cores}`);
    if (!(weight >= 1 && Number.isFinite(weight))) throw new RangeError(`weight must be a number >= 1, got ${weight}`);
    this.cores = cores;
    this.weight = weight;
  }

  /** Jobs running now. */
  get running(): number {
    return this.#h[0]!.n + this.#h[1]!.n;
  }

  /** Core-milliseconds of work done so far (utilisation = this / (C × time)). */
  get busyCoreMs(): number {
    return this.#busyCoreMs;
  }

  /** busyCoreMs as it will be at `t` (>= the last change) if no job starts or ends before. */
  busyCoreMsAt(t: number): number {
    const dt = t - this.#last;
    return dt > 0 ? this.#busyCoreMs + this.#busyOver(dt) : this.#busyCoreMs;
  }

  /** Core-ms of work done over `dt` ms at the current counts and rates. */
  #busyOver(dt: number): number {
    const [a, b] = this.#h as [TagHeap<P>, TagHeap<P>];
    if (b.n === 0) return a.n <= this.cores ? dt * a.n : dt * this.cores;
    return (a.n > 0 ? dt * this.#r0 * a.n : 0) + dt * this.#r1 * b.n;
  }

  /** Per-job rates of the two classes for the current counts (with priority jobs running). */
  #rates(): void {
    const n0 = this.#h[0]!.n, n1 = this.#h[1]!.n, c = this.cores;
    // one class: advance() and #dueOf() use the original arithmetic, so results without priority jobs are unchanged
    if (n1 === 0) return;
    const w = this.weight;
    let r1 = Math.min(1, (w * c) / (n0 + w * n1));
    const r0 = n0 > 0 ? Math.min(1, (c - n1 * r1) / n0) : 1;
    if (n0 > 0 && r0 >= 1) r1 = Math.min(1, (c - n0) / n1);
    this.#r0 = r0;
    this.#r1 = r1;
  }

  /** Brings V up to time `now`. */
  advance(now: number): void {
    const dt = now - this.#last;
    if (dt > 0) {
      const [a, b] = this.#h as [TagHeap<P>, TagHeap<P>];
      if (b.n === 0) {
        // one class: the original arithmetic, exactly
        const n = a.n, c = this.cores;
        if (n > 0) a.v += n <= c ? dt : (dt * c) / n;
      } else {
        if (a.n > 0) a.v += dt * this.#r0;
        b.v += dt * this.#r1;
      }
      this.#busyCoreMs += this.#busyOver(dt);
    }
    this.#last = now;
  }

  /** Starts a job needing `work` ms of one core, at time `now`; `priority`: of the weighted class. */
  add(now: number, work: number, payload: P, priority = false): void {
    this.advance(now);
    this.#h[priority && this.weight !== 1 ? 1 : 0]!.push(work, payload);
    this.#rates();
  }

  #dueOf(i: 0 | 1): number {
    const h = this.#h[i]!;
    if (h.n === 0) return Infinity;
    const rem = h.topTag - h.v;
    if (rem <= 0) return this.#last;
    if (i === 0 && this.#h[1]!.n === 0) {
      const n = h.n, c = this.cores;
      return this.#last + (n <= c ? rem : (rem * n) / c);
    }
    return this.#last + rem / (i === 0 ? this.#r0 : this.#r1);
  }

  /** Real time at which the next job finishes, or Infinity. */
  nextTime(): number {
    return Math.min(this.#dueOf(0), this.#dueOf(1));
  }

  /** The job that finishes next (without removing it), or undefined. */
  peek(): P | undefined {
    if (this.running === 0) return undefined;
    return this.#h[this.#dueOf(1) < this.#dueOf(0) ? 1 : 0]!.top;
  }

  /** Removes and returns the job that finishes next; call at `nextTime()`. */
  pop(now: number): P {
    this.advance(now);
    const out = this.#h[this.#dueOf(1) < this.#dueOf(0) ? 1 : 0]!.pop();
    this.#rates();
    return out;
  }
}

/**
 * One worker's share of a machine whose cores several simulated workers
 * share (a cluster on one machine): every job, whichever worker's, runs
 * in one processor-sharing pool, so a worker's handlers stretch when
 * another's run. The worker sees only its own next completion (another's
 * is Infinity to it); the cluster runs the workers' events in one global
 * time order, so the pool's clock only moves forward. Its busy figures are
 * the machine's.
 */
export class CpuShare<P extends { owner: number }> implements Cpu<P> {
  constructor(readonly machine: ProcessorSharing<P>, readonly owner: number) {}
  get running(): number {
    return this.machine.running;
  }
  get busyCoreMs(): number {
    return this.machine.busyCoreMs;
  }
  busyCoreMsAt(t: number): number {
    return this.machine.busyCoreMsAt(t);
  }
  add(now: number, work: number, payload: P, priority = false): void {
    payload.owner = this.owner;
    this.machine.add(now, work, payload, priority);
  }
  nextTime(): number {
    const next = this.machine.peek();
    return next !== undefined && next.owner === this.owner ? this.machine.nextTime() : Infinity;
  }
  pop(now: number): P {
    return this.machine.pop(now);
  }
}
