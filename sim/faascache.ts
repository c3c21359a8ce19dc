/**
 * FaasCache-sim's semantics, reproduced exactly (`ol-sim … --compat
 * faascache`): the keep-alive simulator behind FaasCache's published
 * figures (Fuerst & Sharma, ASPLOS'21; aFuerst/faascache-sim,
 * `code/split/LambdaScheduler.py`). Its rules are not ol-lab's and not the
 * worker's, so this is a model of its own beside the simulator, not a
 * second copy of the core's rules (docs/SIMULATOR.md, "FaasCache-sim
 * reproduced"):
 *
 * - arrivals only, infinite CPUs: every invocation starts on arrival; a
 *   container finished by then (t ≥ its end) is noticed at the arrival;
 * - a warm hit keeps its container busy `warmMs`, a cold start `coldMs`;
 * - a container holds its memory until evicted or purged;
 * - a cold start that does not fit evicts, lowest priority first and
 *   skipping running containers, until the new container's full size is
 *   freed or nothing is left; if it still does not fit the arrival is
 *   dropped (so an arrival too big for the pool flushes every idle
 *   container first);
 * - after each served arrival the function's priority is computed once and
 *   given to all of its containers; GD's frequency is the calls served by
 *   the function's containers in the pool;
 * - TTL (10 min from the last start) and HIST (its own TTL) purge only the
 *   arriving function's idle containers; HIST pre-warms at every arrival
 *   under its condition and unloads a pre-warmed function's container as
 *   soon as it is found finished.
 *
 * The pool is a binary heap kept exactly as Python's `heapq` keeps its
 * list, with every heapify FaasCache-sim does: which of a function's equal-
 * priority containers is reused or evicted follows the list's order, and
 * that decides counts.
 */
import { OlError } from '../common/errors.js';
import type { FaasCacheTrace } from '../traces/faascache.js';

/** FaasCache-sim's policies; RAND is left out (it draws from numpy's unseeded generator). */
export const FAASCACHE_POLICIES = ['GD', 'LRU', 'TTL', 'HIST', 'LND', 'FREQ', 'SIZE'] as const;
export type FaasCachePolicy = (typeof FAASCACHE_POLICIES)[number];

/** ol-lab's policy names under `--compat faascache`, and the FaasCache policy each runs. */
export const FAASCACHE_NAMES: Record<string, FaasCachePolicy> = {
  gdsf: 'GD', lru: 'LRU', ttl: 'TTL', hist: 'HIST', lnd: 'LND', freq: 'FREQ', size: 'SIZE',
};

/** The FaasCache policy a name runs: an ol-lab name (`gdsf`) or FaasCache's own (`GD`, `fc-gd`). */
export function faasCachePolicy(name: string): FaasCachePolicy {
  const n = name.trim();
  const own = n.replace(/^fc-/i, '').toUpperCase();
  if (FAASCACHE_NAMES[n.toLowerCase()]) return FAASCACHE_NAMES[n.toLowerCase()]!;
  if ((FAASCACHE_POLICIES as readonly string[]).includes(own)) return own as FaasCachePolicy;
  if (own === 'RAND') {
    throw new OlError('OL_ERR_CONFIG', 'policy: FaasCache-sim\'s RAND draws from numpy\'s unseeded generator, so no run of it can be reproduced; --compat faascache offers gdsf, lru, ttl, hist, lnd, freq and size');
  }
  throw new OlError('OL_ERR_CONFIG', `policy: --compat faascache has no policy "${name}"; choose one of ${Object.keys(FAASCACHE_NAMES).join(', ')} (FaasCache's ${FAASCACHE_POLICIES.join(', ')})`);
}

const TTL_MS = 10 * 60 * 1000;
const HIST_DEFAULT_TTL_MS = 2 * 60 * 60 * 1000;
const HIST_BINS = 4 * 60;

export interface FaasCacheResult {
  policy: FaasCachePolicy;
  memoryMb: number;
  invocations: number;
  cold: number;
  warm: number;
  dropped: number;
  /** FaasCache's eviction counter: evictions plus TTL and HIST purges (not HIST's unloads after a run). */
  evictions: number;
  perFunction: { name: string; cold: number; warm: number; dropped: number; evictions: number }[];
  /** Wall time of the simulation loop alone, ms. */
  loopMs: number;
}

