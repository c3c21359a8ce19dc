/**
 * Placement: which worker of a cluster gets a request. A balancer is pure
 * and synchronous, like a keep-alive policy: the simulator's cluster model
 * and the real boss (`ol-boss`) both ask the same object, through the same
 * small view of the workers, and apply its answer on their own clocks.
 *
 * What a balancer may see of a worker (`WorkerView`), and how fresh it is:
 * - `healthy` and `inFlight` are the front's own books (it forwards every
 *   request and sees every reply), so they are exact at the moment of the
 *   decision, in the boss as in the simulator;
 * - `freeMb` and `warm` describe the worker's memory pool and kept
 *   sandboxes, which only the worker knows: the boss learns them from the
 *   worker's `/stats` polled every `view_refresh_ms`, so they may be that
 *   old; the simulator refreshes them on the same period (never from its
 *   own exact state in between), so both decide on equally stale views.
 */
import { fnv1a } from '../common/hash.js';
import type { Rng } from '../common/rng.js';
import type { ImportTree } from './import-tree.js';
import type { PolicyOption } from './policy.js';

/** One worker as a balancer sees it. */
export interface WorkerView {
  /** Its position in the cluster (0..n-1); what `pick` returns. */
  readonly index: number;
  /** Taken out after it stopped answering; taken in again when it answers. */
  healthy: boolean;
  /** Requests forwarded to it and not yet answered (exact). */
  inFlight: number;
  /** Memory of its pool neither reserved nor dying, MB (as of the last refresh). */
  freeMb: number;
  /** Idle or paused sandboxes it keeps for a function (as of the last refresh). */
  warm(fn: string): number;
}

/** What a balancer knows of a request. */
export interface PlacementRequest {
  /** The lambda's name. */
  fn: string;
  /** Memory one of its sandboxes takes, MB. */
  memMb: number;
  /** Its packages (normalised names), largest first where sizes are known; empty if none or unknown. */
  packages: readonly string[];
  /**
   * A number the front's balancer derives from `fn` alone and keeps here
   * (ch-bl: where the name's walk starts on its ring). A front that keeps
   * one request object per lambda (the simulated front) saves deriving it
   * again at every call, which over 10,000 functions was a third of ch-bl's
   * pick; a new object has none, and the balancer derives it.
   */
  memo?: number;
}

/**
 * Sums over the views a front may keep beside them, so that a pick need
 * not add them up: the healthy workers, and the requests in flight on them.
 * A front that keeps them keeps them exact, changing them with the views
 * (the simulated front does, and can check them at every pick); one that
 * does not passes none, and a balancer that needs them sums the views.
 */
export interface ViewTotals {
  healthy: number;
  inFlight: number;
}

/** The views' sums, added up. */
export function sumViews(workers: readonly WorkerView[]): ViewTotals {
  let healthy = 0, inFlight = 0;
  for (const w of workers) {
    if (!w.healthy) continue;
    healthy++;
    inFlight += w.inFlight;
  }
  return { healthy, inFlight };
}

export interface Balancer {
  readonly name: string;
  /** The index of the worker that gets `req`; -1 if no worker is healthy. `totals`: the views' sums, if the front keeps them. */
  pick(req: PlacementRequest, workers: readonly WorkerView[], totals?: ViewTotals): number;
}

export interface BalancerContext {
  /** How many workers the cluster has (fixed for the balancer's life; health changes, the count does not). */
  workers: number;
  rng: Rng;
  options: Record<string, number>;
  /** The import tree, for tree-aware placement (zygote-hash). */
  tree?: ImportTree;
}

/** One row of the balancer registry. */
export interface BalancerFactory {
  /** One line for `ol-sim balancers`. */
  describe: string;
  /** The paper or system it follows. */
  source: string;
  /** The real load balancer algorithm it models, if any (`ol-boss haproxy`). */
  haproxy?: string;
  /**
   * The parts of the view it reads besides `healthy` (and `index`):
   * `inFlight`, and the polled `freeMb` and `warm`. A front refreshes the
   * polled parts only for balancers that read them, and the simulated
   * front brings every worker to an arrival's time (so in-flight counts
   * are exact) only for balancers that read `inFlight`. A unit test checks
   * every balancer reads nothing it does not declare.
   */
  reads?: ('inFlight' | 'freeMb' | 'warm')[];
  options: Record<string, PolicyOption>;
  create(ctx: BalancerContext): Balancer;
}

