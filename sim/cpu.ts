/**
 * The CPU model: processor sharing over C cores. While n handlers run, each
 * progresses at rate min(1, C/n) of real time, so when more handlers run
 * than there are cores, every one of them stretches by n/C. A handler never
 * uses more than one core. C may be Infinity (no contention), which is what
 * FaasCache-style simulators assume.
 *
 * Implementation: a global "virtual work" counter V grows at the current
 * per-handler rate; a handler that starts when V = v with w ms of work ends
 * when V reaches v + w. Completion order in V never changes when n changes,
 * so one heap keyed by that tag serves, and the next completion's real time
 * is derived on demand. Costs O(log n) per start and per finish.
 *
 * Limits (documented in docs/SIMULATOR.md): no scheduler quantum or context
 * switch cost, no memory-bandwidth or cache interference, sandbox creation
 * and dispatch are delays that do not occupy a core.
 */
export class ProcessorSharing<P> {
  readonly cores: number;
  #n = 0;
  #v = 0;
  #last = 0;
  #busyCoreMs = 0;
  #seq = 0;
  #tag = new Float64Array(256);
  #key = new Float64Array(256);
  #payload: (P | undefined)[] = new Array(256);

  constructor(cores: number) {
    if (!(cores > 0)) throw new RangeError(`cores must be > 0 (or Infinity), got ${cores}`);
    this.cores = cores;
  }

  /** Handlers running now. */
  get running(): number {
    return this.#n;
  }

  /** Core-milliseconds of work done so far (utilisation = this / (C × time)). */
  get busyCoreMs(): number {
    return this.#busyCoreMs;
  }

  /** Brings V up to time `now`. */
  advance(now: number): void {
    const dt = now - this.#last;
    if (dt > 0 && this.#n > 0) {
      const n = this.#n, c = this.cores;
      if (n <= c) { this.#v += dt; this.#busyCoreMs += dt * n; }
      else { this.#v += (dt * c) / n; this.#busyCoreMs += dt * c; }
    }
    this.#last = now;
  }

  /** Starts a handler needing `work` ms of one core, at time `now`. */
  add(now: number, work: number, payload: P): void {
    this.advance(now);
    if (this.#n === this.#tag.length) this.#grow();
    const tag = this.#v + work;
    const key = this.#seq++;
    const tags = this.#tag, keys = this.#key, pl = this.#payload;
    let i = this.#n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = tags[p]!;
      if (pt < tag || (pt === tag && keys[p]! < key)) break;
      tags[i] = pt; keys[i] = keys[p]!; pl[i] = pl[p];
      i = p;
    }
    tags[i] = tag; keys[i] = key; pl[i] = payload;
  }

  /** Real time at which the next handler finishes, or Infinity. */
  nextTime(): number {
    if (this.#n === 0) return Infinity;
    const rem = this.#tag[0]! - this.#v;
    if (rem <= 0) return this.#last;
    const n = this.#n, c = this.cores;
    return this.#last + (n <= c ? rem : (rem * n) / c);
  }

  /** Removes and returns the handler that finishes next; call at `nextTime()`. */
  pop(now: number): P {
    this.advance(now);
    const tags = this.#tag, keys = this.#key, pl = this.#payload;
    const out = pl[0]!;
    const n = --this.#n;
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
    if (this.#n === 0) this.#v = 0, this.#seq = 0;
    return out;
  }

  #grow(): void {
    const cap = this.#tag.length * 2;
    const t = new Float64Array(cap); t.set(this.#tag); this.#tag = t;
    const k = new Float64Array(cap); k.set(this.#key); this.#key = k;
    this.#payload.length = cap;
  }
}