/**
 * FaasCache-sim's container list, kept in exactly the order Python's
 * `heapq` keeps it. Every heapify is Python's, but done only where it can
 * change something: a position whose priority is below both children's is
 * left alone by heapify's sift, and only a written position or its parent
 * can become one that is not. So the list remembers which positions may
 * (`#maybe`), and a heapify visits those, largest first, plus each parent
 * it disturbs: the same list as Python's, at the cost of what changed
 * instead of the whole pool.
 */
class PyHeap {
  /** Container at each position, and its priority. */
  id: number[] = [];
  prio: number[] = [];
  /** Position of each container. Read `id` and `pos` only after `settle()`; write through the methods. */
  readonly pos: number[] = [];
  // the positions that may sift, and heapify's queue of them: typed arrays with their counts (emptying a JS
  // array by setting its length is a call into the runtime, and a heapify ran twice per arrival)
  #maybe = new Int32Array(1024);
  #nMaybe = 0;
  #inMaybe: Uint8Array = new Uint8Array(1024);
  #queue = new Int32Array(1024);
  #inQueue: Uint8Array = new Uint8Array(1024);
  /** popAll's working copy of the list, reused. */
  #popIds = new Int32Array(256);
  #popPrios = new Float64Array(256);

  get length(): number { return this.id.length; }