/** A 32-bit hash of a key, the same in every process and run (placement must be reproducible). */
export function keyHash(key: string): number {
  return fnv1a(key);
}

/**
 * From `start`, the first healthy worker going round the cluster (`step`
 * at a time, co-prime with the count so every worker is visited); -1 if
 * none is healthy.
 */
export function firstHealthy(workers: readonly WorkerView[], start: number, step = 1): number {
  const n = workers.length;
  for (let i = 0, k = ((start % n) + n) % n; i < n; i++, k = (k + step) % n) {
    if (workers[k]!.healthy) return k;
  }
  return -1;
}

/** The healthy worker with the fewest requests in flight; ties go to the first from `from` on. */
export function leastLoaded(workers: readonly WorkerView[], from = 0): number {
  const n = workers.length;
  let best = -1;
  for (let i = 0; i < n; i++) {
    const k = (from + i) % n;
    const w = workers[k]!;
    if (w.healthy && (best < 0 || w.inFlight < workers[best]!.inFlight)) best = k;
  }
  return best;
}

/**
 * A consistent-hash ring: `vnodes` points per worker at hash(`w<i>#<v>`),
 * sorted. `walk(key)` lists worker indices clockwise from the key's point,
 * each once: adding or removing a worker moves only the keys next to its
 * points.
 */
export class HashRing {
  readonly #points: Uint32Array;
  readonly #owner: Int32Array;

  constructor(readonly workers: number, vnodes: number) {
    const pts: [number, number][] = [];
    for (let w = 0; w < workers; w++) for (let v = 0; v < vnodes; v++) pts.push([keyHash(`w${w}#${v}`), w]);
    pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.#points = Uint32Array.from(pts.map((p) => p[0]));
    this.#owner = Int32Array.from(pts.map((p) => p[1]));
  }

  /** The ring position of the first point at or after `hash` (clockwise, wrapping). */
  #start(hash: number): number {
    const p = this.#points;
    let lo = 0, hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // the walk in progress: its start, the points passed, the workers still to give, and which were given
  // (marked with the walk's number, so a walk allocates nothing: ch-bl walks once per request)
  #at = 0;
  #i = 0;
  #left = 0;
  #walkNo = 0;
  #seen: Uint32Array | undefined;

  /** Starts a walk clockwise from `hash`; `next` then gives each worker once. One walk at a time per ring. */
  begin(hash: number): void {
    this.beginAt(this.#start(hash));
  }

  /** Where a walk from `hash` starts (for `beginAt`: a caller may keep it per key). */
  position(hash: number): number {
    return this.#start(hash);
  }

  /** Starts a walk at ring position `at` (from `position`): `begin` for a caller that kept it. */
  beginAt(at: number): void {
    const seen = (this.#seen ??= new Uint32Array(this.workers));
    if (++this.#walkNo === 0xffffffff) {
      seen.fill(0);
      this.#walkNo = 1;
    }
    this.#at = at;
    this.#i = 0;
    this.#left = this.workers;
  }

  /** The next worker of the walk `begin` started, or -1 when every worker was given. */
  next(): number {
    const p = this.#points.length, seen = this.#seen!;
    while (this.#left > 0 && this.#i < p) {
      const w = this.#owner[(this.#at + this.#i++) % p]!;
      if (seen[w] === this.#walkNo) continue;
      seen[w] = this.#walkNo;
      this.#left--;
      return w;
    }
    return -1;
  }

  /** Worker indices clockwise from `hash`, each once. */
  walk(hash: number): number[] {
    const out: number[] = [];
    this.begin(hash);
    for (let w = this.next(); w >= 0; w = this.next()) out.push(w);
    return out;
  }
}

/**
 * The random stream a front's balancer draws from (random, p2c, openwhisk's
 * fallback), with the run's seed: the simulator's and the boss's, so with
 * one seed both draw the same numbers (its name dates from when only the
 * simulator had one).
 */
export const BALANCER_RNG_STREAM = 'sim/balancer';
