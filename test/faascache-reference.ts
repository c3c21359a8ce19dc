/**
 * A line-by-line port of FaasCache-sim's LambdaScheduler (scan the list,
 * heapify the whole list where it does), kept only as the oracle the fast
 * engine in sim/faascache.ts is checked against (test/unit/faascache.test.ts).
 * O(pool) per arrival; correct by being literal, not fast.
 */
import { OlError } from '../common/errors.js';
import type { FaasCacheTrace } from '../traces/faascache.js';
import type { FaasCachePolicy } from '../sim/faascache.js';

const TTL_MS = 10 * 60 * 1000;
const HIST_DEFAULT_TTL_MS = 2 * 60 * 60 * 1000;
const HIST_BINS = 4 * 60;

interface Counts { policy: FaasCachePolicy; memoryMb: number; invocations: number; cold: number; warm: number; dropped: number; evictions: number; perFunction: { name: string; cold: number; warm: number; dropped: number; evictions: number }[]; loopMs: number }

class Container {
  priority = 0;
  lastAccess = 0;
  frequency = 0;
  running = false;
  fin = 0;
  constructor(readonly fn: number) {}
}

// Python's heapq, exactly (the C module runs the same algorithm): the list's order decides ties
function siftDown(h: Container[], start: number, pos: number): void {
  const item = h[pos]!;
  while (pos > start) {
    const parentPos = (pos - 1) >> 1;
    const parent = h[parentPos]!;
    if (item.priority < parent.priority) {
      h[pos] = parent;
      pos = parentPos;
      continue;
    }
    break;
  }
  h[pos] = item;
}

function siftUp(h: Container[], pos: number): void {
  const end = h.length, start = pos, item = h[pos]!;
  let child = 2 * pos + 1;
  while (child < end) {
    const right = child + 1;
    if (right < end && !(h[child]!.priority < h[right]!.priority)) child = right;
    h[pos] = h[child]!;
    pos = child;
    child = 2 * pos + 1;
  }
  h[pos] = item;
  siftDown(h, start, pos);
}

function heapify(h: Container[]): void {
  for (let i = (h.length >> 1) - 1; i >= 0; i--) siftUp(h, i);
}

function heappush(h: Container[], c: Container): void {
  h.push(c);
  siftDown(h, 0, h.length - 1);
}

function heappop(h: Container[]): Container {
  const last = h.pop()!;
  if (h.length === 0) return last;
  const top = h[0]!;
  h[0] = last;
  siftUp(h, 0);
  return top;
}