  #mark(p: number): void {
    if (p >= this.#inMaybe.length) {
      const a = new Uint8Array(Math.max(p + 1, this.#inMaybe.length * 2));
      a.set(this.#inMaybe);
      this.#inMaybe = a;
      const q = new Uint8Array(a.length);
      q.set(this.#inQueue);
      this.#inQueue = q;
      const m = new Int32Array(a.length);
      m.set(this.#maybe);
      this.#maybe = m;
      const qq = new Int32Array(a.length);
      qq.set(this.#queue);
      this.#queue = qq;
    }
    if (this.#inMaybe[p] === 0) { this.#inMaybe[p] = 1; this.#maybe[this.#nMaybe++] = p; }
  }

  /** Writes position `p` and marks it and its parent. */
  #set(p: number, id: number, prio: number): void {
    this.id[p] = id;
    this.prio[p] = prio;
    this.pos[id] = p;
    this.#mark(p);
    if (p > 0) this.#mark((p - 1) >> 1);
  }

  setPrio(id: number, prio: number): void {
    this.#write();
    const p = this.pos[id]!;
    this.prio[p] = prio;
    this.#mark(p);
    if (p > 0) this.#mark((p - 1) >> 1);
  }

  /** Every priority may have changed: every position may sift. */
  touchAll(): void {
    this.#write();
    this.#all = true;
  }

  /** Landlord's rent: every entry pays the lowest priority per MB times its own MB (`mbOf`), in list order. */
  chargeRent(mbOf: (id: number) => number): void {
    this.touchAll();
    const ids = this.id, pr = this.prio, n = ids.length;
    let delta = Infinity;
    for (let p = 0; p < n; p++) { const d = pr[p]! / mbOf(ids[p]!); if (d < delta) delta = d; }
    for (let p = 0; p < n; p++) pr[p] = pr[p]! - delta * mbOf(ids[p]!);
  }

  /** Every position may sift (touchAll): the next heapify checks them all, as Python's. */
  #all = false;

  /** Marks positions `from`, its parent, … up to `to` (an ancestor of `from`, or itself), and `to`'s parent: what writing that path marks. */
  #markPath(from: number, to: number): void {
    for (let q = from; ; q = (q - 1) >> 1) {
      this.#mark(q);
      if (q <= to) break;
    }
    if (to > 0) this.#mark((to - 1) >> 1);
  }

  // the sifts write the list directly and mark the path they wrote once, at the end: the same marks as a
  // #set per write (every written position's parent is on the path too, or is the path's top's parent)
  #siftDown(start: number, p: number): void {
    const ids = this.id, pr = this.prio, pos = this.pos, from = p;
    const id = ids[p]!, prio = pr[p]!;
    while (p > start) {
      const parent = (p - 1) >> 1;
      const pp = pr[parent]!;
      if (prio < pp) {
        const moved = ids[parent]!;
        ids[p] = moved; pr[p] = pp; pos[moved] = p;
        p = parent;
        continue;
      }
      break;
    }
    ids[p] = id; pr[p] = prio; pos[id] = p;
    this.#markPath(from, p);
  }

  /**
   * heapq's `_siftup(p)`, for a position whose children's subtrees are
   * heaps (always so where it is called: heapify works upwards, and a pop
   * starts from a heap). Python moves the smaller child up all the way to a
   * leaf, then the entry back up while it is below its parent. Along that
   * path the children's values never decrease, so the entry comes to rest
   * just past the last of them that is not above it, and every value below
   * goes back where it was: stopping the descent there gives the same list,
   * in a fraction of the steps where the pool is deep.
   */
  #siftUp(p: number, mark = true): void {
    const ids = this.id, pr = this.prio, pos = this.pos;
    const end = ids.length, start = p, id = ids[p]!, prio = pr[p]!;
    let child = 2 * p + 1;
    while (child < end) {
      const right = child + 1;
      if (right < end && !(pr[child]! < pr[right]!)) child = right;
      const cp = pr[child]!;
      if (prio < cp) break; // Python's way back up would stop here
      const moved = ids[child]!;
      ids[p] = moved; pr[p] = cp; pos[moved] = p;
      p = child;
      child = 2 * p + 1;
    }
    ids[p] = id; pr[p] = prio; pos[id] = p;
    if (mark) this.#markPath(p, start);
  }

  push(id: number, prio: number): void {
    this.#write();
    const p = this.id.length;
    this.id.push(id);
    this.prio.push(prio);
    this.#set(p, id, prio);
    this.#siftDown(0, p);
  }

  pop(): number {
    this.#write();
    const lastId = this.id.pop()!, lastPrio = this.prio.pop()!;
    if (this.id.length === 0) return lastId;
    const top = this.id[0]!;
    this.#set(0, lastId, lastPrio);
    this.#siftUp(0);
    return top;
  }

  /**
   * Pops the whole list as repeated `heapq.heappop`s would, keeps the
   * entries `keep[id]` says to keep in the order they came out (pushing
   * those back, in that non-decreasing order, moves nothing: the list is
   * just them), and returns the others in `gone` (in pop order) and the
   * last one's priority (NaN if none). Every position is marked for the
   * next heapify, which then does what Python's does over the whole list.
   */
  popAll(keep: boolean[], gone: number[]): number {
    this.#write();
    const n = this.id.length;
    if (this.#popIds.length < n) {
      this.#popIds = new Int32Array(Math.max(n, this.#popIds.length * 2));
      this.#popPrios = new Float64Array(this.#popIds.length);
    }
    const hid = this.#popIds, hp = this.#popPrios;
    for (let k = 0; k < n; k++) { hid[k] = this.id[k]!; hp[k] = this.prio[k]!; }
    // the kept entries go straight back into the list (its copy is popped), in pop order
    const ids = this.id, prios = this.prio, pos = this.pos;
    let kept = 0, ng = 0;
    let lastGone = NaN;
    for (let end = n; end > 0; end--) {
      const topId = hid[0]!, topPrio = hp[0]!;
      // heappop: the last entry goes to the top, then _siftup(0) (to a leaf by the smaller child, then _siftdown)
      const lastId = hid[end - 1]!, lastPrio = hp[end - 1]!;
      const len = end - 1;
      if (len > 0) {
        // as #siftUp: stopping where the way back up would have stopped gives the same list
        let at = 0, child = 1;
        while (child < len) {
          const right = child + 1;
          if (right < len && !(hp[child]! < hp[right]!)) child = right;
          const cp = hp[child]!;
          if (lastPrio < cp) break;
          hid[at] = hid[child]!; hp[at] = cp;
          at = child;
          child = 2 * at + 1;
        }
        hid[at] = lastId; hp[at] = lastPrio;
      }
      if (keep[topId]) { ids[kept] = topId; prios[kept] = topPrio; pos[topId] = kept++; } else { gone[ng++] = topId; lastGone = topPrio; }
    }
    ids.length = kept;
    prios.length = kept;
    gone.length = ng;
    this.touchAll();
    return lastGone;
  }

  /** Python's `list.remove` (the later entries shift down one), then heapify, as FaasCache-sim's RemoveFromPool. */
  remove(id: number): void {
    this.#write();
    const n = this.id.length;
    for (let p = this.pos[id]!; p < n - 1; p++) this.#set(p, this.id[p + 1]!, this.prio[p + 1]!);
    this.id.pop();
    this.prio.pop();
    this.heapify();
  }

  // --- heapifies of an unchanged list -------------------------------------
  //
  // A heapify of a list that is a heap already (nothing written since the
  // last heapify) moves entries only within runs of equal priorities: every
  // position keeps its priority, so the next one makes the same comparisons
  // and moves the same positions the same way. It is a fixed permutation of
  // positions while the list is not written. FaasCache-sim heapifies at
  // every arrival, and where the pool is full most arrivals write nothing,
  // so one such heapify is run and its permutation kept (as cycles), later
  // ones are only counted, and the count is applied, as one power of the
  // permutation, before anything reads positions or writes the list.

  /**
   * Heapifies since the list was last written: the first is the one after
   * the write, the second the first of the unchanged list (run as it is:
   * often the list is written before another), the third is run and kept as
   * the permutation (`#cycPos`, `#cycEnd`), later ones are counted.
   */
  #sinceWrite = 0;
  /** Heapifies counted and not yet applied. */
  #pending = 0;
  /** The permutation's cycles: positions, each cycle's in order (the entry at `c[i+1]` moves to `c[i]`), and each cycle's end. */
  #cycPos = new Int32Array(64);
  #cycEnd = new Int32Array(64);
  #nCyc = 0;
  #before = new Int32Array(64);
  #fromPos = new Int32Array(64);
  #seen = new Uint8Array(64);
  #tmp = new Int32Array(64);

  /** Before the list is written: counted heapifies applied, and the kept permutation forgotten. */
  #write(): void {
    if (this.#pending > 0) this.settle();
    this.#sinceWrite = 0;
  }

  /** Applies the heapifies counted but not yet done (call before reading `id` or `pos`). */
  settle(): void {
    const k = this.#pending;
    if (k === 0) return;
    this.#pending = 0;
    const ids = this.id, pos = this.pos, cyc = this.#cycPos, ends = this.#cycEnd, tmp = this.#tmp;
    let o = 0;
    for (let c = 0; c < this.#nCyc; c++) {
      const end = ends[c]!, len = end - o, r = k % len;
      if (r !== 0) {
        for (let i = 0; i < len; i++) tmp[i] = ids[cyc[o + i]!]!;
        for (let i = 0; i < len; i++) {
          const q = cyc[o + i]!, id = tmp[(i + r) % len]!;
          ids[q] = id;
          pos[id] = q;
        }
      }
      o = end;
    }
  }

  /** `heapq.heapify`. */
  heapify(): void {
    const k = this.#sinceWrite++;
    if (k > 2) {
      this.#pending++;
      return;
    }
    if (k < 2) {
      this.#heapify();
      return;
    }
    // the second of the unchanged list: run it, and keep what it did as cycles of positions
    const ids = this.id, n = ids.length;
    if (this.#before.length < n) {
      const size = Math.max(n, 2 * this.#before.length);
      this.#before = new Int32Array(size);
      this.#seen = new Uint8Array(size);
      this.#tmp = new Int32Array(size);
      this.#cycPos = new Int32Array(size);
      this.#cycEnd = new Int32Array(size);
    }
    const before = this.#before;
    for (let q = 0; q < n; q++) before[q] = ids[q]!;
    this.#heapify();
    // where each entry was: by id, from the copy
    let fromPos = this.#fromPos;
    for (let q = 0; q < n; q++) {
      const id = before[q]!;
      if (id >= fromPos.length) {
        const a = new Int32Array(Math.max(id + 1, 2 * fromPos.length));
        a.set(fromPos);
        fromPos = this.#fromPos = a;
      }
      fromPos[id] = q;
    }
    const seen = this.#seen, cyc = this.#cycPos, ends = this.#cycEnd;
    seen.fill(0, 0, n);
    let m = 0, nc = 0;
    for (let q = 0; q < n; q++) {
      if (seen[q] !== 0 || ids[q] === before[q]) continue;
      // follow where each position's new entry came from, back to q
      let p = q;
      do {
        seen[p] = 1;
        cyc[m++] = p;
        p = fromPos[ids[p]!]!;
      } while (p !== q);
      ends[nc++] = m;
    }
    this.#nCyc = nc;
  }

  /** `heapq.heapify`, visiting only the positions whose sift can move anything. */
  #heapify(): void {
    const n = this.id.length, half = n >> 1;
    // the positions that may sift, largest first: a list sorted descending is a max-heap as it stands
    const nMaybe = this.#nMaybe, all = this.#all;
    if (nMaybe === 0 && !all) return;
    const q = this.#queue, inQ = this.#inQueue, maybe = this.#maybe, inMaybe = this.#inMaybe;
    this.#nMaybe = 0;
    this.#all = false;
    if (all || nMaybe * 4 > half) {
      // many positions may sift: Python's own loop, each position checked in place, is cheaper than sorting them.
      // Its sifts mark nothing: where any sifted, the next heapify checks every position again (#all), which
      // visits every position the marks would have named (the check skips the others, as Python's sift would)
      for (let k = 0; k < nMaybe; k++) inMaybe[maybe[k]!] = 0;
      const prio = this.prio;
      let sifted = false;
      for (let i = half - 1; i >= 0; i--) {
        const l = 2 * i + 1;
        let m = prio[l]!;
        if (l + 1 < n && prio[l + 1]! < m) m = prio[l + 1]!;
        if (prio[i]! < m) continue;
        this.#siftUp(i, false);
        sifted = true;
      }
      this.#all = sifted;
      return;
    }
    let len = 0;
    for (let k = 0; k < nMaybe; k++) {
      const p = maybe[k]!;
      inMaybe[p] = 0;
      if (p < half) { q[len++] = p; inQ[p] = 1; }
    }
    // sorted descending, the queue is a max-heap as it stands
    if (len > 1) q.subarray(0, len).sort().reverse();
    while (len > 0) {
      // pop the largest position (max-heap of ints)
      const i = q[0]!;
      const last = q[--len]!;
      if (len > 0) {
        let k = 0;
        for (;;) {
          const l = 2 * k + 1;
          if (l >= len) break;
          const r = l + 1;
          const c = r < len && q[r]! > q[l]! ? r : l;
          if (q[c]! <= last) break;
          q[k] = q[c]!;
          k = c;
        }
        q[k] = last;
      }
      inQ[i] = 0;
      const l = 2 * i + 1;
      let m = this.prio[l]!;
      if (l + 1 < n && this.prio[l + 1]! < m) m = this.prio[l + 1]!;
      if (this.prio[i]! < m) continue; // heapq's sift would leave everything where it is
      this.#siftUp(i);
      if (i > 0) {
        const parent = (i - 1) >> 1;
        if (inQ[parent] === 0) {
          inQ[parent] = 1;
          // push into the max-heap
          let k = len++;
          while (k > 0) {
            const up = (k - 1) >> 1;
            if (q[up]! >= parent) break;
            q[k] = q[up]!;
            k = up;
          }
          q[k] = parent;
        }
      }
    }
  }
}

/** Sorts `a[0, n)` by `cmp`, stably (the entries past `n` are stale and stay). */
function sortPrefix(a: number[], n: number, cmp: (x: number, y: number) => number): void {
  if (n > 16) {
    const s = a.slice(0, n).sort(cmp);
    for (let k = 0; k < n; k++) a[k] = s[k]!;
    return;
  }
  for (let i = 1; i < n; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= 0 && cmp(a[j]!, x) > 0) { a[j + 1] = a[j]!; j--; }
    a[j + 1] = x;
  }
}

/** Runs FaasCache-sim's `runActivation` over every event of `trace` with a pool of `memoryMb`. */
export function simulateFaasCache(trace: FaasCacheTrace, policy: FaasCachePolicy, memoryMb: number): FaasCacheResult {
  if (!(memoryMb > 0) || !Number.isFinite(memoryMb)) throw new OlError('OL_ERR_CONFIG', `memory: must be a number of MB > 0, got ${memoryMb}`);
  const nf = trace.functions.length;
  const mem = Float64Array.from(trace.functions, (f) => f.memMb);
  const cold = Float64Array.from(trace.functions, (f) => f.coldMs);
  const warm = Float64Array.from(trace.functions, (f) => f.warmMs);
  const nCold = new Float64Array(nf), nWarm = new Float64Array(nf), nDrop = new Float64Array(nf), nEvict = new Float64Array(nf);
  const isLND = policy === 'LND', isHIST = policy === 'HIST', isTTL = policy === 'TTL';

  // containers by id (ids of evicted ones are reused)
  const cFn: number[] = [], cLast: number[] = [], cFreq: number[] = [], cFin: number[] = [], cSeq: number[] = [], cIdx: number[] = [];
  const cRunning: boolean[] = [];
  const free: number[] = [];
  const newContainer = (fn: number): number => {
    const id = free.length > 0 ? free.pop()! : cFn.length;
    cFn[id] = fn; cLast[id] = 0; cFreq[id] = 0; cFin[id] = 0; cSeq[id] = 0; cRunning[id] = false; cIdx[id] = -1;
    return id;
  };
  /** Each function's containers in the pool (any order), and the calls they have served. */
  const ofFn: number[][] = Array.from({ length: nf }, () => []);
  const freqOf = new Float64Array(nf);

  const pool = new PyHeap();
  let used = 0;
  let clock = 0;
  let now = 0;
  let nRunning = 0;
  /** Memory of the running containers (all in the pool): the rest of `used` is what eviction can free. */
  let runningMem = 0;
  let seq = 0;
  // running containers by end time (a min-heap of ids); those found finished are handled in start order, as a dict keeps them
  const fins: number[] = [];
  const finPush = (id: number) => {
    let k = fins.length;
    fins.push(id);
    const f = cFin[id]!;
    while (k > 0) {
      const up = (k - 1) >> 1;
      if (cFin[fins[up]!]! <= f) break;
      fins[k] = fins[up]!;
      k = up;
    }
    fins[k] = id;
  };
  const finPop = (): number => {
    const top = fins[0]!, last = fins.pop()!;
    if (fins.length > 0) {
      const f = cFin[last]!;
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        if (l >= fins.length) break;
        const r = l + 1;
        const c = r < fins.length && cFin[fins[r]!]! < cFin[fins[l]!]! ? r : l;
        if (cFin[fins[c]!]! >= f) break;
        fins[k] = fins[c]!;
        k = c;
      }
      fins[k] = last;
    }
    return top;
  };

