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
 * switch cost, no memory-bandwidth or cache interference. TimeSlicing
 * below adds the quantum.
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
  /** Real time of its next event (a job's end; with time slices, also a slice's end), or Infinity. */
  nextTime(): number;
  /** Runs the event due at `nextTime()`: the job that finished, or undefined when the event was a slice ending (no job finished). */
  pop(now: number): P | undefined;
}

/** A machine's cores, shared by several worker models (CpuShare): also tells whose job comes next. */
export interface MachineCpu<P> extends Cpu<P> {
  /** The job whose event comes next (without running it), or undefined. */
  peek(): P | undefined;
}

/** The CPU model a configuration names: processor sharing, or time slices of `sliceMs` (> 0, finite cores). */
export function makeCpu<P>(cores: number, weight: number, sliceMs: number): MachineCpu<P> {
  return sliceMs > 0 && Number.isFinite(cores) ? new TimeSlicing<P>(cores, sliceMs, weight) : new ProcessorSharing<P>(cores, weight);
}

export class ProcessorSharing<P> implements MachineCpu<P> {
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
  constructor(readonly machine: MachineCpu<P>, readonly owner: number) {}
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
  pop(now: number): P | undefined {
    return this.machine.pop(now);
  }
}

interface SliceJob<P> {
  /** Work left, ms of one core. */
  rem: number;
  /** Work left in the current grant of a core (a slice, or the rest of the job). */
  grant: number;
  /** Whether the current grant ends the job. */
  completes: boolean;
  /** Its work left when it was given its core (slices run from there). */
  base: number;
  priority: boolean;
  payload: P;
}

/** A FIFO of jobs (an array with a moving head). */
class JobQueue<P> {
  #a: (SliceJob<P> | undefined)[] = [];
  #head = 0;
  get size(): number { return this.#a.length - this.#head; }
  push(j: SliceJob<P>): void { this.#a.push(j); }
  unshift(j: SliceJob<P>): void {
    if (this.#head > 0) this.#a[--this.#head] = j;
    else this.#a.unshift(j);
  }
  shift(): SliceJob<P> {
    const j = this.#a[this.#head]!;
    this.#a[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#a.length) { this.#a = this.#a.slice(this.#head); this.#head = 0; }
    return j;
  }
}

/**
 * The cores as a time-slicing scheduler shares them, instead of the fluid
 * processor sharing above: at most ⌈C⌉ jobs run at once (each at rate
 * min(1, C / running), so with no more jobs than cores it is processor
 * sharing exactly), and while others wait each running job keeps its core
 * for a slice of `sliceMs` of work at most, then goes to the back of the
 * queue. A job that arrives when every core is taken waits its turn, and
 * the jobs running then finish their current slice at most (slices counted
 * from when each got its core). So a burst of
 * calls shorter than a slice ends one after another, as the kernel runs
 * them, not all together at the burst's end, as processor sharing has it;
 * calls much longer than a slice see processor sharing's stretch. Linux's
 * fair scheduler (EEVDF since 6.6) gives a task a base slice of 0.75 ms ×
 * (1 + log2 of the CPUs, up to 8): 1.5 ms on two cores.
 *
 * The weighted class (creations at createCpuWeight > 1) is served first: a
 * job of it takes a core from an ordinary job at once (that job waits at
 * the head of the queue), which is what a weight of 32 against 1 amounts
 * to over a few slices. Approximations: a new job always waits at the
 * back (EEVDF may let a waking task in ahead of ones that have run); no
 * context-switch cost.
 */
export class TimeSlicing<P> implements MachineCpu<P> {
  readonly cores: number;
  readonly sliceMs: number;
  readonly weight: number;
  readonly #k: number;
  readonly #run: SliceJob<P>[] = [];
  readonly #wait = new JobQueue<P>();
  readonly #waitPriority = new JobQueue<P>();
  #last = 0;
  #busyCoreMs = 0;

  constructor(cores: number, sliceMs: number, weight = 1) {
    if (!(cores > 0) || !Number.isFinite(cores)) throw new RangeError(`time slicing needs a finite number of cores > 0, got ${cores}`);
    if (!(sliceMs > 0) || !Number.isFinite(sliceMs)) throw new RangeError(`slice must be a number of ms > 0, got ${sliceMs}`);
    if (!(weight >= 1 && Number.isFinite(weight))) throw new RangeError(`weight must be a number >= 1, got ${weight}`);
    this.cores = cores;
    this.sliceMs = sliceMs;
    this.weight = weight;
    this.#k = Math.ceil(cores);
  }

  /** Jobs running or waiting now. */
  get running(): number {
    return this.#run.length + this.#wait.size + this.#waitPriority.size;
  }

  get busyCoreMs(): number {
    return this.#busyCoreMs;
  }

  busyCoreMsAt(t: number): number {
    const dt = t - this.#last;
    return dt > 0 ? this.#busyCoreMs + dt * this.#rate() * this.#run.length : this.#busyCoreMs;
  }

  /** Each running job's rate: the cores shared by those running, one core at most each. */
  #rate(): number {
    const n = this.#run.length;
    return n <= this.cores ? 1 : this.cores / n;
  }

  #advance(now: number): void {
    const dt = now - this.#last;
    if (dt > 0) {
      const run = this.#run, done = dt * this.#rate();
      for (let i = 0; i < run.length; i++) {
        const j = run[i]!;
        j.rem -= done;
        j.grant -= done;
      }
      this.#busyCoreMs += done * run.length;
    }
    if (now > this.#last) this.#last = now;
  }

  #waiting(): number {
    return this.#wait.size + this.#waitPriority.size;
  }

  /** Gives `j` a core: the rest of its work, or a slice of it while others wait. */
  #grantCore(j: SliceJob<P>): void {
    j.base = j.rem;
    if (this.#waiting() === 0 || j.rem <= this.sliceMs) {
      j.grant = j.rem;
      j.completes = true;
    } else {
      j.grant = this.sliceMs;
      j.completes = false;
    }
    this.#run.push(j);
  }