/** Runs FaasCache-sim's `runActivation` over every event of `trace` with a pool of `memoryMb`. */
export function simulateFaasCacheReference(trace: FaasCacheTrace, policy: FaasCachePolicy, memoryMb: number): Counts {
  if (!(memoryMb > 0) || !Number.isFinite(memoryMb)) throw new OlError('OL_ERR_CONFIG', `memory: must be a number of MB > 0, got ${memoryMb}`);
  const nf = trace.functions.length;
  const mem = Float64Array.from(trace.functions, (f) => f.memMb);
  const cold = Float64Array.from(trace.functions, (f) => f.coldMs);
  const warm = Float64Array.from(trace.functions, (f) => f.warmMs);
  const nCold = new Float64Array(nf), nWarm = new Float64Array(nf), nDrop = new Float64Array(nf), nEvict = new Float64Array(nf);
  const isGD = policy === 'GD', isLND = policy === 'LND', isHIST = policy === 'HIST', isTTL = policy === 'TTL';

  const pool: Container[] = [];
  /** Running containers in the order they started (a Python dict's order). */
  let running: Container[] = [];
  let nextFin = Infinity;
  let used = 0;
  let clock = 0;
  let now = 0;

  // HIST's per-function state; functions first seen in order (the dict order of its pre-warm table)
  const lastSeen = new Float64Array(nf).fill(NaN);
  const histTtl = new Float64Array(nf).fill(HIST_DEFAULT_TTL_MS);
  const histPrewarm = new Float64Array(nf);
  const seenOrder: number[] = [];
  const hist = isHIST ? Array.from({ length: nf }, () => new Float64Array(HIST_BINS)) : [];
  const wCount = new Float64Array(nf), wMean = new Float64Array(nf), wM2 = new Float64Array(nf);
  const cdf = new Float64Array(HIST_BINS);

  const remove = (c: Container) => {
    pool.splice(pool.indexOf(c), 1);
    used -= mem[c.fn]!;
    heapify(pool);
  };

  const priority = (fn: number, lastAccess: number): number => {
    switch (policy) {
      case 'LND': return warm[fn]!;
      case 'LRU': case 'TTL': case 'HIST': return lastAccess;
      default: {
        let freq = 0;
        for (let i = 0; i < pool.length; i++) if (pool[i]!.fn === fn) freq += pool[i]!.frequency;
        const cost = cold[fn]! - warm[fn]!, size = mem[fn]!;
        if (isGD) return clock + freq * (cost / size);
        if (policy === 'FREQ') return clock + freq * cost;
        return clock + freq / size;
      }
    }
  };

  const add = (c: Container, at: number): boolean => {
    if (mem[c.fn]! + used > memoryMb) return false;
    used += mem[c.fn]!;
    c.lastAccess = at;
    c.priority = priority(c.fn, at);
    heappush(pool, c);
    return true;
  };

  const cleanupFinished = () => {
    if (now >= nextFin) {
      const still: Container[] = [];
      const finished: Container[] = [];
      let next = Infinity;
      for (const c of running) {
        if (now >= c.fin) finished.push(c);
        else {
          still.push(c);
          if (c.fin < next) next = c.fin;
        }
      }
      running = still;
      nextFin = next;
      for (const c of finished) {
        c.running = false;
        if (histPrewarm[c.fn] !== 0) remove(c); // HIST: a pre-warmed function's container unloads after its run
      }
    }
    heapify(pool);
  };

  const trackActivation = (fn: number) => {
    const had = !Number.isNaN(lastSeen[fn]!);
    const iat = now - lastSeen[fn]!;
    lastSeen[fn] = now;
    if (!had) {
      seenOrder.push(fn);
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
    h[minute]!++;
    if (count < 2) {
      histTtl[fn] = HIST_DEFAULT_TTL_MS;
      histPrewarm[fn] = 0;
      return;
    }
    const mean = wMean[fn]!, variance = wM2[fn]! / count;
    let sum = 0;
    for (let i = 0; i < HIST_BINS; i++) sum += h[i]!;
    let acc = 0;
    for (let i = 0; i < HIST_BINS; i++) { acc += h[i]! / sum; cdf[i] = acc; }
    let head = HIST_BINS, tail = HIST_BINS;
    for (let i = 0; i < HIST_BINS; i++) if (0.05 < cdf[i]!) { head = Math.max(0, i - 1); break; }
    for (let i = 0; i < HIST_BINS; i++) if (0.99 < cdf[i]!) { tail = Math.min(i + 1, HIST_BINS); break; }
    if (mean === 0 || variance / mean <= 2) {
      histTtl[fn] = tail * 60 * 1000 * 1.1;
      histPrewarm[fn] = head * 60 * 1000 * 0.9;
    } else {
      histTtl[fn] = HIST_DEFAULT_TTL_MS;
      histPrewarm[fn] = 0;
    }
  };

  const prewarm = () => {
    for (const fn of seenOrder) {
      const p = histPrewarm[fn]!;
      if (p !== 0 && p + lastSeen[fn]! >= now) add(new Container(fn), Math.min(p + lastSeen[fn]!, now));
    }
  };

  const idle: Container[] = [];
  /** An idle container of `fn` (the list's first), after TTL and HIST purges of the function's old ones. */
  const findContainer = (fn: number): Container | undefined => {
    idle.length = 0;
    for (let i = 0; i < pool.length; i++) {
      const c = pool[i]!;
      if (c.fn === fn && !c.running) idle.push(c);
    }
    if (idle.length === 0) return undefined;
    if (isTTL || isHIST) {
      const ttl = isTTL ? TTL_MS : histTtl[fn]!;
      let first: Container | undefined;
      for (const c of idle) {
        if (c.lastAccess + ttl < now) {
          remove(c);
          nEvict[fn]!++;
        } else if (!first) first = c;
      }
      if (isTTL) heapify(pool);
      return first;
    }
    return idle[0];
  };

  const save: Container[] = [];
  const evict = (fn: number) => {
    if (running.length === pool.length) return; // every container busy
    if (isLND) {
      // Landlord: charge every container rent at the lowest credit per MB
      let delta = Infinity;
      for (const c of pool) { const d = c.priority / mem[c.fn]!; if (d < delta) delta = d; }
      for (const c of pool) c.priority = c.priority - delta * mem[c.fn]!;
      heapify(pool);
    }
    let toFree = mem[fn]!;
    let last: Container | undefined;
    save.length = 0;
    while (toFree > 0 && pool.length > 0) {
      const v = heappop(pool);
      if (v.running) save.push(v);
      else {
        toFree -= mem[v.fn]!;
        used -= mem[v.fn]!;
        nEvict[v.fn]!++;
        last = v;
      }
    }
    for (const c of save) heappush(pool, c);
    if (last) clock = last.priority;
  };

  const start = (c: Container, ms: number) => {
    c.running = true;
    c.frequency++;
    c.fin = now + ms;
    running.push(c);
    if (c.fin < nextFin) nextFin = c.fin;
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
    let c = findContainer(fn);
    if (c) {
      start(c, warm[fn]!);
      nWarm[fn]!++;
    } else {
      c = new Container(fn);
      if (mem[fn]! + used > memoryMb) evict(fn);
      if (!add(c, now)) {
        nDrop[fn]!++;
        continue;
      }
      heapify(pool);
      start(c, cold[fn]!);
      nCold[fn]!++;
    }
    c.lastAccess = now;
    const p = priority(fn, now);
    for (let i = 0; i < pool.length; i++) if (pool[i]!.fn === fn) pool[i]!.priority = p;
    heapify(pool);
  }
  const loopMs = performance.now() - t0;

  const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);
  const r: Counts = {
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