  // HIST's per-function state; each function's rank in first-seen order (the dict order of its pre-warm table)
  const lastSeen = new Float64Array(nf).fill(NaN);
  const histTtl = new Float64Array(nf).fill(HIST_DEFAULT_TTL_MS);
  const histPrewarm = new Float64Array(nf);
  let seen = 0;
  const hist = isHIST ? Array.from({ length: nf }, () => new Float64Array(HIST_BINS)) : [];
  const wCount = new Float64Array(nf), wMean = new Float64Array(nf), wM2 = new Float64Array(nf);
  /** Each function's non-empty histogram bins, ascending: an empty bin adds exactly 0 to the CDF, so only these are summed. */
  const bins: number[][] = isHIST ? Array.from({ length: nf }, () => []) : [];
  /** Functions whose pre-warm is not 0, in the order first seen (the pre-warm table's dict order). */
  const prewarming: number[] = [];
  const seenRank = new Int32Array(nf).fill(-1);
  /** The smallest memory of a function in `prewarming`: while even it does not fit, no pre-warm can be placed. */
  let smallestPrewarm = Infinity;
  const setPrewarm = (fn: number, v: number) => {
    const was = histPrewarm[fn] !== 0;
    histPrewarm[fn] = v;
    if (was === (v !== 0)) return;
    if (!was) {
      let k = prewarming.length;
      while (k > 0 && seenRank[prewarming[k - 1]!]! > seenRank[fn]!) k--;
      prewarming.splice(k, 0, fn);
    } else {
      prewarming.splice(prewarming.indexOf(fn), 1);
    }
    smallestPrewarm = Infinity;
    for (const f of prewarming) if (mem[f]! < smallestPrewarm) smallestPrewarm = mem[f]!;
  };

