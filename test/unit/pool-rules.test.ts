/**
 * Which available sandbox a request takes (the most recently idle, also
 * after others of its function were evicted), and two pool rules the
 * worker brought from OpenLambda, on hand-worked cases:
 * single-use sandboxes (`reuse-sandbox: false`) and downsized paused
 * memory (`downsize_paused_mem`), the latter both as the simulator applies
 * it (a modelled footprint when the sandbox pauses) and as the worker does
 * (the measured one, once the frozen sandbox's limit is lowered): the same
 * rule, so the same books.
 */
import { describe, expect, it } from 'vitest';
import { Route, SandboxPool } from '../../core/pool.js';
import { createPolicy } from '../../core/policies/index.js';
import { makeRng } from '../../common/rng.js';
import { PoolSb, poolWith } from '../helpers.js';

describe('the most recently idle sandbox serves first', () => {
  it('also after an older one of its function was evicted from the middle of the list', () => {
    // three 100 MB sandboxes of function 0, idle at t = 1, 2, 3, in a 400 MB pool
    const pool = new SandboxPool<PoolSb>({ capacityMb: 400, policy: createPolicy('lru', { capacityMb: 400, rng: makeRng(1, 't') }), effects: { destroy: () => {}, pause: () => {}, scheduleExpiry: () => {}, schedulePrewarm: () => {}, evictZygote: () => {} } });
    const sbs: PoolSb[] = [];
    for (let i = 0; i < 3; i++) {
      pool.invoked(0, 0);
      expect(pool.route(0, 100, 0, i)).toBe(Route.Cold);
      const sb = new PoolSb(pool.newId, 0, 100, 0);
      pool.admit(sb, 0);
      sbs.push(sb);
    }
    sbs.forEach((sb, i) => pool.release(sb, i + 1));
    // a 200 MB sandbox of function 1 evicts the least recently used: the one idle since t = 1
    pool.invoked(1, 5);
    expect(pool.route(1, 200, 5, 3)).toBe(Route.Cold);
    expect(sbs.map((s) => s.state)).toEqual(['destroyed', 'idle', 'idle']);
    // function 0 takes the one idle since t = 3, then the one since t = 2
    pool.invoked(0, 6);
    expect(pool.route(0, 100, 6, 4)).toBe(Route.Warm);
    expect(pool.taken).toBe(sbs[2]);
    pool.invoked(0, 7);
    expect(pool.route(0, 100, 7, 5)).toBe(Route.Warm);
    expect(pool.taken).toBe(sbs[1]);
  });
});

describe('single-use sandboxes (reuse-sandbox: false)', () => {
  it('a finished sandbox is destroyed, never kept; the next request is a cold start', () => {
    const { pool, destroyed, sbs, now } = poolWith(1000, [], {});
    pool.singleUse(0);
    pool.invoked(0, 0);
    expect(pool.route(0, 100, now(), 1)).toBe(Route.Cold);
    const sb = new PoolSb(pool.newId, 0, 100, 0);
    pool.admit(sb, now());
    expect(pool.release(sb, now())).toBe(false);
    expect(destroyed).toEqual([[sb.id, 'expired']]);
    expect(pool.used).toBe(0);
    expect(pool.route(0, 100, now(), 2)).toBe(Route.Cold);
    expect(sbs).toEqual([]);
  });

  it('is not handed to a waiter of its function: the waiter gets memory for a sandbox of its own', () => {
    // 100 MB: one busy single-use sandbox fills it; a second request queues
    const { pool, now } = poolWith(100, [], {});
    pool.singleUse(0);
    pool.invoked(0, 0);
    expect(pool.route(0, 100, now(), 1)).toBe(Route.Cold);
    const sb = new PoolSb(pool.newId, 0, 100, 0);
    pool.admit(sb, now());
    expect(pool.route(0, 100, now(), 2)).toBe(Route.Wait);
    pool.enqueue(2, 0, 100);
    expect(pool.release(sb, now())).toBe(false); // no hand-over
    expect(sb.state).toBe('destroyed');
    pool.destroyed(100); // its memory is back once it is gone
    expect(pool.drainStep(now())).toBe(Route.Cold);
    expect(pool.out.seq).toBe(2);
  });
});

