/**
 * The price of a first call's touching, when the host takes freed memory
 * back (experiments/memory-warmth.ts, docs/notebook/2026-12-04-memory-warmth.md).
 * On a virtual machine whose balloon reports free memory to the host, a
 * touch costs `cheapMsPerMb` of CPU in free memory the host has not taken
 * back yet, and `dearMsPerMb` past it. Cheap memory is what the machine
 * had at the start (`cheapMb`, the calibration's snapshot), used up as it
 * is touched, plus what destroyed sandboxes freed in the last `holdMs`
 * (the host takes it after that). A new sandbox takes the cheap memory
 * there is, the most recently freed first, and pays the dear figure for
 * the rest.
 *
 * One object per machine: the workers of a simulated cluster on one
 * machine share it. A cost model, not a rule: the real worker has no such
 * decision.
 */
/**
 * How long memory a sandbox freed stays cheap, ms: on this project's
 * machines 72% of 2.4 GB freed was cheap again at once, 10% after 1 s,
 * none after 3 s (Linux reports free pages in batches some 2 s apart).
 */
export const FREE_MEMORY_HOLD_MS = 1000;

export interface FreeMemoryOptions {
  cheapMsPerMb: number;
  dearMsPerMb: number;
  /** Cheap memory at the start, MB. */
  cheapMb: number;
  /** How long freed memory stays cheap, ms. */
  holdMs: number;
  /** Per function, the MB its first call touches. */
  touchMb: ArrayLike<number>;
}

export class HostFreeMemory {
  readonly #o: FreeMemoryOptions;
  #start: number;
  /** Freed memory still cheap: amounts and when each stops being cheap, oldest first (a queue from `#head`). */
  #mb: number[] = [];
  #until: number[] = [];
  #head = 0;
  /** MB touched cheaply and dearly so far (for the record). */
  cheapTouched = 0;
  dearTouched = 0;

  constructor(o: FreeMemoryOptions) {
    for (const [k, v] of [['cheapMsPerMb', o.cheapMsPerMb], ['dearMsPerMb', o.dearMsPerMb], ['cheapMb', o.cheapMb], ['holdMs', o.holdMs]] as const) {
      if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`free memory model: ${k} must be a finite number >= 0, got ${v}`);
    }
    this.#o = o;
    this.#start = o.cheapMb;
  }

  #expire(now: number): void {
    while (this.#head < this.#mb.length && this.#until[this.#head]! <= now) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#mb.length) {
      this.#mb = this.#mb.slice(this.#head);
      this.#until = this.#until.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The CPU, ms, of the first call of `fnId` touching its memory at `now`; the memory it takes is no longer cheap. */
  touch(fnId: number, now: number): number {
    let want = this.#o.touchMb[fnId] ?? 0;
    if (!(want > 0)) return 0;
    const total = want;
    this.#expire(now);
    let cheap = 0;
    // the most recently freed first
    for (let i = this.#mb.length - 1; i >= this.#head && want > 0; i--) {
      const take = Math.min(want, this.#mb[i]!);
      this.#mb[i]! -= take;
      want -= take;
      cheap += take;
    }
    const fromStart = Math.min(want, this.#start);
    this.#start -= fromStart;
    cheap += fromStart;
    this.cheapTouched += cheap;
    this.dearTouched += total - cheap;
    return cheap * this.#o.cheapMsPerMb + (total - cheap) * this.#o.dearMsPerMb;
  }

  /** A sandbox of `fnId` whose first call touched its memory was destroyed at `now`. */
  freed(fnId: number, now: number): void {
    const mb = this.#o.touchMb[fnId] ?? 0;
    if (!(mb > 0)) return;
    this.#expire(now);
    this.#mb.push(mb);
    this.#until.push(now + this.#o.holdMs);
  }
}