  const leave = (id: number) => {
    const fn = cFn[id]!, list = ofFn[fn]!, k = cIdx[id]!, moved = list[list.length - 1]!;
    list[k] = moved;
    cIdx[moved] = k;
    list.pop();
    freqOf[fn] = freqOf[fn]! - cFreq[id]!;
    used -= mem[fn]!;
    free.push(id);
  };
  /** FaasCache-sim's RemoveFromPool: out of the list (shifting), memory back, heapify. */
  const remove = (id: number) => {
    pool.remove(id);
    leave(id);
  };

  const priority = (fn: number, lastAccess: number): number => {
    switch (policy) {
      case 'LND': return warm[fn]!;
      case 'LRU': case 'TTL': case 'HIST': return lastAccess;
      case 'GD': return clock + freqOf[fn]! * ((cold[fn]! - warm[fn]!) / mem[fn]!);
      case 'FREQ': return clock + freqOf[fn]! * (cold[fn]! - warm[fn]!);
      default: return clock + freqOf[fn]! / mem[fn]!;
    }
  };

  const add = (id: number, at: number): boolean => {
    const fn = cFn[id]!;
    if (mem[fn]! + used > memoryMb) return false;
    used += mem[fn]!;
    cLast[id] = at;
    pool.push(id, priority(fn, at));
    cIdx[id] = ofFn[fn]!.length;
    ofFn[fn]!.push(id);
    return true;
  };

