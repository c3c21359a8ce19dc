/**
 * The price of a first call's touching, when the host takes freed memory
 * back (experiments/memory-warmth.ts, docs/notebook/2026-12-04-memory-warmth.md,
 * docs/notebook/2026-12-05-touch-headroom.md). On a virtual machine whose
 * balloon reports free memory to the host, a touch costs `cheapMsPerMb` of
 * CPU in free memory the host has not taken back, and `dearMsPerMb` past
 * it. The cheap part is a headroom above the memory the sandboxes hold:
 * while the touched memory of the live sandboxes stays within `cheapMb`
 * (the calibration's measure of it), first touches are cheap, past it they
 * are dear. Destroying a sandbox lowers what is held, so the headroom comes
 * back (three sweeps of 2.4 GB, 15 s and 60 s apart, each found the same
 * 760-880 MB cheap: the headroom is not used up). Memory freed above the
 * headroom is cheap again only for `holdMs` (the host takes it after that).
 * A new sandbox takes the headroom first, then the most recently freed
 * memory, and pays the dear figure for the rest.
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
  /** The cheap headroom above what the sandboxes hold, MB. */
  cheapMb: number;
  /** How long freed memory stays cheap, ms. */
  holdMs: number;
  /** Per function, the MB its first call touches. */
  touchMb: ArrayLike<number>;
}

export class HostFreeMemory {
  readonly #o: FreeMemoryOptions;
  /** MB held by the live sandboxes whose first call touched memory. */
  #held = 0;
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
    // the headroom above what is held first, then the most recently freed
    let cheap = Math.min(want, Math.max(0, this.#o.cheapMb - this.#held));
    want -= cheap;
    for (let i = this.#mb.length - 1; i >= this.#head && want > 0; i--) {
      const take = Math.min(want, this.#mb[i]!);
      this.#mb[i]! -= take;
      want -= take;
      cheap += take;
    }
    this.#held += total;
    this.cheapTouched += cheap;
    this.dearTouched += total - cheap;
    return cheap * this.#o.cheapMsPerMb + (total - cheap) * this.#o.dearMsPerMb;
  }

  /** A sandbox of `fnId` whose first call touched its memory was destroyed at `now`. */
  freed(fnId: number, now: number): void {
    const mb = this.#o.touchMb[fnId] ?? 0;
    if (!(mb > 0)) return;
    this.#expire(now);
    // what lay within the headroom is headroom again; what lay above it is cheap only for a while
    const above = Math.max(0, Math.min(mb, this.#held - this.#o.cheapMb));
    this.#held = Math.max(0, this.#held - mb);
    if (above > 0) {
      this.#mb.push(above);
      this.#until.push(now + this.#o.holdMs);
    }
  }
}