describe('downsized paused memory (downsize_paused_mem)', () => {
  it('a paused sandbox holds its downsized footprint; taking it back regrows it, evicting if it must', () => {
    // openlambda pauses idle sandboxes: two of 300 MB in a 700 MB pool, 100 free
    const { pool, sbs, now } = poolWith(700, [300, 300], {}, 'openlambda');
    expect(sbs.map((s) => s.state)).toEqual(['paused', 'paused']);
    pool.downsize(sbs[0]!, 20);
    pool.downsize(sbs[1]!, 30);
    expect([pool.used, pool.evictable]).toEqual([50, 50]);
    // not smaller, or not paused: no change
    pool.downsize(sbs[0]!, 25);
    expect(sbs[0]!.footprint).toBe(20);
    // a 400 MB sandbox fits beside them now (650 free; it would not have at full size)
    pool.invoked(2, now());
    expect(pool.route(2, 400, now(), 3)).toBe(Route.Cold);
    const big = new PoolSb(pool.newId, 2, 400, now());
    pool.admit(big, now());
    expect(pool.used).toBe(450);
    // taking the first back regrows it to 300: 280 more, 250 free, so the other paused one goes
    expect(pool.route(0, 300, now(), 4)).toBe(Route.Warm);
    expect(pool.tookPaused).toBe(true);
    expect(sbs[0]!.footprint).toBe(300);
    expect(sbs[1]!.state).toBe('destroyed');
    expect(pool.used).toBe(700);
  });

  it("the simulator's modelled footprint at pause and the worker's measured one after it give the same books", () => {
    const sim = poolWith(1000, [200, 150, 300], { pausedMemMb: 40 }, 'openlambda');
    const worker = poolWith(1000, [200, 150, 300], {}, 'openlambda');
    for (const sb of worker.sbs) worker.pool.downsize(sb, 40);
    expect([worker.pool.used, worker.pool.evictable]).toEqual([sim.pool.used, sim.pool.evictable]);
    expect(worker.sbs.map((s) => s.footprint)).toEqual(sim.sbs.map((s) => s.footprint));
    expect(sim.pool.used).toBe(120);
  });
});

describe("the pool's count of kept sandboxes per function (a cluster front's view)", () => {
  it('equals a count over every available sandbox after each step of a random run', () => {
    const rng = makeRng(21, 'idle-counts');
    const pool = new SandboxPool<PoolSb>({ capacityMb: 900, policy: createPolicy('lru', { capacityMb: 900, rng: makeRng(1, 't') }), effects: { destroy: () => {}, pause: () => {}, scheduleExpiry: () => {}, schedulePrewarm: () => {}, evictZygote: () => {} } });
    const busy: PoolSb[] = [];
    let t = 0, seq = 0, warm = 0, evicted = 0;
    const byScan = () => {
      const m = new Map<number, number>();
      for (const sb of pool.available()) if (sb.state === 'idle' || sb.state === 'paused') m.set(sb.fnId, (m.get(sb.fnId) ?? 0) + 1);
      return m;
    };
    const sorted = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]);
    for (let step = 0; step < 4000; step++) {
      t += 1;
      if (busy.length > 0 && rng() < 0.5) {
        const [sb] = busy.splice(Math.floor(rng() * busy.length), 1);
        pool.release(sb!, t);
      } else {
        const fn = Math.floor(rng() * rng() * 30), mem = 50 * (1 + (fn % 4));
        pool.invoked(fn, t);
        const before = pool.counts.evictions;
        const r = pool.route(fn, mem, t, seq++);
        evicted += pool.counts.evictions - before;
        if (r === Route.Warm) { busy.push(pool.taken!); warm++; }
        else if (r === Route.Cold) {
          const sb = new PoolSb(pool.newId, fn, mem, t);
          pool.admit(sb, t);
          busy.push(sb);
        }
      }
      expect(sorted(pool.idleCounts()), `step ${step}`).toEqual(sorted(byScan()));
    }
    // the run took kept sandboxes and evicted some, so lists emptied and filled again
    expect(warm).toBeGreaterThan(200);
    expect(evicted).toBeGreaterThan(50);
    pool.checkInvariants();
  });
});