  // reused lists with their counts: emptying a JS array by its length is a call into the runtime, once per arrival
  const finished: number[] = [];
  const bySeq = (a: number, b: number) => cSeq[a]! - cSeq[b]!;
  const cleanupFinished = () => {
    if (fins.length > 0 && cFin[fins[0]!]! <= now) {
      let nf = 0;
      while (fins.length > 0 && cFin[fins[0]!]! <= now) finished[nf++] = finPop();
      if (nf > 1) sortPrefix(finished, nf, bySeq);
      for (let k = 0; k < nf; k++) {
        const id = finished[k]!;
        cRunning[id] = false;
        nRunning--;
        runningMem -= mem[cFn[id]!]!;
      }
      // HIST: a pre-warmed function's container unloads after its run
      for (let k = 0; k < nf; k++) if (histPrewarm[cFn[finished[k]!]!] !== 0) remove(finished[k]!);
    }
    pool.heapify();
  };

  const trackActivation = (fn: number) => {
    const had = !Number.isNaN(lastSeen[fn]!);
    const iat = now - lastSeen[fn]!;
    lastSeen[fn] = now;
    if (!had) {
      seenRank[fn] = seen++;
      return;
    }
    const minute = Math.floor(iat / 60000);
    if (minute >= HIST_BINS) return;
    // Welford's running mean and population variance, as FaasCache-sim updates them
    const count = ++wCount[fn]!;
    const delta = minute - wMean[fn]!;
    wMean[fn] = wMean[fn]! + delta / count;
    const delta2 = minute - wMean[fn]!;
    wM2[fn] = wM2[fn]! + delta * delta2;
    const h = hist[fn]!;
    if (h[minute]!++ === 0) {
      const b = bins[fn]!;
      let k = b.length;
      while (k > 0 && b[k - 1]! > minute) k--;
      b.splice(k, 0, minute);
    }
    if (count < 2) {
      histTtl[fn] = HIST_DEFAULT_TTL_MS;
      setPrewarm(fn, 0);
      return;
    }
    const mean = wMean[fn]!, variance = wM2[fn]! / count;
    // the CDF of data / data.sum(), summed in order as numpy's cumsum; the sum is the count (whole numbers, exact)
    const sum = count;
    let acc = 0, head = HIST_BINS, tail = HIST_BINS;
    for (const i of bins[fn]!) {
      acc += h[i]! / sum;
      if (head === HIST_BINS && 0.05 < acc) head = Math.max(0, i - 1);
      if (0.99 < acc) { tail = Math.min(i + 1, HIST_BINS); break; }
    }
    if (mean === 0 || variance / mean <= 2) {
      histTtl[fn] = tail * 60 * 1000 * 1.1;
      setPrewarm(fn, head * 60 * 1000 * 0.9);
    } else {
      histTtl[fn] = HIST_DEFAULT_TTL_MS;
      setPrewarm(fn, 0);
    }
  };