  /** Someone waits now: a running job keeps its core to the end of its current slice at most (slices counted from when it got the core). */
  #limitRunning(): void {
    const q = this.sliceMs;
    for (const j of this.#run) {
      const left = q - ((j.base - j.rem) % q);
      if (j.grant > left) {
        j.grant = left;
        j.completes = false;
      }
    }
  }

  add(now: number, work: number, payload: P, priority = false): void {
    this.#advance(now);
    const j: SliceJob<P> = { rem: Math.max(0, work), grant: 0, completes: false, base: 0, priority: priority && this.weight !== 1, payload };
    const run = this.#run;
    if (run.length < this.#k) {
      this.#grantCore(j);
      return;
    }
    if (j.priority) {
      // it takes a core from an ordinary job, which waits first in line
      let victim = -1;
      for (let i = 0; i < run.length; i++) if (!run[i]!.priority) { victim = i; break; }
      if (victim >= 0) {
        const v = run[victim]!;
        run.splice(victim, 1);
        this.#wait.unshift(v);
        this.#grantCore(j);
        this.#limitRunning();
        return;
      }
      this.#waitPriority.push(j);
    } else {
      this.#wait.push(j);
    }
    this.#limitRunning();
  }

  /** The running job whose grant ends first (the first such in run order), or -1. */
  #nextIndex(): number {
    const run = this.#run;
    let best = -1, g = Infinity;
    for (let i = 0; i < run.length; i++) if (run[i]!.grant < g) { g = run[i]!.grant; best = i; }
    return best;
  }

  nextTime(): number {
    const i = this.#nextIndex();
    if (i < 0) return Infinity;
    const g = this.#run[i]!.grant;
    return g <= 0 ? this.#last : this.#last + g / this.#rate();
  }

  peek(): P | undefined {
    const i = this.#nextIndex();
    return i < 0 ? undefined : this.#run[i]!.payload;
  }

  pop(now: number): P | undefined {
    this.#advance(now);
    const i = this.#nextIndex();
    if (i < 0) return undefined;
    const run = this.#run, j = run[i]!;
    run.splice(i, 1);
    if (j.completes) {
      if (this.#waitPriority.size > 0) this.#grantCore(this.#waitPriority.shift());
      else if (this.#wait.size > 0) this.#grantCore(this.#wait.shift());
      return j.payload;
    }
    // its slice is over: the next in line runs, and it waits at the back (a weighted job only yields to its own class)
    if (j.priority) {
      if (this.#waitPriority.size > 0) { this.#waitPriority.push(j); this.#grantCore(this.#waitPriority.shift()); }
      else this.#grantCore(j);
    } else if (this.#waitPriority.size > 0) {
      this.#wait.push(j);
      this.#grantCore(this.#waitPriority.shift());
    } else if (this.#wait.size > 0) {
      this.#wait.push(j);
      this.#grantCore(this.#wait.shift());
    } else {
      this.#grantCore(j);
    }
    return undefined;
  }
}