  const prewarm = () => {
    // the pool only fills as pre-warms are placed: if the smallest does not fit now, none will
    if (smallestPrewarm + used > memoryMb) return;
    for (const fn of prewarming) {
      const p = histPrewarm[fn]!;
      if (p + lastSeen[fn]! >= now) {
        const id = newContainer(fn);
        if (!add(id, Math.min(p + lastSeen[fn]!, now))) free.push(id);
      }
    }
  };

  const idle: number[] = [];
  const byPos = (a: number, b: number) => pool.pos[a]! - pool.pos[b]!;
  /** An idle container of `fn` (the list's first), after TTL and HIST purges of the function's old ones; -1 if none. */
  const findContainer = (fn: number): number => {
    const list = ofFn[fn]!;
    if (!(isTTL || isHIST)) {
      let best = -1, bestPos = Infinity, settled = false;
      for (const id of list) {
        if (cRunning[id]) continue;
        if (!settled) { pool.settle(); settled = true; }
        if (pool.pos[id]! < bestPos) { best = id; bestPos = pool.pos[id]!; }
      }
      return best;
    }
    let ni = 0;
    for (const id of list) if (!cRunning[id]) idle[ni++] = id;
    if (ni === 0) return -1;
    pool.settle();
    if (ni > 1) sortPrefix(idle, ni, byPos);
    const ttl = isTTL ? TTL_MS : histTtl[fn]!;
    let first = -1;
    for (let k = 0; k < ni; k++) {
      const id = idle[k]!;
      if (cLast[id]! + ttl < now) {
        remove(id);
        nEvict[fn]!++;
      } else if (first < 0) first = id;
    }
    if (isTTL) pool.heapify();
    return first;
  };

  const save: number[] = [], savePrio: number[] = [];
  const mbOf = (id: number) => mem[cFn[id]!]!;
  const evict = (fn: number) => {
    if (nRunning === pool.length) return; // every container busy
    if (isLND) {
      pool.chargeRent(mbOf);
      pool.heapify();
    }
    let toFree = mem[fn]!;
    if (used - runningMem < toFree) {
      // the idle containers cannot free enough: the loop below would pop the whole list. The same
      // pops without the bookkeeping a later lazy heapify needs (it will visit every position)
      const last = pool.popAll(cRunning, save);
      for (const v of save) { nEvict[cFn[v]!]!++; leave(v); }
      if (!Number.isNaN(last)) clock = last;
      return;
    }
    let lastPrio = NaN, ns = 0;
    while (toFree > 0 && pool.length > 0) {
      const prio0 = pool.prio[0]!;
      const v = pool.pop();
      if (cRunning[v]) { save[ns] = v; savePrio[ns++] = prio0; }
      else {
        toFree -= mem[cFn[v]!]!;
        nEvict[cFn[v]!]!++;
        lastPrio = prio0;
        leave(v);
      }
    }
    for (let k = 0; k < ns; k++) pool.push(save[k]!, savePrio[k]!);
    if (!Number.isNaN(lastPrio)) clock = lastPrio;
  };

  const start = (id: number, ms: number) => {
    cRunning[id] = true;
    nRunning++;
    runningMem += mem[cFn[id]!]!;
    cFreq[id]!++;
    freqOf[cFn[id]!]!++;
    cFin[id] = now + ms;
    cSeq[id] = seq++;
    finPush(id);
  };

  const { fn: evFn, t: evT } = trace;
  const t0 = performance.now();
  for (let e = 0; e < evFn.length; e++) {
    const fn = evFn[e]!;
    now = evT[e]!;
    cleanupFinished();
    if (isHIST) {
      prewarm();
      trackActivation(fn);
    }
    let id = findContainer(fn);
    if (id >= 0) {
      start(id, warm[fn]!);
      nWarm[fn]!++;
    } else {
      id = newContainer(fn);
      if (mem[fn]! + used > memoryMb) evict(fn);
      if (!add(id, now)) {
        free.push(id);
        nDrop[fn]!++;
        continue;
      }
      pool.heapify();
      start(id, cold[fn]!);
      nCold[fn]!++;
    }
    cLast[id] = now;
    const p = priority(fn, now);
    for (const c of ofFn[fn]!) pool.setPrio(c, p);
    pool.heapify();
  }
  const loopMs = performance.now() - t0;

  const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);
  const r: FaasCacheResult = {
    policy, memoryMb, invocations: evFn.length,
    cold: sum(nCold), warm: sum(nWarm), dropped: sum(nDrop), evictions: sum(nEvict),
    perFunction: trace.functions.map((f, i) => ({ name: f.name, cold: nCold[i]!, warm: nWarm[i]!, dropped: nDrop[i]!, evictions: nEvict[i]! })),
    loopMs,
  };
  if (r.cold + r.warm + r.dropped !== r.invocations) {
    throw new OlError('OL_ERR_INVARIANT', `faascache: cold ${r.cold} + warm ${r.warm} + dropped ${r.dropped} != ${r.invocations} invocations`);
  }
  return r;
}
